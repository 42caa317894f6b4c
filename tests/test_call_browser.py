"""Video calls through the real page, relayed by a TURN server the test starts (coturn)."""
from __future__ import annotations

import os
import random
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser import (  # noqa: F401 - `call_browser` is a fixture
    CHROMIUM_FLAGS,
    call_browser,
    checked,
    expect_connected,
    expect_line,
    guest_page,
    handle_of,
    say,
    start,
)
from playwright.sync_api import Browser, Page, expect

from conftest import free_port

# Playwright's sync API runs an event loop in this thread; the ORM is not used meanwhile.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

TURN_SECRET = "test-turn-secret"

CALL_STATS = """async () => {
  const pc = window.chatCall && window.chatCall.pc;
  if (!pc) return null;
  const stats = await pc.getStats();
  const byId = new Map();
  stats.forEach((report) => byId.set(report.id, report));
  const result = { framesDecoded: 0, audioPackets: 0, pair: null, remoteCandidates: [] };
  stats.forEach((report) => {
    if (report.type === "inbound-rtp" && report.kind === "video") {
      result.framesDecoded += report.framesDecoded || 0;
    }
    if (report.type === "inbound-rtp" && report.kind === "audio") {
      result.audioPackets += report.packetsReceived || 0;
    }
    if (report.type === "remote-candidate") {
      result.remoteCandidates.push([report.candidateType, report.port]);
    }
    if (report.type === "transport" && report.selectedCandidatePairId) {
      const pair = byId.get(report.selectedCandidatePairId);
      const remote = byId.get(pair.remoteCandidateId);
      result.pair = [byId.get(pair.localCandidateId).candidateType, remote.candidateType];
      result.remotePort = remote.port;
    }
  });
  return result;
}"""


@pytest.fixture
def refusing_browser(request: pytest.FixtureRequest) -> Iterator[Browser]:
    """A camera and microphone are there, but the person answers "Block" to the prompt."""
    yield from checked(request, CHROMIUM_FLAGS + ["--use-fake-device-for-media-stream"])


@dataclass
class TurnServer:
    url: str
    relay_ports: range


@pytest.fixture
def turn_server(tmp_path: Path) -> Iterator[TurnServer]:
    """coturn on 127.0.0.1 with its own listening port and relay range; loopback peers are
    allowed here only because both browsers of the test run on this machine."""
    port = free_port()
    relay_base = random.randrange(50000, 60000, 100)
    log = (tmp_path / "turnserver.log").open("wb")
    process = subprocess.Popen(
        ["turnserver", "-n", "--listening-ip=127.0.0.1", f"--listening-port={port}",
         "--relay-ip=127.0.0.1", "--realm=test", "--use-auth-secret",
         f"--static-auth-secret={TURN_SECRET}", "--no-tls", "--no-dtls", "--no-cli",
         f"--min-port={relay_base}", f"--max-port={relay_base + 99}",
         "--allow-loopback-peers", "--log-file=stdout"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            if process.poll() is not None:
                pytest.fail(f"turnserver exited:\n{(tmp_path / 'turnserver.log').read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("turnserver did not listen within 15 s")
                time.sleep(0.1)
        yield TurnServer(f"turn:127.0.0.1:{port}?transport=udp",
                         range(relay_base, relay_base + 100))
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def assert_relayed(stats: dict, turn_server: TurnServer) -> None:
    """Both ends of the media path are addresses of the TURN server's relay."""
    assert stats["pair"] == ["relay", "relay"]
    assert stats["remotePort"] in turn_server.relay_ports


def call_stats(page: Page, until: str = "framesDecoded", timeout: float = 30) -> dict:
    """The current call's stats once `until` (framesDecoded or audioPackets) is above 0 and
    the selected pair is relay to relay. The partner's end shows as peer-reflexive for a
    moment when its connectivity check overtakes its signalled candidate."""
    deadline = time.monotonic() + timeout
    while True:
        stats = page.evaluate(CALL_STATS)
        if stats and stats["pair"] == ["relay", "relay"] and stats[until] > 0:
            return stats
        if time.monotonic() > deadline:
            raise AssertionError(f"no {until} within {timeout} s: {stats}")
        time.sleep(0.25)


def relay_call(browser, start_server, turn_server, interest: str, mode: str,  # noqa: ANN001
               **extra_env: str) -> tuple:
    """Two guests on a relay-only site who pick `interest` and start a `mode` call."""
    site = start_server(TURN_URLS=turn_server.url, TURN_SECRET=TURN_SECRET,
                        WEBRTC_RELAY_ONLY="true", **extra_env)
    alice, bob = guest_page(browser, site.url), guest_page(browser, site.url)
    start(alice, [interest], mode=mode)
    start(bob, [interest], mode=mode)
    return alice, bob


def test_video_call_connects_through_the_relay_only(call_browser, start_server,  # noqa: F811
                                                    turn_server):
    alice, bob = relay_call(call_browser, start_server, turn_server, "films",
                            "video")
    expect_connected(alice, handle_of(bob), "films")
    expect(alice.locator("#call-state")).to_have_text("Video call connected")
    expect(bob.locator("#call-state")).to_have_text("Video call connected")

    for page in (alice, bob):
        stats = call_stats(page)
        assert stats["framesDecoded"] > 0
        assert_relayed(stats, turn_server)
        # Every address this side learned of the partner is one of the relay's.
        for candidate_type, port in stats["remoteCandidates"]:
            assert candidate_type in ("relay", "prflx") and port in turn_server.relay_ports
        assert page.evaluate("document.getElementById('remote-video').videoWidth") > 0

    say(bob, "can you hear me?")
    expect_line(alice, "partner", "can you hear me?")

    alice.evaluate("window.tracksOfLastCall = window.chatCall.stream.getTracks()")
    alice.click("#next")
    expect(bob.locator("#status")).to_have_text("Stranger left the conversation.")
    expect(bob.locator("#call")).to_be_hidden()
    assert alice.evaluate(
        "window.tracksOfLastCall.every((track) => track.readyState === 'ended')")
    assert alice.evaluate("window.chatCall === null || window.chatCall.pc === null")


def test_expired_turn_credentials_show_could_not_connect(call_browser, start_server,  # noqa: F811
                                                         turn_server):
    alice, bob = relay_call(call_browser, start_server, turn_server, "maps",
                            "video", TURN_TTL_SECONDS="-60")
    expect_connected(bob, handle_of(alice), "maps")

    for page in (alice, bob):
        expect(page.locator("#call-state")).to_have_text("Call not connected")
        expect(page.locator("#remote-placeholder")).to_be_visible()
        expect(page.locator("#remote-placeholder")).to_contain_text("Could not connect the call")
        # No camera left on for a call that is not happening.
        assert page.evaluate("window.chatCall.stream.getTracks()"
                             ".every((track) => track.readyState === 'ended')")
    # The text chat goes on without the call.
    say(alice, "no video, but we can type")
    expect_line(bob, "partner", "no video, but we can type")


def test_refusing_the_camera_explains_why_and_does_not_queue(refusing_browser, start_server):
    page = guest_page(refusing_browser, start_server().url)

    start(page, ["films"], mode="video")

    expect(page.locator("#notices")).to_contain_text("You did not allow the camera and microphone")
    expect(page.locator("#status")).to_have_text("Pick some interests and press Start.")
    expect(page.locator("#start")).to_be_enabled()


def test_voice_call_carries_sound_through_the_relay(call_browser, start_server,  # noqa: F811
                                                    turn_server):
    alice, bob = relay_call(call_browser, start_server, turn_server, "radio",
                            "voice")

    for page in (alice, bob):
        expect(page.locator("#call-state")).to_have_text("Voice call connected")
        stats = call_stats(page, until="audioPackets")
        assert_relayed(stats, turn_server)
        expect(page.locator("#local-video")).to_be_hidden()


def test_video_comes_back_after_one_side_reloads(call_browser, start_server,  # noqa: F811
                                                 turn_server):
    alice, bob = relay_call(call_browser, start_server, turn_server, "kites",
                            "video")
    for page in (alice, bob):
        expect(page.locator("#call-state")).to_have_text("Video call connected")
    say(alice, "before the reload")
    expect_line(bob, "partner", "before the reload")

    for reloading, staying in ((bob, alice), (alice, bob)):  # the answerer, then the initiator
        reloading.evaluate("window.chatCall.pc.connectionId = 'old'")
        staying.evaluate("window.chatCall.pc.connectionId = 'old'")
        reloading.reload()
        expect_connected(reloading, handle_of(staying), "kites")
        for page in (alice, bob):
            expect(page.locator("#call-state")).to_have_text("Video call connected")
            # A function, not an expression: Playwright polls an expression through eval,
            # which the page's Content-Security-Policy refuses.
            page.wait_for_function("() => window.chatCall && window.chatCall.pc"
                                   " && window.chatCall.pc.connectionId !== 'old'")
            stats = call_stats(page)
            assert_relayed(stats, turn_server)
    expect_line(alice, "me", "before the reload")
    expect_line(bob, "partner", "before the reload")
