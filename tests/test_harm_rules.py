"""Harm rules: measured on a labelled set (tests/data), without masking ordinary talk, and
each hit reaching the moderators' queue as an automatic report with its own priority; the
speaker who says they think of hurting themselves is quietly offered help, alone."""
from __future__ import annotations

from pathlib import Path

import pytest

from accounts.models import User
from chat.models import Conversation
from moderation.analysis import PendingLine, record_scores
from moderation.filtering import harm
from moderation.filtering.filters import filter_line, fold
from moderation.models import Report
from tests.test_analysis import log_live_lines

DATA = Path(__file__).resolve().parent / "data"
LINE_CATEGORIES = (harm.THREAT, harm.DOXXING, harm.SELF_HARM_ENCOURAGEMENT,
                   harm.SELF_HARM_IDEATION, harm.SLUR_INSULT)
# Measured on the labelled set (see the README's figures); a change that loses more fails.
FLOORS = {harm.THREAT: (0.95, 0.95), harm.DOXXING: (0.95, 0.95),
          harm.SELF_HARM_ENCOURAGEMENT: (0.95, 0.95), harm.SELF_HARM_IDEATION: (0.95, 0.95),
          harm.SLUR_INSULT: (0.9, 0.9), harm.MINOR_SAFETY: (0.95, 0.95)}
# The held-out lines (written after the rules were frozen): measured 1.0 precision in every
# category, recall 0.9 for threats, encouragement and ideation, 1.0 for doxxing and slurs.
HELD_OUT_FLOORS = (0.9, 0.85)


def labelled(name: str) -> list[tuple[str, str]]:
    rows = []
    for raw in (DATA / name).read_text(encoding="utf-8").splitlines():
        if raw.strip() and not raw.startswith("#"):
            label, _, text = raw.partition("\t")
            rows.append((label, text))
    return rows


def conversation_offenders(text: str) -> set[str]:
    """Who the analysis reports for minor safety in a conversation "A: .. | B: ..", judging
    each line with all the others, as moderation.analysis does."""
    turns = [(turn.split(":", 1)[0].strip(), turn.split(":", 1)[1].strip())
             for turn in text.split(" | ")]
    ids = {"A": 1, "B": 2}
    judged = [(ids[who], filter_line(said).harm) for who, said in turns]
    offenders: set[int] = set()
    for number, (sender, hits) in enumerate(judged):
        others = [line for index, line in enumerate(judged) if index != number]
        offenders |= harm.minor_safety(sender, hits, others)
    return {who for who, user in ids.items() if user in offenders}


def measure_lines(name: str) -> dict[str, tuple[float, float, int, int]]:
    """Per line category of a labelled file: (precision, recall, harmful, look-alikes)."""
    figures = {}
    lines = [(label, filter_line(text).harm) for label, text in labelled(name)]
    for category in LINE_CATEGORIES:
        true_pos = sum(1 for label, hits in lines if label == category and category in hits)
        false_pos = sum(1 for label, hits in lines if label != category and category in hits)
        positives = sum(1 for label, _ in lines if label == category)
        lookalikes = sum(1 for label, _ in lines if label == f"-{category}")
        figures[category] = (true_pos / max(1, true_pos + false_pos), true_pos / positives,
                             positives, lookalikes)
    return figures


def measure_minor_safety() -> tuple[float, float, int, int]:
    conversations = [(label, conversation_offenders(text))
                     for label, text in labelled("minor_safety.tsv")]
    true_pos = sum(1 for label, found in conversations
                   if label.startswith("minor_safety:") and found == {label[-1]})
    flagged = sum(1 for _, found in conversations if found)
    positives = sum(1 for label, _ in conversations if label.startswith("minor_safety:"))
    return (true_pos / max(1, flagged), true_pos / positives, positives,
            len(conversations) - positives)


def measure() -> dict[str, tuple[float, float, int, int]]:
    return {**measure_lines("harm_lines.tsv"), harm.MINOR_SAFETY: measure_minor_safety()}


def test_the_labelled_set_is_large_and_half_harmless() -> None:
    rows = (labelled("harm_lines.tsv") + labelled("minor_safety.tsv")
            + labelled("harm_heldout.tsv"))
    harmless = [label for label, _ in rows if label.startswith("-")]
    assert len(rows) >= 300
    assert 0.45 <= len(harmless) / len(rows) <= 0.55


def test_harmless_look_alikes_are_flagged_for_nothing_reported() -> None:
    wrong = [(text, sorted(filter_line(text).harm & harm.REPORTED.keys()))
             for label, text in labelled("harm_lines.tsv") if label.startswith("-")]
    wrong = [item for item in wrong if item[1]]
    assert len(wrong) <= 2, wrong


@pytest.mark.parametrize("category", [*LINE_CATEGORIES, harm.MINOR_SAFETY])
def test_precision_and_recall_per_category(category: str) -> None:
    precision, recall, _, _ = measure()[category]
    assert precision >= FLOORS[category][0] and recall >= FLOORS[category][1], (
        precision, recall)


@pytest.mark.parametrize("category", LINE_CATEGORIES)
def test_precision_and_recall_on_held_out_lines(category: str) -> None:
    precision, recall, _, _ = measure_lines("harm_heldout.tsv")[category]
    assert precision >= HELD_OUT_FLOORS[0] and recall >= HELD_OUT_FLOORS[1], (precision, recall)


def test_the_trigger_words_never_hide_a_rule_that_matches() -> None:
    """The Aho-Corasick pre-pass only skips rules that could not match: every labelled line
    gets the same categories as running every rule on it."""
    texts = [text for name in ("harm_lines.tsv", "harm_heldout.tsv")
             for _, text in labelled(name)]
    texts += [turn.split(":", 1)[1].strip() for _, text in labelled("minor_safety.tsv")
              for turn in text.split(" | ")]
    for text in texts:
        folded = " ".join(fold(text)[0].split())
        every_rule = {name for name in harm.RULES if harm._matches(name, folded)}
        assert harm.scan(folded) == frozenset(every_rule), text


@pytest.mark.parametrize("text", [
    "my school is hard", "what school did you like best as a kid?", "I know where you're from",
    "I'm going to kill it at the interview", "I want to dye my hair"])
def test_ordinary_talk_is_neither_masked_nor_flagged(text: str) -> None:
    result = filter_line(text)
    assert (result.text, result.filtered) == (text, False)
    assert not result.harm & harm.REPORTED.keys()


def test_harm_is_never_masked() -> None:
    result = filter_line("I know where you live")
    assert result.text == "I know where you live"
    assert harm.DOXXING in result.harm


# ---- reports: each hit files or raises one automatic report with its own priority ----


@pytest.fixture
def people(postgres: None, db: None) -> tuple[User, User, Conversation]:
    adult = User.objects.create(username="adult")
    teen = User.objects.create(username="teen")
    return adult, teen, Conversation.objects.create(user_a=adult, user_b=teen)


def said(user: User, conversation: Conversation, texts: list[str], first_seq: int = 1
         ) -> list[PendingLine]:
    return [PendingLine.seal(str(conversation.id), seq, user.id, text)
            for seq, text in enumerate(texts, start=first_seq)]


def log_lines(conversation: Conversation, lines: list[tuple[User, str]]) -> None:
    log_live_lines(conversation, lines)


@pytest.mark.parametrize(("text", "reason"), [
    ("I'm going to stab you", Report.Reason.HARASSMENT),
    ("I know where you live", Report.Reason.HARASSMENT),
    ("just go kill yourself", Report.Reason.SELF_HARM),
    ("shut up you retard", Report.Reason.HATE),
])
def test_each_hit_files_an_automatic_report(people, text: str, reason: str) -> None:  # noqa: ANN001
    adult, teen, conversation = people
    log_lines(conversation, [(adult, text)])
    record_scores(said(adult, conversation, [text]))
    report = Report.objects.get()
    assert (report.reporter, report.reported, report.reason) == (None, adult, reason)
    assert report.evidence[-1]["text"] == text


def test_sexual_talk_toward_someone_under_18_comes_first(people) -> None:  # noqa: ANN001
    adult, teen, conversation = people
    threat = "watch your back"
    lines = [(teen, "hi, i'm 14"), (adult, threat), (adult, "send nudes")]
    log_lines(conversation, lines)
    record_scores(said(adult, conversation, [threat]))
    first = Report.objects.get()
    assert first.reason == Report.Reason.HARASSMENT
    record_scores(said(adult, conversation, ["send nudes"], first_seq=3))
    raised = Report.objects.get()  # the same report, raised
    assert raised.reason == Report.Reason.MINOR_SAFETY
    assert raised.priority > first.priority
    assert "minor safety" in raised.note
    assert [line["text"] for line in raised.evidence] == [text for _, text in lines]


def test_age_and_school_questions_after_sexual_talk_are_flagged(people) -> None:  # noqa: ANN001
    adult, teen, conversation = people
    lines = [(adult, "you sound sexy"), (adult, "what school do you go to, how old are you")]
    log_lines(conversation, lines)
    record_scores(said(adult, conversation, [text for _, text in lines]))
    assert Report.objects.get().reason == Report.Reason.MINOR_SAFETY


def test_the_same_questions_alone_file_no_minor_safety_report(people) -> None:  # noqa: ANN001
    adult, teen, conversation = people
    lines = [(adult, "hi"), (adult, "how old are you")]
    log_lines(conversation, lines)
    record_scores(said(adult, conversation, [text for _, text in lines]))
    assert not Report.objects.exists()


def test_someone_saying_they_think_of_hurting_themselves_is_not_reported(people) -> None:  # noqa: ANN001
    adult, teen, conversation = people
    record_scores(said(teen, conversation, ["i want to die"]))
    assert not Report.objects.exists()


def test_support_resources_are_a_setting(settings) -> None:  # noqa: ANN001
    settings.SUPPORT_RESOURCES = ["Local line|https://help.example.org", "bad|http://x"]
    assert harm.support_frame() == {
        "type": "support", "resources": [{"name": "Local line",
                                          "url": "https://help.example.org"}]}


if __name__ == "__main__":  # print the figures: python -m tests.test_harm_rules
    import django

    django.setup()
    for title, figures in (("labelled set", measure()),
                           ("held out", measure_lines("harm_heldout.tsv"))):
        print(title)
        for name, (precision, recall, positives, lookalikes) in figures.items():
            print(f"  {name:26} precision {precision:.3f} recall {recall:.3f} "
                  f"({positives} harmful, {lookalikes} look-alikes)")
