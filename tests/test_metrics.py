"""/metrics: what an operator's Prometheus sees of real daphne processes, and who may see it."""
from __future__ import annotations

import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.e2e

TOKEN = "scrape-me-7f3a"


def scrape(base: str, token: str | None = TOKEN) -> dict[tuple[str, tuple], float]:
    """Every sample of the page: (name, sorted labels without `process`) -> value."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(base + "/metrics", headers=headers),
                                timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    samples: dict[tuple[str, tuple], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = dict(sample.labels)
            assert labels.pop("process", None), f"{sample.name} has no process label"
            samples[(sample.name, tuple(sorted(labels.items())))] = sample.value
    return samples


def status_of(base: str, token: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(base + "/metrics", headers=headers),
                                    timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def wait_for(base: str, name: str, labels: dict[str, str], value: float) -> dict:
    """Scrape until the sample has `value` (state that settles asynchronously)."""
    key = (name, tuple(sorted(labels.items())))
    deadline = time.monotonic() + 10
    while True:
        samples = scrape(base)
        if samples.get(key) == value or time.monotonic() > deadline:
            assert samples.get(key) == value, (key, samples.get(key))
            return samples
        time.sleep(0.1)


def test_metrics_are_a_404_without_the_token_or_an_allowed_address(start_server: Any) -> None:
    closed = start_server()
    assert status_of(closed.url, None) == 404
    assert status_of(closed.url, "anything") == 404
    guarded = start_server(METRICS_TOKEN=TOKEN)
    assert status_of(guarded.url, None) == 404
    assert status_of(guarded.url, TOKEN + "x") == 404
    assert status_of(guarded.url, TOKEN) == 200
    elsewhere = start_server(METRICS_ALLOWED_ADDRESSES="10.0.0.0/8")
    assert status_of(elsewhere.url, None) == 404
    here = start_server(METRICS_ALLOWED_ADDRESSES="192.0.2.1,127.0.0.0/8")
    assert status_of(here.url, None) == 200


def test_each_process_counts_its_own_sockets_lines_and_matches(
        start_server: Any, redis_url: str) -> None:
    from chatclient import Socket, guest_session

    from moderation.models import Report

    servers = [start_server(redis_url=redis_url, METRICS_TOKEN=TOKEN, ANALYSIS_ENABLED="true")
               for _ in range(2)]
    first, second = (server.url for server in servers)
    before = scrape(first)
    assert before[("chat_sockets", (("state", "idle"),))] == 0
    assert before[("chat_lines_relayed_total", ())] == 0
    assert before[("chat_searching_users", (("mode", "text"),))] == 0

    # Two people on the first process talk; a third, on the second, waits for a partner.
    alice, bob = (Socket(first, guest_session(first)) for _ in range(2))
    for sock in (alice, bob):
        sock.expect("welcome")
        sock.send({"type": "find", "mode": "text"})
    alice.expect("matched", timeout=20)
    bob.expect("matched", timeout=20)
    for n in range(3):
        alice.send({"type": "message", "text": f"hello {n}", "client_id": f"c{n}"})
        bob.expect("message")
    carol = Socket(second, guest_session(second))
    carol.expect("welcome")
    carol.send({"type": "find", "mode": "text"})
    carol.expect("searching", skip=())
    Report.objects.create(reason=Report.Reason.SPAM)

    samples = wait_for(first, "chat_analysis_backlog", {}, 3)
    assert samples[("chat_sockets", (("state", "in_conversation"),))] == 2
    assert samples[("chat_sockets", (("state", "searching"),))] == 0
    assert samples[("chat_lines_relayed_total", ())] == 3
    assert samples[("chat_line_seconds_count", ())] == 3
    assert samples[("chat_find_to_match_seconds_count", ())] == 2
    # The whole site's figures are the same from either process.
    assert samples[("chat_searching_users", (("mode", "text"),))] == 1
    assert samples[("chat_open_reports", ())] == 1
    other = scrape(second)
    assert other[("chat_sockets", (("state", "searching"),))] == 1
    assert other[("chat_sockets", (("state", "in_conversation"),))] == 0
    assert other[("chat_lines_relayed_total", ())] == 0
    assert other[("chat_searching_users", (("mode", "text"),))] == 1
    assert other[("chat_open_reports", ())] == 1

    for sock in (alice, bob, carol):
        sock.close()
    wait_for(first, "chat_sockets", {"state": "in_conversation"}, 0)
