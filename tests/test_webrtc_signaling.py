"""Voice and video: ICE servers with short-lived TURN credentials, the signal relay, and the
candidate filter that keeps a relay-only deployment from leaking addresses."""
import base64
import hashlib
import hmac

import pytest

from chat import webrtc
from tests.chatsockets import close_all, pair

pytestmark = pytest.mark.django_db(transaction=True)

HOST = "candidate:1 1 udp 2122260223 192.168.1.20 54321 typ host generation 0"
SRFLX = "candidate:2 1 udp 1686052607 203.0.113.7 54321 typ srflx raddr 192.168.1.20 rport 1"
RELAY = "candidate:3 1 udp 41885439 198.51.100.9 50000 typ relay raddr 203.0.113.7 rport 1"
SDP = "\r\n".join(["v=0", "o=- 1 2 IN IP4 127.0.0.1", "m=video 9 UDP/TLS/RTP/SAVPF 96",
                   f"a={HOST}", f"a={SRFLX}", f"a={RELAY}", "a=end-of-candidates", ""])


@pytest.fixture
def turn(settings):
    settings.TURN_URLS = ["turn:127.0.0.1:3478?transport=udp"]
    settings.TURN_SECRET = "s3cret"
    settings.TURN_TTL_SECONDS = 600
    settings.STUN_URLS = ["stun:stun.example.org:3478"]
    settings.WEBRTC_RELAY_ONLY = True
    return settings


def test_turn_credentials_follow_coturns_rest_scheme(turn):
    username, credential = webrtc.turn_credentials(42, now=1_000_000)
    assert username == "1000600:42"
    expected = hmac.new(b"s3cret", username.encode(), hashlib.sha1).digest()
    assert credential == base64.b64encode(expected).decode()


def test_ice_servers_never_carry_the_secret_and_text_gets_none(turn):
    assert webrtc.ice_servers(7, "text") == []
    servers = webrtc.ice_servers(7, "video")
    assert servers == [{"urls": ["turn:127.0.0.1:3478?transport=udp"],
                        "username": servers[0]["username"],
                        "credential": servers[0]["credential"]}]
    assert "s3cret" not in repr(servers)  # STUN is left out too: relay-only


def test_without_turn_calls_connect_directly(settings):
    settings.TURN_URLS, settings.STUN_URLS = [], ["stun:stun.example.org:3478"]
    assert webrtc.relay_only() is False
    assert webrtc.ice_servers(7, "voice") == [{"urls": ["stun:stun.example.org:3478"]}]
    assert webrtc.filter_signal({"candidate": {"candidate": HOST}}) == {
        "candidate": {"candidate": HOST}}


def test_relay_only_drops_non_relay_candidates_also_inside_an_sdp(turn):
    assert webrtc.filter_signal({"candidate": {"candidate": HOST}}) is None
    assert webrtc.filter_signal({"candidate": {"candidate": SRFLX}}) is None
    assert webrtc.filter_signal({"candidate": {"candidate": RELAY}}) == {
        "candidate": {"candidate": RELAY}}
    assert webrtc.filter_signal({"candidate": None}) == {"candidate": None}
    offer = webrtc.filter_signal({"description": {"type": "offer", "sdp": SDP}})
    sdp = offer["description"]["sdp"]
    assert "typ relay" in sdp and "typ host" not in sdp and "typ srflx" not in sdp
    assert "192.168.1.20 54321" not in sdp and "a=end-of-candidates" in sdp


async def test_matched_carries_credentials_for_calls_and_relay_only_flag(turn):
    a, b, matched_a, matched_b = await pair(mode="video")
    for frame, client in ((matched_a, a), (matched_b, b)):
        assert frame["relay_only"] is True
        server = frame["ice_servers"][0]
        assert server["username"].endswith(f":{client.user.id}")
    assert matched_a["initiator"] != matched_b["initiator"]
    await close_all(a, b)


async def test_signals_reach_only_the_partner_filtered(turn):
    a, b, _, _ = await pair(mode="voice")
    await a.send({"type": "signal", "data": {"description": {"type": "offer", "sdp": SDP}}})
    got = await b.expect("signal")
    assert "typ host" not in got["data"]["description"]["sdp"]
    await a.send({"type": "signal", "data": {"candidate": {"candidate": HOST, "sdpMid": "0",
                                                            "sdpMLineIndex": 0}}})
    await a.send({"type": "signal", "data": {"candidate": {"candidate": RELAY, "sdpMid": "0",
                                                            "sdpMLineIndex": 0}}})
    assert (await b.expect("signal"))["data"]["candidate"]["candidate"] == RELAY
    assert await a.silent() and await b.silent()
    await close_all(a, b)


async def test_malformed_and_oversized_signals_are_refused_and_change_nothing(turn):
    a, b, _, _ = await pair(mode="video")
    await a.send({"type": "signal", "data": "not an object"})
    assert (await a.error())["code"] == "bad_frame"
    await a.send({"type": "signal", "data": {"description": {"type": "offer",
                                                              "sdp": "x" * (64 * 1024 + 1)}}})
    assert (await a.error())["code"] == "too_long"
    assert await b.silent()
    await a.send({"type": "signal", "data": {"candidate": None}})
    assert (await b.expect("signal"))["data"] == {"candidate": None}
    await close_all(a, b)


async def test_signals_after_leave_are_refused(turn):
    a, b, _, _ = await pair(mode="video")
    await a.send({"type": "leave"})
    await a.expect("ended")
    await b.expect("partner_left")
    for client in (a, b):
        await client.send({"type": "signal", "data": {"candidate": None}})
        assert (await client.error())["code"] == "not_in_conversation"
    await close_all(a, b)
