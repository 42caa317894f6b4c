"""Outages of the services behind the chat: each has a clear behaviour and loses no
acknowledged line. Faults are made on servers the test starts itself (its own redis-server,
a TCP proxy in front of PostgreSQL), never on the machine's shared services."""
from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis
from chatclient import ContractError, Socket, guest_session

from conftest import ABUSIVE_LINES, abusive_conversation, exchange, pair_guests, require, resume_on
from tests.faults import OwnRedis, TcpProxy

pytestmark = pytest.mark.e2e


def get(url: str, session: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if session:
        request.add_header("Cookie", f"sessionid={session}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def postgres_proxy(postgres):
    from django.db import connection

    db = connection.settings_dict
    proxy = TcpProxy((db["HOST"], int(db["PORT"])))
    yield proxy
    proxy.stop()


def test_postgres_unreachable_live_chat_goes_on_new_sockets_1013_pages_503(
        start_server, redis_url, postgres_proxy):
    from django.db import connection

    db = connection.settings_dict
    via_proxy = f"postgres://{db['USER']}@127.0.0.1:{postgres_proxy.port}/{db['NAME']}"
    server = start_server(redis_url=redis_url, DATABASE_URL=via_proxy)
    (a, session_a), (b, _), _ = pair_guests(server.url, server.url)
    late_session = guest_session(server.url)

    postgres_proxy.cut()
    exchange(a, b, "still here")
    exchange(b, a, "me too")

    refused = Socket(server.url, late_session)
    assert refused.recv(10) is None
    assert refused.close_code == 1013

    status, body = get(server.url + "/healthz")
    assert status == 503 and json.loads(body)["database"] == "down"
    # The landing page needs no database; a logged-in page does, and says so kindly.
    assert get(server.url + "/")[0] == 200
    status, body = get(server.url + "/chat/", session_a)
    assert status == 503 and "Back in a moment" in body

    postgres_proxy.restore()
    deadline = time.monotonic() + 20
    while get(server.url + "/healthz")[0] != 200:
        assert time.monotonic() < deadline, (
            f"no recovery after PostgreSQL returned: {get(server.url + '/healthz')}\n"
            + server.log()[-3000:])
        time.sleep(0.2)
    fresh = Socket(server.url, late_session)
    assert fresh.expect("welcome")["type"] == "welcome"
    exchange(a, b, "after the outage")


@pytest.fixture
def own_redis(tmp_path: Path):
    """A redis-server of this test's own, with an append-only file, as deployments run it."""
    require(shutil.which("redis-server") is not None, "redis-server")
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def reconnect_until_resumed(url: str, session: str, conversation: str, after: str | None,
                            timeout: float = 20):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return resume_on(url, session, conversation, after)
        except (ContractError, OSError):
            assert time.monotonic() < deadline, "could not resume after the Redis restart"
            time.sleep(0.3)


def test_redis_restart_processes_recover_and_conversations_resume(start_server, own_redis):
    one, two = start_server(redis_url=own_redis.url), start_server(redis_url=own_redis.url)
    (a, session_a), (b, session_b), conversation = pair_guests(one.url, two.url)
    last = exchange(a, b, "before the restart")

    own_redis.stop()
    for side in (a, b):  # sockets whose process lost Redis are closed, so clients reconnect
        try:
            while side.recv(10) is not None:
                pass
        except (ContractError, OSError):
            pass
    own_redis.start()

    a2, resumed_a = reconnect_until_resumed(one.url, session_a, conversation, last["id"])
    b2, resumed_b = reconnect_until_resumed(two.url, session_b, conversation, last["id"])
    assert resumed_a["missed"] == [] and resumed_b["missed"] == []
    a2.expect("partner_back")  # b came back after a
    exchange(a2, b2, "after the restart")
    exchange(b2, a2, "all good")

    # Searching works again on both processes.
    c = Socket(one.url, guest_session(one.url))
    d = Socket(two.url, guest_session(two.url))
    for s in (c, d):
        s.expect("welcome")
        s.send({"type": "find", "mode": "text"})
    assert c.expect("matched", 20)["conversation"] == d.expect("matched", 20)["conversation"]


def test_workers_stopped_chat_goes_on_and_analysis_catches_up(start_server, start_worker,
                                                               redis_url):
    from moderation.analysis import PENDING_KEY
    from moderation.models import Report

    server = start_server(redis_url=redis_url, ANALYSIS_TRIGGER_MS="100")
    # No worker runs: chat goes on, and the lines wait in Redis for analysis.
    conversation = abusive_conversation(server.url)
    abusive = ABUSIVE_LINES
    queued = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + 10  # the relay gathers lines and pushes them together
    while queued.llen(PENDING_KEY) < len(abusive):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert queued.llen(PENDING_KEY) == len(abusive)
    status, body = get(server.url + "/healthz")
    assert status == 200 and json.loads(body)["broker"] == "ok"

    worker = start_worker(redis_url)
    deadline = time.monotonic() + 60
    while not Report.objects.filter(conversation_id=conversation, reporter=None).exists():
        assert time.monotonic() < deadline, worker.log_path.read_text(errors="replace")
        time.sleep(0.3)
    assert queued.llen(PENDING_KEY) == 0
    report = Report.objects.get(conversation_id=conversation, reporter=None)
    assert [line["text"] for line in report.evidence][-1] == abusive[-1]
