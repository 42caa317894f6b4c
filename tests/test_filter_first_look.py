"""The inline filter's cheap first looks never let through a line that the full reading would
change: whatever a line is, when the first look says "nothing here", reading every word finds
nothing either (and the same for the contact patterns' gates). Checked with hypothesis on
disguised listed words ("f u c k", "fuuuck", "5h!t", "a$$hole", "xfuck", joined and stretched
one-letter words, numbers between letters) and on random text, and on the benchmark's mix."""
from __future__ import annotations

from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from bench.filter_bench import line_mix
from moderation.filtering import contacts
from moderation.filtering.filters import (
    SUFFIXES,
    _wordlist_lines,
    fold,
    fold_text,
    matcher,
    read_word_spans,
    wordlist_entries,
)

ENTRIES = sorted({stream for stream, _, _ in wordlist_entries(_wordlist_lines())})
LEET = {"a": "4@", "e": "3€", "i": "1!|", "l": "1|", "o": "0", "s": "5$", "t": "7", "b": "8",
        "g": "9"}
HOMOGLYPHS = {"a": "а", "e": "е", "o": "о", "c": "с", "u": "υ", "p": "р"}
BETWEEN = ["", "", "", " ", "  ", ".", "-", "_", "!", "|", "!!", " 22 ", "7", "\u200b", ", ",
           " a ", "x"]
AROUND = ["", "", " ", "x", "the ", "a b ", "!", "9", "s", "ing", " you", "ed", "$", ".", "é"]
CHARACTERS = "abcdefhiklmnorstuy .,!|@$€*_-'0123456789\u200bаеосυßéñ😂¿Ａ٣²\t"
RUNS = dict(max_examples=300, deadline=None, database=None,
            suppress_health_check=[HealthCheck.too_slow])


@st.composite
def disguised(draw: st.DrawFn) -> str:
    """A listed entry (or two) as people disguise it, with something around it: each its own
    separator between letters ("f.u.c.k"), some letters changed or stretched."""
    line = draw(st.sampled_from(AROUND))
    for _ in range(draw(st.integers(1, 2))):
        between = draw(st.sampled_from(BETWEEN))
        for char in draw(st.sampled_from(ENTRIES)):
            how = draw(st.integers(0, 7))
            if how == 1:
                char = char.upper()
            elif how == 2:
                char = draw(st.sampled_from(LEET.get(char, char)))
            elif how == 3:
                char = HOMOGLYPHS.get(char, char)
            elif how == 4:
                between = draw(st.sampled_from(BETWEEN))
            line += char * draw(st.sampled_from([1, 1, 1, 2, 3])) + between
        line += draw(st.sampled_from(AROUND))
    return line


# Listed words as they are written, inflected ("wanking", "bitches"), in a sentence.
INFLECTED = st.builds("{}{}{} {}".format, st.sampled_from(AROUND), st.sampled_from(ENTRIES),
                      st.sampled_from(sorted(SUFFIXES)), st.sampled_from(AROUND))
LINES = st.one_of(disguised(), INFLECTED, st.text(alphabet=CHARACTERS, max_size=30))


def passed_by_first_look(line: str) -> bool:
    return not matcher().first_look.may_hold(fold_text(line))


@hypothesis_settings(**RUNS)
@given(LINES)
# Rare shapes, named so that every run tries them: "!" or "|" between a letter and a digit,
# numbers between one-letter words, a listed word right after a non-ASCII letter.
@example("sh!7")
@example("5h|7 head")
@example("f 22 u 22 c 22 k")
@example("éfuck")
def test_a_line_the_first_look_passes_holds_no_listed_word(line: str) -> None:
    folded = fold_text(line)
    if not matcher().first_look.may_hold(folded):
        assert read_word_spans(folded) == [], line


@hypothesis_settings(**RUNS)
@given(LINES)
def test_the_contact_gates_pass_only_lines_without_contacts(line: str) -> None:
    folded = fold_text(line)
    if not contacts._may_hold_a_phone_number(folded):
        assert not contacts.PHONE_RE.search(contacts._blank_non_phones(folded)), line
    if "." not in folded and "dot" not in folded:
        assert not contacts.EMAIL_RE.search(folded), line


@hypothesis_settings(**RUNS)
@given(LINES)
def test_the_folded_text_is_the_folded_line_with_its_index(line: str) -> None:
    folded, index = fold(line)
    assert fold_text(line) == folded
    if index is not None:
        assert len(index) == len(folded)


def test_the_first_look_passes_most_ordinary_lines_and_no_listed_word() -> None:
    lines = line_mix(4000)
    for _, line in lines:
        if passed_by_first_look(line):
            assert read_word_spans(fold_text(line)) == [], line
    clean = [line for kind, line in lines if kind == "clean"]
    passed = sum(passed_by_first_look(line) for line in clean)
    assert passed / len(clean) > 0.7, "the first look no longer spares the ordinary lines"
    # A disguised listed word is never passed.
    for line in ("f u c k", "fuuuuck", "5h!t", "a$$hole", "xfuck", "k i l l   yourself",
                 "s.h.i.t", "kill, yourself"):
        assert not passed_by_first_look(line), line
