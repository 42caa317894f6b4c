"""Reports: reasons of the contract, an optional note, one per reporter and conversation, an
evidence snapshot, and a per-user rate limit on the live socket."""
import uuid

import pytest
from chatclient import Socket, guest_session

from accounts.models import User
from chat.models import Conversation
from moderation.models import Report
from moderation.reports import ReportError, file_report

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair() -> tuple[User, User, Conversation]:
    a = User.objects.create(username="alice")
    b = User.objects.create(username="bob")
    conversation = Conversation.objects.create(id=uuid.uuid4(), user_a=a, user_b=b)
    return a, b, conversation


def test_report_keeps_reason_note_and_evidence_snapshot(pair) -> None:
    a, b, conversation = pair
    evidence = [{"from": "bob", "text": "you are awful", "ts": "2026-11-25T10:00:00Z"},
                {"from": "alice", "text": "stop", "ts": "2026-11-25T10:00:05Z"}]
    report = file_report(a.pk, b.pk, str(conversation.pk), "harassment", "kept insulting me",
                         evidence=evidence)
    stored = Report.objects.get(pk=report.pk)
    assert (stored.reporter, stored.reported, stored.reason) == (a, b, "harassment")
    assert stored.note == "kept insulting me"
    assert stored.evidence == evidence
    assert stored.status == Report.Status.OPEN
    assert stored.priority > 0


def test_second_report_in_same_conversation_completes_the_first_instead_of_adding_one(pair
                                                                                       ) -> None:
    a, b, conversation = pair
    first = file_report(a.pk, b.pk, str(conversation.pk), "spam", "")
    again = file_report(a.pk, b.pk, str(conversation.pk), "spam", "links everywhere",
                        evidence=[{"from": "bob", "text": "buy now", "ts": "t"}])
    assert again.pk == first.pk
    assert Report.objects.count() == 1
    stored = Report.objects.get()
    assert stored.note == "links everywhere"
    assert stored.evidence == [{"from": "bob", "text": "buy now", "ts": "t"}]


def test_each_side_may_report_the_same_conversation_once(pair) -> None:
    a, b, conversation = pair
    file_report(a.pk, b.pk, str(conversation.pk), "hate", "")
    file_report(b.pk, a.pk, str(conversation.pk), "harassment", "")
    assert Report.objects.count() == 2


@pytest.mark.parametrize("reason", ["", "rude", "HATE", "minor safety"])
def test_unknown_reason_is_refused_and_nothing_is_stored(pair, reason: str) -> None:
    a, b, conversation = pair
    with pytest.raises(ReportError, match="unknown reason"):
        file_report(a.pk, b.pk, str(conversation.pk), reason, "")
    assert not Report.objects.exists()


def test_reporting_yourself_is_refused(pair) -> None:
    a, _, conversation = pair
    with pytest.raises(ReportError, match="themselves"):
        file_report(a.pk, a.pk, str(conversation.pk), "spam", "")
    assert not Report.objects.exists()


def test_evidence_keeps_only_from_text_and_time_of_the_last_lines(pair, settings) -> None:
    a, b, conversation = pair
    settings.CONVERSATION_LOG_LINES = 3
    lines = [{"from": "bob", "text": f"line {i}", "ts": f"t{i}", "sender": 7, "secret": "x"}
             for i in range(5)]
    report = file_report(a.pk, b.pk, str(conversation.pk), "spam", "", evidence=lines)
    assert Report.objects.get(pk=report.pk).evidence == [
        {"from": "bob", "text": f"line {i}", "ts": f"t{i}"} for i in (2, 3, 4)]


def test_malformed_evidence_is_refused_and_nothing_is_stored(pair) -> None:
    a, b, conversation = pair
    with pytest.raises(ReportError, match="evidence"):
        file_report(a.pk, b.pk, str(conversation.pk), "spam", "", evidence=["just text"])
    assert not Report.objects.exists()


def test_note_is_cut_to_its_limit(pair) -> None:
    a, b, conversation = pair
    report = file_report(a.pk, b.pk, str(conversation.pk), "other", "x" * 5000)
    assert len(Report.objects.get(pk=report.pk).note) == 1000


@pytest.mark.e2e
def test_reports_over_the_rate_limit_are_refused_on_the_socket(start_server) -> None:
    server = start_server(REPORT_RATE_LIMIT="2/h")
    a = Socket(server.url, guest_session(server.url))
    b = Socket(server.url, guest_session(server.url))
    for side in (a, b):
        side.expect("welcome")
        side.send({"type": "find", "mode": "text"})
    a.expect("matched")
    b.expect("matched")
    for _ in range(2):
        a.send({"type": "report", "reason": "spam", "note": ""})
        a.expect("reported")
    a.send({"type": "report", "reason": "spam", "note": "once more"})
    refused = a.expect("error")
    assert refused["code"] == "rate_limited"
    assert Report.objects.count() == 1
    a.close()
    b.close()
