"""The queue's priority: severity first, corroborated reports and repeat offenders rise,
reports from users whose reports keep being dismissed sink."""
import uuid
from itertools import count

import pytest

from accounts.models import User
from chat.models import Conversation
from moderation.decisions import decide_appeal, decide_report, file_appeal
from moderation.models import Report
from moderation.priority import refresh_priorities
from moderation.reports import file_report

pytestmark = pytest.mark.django_db
_handles = count()


def user(name: str = "") -> User:
    return User.objects.create(username=name or f"user{next(_handles)}")


def report(reporter: User | None, reported: User, reason: str, **kwargs) -> Report:
    conversation = Conversation.objects.create(id=uuid.uuid4(), user_a=reporter, user_b=reported)
    return file_report(reporter.pk if reporter else None, reported.pk, str(conversation.pk),
                       reason, "", **kwargs)


def priority(r: Report) -> float:
    return Report.objects.get(pk=r.pk).priority


def test_minor_safety_and_self_harm_come_before_other_reasons() -> None:
    reasons = ["spam", "other", "harassment", "self_harm", "hate", "minor_safety", "sexual"]
    reports = {reason: report(user(), user(), reason) for reason in reasons}
    order = sorted(reports, key=lambda reason: -priority(reports[reason]))
    assert order[:2] == ["minor_safety", "self_harm"]
    assert set(order[-2:]) == {"spam", "other"}


def test_more_distinct_reporters_against_one_user_raise_the_priority() -> None:
    target = user()
    first = report(user(), target, "harassment")
    alone = priority(first)
    report(user(), target, "harassment")
    report(user(), target, "harassment")
    assert priority(first) > alone


def test_a_high_classifier_score_raises_the_priority() -> None:
    plain = report(user(), user(), "harassment")
    scored = report(user(), user(), "harassment", classifier_score=0.97)
    assert priority(scored) > priority(plain)


def test_a_user_with_upheld_sanctions_rises_and_a_granted_appeal_takes_that_back() -> None:
    moderator, other_moderator = user("mod1"), user("mod2")
    offender, newcomer = user(), user()
    old = report(user(), offender, "harassment")
    warning = decide_report(old.pk, moderator.pk, "warn", "insults")
    fresh_offender = report(user(), offender, "spam")
    fresh_newcomer = report(user(), newcomer, "spam")
    assert priority(fresh_offender) > priority(fresh_newcomer)
    appeal = file_appeal(offender.pk, warning.pk, "it was a joke between friends")
    decide_appeal(appeal.pk, other_moderator.pk, grant=True, reason="context shows banter")
    assert priority(fresh_offender) == priority(fresh_newcomer)


def test_report_bombing_sinks_below_an_honest_report() -> None:
    moderator, bomber, honest = user("mod"), user("bomber"), user("honest")
    for _ in range(6):
        bogus = report(bomber, user(), "harassment")
        decide_report(bogus.pk, moderator.pk, "dismiss", "nothing in the transcript")
    bombing = report(bomber, user(), "minor_safety")
    honest_report = report(honest, user(), "harassment")
    assert priority(bombing) < priority(honest_report)


def test_dismissals_lower_the_reporters_other_open_reports_at_once() -> None:
    moderator, bomber = user("mod"), user("bomber")
    waiting = report(bomber, user(), "hate")
    before = priority(waiting)
    for _ in range(3):
        bogus = report(bomber, user(), "hate")
        decide_report(bogus.pk, moderator.pk, "dismiss", "nothing there")
    assert priority(waiting) < before


def test_a_ring_of_bombers_adds_little_corroboration() -> None:
    moderator = user("mod")
    bombers = [user() for _ in range(4)]
    for bomber in bombers:
        for _ in range(5):
            decide_report(report(bomber, user(), "spam").pk, moderator.pk, "dismiss", "no")
    ring_target, honest_target = user(), user()
    for bomber in bombers:
        ring_report = report(bomber, ring_target, "harassment")
    honest_first = report(user(), honest_target, "harassment")
    report(user(), honest_target, "harassment")
    assert priority(ring_report) < priority(honest_first)


def test_refresh_changes_nothing_when_nothing_changed() -> None:
    target = user()
    report(user(), target, "hate")
    assert refresh_priorities(reported_id=target.pk) == 0
