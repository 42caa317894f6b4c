"""Invitation benchmark: the time from `invite` to `invited` across two daphne processes.

Two daphne processes of this project share one Redis and one database. `--pairs` pairs of
full accounts are made contacts; each pair's inviter is connected to process one, its contact
to process two. Then, `--invitations` times, one pair's inviter sends `invite` and the clock
runs until the contact's socket (on the other process) receives `invited`; the contact
declines and the inviter waits for `invite_declined` before the next invitation, so every
invitation is measured alone. Pairs take turns, so the per-user rate limit never refuses.
Client-side wall time, p50/p95/p99/max; also `decline` -> `invite_declined` back.

    python bench/invite.py [--pairs 20] [--invitations 400] [--json]

Uses BENCH_DATABASE_URL and BENCH_REDIS_URL (see bench/common.py).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    database_url,
    log,
    machine,
    print_json,
    print_table,
    servers,
    summary_ms,
)

SKIP = ("typing", "pong", "searching", "contact_presence")
TIMEOUT = 10.0


def make_pairs(count: int) -> list[tuple[str, str, str]]:
    """`count` pairs of full accounts made contacts: (inviter session, contact session,
    contact id). Written straight to the benchmark database, as signup and consent would."""
    os.environ["DATABASE_URL"] = database_url()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    import django

    django.setup()
    from django.test import Client
    from django.utils import timezone

    from accounts.models import User
    from chat.contacts import services

    stamp = time.strftime("%H%M%S")
    pairs = []
    for n in range(count):
        users = [User.objects.create_user(username=f"Bench{side}{stamp}x{n}", password=None,
                                          rules_accepted_at=timezone.now())
                 for side in ("Inviter", "Contact")]
        contact = services.connect(users[0].pk, users[1].pk)
        sessions = []
        for user in users:
            client = Client()
            client.force_login(user)
            sessions.append(client.cookies["sessionid"].value)
        pairs.append((sessions[0], sessions[1], str(contact.pk)))
    return pairs


def run(pair_count: int, invitations: int) -> dict:
    from chatclient import Socket

    with servers() as started:
        env = {"INVITE_RATE_LIMIT": "100000/m"}
        one, two = started.daphne(env), started.daphne(env)
        log(f"making {pair_count} pairs of contacts")
        pairs = make_pairs(pair_count)
        sockets = []
        for inviter_session, contact_session, contact in pairs:
            inviter, invitee = Socket(one.url, inviter_session), Socket(two.url, contact_session)
            inviter.expect("welcome", TIMEOUT, SKIP)
            invitee.expect("welcome", TIMEOUT, SKIP)
            sockets.append((inviter, invitee, contact))
        log(f"{invitations} invitations, one at a time, process one -> process two")
        invited_s, declined_s = [], []
        for n in range(invitations):
            inviter, invitee, contact = sockets[n % len(sockets)]
            sent = time.perf_counter()
            inviter.send({"type": "invite", "contact": contact, "mode": "text"})
            frame = invitee.expect("invited", TIMEOUT, SKIP)
            invited_s.append(time.perf_counter() - sent)
            inviter.expect("inviting", TIMEOUT, SKIP)
            sent = time.perf_counter()
            invitee.send({"type": "decline", "invitation": frame["invitation"]})
            inviter.expect("invite_declined", TIMEOUT, SKIP)
            declined_s.append(time.perf_counter() - sent)
        for inviter, invitee, _ in sockets:
            inviter.close()
            invitee.close()
    return {"pairs": pair_count, "invitations": invitations,
            "invite_to_invited_ms": summary_ms(invited_s),
            "decline_to_declined_ms": summary_ms(declined_s), "machine": machine()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--invitations", type=int, default=400)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.pairs, args.invitations)
    if args.json:
        print_json("invite", result)
        return
    rows = [(name, *(result[key][q] for q in ("p50", "p95", "p99", "max")))
            for name, key in (("invite -> invited", "invite_to_invited_ms"),
                              ("decline -> invite_declined", "decline_to_declined_ms"))]
    print_table(f"Invitations across two processes ({args.invitations}, ms)",
                ("path", "p50", "p95", "p99", "max"), rows)


if __name__ == "__main__":
    main()
