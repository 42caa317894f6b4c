"""The inline filter: masks listed words and contact details in a line before it is relayed.

It runs on every line, so it reads a line in a few passes of C-level string work and touches
characters one by one in Python only where a hit has to be checked. The line and the word
lists (`filtering/wordlists/*.txt`) go through the same steps, so list entries are written
plainly:

1. Folding, character by character: NFKC, case folding, accents dropped, Cyrillic and Greek
   look-alikes mapped to Latin letters; zero-width and bidi control characters vanish.
2. Words: the folded line is cut at spaces and punctuation. Inside a word that has a letter,
   leetspeak is read (0→o, 3→e, 4→a, 5/$→s, 7→t, @→a, and 1, ! and | stand for "i or l");
   a word of digits only stays a number. Three or more one-letter words in a row ("f u c k",
   "f.u.c.k") are read as one word.
3. Runs of one letter are collapsed ("fuuuck" → "fuck"), keeping each run's length so that
   "as" is not taken for "ass".
4. One Aho-Corasick pass (pyahocorasick) finds every entry. A hit counts when it starts a
   word and ends one, or ends in a common inflection ("-s", "-ed", "-ing"): ordinary words
   that merely contain an entry ("Scunthorpe", "assassin", "therapist") are left alone.

Most lines hold no listed word, and steps 2-4 (Python over every word) cost most of the
filter, so a first look (`FirstLook`) comes before them: without leetspeak, a line's words
are its runs of letters, and one automaton pass over them, single-spaced, can prove that no
entry starts a word there; only the lines it cannot clear are read word by word. It decides
nothing itself: the lines it clears are exactly those on which the reading finds nothing
(tests/test_filter_first_look.py checks this with hypothesis). The line is folded once, and
the folded line serves the word lists, the contact patterns and the harm rules.

Masking: every character of the original line from the first to the last character that made
up a hit becomes "*", except whitespace, which is kept. The masked line has exactly the
original's length in code points, and a zero-width character inside a hit is masked too.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations, product
from operator import itemgetter
from pathlib import Path
from types import MappingProxyType

import ahocorasick
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

from accounts.handles import HandleValidator
from moderation.filtering import contacts, harm

WORDLIST_DIR = Path(__file__).resolve().parent / "wordlists"
MASK = "*"
DEFAULT_CATEGORY = "profanity"


@dataclass(frozen=True, slots=True)
class FilterResult:
    text: str  # the line as the partner sees it
    filtered: bool
    categories: frozenset[str] = frozenset()
    # moderation.filtering.harm's categories for the line: reported, never masked.
    harm: frozenset[str] = frozenset()


# Lower-case Cyrillic and Greek letters that pass for Latin ones (after case folding).
HOMOGLYPHS = MappingProxyType(str.maketrans({
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d",
    "һ": "h", "ӏ": "l", "ԛ": "q", "ԝ": "w", "ѵ": "v", "ɡ": "g", "ı": "i", "ł": "l", "ø": "o",
    "đ": "d", "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "μ": "u", "ν": "v",
    "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "γ": "y", "ω": "w", "ς": "s",
}))
# "1" stays "1": it may be an i or an l, and the automaton holds both readings of each entry.
LEET = MappingProxyType(str.maketrans({
    "0": "o", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g", "@": "a", "$": "s",
    "€": "e", "!": "1", "|": "1",
}))
AMBIGUOUS_ONE = "il"
SUFFIXES = frozenset({"s", "es", "d", "ed", "er", "ers", "ing", "ings"})

WORD_RE = re.compile(r"(?:[^\W_]|[@$!|€])+")
LETTER_RE = re.compile(r"[^\W\d_]")
REPEAT_RE = re.compile(r"(.)\1+")
_FIRST_GROUP = itemgetter(1)  # REPEAT_RE's replacement, called from C (a template is not)
# A single run this long is deliberate stretching, so "fuckingggg" counts as "fucking".
STRETCHED_RUN = 3


@lru_cache(maxsize=16384)
def _fold_char(char: str) -> str:
    if char < "\x80":
        return char.lower()  # ASCII, control characters included, stays as it is typed
    category = unicodedata.category(char)
    if category in ("Cf", "Mn", "Me"):  # zero-width, bidi controls, combining marks
        return ""
    if category == "Cc":
        return " "
    folded = unicodedata.normalize("NFKC", char).casefold()
    decomposed = unicodedata.normalize("NFKD", folded)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(HOMOGLYPHS)


def fold_text(text: str) -> str:
    """The folded line alone: `fold(text)[0]`, without the index that only masking needs."""
    if text.isascii():
        return text.lower()
    # map() calls the cached C wrapper straight from C: no Python frame per character.
    return "".join(map(_fold_char, text))


def fold(text: str) -> tuple[str, list[int] | None]:
    """The folded line and, per folded character, its index in `text` (None: the same)."""
    if text.isascii():
        return text.lower(), None
    parts = list(map(_fold_char, text))
    index = [position for position, part in enumerate(parts) for _ in part]
    return "".join(parts), index


@dataclass(slots=True)
class _Words:
    """The words of a folded line joined by single spaces, leetspeak read."""

    stream: str
    # Per word: its start in the folded line, or, for joined one-letter words, each
    # letter's position there.
    origins: list[int | list[int]]

    def folded_positions(self) -> list[int]:
        """Per stream character, its position in the folded line (-1 between words)."""
        positions: list[int] = []
        for number, (origin, word) in enumerate(zip(self.origins, self.stream.split(" "),
                                                    strict=True)):
            if number:
                positions.append(-1)
            if isinstance(origin, list):
                positions.extend(origin)
            else:
                positions.extend(range(origin, origin + len(word)))
        return positions

    def joined_positions(self) -> set[int]:
        """Stream positions of letters that were written as separate one-letter words."""
        joined: set[int] = set()
        offset = 0
        for origin, word in zip(self.origins, self.stream.split(" "), strict=True):
            if isinstance(origin, list):
                joined.update(range(offset, offset + len(word)))
            offset += len(word) + 1
        return joined


def read_words(folded: str) -> _Words:
    words: list[str] = []
    origins: list[int | list[int]] = []
    letters: list[str] = []
    letter_origins: list[int] = []

    def flush_letters() -> None:
        if len(letters) >= 3:
            words.append("".join(letters))
            origins.append(list(letter_origins))
        else:
            words.extend(letters)
            origins.extend(letter_origins)
        letters.clear()
        letter_origins.clear()

    for match in WORD_RE.finditer(folded):
        bare = match.group()
        start = match.start()
        if not bare.isalpha():  # letters only (most words) read as they are
            word = bare
            # "!" and "|" at a word's edge are punctuation; only inside a word are they
            # letters.
            bare = word.strip("!|")
            if not bare or not LETTER_RE.search(bare):
                continue  # a number or a row of symbols
            start += len(word) - len(word.lstrip("!|"))
            bare = bare.translate(LEET)
        if len(bare) == 1:
            letters.append(bare)
            letter_origins.append(start)
            continue
        if letters:
            flush_letters()
        words.append(bare)
        origins.append(start)
    if letters:
        flush_letters()
    return _Words(" ".join(words), origins)


def collapse(stream: str) -> tuple[str, list[int], list[int]]:
    """The stream with runs collapsed, and per collapsed character its start and run length."""
    collapsed: list[str] = []
    starts: list[int] = []
    runs: list[int] = []
    previous = ""
    for position, char in enumerate(stream):
        if char == previous and char != " ":
            runs[-1] += 1
            continue
        collapsed.append(char)
        starts.append(position)
        runs.append(1)
        previous = char
    return "".join(collapsed), starts, runs


@dataclass(frozen=True, slots=True)
class Entry:
    length: int  # in collapsed characters
    runs: tuple[int, ...]  # the least run length each collapsed character needs
    category: str
    inside_words: bool


class Matcher:
    """Every list entry in one Aho-Corasick automaton (pyahocorasick, in C: the scan runs on
    every line); each key carries the entries that read as it. `first_look` tells, far more
    cheaply, whether a line can hold any of them at all."""

    def __init__(self, keys: Iterable[tuple[str, Entry]]) -> None:
        entries: dict[str, list[Entry]] = {}
        for key, entry in keys:
            if entry not in entries.setdefault(key, []):
                entries[key].append(entry)
        self.automaton = ahocorasick.Automaton()
        for key, found in entries.items():
            self.automaton.add_word(key, tuple(found))
        if entries:
            self.automaton.make_automaton()
        self.first_look = FirstLook(entries)

    def search(self, text: str) -> list[tuple[int, Entry]]:
        """Every `(end index, entry)` whose key ends at that index."""
        if self.automaton.kind != ahocorasick.AHOCORASICK:
            return []
        return [(end, entry) for end, found in self.automaton.iter(text) for entry in found]


# ---- the first look: proving, in a few passes of C, that a line holds no listed word ----

# Leetspeak inside a word: a letter and a digit, "@", "$" or "€" in one word (with only "!" or
# "|" between them), or "!" or "|" before a letter, where they read as i or l. A line without
# it reads as it is written: its words are its runs of letters, and numbers are dropped.
_LEETSPEAK_RE = re.compile(
    r"[^\W\d_][!|]*[\d@$€]|[\d@$€][!|]*[^\W\d_]|[!|][^\W\d_]")
# Fast looks for the characters it needs, so that it runs only on the few lines with them.
_LEETSPEAK_HINT_RE = re.compile(r"[\d@$€]|[!|][^\W_]")
_LEETSPEAK_BYTES = b"0123456789@$!|"
_NOT_LETTERS_RE = re.compile(r"[\W\d_]+")
_LETTERS_BYTES = bytes(code if chr(code).isalpha() and code < 128 else 32 for code in range(256))
# A listed word's first characters (at most this many) stand for it in the first look: each
# may be written once or twice, so that the line need not be collapsed ("fuuck").
FIRST_LOOK_CHARS = 6
# Words of many-word entries that would send most lines to be read if they stood for their
# entry ("i will kill you" is looked for as "kill"); collapsed, as the keys are.
_COMMON_WORDS = frozenset(
    "i u you wil go me te se ta tu de da a of no um que vai va je ich".split())


def _standing_word(key: str) -> tuple[int, str]:
    """The word of a (collapsed) key that stands for it, the longest uncommon one, and where
    it starts in the key."""
    offset, standing = max(
        ((sum(len(word) + 1 for word in key.split(" ")[:number]), word)
         for number, word in enumerate(key.split(" "))),
        key=lambda found: (found[1] not in _COMMON_WORDS, len(found[1])))
    return offset, standing


def _written_as(word: str, needs: Iterable[int]) -> Iterable[str]:
    """`word` (collapsed) with each character written as many times as its entry needs, up
    to twice (a longer run is looked at anyway)."""
    return ("".join(chars) for chars in product(
        *(tuple(char * times for times in range(max(need, 1), 3))
          for char, need in zip(word, needs, strict=True))))


# What may follow a listed word in the same word: nothing, or a common inflection.
_WORD_ENDS = (" ", *(suffix + " " for suffix in sorted(SUFFIXES)))


class FirstLook:
    """Whether a folded line may hold a listed word; False is a proof that `_word_spans` finds
    none, so that the words need not be read (most lines). One automaton pass over the line's
    runs of letters, single-spaced, decides.

    Per entry it holds one word of the collapsed key (`_standing_word`) with each character
    written as often as the entry needs, once or twice: after a space, since a listed word
    starts a word and so does every word of an entry after the first (anywhere if the entry
    counts inside words), and followed by the end of the word or an inflection ("ass",
    "asses", not "assume"); words longer than FIRST_LOOK_CHARS by their start alone. And
    spelled out ("f u c k"), for one-letter words that `read_words` joins, where an entry may
    start and end anywhere. A line whose words need reading (leetspeak, `_LEETSPEAK_RE`) or
    that has a letter three times in a row ("fuuuck") is always read.
    """

    def __init__(self, entries: dict[str, list[Entry]]) -> None:
        self.empty = not entries
        self.automaton = ahocorasick.Automaton()
        letters: set[str] = set()
        for key, found in entries.items():
            if "1" in key:
                continue  # a "1" reading: only a line with a digit, "!" or "|", which is read
            offset, standing = _standing_word(key)
            whole = len(standing) <= FIRST_LOOK_CHARS
            standing = standing[:FIRST_LOOK_CHARS]
            letters.update(standing)
            for entry in found:
                needs = entry.runs[offset:offset + len(standing)]
                for written in _written_as(standing, needs):
                    self.automaton.add_word(" ".join(written), None)
                    if entry.inside_words:
                        self.automaton.add_word(written, None)
                    else:
                        for end in (_WORD_ENDS if whole else ("",)):
                            self.automaton.add_word(" " + written + end, None)
        for letter in letters:  # stretched ("fuuuck"): the line is read
            self.automaton.add_word(letter * 3, None)
            self.automaton.add_word(" ".join(letter * 3), None)
        if letters:
            self.automaton.make_automaton()

    def may_hold(self, folded: str) -> bool:
        if self.empty:
            return False
        if folded.isascii():  # bytes.translate: one C loop over a 256-byte table
            raw = folded.encode("ascii")
            if len(raw.translate(None, _LEETSPEAK_BYTES)) != len(raw) and (
                    _LEETSPEAK_RE.search(folded)):
                return True
            words = " ".join(raw.translate(_LETTERS_BYTES).decode("ascii").split())
        else:
            if _LEETSPEAK_HINT_RE.search(folded) and _LEETSPEAK_RE.search(folded):
                return True
            words = _NOT_LETTERS_RE.sub(" ", folded)
        if self.automaton.kind != ahocorasick.AHOCORASICK:
            return False  # every entry has a "1", which only a line read above can hold
        for _ in self.automaton.iter(f" {words} "):
            return True
        return False


def _readings(stream: str) -> set[str]:
    """The entry as written and with each subset of its i's and l's read as "1"."""
    places = [i for i, char in enumerate(stream) if char in AMBIGUOUS_ONE]
    if len(places) > 6:
        places_sets: Iterable[tuple[int, ...]] = [(), tuple(places)]
    else:
        places_sets = (subset for size in range(len(places) + 1)
                       for subset in combinations(places, size))
    readings = set()
    for subset in places_sets:
        chars = list(stream)
        for place in subset:
            chars[place] = "1"
        readings.add("".join(chars))
    return readings


def wordlist_entries(lines: Iterable[str]) -> Iterable[tuple[str, str, bool]]:
    """Each entry of a word list as `(words as the filter reads them, category,
    inside_words)`."""
    category = DEFAULT_CATEGORY
    for raw in lines:
        line = raw.strip()
        if line.startswith("##"):
            category = line.lstrip("#").strip() or DEFAULT_CATEGORY
            continue
        if not line or line.startswith("#"):
            continue
        stream = read_words(fold(line.lstrip("*"))[0]).stream
        if stream:
            yield stream, category, line.startswith("*")


def parse_wordlist(lines: Iterable[str]) -> Iterable[tuple[str, Entry]]:
    for stream, category, inside_words in wordlist_entries(lines):
        for reading in _readings(stream):
            key, _, runs = collapse(reading)
            yield key, Entry(len(key), tuple(runs), category, inside_words)


@lru_cache(maxsize=1)
def matcher() -> Matcher:
    """Built once per process from every word list."""
    return Matcher(parse_wordlist(_wordlist_lines()))


def _wordlist_lines() -> Iterable[str]:
    for path in sorted(WORDLIST_DIR.glob("*.txt")):
        yield from path.read_text(encoding="utf-8").splitlines()


@lru_cache(maxsize=1)
def single_words() -> tuple[tuple[str, str], ...]:
    """The one-word entries of every list, `(word, category)`, for self-censored forms."""
    return tuple((stream, category) for stream, category, _ in wordlist_entries(
        _wordlist_lines()) if " " not in stream)


# A word with asterisks inside it ("f*ck", "sh*t", "a**hole"); asterisks around a word
# ("*really*") are emphasis and never match.
STARRED_RE = re.compile(r"[^\W_]+(?:\*+[^\W_]+)+")


def _reads_as(starred: str, word: str) -> bool:
    """Whether `starred` is `word` (plus a common inflection) with letters starred out."""
    if len(starred) < len(word) or starred[len(word):] not in SUFFIXES | {""}:
        return False
    return all(char in ("*", letter)
               for char, letter in zip(starred[:len(word)], word, strict=True))


def _starred_spans(folded: str) -> list[tuple[int, int, str]]:
    """Spans of self-censored forms of listed words."""
    spans = []
    for match in STARRED_RE.finditer(folded):
        token = match.group()
        if len(LETTER_RE.findall(token)) < 2:
            continue  # "5*3" is arithmetic
        read = token.translate(LEET)
        for word, category in single_words():
            if _reads_as(read, word):
                spans.append((match.start(), match.end(), category))
                break
    return spans


def _word_spans(folded: str) -> list[tuple[int, int, str]]:
    """Spans `(start, end, category)` of listed words in a folded line."""
    if not matcher().first_look.may_hold(folded):
        return []
    return read_word_spans(folded)


def read_word_spans(folded: str) -> list[tuple[int, int, str]]:
    """`_word_spans` without the first look: the line's words read one by one."""
    words = read_words(folded)
    if not words.stream:
        return []
    collapsed = REPEAT_RE.sub(_FIRST_GROUP, words.stream)
    hits = matcher().search(collapsed)
    if not hits:
        return []
    _, starts, runs = collapse(words.stream)
    joined = words.joined_positions()
    positions = words.folded_positions()
    stream = words.stream
    spans: list[tuple[int, int, str]] = []
    for end, entry in hits:
        start = end - entry.length + 1
        if any(runs[start + i] < need for i, need in enumerate(entry.runs)):
            continue
        first = starts[start]
        last = starts[end] + runs[end] - 1
        if not entry.inside_words and not (
                first == 0 or stream[first - 1] == " " or (first in joined
                                                           and first - 1 in joined)):
            continue
        if entry.inside_words:
            # A stem that no ordinary word contains takes the whole word with it.
            first = stream.rfind(" ", 0, first) + 1
            word_end = stream.find(" ", last)
            last = (len(stream) if word_end < 0 else word_end) - 1
        after = last + 1
        if after < len(stream) and stream[after] != " " and not (
                last in joined and after in joined):
            word_end = stream.find(" ", after)
            word_end = len(stream) if word_end < 0 else word_end
            rest_start = end + 1
            rest_end = rest_start
            while rest_end < len(collapsed) and collapsed[rest_end] != " ":
                rest_end += 1
            stretched = any(run >= STRETCHED_RUN for run in runs[rest_start:rest_end])
            if collapsed[rest_start:rest_end] not in SUFFIXES or not (
                    stream[after:word_end] in SUFFIXES or stretched):
                continue
            last = word_end - 1
        spans.append((positions[first], positions[last] + 1, entry.category))
    return spans


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        for position in range(start, end):
            if not chars[position].isspace():
                chars[position] = MASK
    return "".join(chars)


def filter_line(text: str) -> FilterResult:
    """The line as the partner may see it, with listed words and contact details masked."""
    folded = fold_text(text)  # once, for the word lists, contact patterns and harm rules
    spans = _word_spans(folded)
    if "*" in folded:
        spans.extend(_starred_spans(folded))
    hits = (harm.scan(folded, {category for _, _, category in spans})
            if settings.HARM_RULES_ENABLED else frozenset())
    if settings.FILTER_MASK_CONTACTS:
        spans.extend(contacts.contact_spans(folded, urls=settings.FILTER_MASK_URLS))
    if not spans:
        return FilterResult(text, False, harm=hits)
    index = fold(text)[1]  # where each folded character came from: only to mask
    if index is None:
        original = [(start, end) for start, end, _ in spans]
    else:
        original = [(index[start], index[end - 1] + 1) for start, end, _ in spans]
    return FilterResult(_mask(text, original), True,
                        frozenset(category for _, _, category in spans), hits)


def readable(text: str) -> str:
    """The line's words as the filter reads them (folded, leetspeak read), for the classifier,
    which was trained on plain text and would miss "sh!t" or "fυck"."""
    return read_words(fold(text)[0]).stream


# ---- names: handles and interests go through the same word lists ----

CAMEL_RE = re.compile(r"(?<=[a-z])(?=[A-Z])")
NAME_SEPARATORS_RE = re.compile(r"[_\-.\s]+")
NAME_DIGITS_RE = re.compile(r"\d+")


def _reserved_readings(words: list[str]) -> set[str]:
    """Each word and the words run together, with "1" read as i and as l, digits at the ends
    dropped: "Adm1n", "m0derator", "ad_min" and "admin2" all read as what they imitate."""
    readings = set()
    for word in [*words, "".join(words)]:
        bare = word.strip("0123456789")
        readings.update({bare.replace("1", "i"), bare.replace("1", "l")})
    return readings


def name_problem(name: str, *, reserved: bool) -> str | None:
    """Why a handle (`reserved`: also staff-like names) or an interest may not be used, or
    None. "FuckFace", "you_suck" and "sh*thead" are read as the words they are made of."""
    spaced = NAME_SEPARATORS_RE.sub(" ", CAMEL_RE.sub(" ", name))
    folded = fold(spaced)[0]
    # Read whole ("fuckface", "sh1thead") and with digits cut off ("retard99").
    readings = (folded, fold(name)[0], NAME_DIGITS_RE.sub(" ", folded))
    if any(_word_spans(reading) for reading in readings) or (
            "*" in folded and _starred_spans(folded)):
        return "may not contain offensive words"
    if reserved:
        words = read_words(folded).stream.split()
        taken = _reserved_readings(words) & {n.lower() for n in settings.HANDLE_RESERVED_NAMES}
        if taken:
            return f"reads as \"{min(taken)}\", which is reserved for the site's staff"
    return None


@deconstructible
class HandleContentValidator:
    """No offensive words and no staff-like names in a handle (sign-up, through allauth's
    ACCOUNT_USERNAME_VALIDATORS = "moderation.filtering.filters.HANDLE_VALIDATORS")."""

    def __call__(self, value: str) -> None:
        problem = name_problem(value, reserved=True)
        if problem:
            raise ValidationError(f"This handle {problem}. Choose another one.",
                                  code="handle_content")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HandleContentValidator)


HANDLE_VALIDATORS = [HandleValidator(), HandleContentValidator()]
