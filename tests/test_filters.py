"""The inline filter masks listed words however they are disguised, and nothing else."""
import random

import pytest

from moderation.filtering.contacts import PHONE_RE, _blank_non_phones
from moderation.filtering.filters import Entry, Matcher, filter_line, parse_wordlist


@pytest.mark.parametrize("line", [
    "fuck",
    "FuCk",
    "f\u200buck",  # zero-width space
    "f\u200d\u202eu\u200ec\u2066k",  # zero-width joiner and bidi controls
    "fuсk",  # Cyrillic с
    "fυck",  # Greek υ
    "ｆｕｃｋ",  # fullwidth
    "fück",
    "f u c k",
    "f.u.c.k",
    "f-u-c-k",
    "f_u_c_k",
    "fuuuuuck",
    "fffuuuucccckkk",
    "sh!t",
    "5h1t",
    "$hit",
    "a$$hole",
    "@ss",
    "b1tch",
    "b!tch",
    "sh1tting",
    "fuckinggggg",
    "motherfucker",
    "Scheiße",
    "hijo de puta",
    "foda-se",
    "kill yourself",
    "k i l l   yourself",
    "ki11 yourse1f",
])
def test_evasion_variants_of_listed_words_are_masked(line: str) -> None:
    result = filter_line(line)
    assert result.filtered
    assert set(result.text) <= {"*", " "}, result.text
    assert len(result.text) == len(line)


@pytest.mark.parametrize("line", [
    "Scunthorpe", "assassin", "classic", "cocktail", "therapist", "Essex", "Sussex",
    "Middlesex", "assess", "bass", "grape", "cumin", "Dickens", "Pakistan", "Arsenal",
    "shiitake", "compute", "as", "hello there", "I passed the class", "Hancock",
    "analysis", "cucumber", "Penistone", "raccoon", "Ontario", "spice",
])
def test_ordinary_words_containing_listed_words_are_left_alone(line: str) -> None:
    result = filter_line(line)
    assert not result.filtered
    assert result.text == line
    assert result.categories == frozenset()


def test_mask_covers_exactly_the_offending_word() -> None:
    assert filter_line("you are a fucking idiot").text == "you are a ******* idiot"
    assert filter_line("what the sh!t!").text == "what the ****!"
    assert filter_line("oh f.u.c.k. off").text == "oh *******. off"


def test_mask_covers_hidden_characters_inside_the_word_and_keeps_the_length() -> None:
    line = "well f\u200bu\u200bck that"
    result = filter_line(line)
    assert result.text == "well " + "*" * 6 + " that"
    assert len(result.text) == len(line)


def test_spaced_out_word_keeps_its_spaces_and_the_rest_of_the_line() -> None:
    assert filter_line("f u c k you and your classic car").text == (
        "* * * * you and your classic car")


def test_several_hits_in_one_line_are_all_masked() -> None:
    assert filter_line("shit, Essex is full of assholes").text == (
        "****, Essex is full of ********")


def test_categories_say_what_was_hit() -> None:
    assert filter_line("kill yourself").categories == frozenset({"threat"})
    assert filter_line("shit").categories == frozenset({"profanity"})
    assert filter_line("ok cool").categories == frozenset()


def test_clean_line_is_returned_unchanged() -> None:
    line = "Hi! I'm 25, from Essex 🙂 — what music do you like?"
    result = filter_line(line)
    assert result.text == line
    assert not result.filtered


def test_numbers_are_not_read_as_leetspeak() -> None:
    assert not filter_line("455").filtered
    assert filter_line("a55").filtered


def test_repeated_letters_do_not_turn_one_word_into_another() -> None:
    assert not filter_line("as").filtered
    assert filter_line("asss").filtered


def test_wordlist_format_sets_categories_and_inside_word_stems() -> None:
    entries = dict(parse_wordlist(["# comment", "## slur", "*zonk", "## threat", "bop it"]))
    assert entries["zonk"] == Entry(4, (1, 1, 1, 1), "slur", True)
    assert entries["bop it"].category == "threat"


def test_matcher_finds_overlapping_entries() -> None:
    matcher = Matcher([(key, Entry(len(key), (1,) * len(key), key, False))
                       for key in ["he", "she", "his", "hers"]])
    found = sorted((end, entry.category) for end, entry in matcher.search("ushers"))
    assert found == [(3, "he"), (3, "she"), (5, "hers")]
    assert Matcher([]).search("anything") == []


@pytest.mark.parametrize(("line", "masked"), [
    ("f*ck you", "**** you"),
    ("sh*t", "****"),
    ("f**k off", "**** off"),
    ("what the f*cking hell", "what the ******* hell"),
    ("you a**hole", "you *******"),
    ("b*tch please", "***** please"),
    ("m*erda", "******"),
])
def test_self_censored_forms_of_listed_words_are_masked(line: str, masked: str) -> None:
    assert filter_line(line).text == masked


@pytest.mark.parametrize("line", [
    "5*3=15", "I *love* it", "*important*", "p*ssword reset", "wh*t do you mean",
    "sh*re this", "a*t class", "2*x + 1", "rate it 4*/5", "**bold** text",
])
def test_innocent_words_with_an_asterisk_are_left_alone(line: str) -> None:
    result = filter_line(line)
    assert (result.text, result.filtered) == (line, False)


def test_blanking_dates_and_prices_never_makes_a_phone_number() -> None:
    """contact_spans blanks dates, prices and the like only in lines that hold a phone-number
    candidate before the blanking; that holds only if blanking never makes one. Lines made
    of digits, separators, dates, times, prices, versions and number words, 20,000 of them."""
    tokens = ["1", "12", "123", "1234", "555", "2024", "05", "12:30", "3:117:42", "$", "€ ",
              "eur", "usd", "v1.2", "version 2.0", "order", "#", "-", "/", ".", ",", ":", " ",
              "  ", "(", ")", "x", "one", "nine", "zero", "call", "at", "+", "_", "*", "–",
              "2019-2020", "12/05/2024", "10.5", "1,000", "1 000"]
    rng = random.Random(16)
    made = []
    for _ in range(20_000):
        line = "".join(rng.choice(tokens) for _ in range(rng.randint(1, 14)))
        if not PHONE_RE.search(line) and PHONE_RE.search(_blank_non_phones(line)):
            made.append(line)
    assert made == []
