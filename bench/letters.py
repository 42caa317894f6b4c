"""Letters and the contacts page: how fast a letter reaches a contact on another process, and
what the contacts list costs with many contacts.

Two daphne processes of the project. A writer posts `--letters` letters one after another to
process one (`POST /contacts/<id>/letters/`, as the thread page does); the reader's live socket
is on process two. Figures: the POST's response time, and the time from sending the POST to
the reader's `letter` frame (the letter is stored, committed, then sent across processes).
Then a user with `--contacts` contacts, every other one connected and sharing presence, reads
`GET /contacts/?format=json` `--reads` times on process one (one presence look-up in Redis
per contact). Uses BENCH_DATABASE_URL and BENCH_REDIS_URL (see bench/common.py).

    python bench/letters.py [--letters 200] [--contacts 100] [--reads 100] [--json]
"""
from __future__ import annotations

import argparse
import secrets
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent / "shared" / "tools"))

from bench.common import (  # noqa: E402
    log,
    machine,
    print_json,
    print_table,
    servers,
    summary_ms,
)
from bench.export_bench import setup_django  # noqa: E402

SERVER_ENV = {"LETTER_RATE_LIMIT": "100000/m"}


def full_users(count: int) -> list[Any]:
    from django.utils import timezone

    from accounts.models import User

    run = uuid.uuid4().hex[:6]
    return [User.objects.create_user(username=f"bench{run}x{n}", rules_accepted_at=timezone.now(),
                                     adult_confirmed_at=timezone.now()) for n in range(count)]


def session_of(user: Any) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def refused(response: requests.Response) -> bool:
    """True (after a pause) for a 503: a shared database refusing a connection for a moment
    is not what is measured, so the sample is taken again."""
    if response.status_code == 503:
        time.sleep(1)
        return True
    response.raise_for_status()
    return False


def letter_latency(sender_url: str, reader_url: str, count: int) -> dict[str, Any]:
    from chatclient import Socket

    from chat.contacts.services import connect

    writer, reader = full_users(2)
    contact_id = str(connect(writer.pk, reader.pk).pk)
    token = secrets.token_hex(16)
    http = requests.Session()
    http.cookies.update({"sessionid": session_of(writer), "csrftoken": token})
    http.headers.update({"X-CSRFToken": token, "Accept": "application/json"})
    socket = Socket(reader_url, session_of(reader))
    socket.expect("welcome")
    posts, deliveries = [], []
    try:
        while len(posts) < count:
            began = time.perf_counter()
            response = http.post(f"{sender_url}/contacts/{contact_id}/letters/",
                                 data={"text": f"letter {len(posts)}: see you on Sunday"},
                                 timeout=10)
            posted = time.perf_counter()
            if refused(response):
                continue
            frame = socket.expect("letter", skip=("pong", "contact_presence"))
            arrived = time.perf_counter()
            assert frame["letter"]["id"] == response.json()["letter"]["id"]
            posts.append(posted - began)
            deliveries.append(arrived - began)
    finally:
        socket.close()
    return {"post": summary_ms(posts), "post_to_frame": summary_ms(deliveries)}


def contacts_page(url: str, contacts: int, reads: int) -> dict[str, Any]:
    from chatclient import Socket

    from chat.contacts.services import connect

    me, *others = full_users(contacts + 1)
    for other in others:
        connect(me.pk, other.pk)
    online = [Socket(url, session_of(other)) for other in others[::2]]
    for socket in online:
        socket.expect("welcome")
    http = requests.Session()
    http.cookies.update({"sessionid": session_of(me)})
    times = []
    try:
        while len(times) < reads:
            began = time.perf_counter()
            response = http.get(f"{url}/contacts/?format=json", timeout=10)
            if refused(response):
                continue
            times.append(time.perf_counter() - began)
            body = response.json()
        assert sum(1 for entry in body["contacts"] if entry["online"]) == len(online)
    finally:
        for socket in online:
            socket.close()
    return {"contacts": contacts, "online": len(online), "get": summary_ms(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--letters", type=int, default=200)
    parser.add_argument("--contacts", type=int, default=100)
    parser.add_argument("--reads", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    with servers() as running:
        one, two = running.daphne(SERVER_ENV), running.daphne(SERVER_ENV)
        setup_django()
        log(f"{options.letters} letters from process one to a socket on process two")
        letters = letter_latency(one.url, two.url, options.letters)
        log(f"GET /contacts/ with {options.contacts} contacts, {options.reads} times")
        page = contacts_page(one.url, options.contacts, options.reads)
    result = {"machine": machine(), "letters": options.letters, **letters, "page": page}
    if options.json:
        print_json("letters", result)
        return
    print_table("Letters: process one -> reader's socket on process two (ms)",
                ["", "p50", "p95", "p99", "max"],
                [[name, *letters[name].values()] for name in ("post", "post_to_frame")])
    print_table(f"GET /contacts/?format=json, {page['contacts']} contacts, {page['online']} "
                "online (ms)", ["", "p50", "p95", "p99", "max"], [["get", *page["get"].values()]])


if __name__ == "__main__":
    main()
