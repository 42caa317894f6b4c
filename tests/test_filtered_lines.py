"""The inline filter on the live socket: the partner sees the masked line, the sender's
acknowledgement shows what the partner saw, and a report keeps what was really said."""
import pytest
from channels.db import database_sync_to_async

from moderation.models import Report
from tests.chatsockets import close_all, pair

pytestmark = pytest.mark.django_db(transaction=True)


async def test_masked_line_reaches_partner_masked_and_ack_shows_it(settings) -> None:
    settings.ANALYSIS_ENABLED = False
    a, b, _, _ = await pair()
    await a.send({"type": "message", "text": "call me at 555 123 4567 you a$$hole"})
    ack, seen = await a.expect("message"), await b.expect("message")
    assert seen["filtered"] is True and ack["filtered"] is True
    assert seen["text"] == ack["text"]
    assert "555" not in seen["text"] and "a$$hole" not in seen["text"]
    assert "said" not in seen and "said" not in ack
    await a.send({"type": "message", "text": "a classic cocktail in Scunthorpe"})
    assert (await b.expect("message"))["filtered"] is False
    await close_all(a, b)


async def test_report_evidence_keeps_what_was_said_before_masking(settings) -> None:
    settings.ANALYSIS_ENABLED = False
    a, b, _, _ = await pair()
    await b.send({"type": "message", "text": "you are a fucking idiot"})
    await a.expect("message")
    await b.expect("message")
    await a.send({"type": "report", "reason": "harassment"})
    report_id = (await a.expect("reported"))["report"]
    report = await database_sync_to_async(Report.objects.get)(pk=report_id)
    assert report.evidence[-1]["text"] == "you are a fucking idiot"
    assert report.evidence[-1]["from"] == b.handle
    await close_all(a, b)
