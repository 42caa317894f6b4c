"""Relay-only cannot be bypassed by line endings (issue 11, finding 7).

An SDP may end its lines with CRLF (as browsers write it), a bare LF or a mix, since SDP
parsers accept them all. The filter drops every `a=candidate` line that is not `typ relay`
(host, srflx, prflx) whatever the endings, and forwards what it keeps with the sender's own
line endings.
"""
from __future__ import annotations

import pytest

from chat.webrtc import filter_signal, without_foreign_candidates

CANDIDATES = {
    "host": "a=candidate:1 1 udp 2122260223 192.168.1.20 54400 typ host generation 0",
    "srflx": "a=candidate:2 1 udp 1686052607 203.0.113.7 54400 typ srflx raddr 192.168.1.20 "
             "rport 54400 generation 0",
    "prflx": "a=candidate:3 1 udp 1845501695 198.51.100.4 61000 typ prflx raddr 192.168.1.20 "
             "rport 54400",
    "relay": "a=candidate:4 1 udp 41885439 192.0.2.50 3478 typ relay raddr 203.0.113.7 "
             "rport 54400 generation 0",
    "host tcp": "a=candidate:5 1 tcp 1518280447 10.0.0.8 9 typ host tcptype active",
    "relay tcp": "a=candidate:6 1 tcp 25108223 192.0.2.50 443 typ relay raddr 0.0.0.0 rport 0",
}
HEAD = ["v=0", "o=- 4611731400430051336 2 IN IP4 127.0.0.1", "s=-", "t=0 0",
        "m=audio 54400 UDP/TLS/RTP/SAVPF 111", "c=IN IP4 192.0.2.50"]
TAIL = ["a=end-of-candidates", "a=rtpmap:111 opus/48000/2"]
PRIVATE = ("192.168.1.20 54400 typ", "203.0.113.7 54400 typ", "198.51.100.4", "10.0.0.8")


def sdp(endings: list[str]) -> tuple[str, str]:
    """An SDP with every candidate type, each line ended as `endings` says in turn, and what
    the filter must make of it."""
    lines = HEAD + list(CANDIDATES.values()) + TAIL
    ends = [endings[i % len(endings)] for i in range(len(lines))]
    whole = "".join(line + end for line, end in zip(lines, ends, strict=True))
    kept = "".join(line + end for line, end in zip(lines, ends, strict=True)
                   if not line.startswith("a=candidate:") or " typ relay " in line)
    return whole, kept


@pytest.mark.parametrize("endings", [["\r\n"], ["\n"], ["\r\n", "\n"], ["\n", "\n", "\r\n"]],
                         ids=["crlf", "lf", "alternating", "mostly-lf"])
def test_only_relay_candidates_survive_whatever_the_line_endings(endings: list[str]) -> None:
    whole, expected = sdp(endings)
    filtered = without_foreign_candidates(whole)
    assert filtered == expected  # the sender's endings, line for line
    assert CANDIDATES["relay"] in filtered and CANDIDATES["relay tcp"] in filtered
    for address in PRIVATE:
        assert address not in filtered


def test_the_last_line_without_an_ending_is_filtered_too() -> None:
    assert without_foreign_candidates("v=0\n" + CANDIDATES["host"]) == "v=0\n"
    assert without_foreign_candidates("v=0\n" + CANDIDATES["relay"]) == (
        "v=0\n" + CANDIDATES["relay"])


@pytest.mark.parametrize("kind", list(CANDIDATES))
def test_trickled_candidates_of_each_type(kind: str, settings) -> None:  # noqa: ANN001
    settings.TURN_URLS = ["turn:turn.example.org:3478"]
    settings.WEBRTC_RELAY_ONLY = True
    line = CANDIDATES[kind].removeprefix("a=")
    signal = {"candidate": {"candidate": line, "sdpMid": "0", "sdpMLineIndex": 0}}
    assert filter_signal(signal) == (signal if "relay" in kind else None)


@pytest.mark.parametrize("ending", ["\r\n", "\n"], ids=["crlf", "lf"])
def test_a_description_is_filtered_only_where_relay_only(ending: str,
                                                         settings) -> None:  # noqa: ANN001
    whole, expected = sdp([ending])
    description = {"description": {"type": "offer", "sdp": whole}}
    settings.TURN_URLS = ["turn:turn.example.org:3478"]
    settings.WEBRTC_RELAY_ONLY = True
    assert filter_signal(description) == {"description": {"type": "offer", "sdp": expected}}
    settings.WEBRTC_RELAY_ONLY = False
    assert filter_signal(description) == description
