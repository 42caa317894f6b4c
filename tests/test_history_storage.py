"""Opt-in history storage: what the live socket reports is kept for keepers only, encrypted."""
from __future__ import annotations

import asyncio
import io
import uuid

import pytest
from asgiref.sync import async_to_sync
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from accounts.models import User
from chat import history
from chat.models import Conversation, KeptConversation, KeptLine
from chatsite.plumbing import crypto
from tests.kept import make_user

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SECRET_LINE = "meet me at the blue door 🚪 at noon"


@pytest.fixture(autouse=True)
def _real_postgres(postgres: None) -> None:
    pass


def frame(conversation_id: str, seq: int, text: str, mine: bool = True) -> dict:
    return {"type": "message", "id": f"{conversation_id}.{seq}", "client_id": None,
            "from": "me" if mine else "partner", "text": text,
            "ts": f"2026-01-02T03:04:{seq:02d}.123Z", "filtered": False}


def run(steps) -> None:  # noqa: ANN001 - an async function of no arguments
    """Run socket-side calls on one event loop; the database work lands in this thread."""
    async_to_sync(steps)()


def report_conversation(owner: User, conversation_id: str, texts: list[str],
                        how: str = "left") -> None:
    async def steps() -> None:
        await history.conversation_seen(owner.id, conversation_id, "text", "PartnerFox",
                                        "2026-01-02T03:04:00.000Z")
        for seq, text in enumerate(texts, start=1):
            await history.line_seen(owner.id, conversation_id,
                                    frame(conversation_id, seq, text, seq % 2 == 1))
        await history.conversation_closed(owner.id, conversation_id, how)
        await history.flush_history()

    run(steps)


def test_nothing_is_stored_for_a_user_who_does_not_keep_history() -> None:
    user = make_user("forgetful", keeps_history=False)
    report_conversation(user, str(uuid.uuid4()), ["hello", "bye"])
    assert KeptConversation.objects.count() == 0
    assert KeptLine.objects.count() == 0


def test_keepers_copy_holds_both_sides_in_order_with_how_it_ended() -> None:
    user = make_user("keeper")
    conversation_id = str(uuid.uuid4())
    report_conversation(user, conversation_id, ["hi", "hello there", "bye"], how="blocked")
    kept = KeptConversation.objects.get(owner=user)
    assert (str(kept.conversation), kept.mode, kept.partner_handle) == (
        conversation_id, "text", "PartnerFox")
    assert (kept.line_count, kept.ended_how) == (3, "blocked")
    assert kept.ended_at is not None
    lines = list(history.decrypted_lines(kept.pk))
    assert [(line["from"], line["text"]) for line in lines] == [
        ("me", "hi"), ("partner", "hello there"), ("me", "bye")]
    assert lines[0]["ts"] == "2026-01-02T03:04:01.123Z"


def test_a_report_marks_the_conversation_whenever_it_comes() -> None:
    user = make_user("reporter")
    during, after = str(uuid.uuid4()), str(uuid.uuid4())

    async def steps() -> None:
        for conversation_id in (during, after):
            await history.conversation_seen(user.id, conversation_id, "text", "P", "")
            await history.line_seen(user.id, conversation_id, frame(conversation_id, 1, "x"))
        await history.conversation_closed(user.id, during, "reported")
        await history.conversation_closed(user.id, during, "left")
        await history.conversation_closed(user.id, after, "left")
        await history.conversation_closed(user.id, after, "reported")
        await history.flush_history()

    run(steps)
    for kept in KeptConversation.objects.all():
        assert (kept.ended_how, kept.ended_at is not None) == ("reported", True)


def test_the_same_message_delivered_twice_is_kept_once() -> None:
    user = make_user("twice")
    conversation_id = str(uuid.uuid4())

    async def steps() -> None:
        await history.conversation_seen(user.id, conversation_id, "text", "P", "")
        line = frame(conversation_id, 1, "only once")
        await history.line_seen(user.id, conversation_id, line)
        await history.flush_history()
        await history.line_seen(user.id, conversation_id, line)
        await history.flush_history()

    run(steps)
    assert KeptLine.objects.count() == 1
    assert KeptConversation.objects.get().line_count == 1


def test_each_side_that_keeps_history_gets_its_own_copy() -> None:
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol", False)
    conversation_id = str(uuid.uuid4())
    report_conversation(alice, conversation_id, ["from alice's view"])
    report_conversation(bob, conversation_id, ["from bob's view"])
    report_conversation(carol, conversation_id, ["carol keeps nothing"])
    assert sorted(KeptConversation.objects.values_list("owner__username", flat=True)) == [
        "alice", "bob"]
    history.delete_kept(alice.id, uuid.UUID(conversation_id))
    assert list(KeptConversation.objects.values_list("owner__username", flat=True)) == ["bob"]


def test_line_text_is_encrypted_at_rest() -> None:
    user = make_user("secretive")
    report_conversation(user, str(uuid.uuid4()), [SECRET_LINE])
    with connection.cursor() as cursor:
        cursor.execute("SELECT t::text FROM chat_keptline t")
        raw_rows = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT text_encrypted FROM chat_keptline")
        stored = bytes(cursor.fetchone()[0])
    assert raw_rows and all("blue door" not in row for row in raw_rows)
    assert b"blue door" not in stored and SECRET_LINE.encode() not in stored
    assert crypto.decrypt_text(stored) == SECRET_LINE


def test_writes_happen_in_the_background_without_an_explicit_flush(settings) -> None:  # noqa: ANN001
    settings.HISTORY_WRITE_INTERVAL_MS = 20
    user = make_user("patient")
    conversation_id = str(uuid.uuid4())
    counts: list[int] = []

    async def steps() -> None:
        await history.conversation_seen(user.id, conversation_id, "text", "P", "")
        await history.line_seen(user.id, conversation_id, frame(conversation_id, 1, "later"))
        # The call returned before anything reached the database.
        counts.append(await count_lines())
        for _ in range(100):
            await asyncio.sleep(0.05)
            if await count_lines():
                break
        counts.append(await count_lines())

    async def count_lines() -> int:
        from channels.db import database_sync_to_async
        return await database_sync_to_async(KeptLine.objects.count)()

    run(steps)
    assert counts == [0, 1]


def test_lines_without_a_seen_conversation_take_mode_and_partner_from_the_live_one() -> None:
    keeper, partner = make_user("late-keeper"), make_user("stranger", False)
    live = Conversation.objects.create(mode="voice", user_a=partner, user_b=keeper)

    async def steps() -> None:
        await history.line_seen(keeper.id, str(live.id), frame(str(live.id), 1, "hi"))
        await history.flush_history()

    run(steps)
    kept = KeptConversation.objects.get(owner=keeper)
    assert (kept.mode, kept.partner_handle, kept.line_count) == ("voice", "stranger", 1)


def test_a_bad_conversation_id_stores_nothing_and_disturbs_nothing() -> None:
    user = make_user("careful")
    good = str(uuid.uuid4())

    async def steps() -> None:
        await history.line_seen(user.id, "not-a-uuid", frame("x", 1, "lost"))
        await history.line_seen(user.id, good, frame(good, 1, "kept"))
        await history.flush_history()

    run(steps)
    assert [line["text"] for line in history.decrypted_lines(
        KeptConversation.objects.get().pk)] == ["kept"]


def test_key_rotation_re_encrypts_with_the_newest_key(settings) -> None:  # noqa: ANN001
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.HISTORY_KEYS = [old_key]
    user = make_user("rotator")
    report_conversation(user, str(uuid.uuid4()), ["rotate me ✨"])
    settings.HISTORY_KEYS = [new_key, old_key]
    out = io.StringIO()
    call_command("rotate_history_keys", stdout=out)
    assert "re-encrypted 1 item" in out.getvalue()
    settings.HISTORY_KEYS = [new_key]
    kept = KeptConversation.objects.get()
    assert [line["text"] for line in history.decrypted_lines(kept.pk)] == ["rotate me ✨"]


def test_a_malformed_history_key_is_a_clear_configuration_error(settings) -> None:  # noqa: ANN001
    settings.HISTORY_KEYS = ["not-a-key"]
    with pytest.raises(ImproperlyConfigured, match="HISTORY_KEYS: key 1"):
        crypto.encrypt_text("x")
