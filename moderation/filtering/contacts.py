"""Finding attempts to share contact details in a line: phone numbers, e-mail addresses,
other apps' handles and, where a deployment asks for it, links.

Strangers who swap numbers or handles leave the platform's protection, and a predator's
first move is often exactly that, so these are masked by default (`FILTER_MASK_CONTACTS`).
The patterns run on the folded line from `moderation.filtering.filters` (NFKC, lower case, no
zero-width characters), so fullwidth digits and hidden characters do not slip through.
"""
from __future__ import annotations

import re

PHONE = "contact_phone"
EMAIL = "contact_email"
HANDLE = "contact_handle"
URL = "url"

# Top-level domains that make "name at domain.xx" an address rather than a sentence.
_TLDS = ("com|net|org|edu|gov|io|co|me|info|biz|app|dev|xyz|uk|de|fr|es|pt|br|it|nl|be|ch|at|"
         "pl|ru|ca|us|au|mx|ar|cl|in|jp|cn|gg|tv|ly|to|cc|link|site|online|mail")

_DIGIT = r"(?:\d|(?:zero|one|two|three|four|five|six|seven|eight|nine)(?![a-z]))"
# Up to three spaces or punctuation marks between digits: "555 123 4567", "5.5.5-1.2.3.4".
_DIGIT_GAP = r"[\s.\-()/_*]{0,3}"
# Seven digits or more is a phone number in every numbering plan we know; fewer is an age,
# a time or a price.
PHONE_RE = re.compile(rf"(?<![\w+])\+?\s*{_DIGIT}(?:{_DIGIT_GAP}{_DIGIT}){{6,14}}(?!\d)")

# Numbers that only look like phone numbers: dates, times, year ranges, prices, versions,
# order numbers and scores. They are blanked before the phone pattern runs, so "born
# 2024-05-12" stays as it is while "555-123-4567" does not. Each needs its own shape (a
# valid date with one separator twice, a currency sign, a "v", a word such as "order"), so
# that a bare run of digits is still read as a number to call.
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MONTH = r"(?:0?[1-9]|1[0-2])"
_YEAR = r"(?:19|20)\d\d"
_GROUPED = r"\d{1,3}(?:[ .,]\d{3})*(?:[.,]\d{1,2})?"
_CURRENCY = r"(?:[$€£¥]|eur|euros?|usd|dollars?|yen|gbp|pounds?|reais|chf)"
NOT_A_PHONE_RE = re.compile(
    rf"(?<![\d.])(?:{_YEAR}(?P<s1>[-/.]){_MONTH}(?P=s1){_DAY}"
    rf"|{_DAY}(?P<s2>[-/.]){_MONTH}(?P=s2){_YEAR}|{_MONTH}(?P<s3>[-/.]){_DAY}(?P=s3){_YEAR}"
    rf"|{_YEAR}\s?[-–]\s?{_YEAR})(?![\d])"
    r"|(?<!\d)\d{1,2}:\d{2}(?::\d{2})?(?!\d)"
    rf"|[$€£¥]\s?{_GROUPED}|(?<![\d.,]){_GROUPED}\s?{_CURRENCY}(?![a-z])"
    r"|\bv\d+(?:\.\d+)+|\bversion \d+(?:\.\d+)+"
    r"|\b(?:order|invoice|ticket|tracking|booking|reference|ref|case|receipt)\b"
    r"[\s#:.a-z]{0,12}?#?\d+"
    r"|(?<![\d\-–:./])\d{1,3}\s?[-–:]\s?\d{1,3}(?![\d\-–:./])")


def _blank_non_phones(folded: str) -> str:
    """The line with dates, prices and the like blanked out, the same length."""
    return NOT_A_PHONE_RE.sub(lambda match: "x" * len(match.group()), folded)


_AT = r"(?P<at>\s*@\s*|\s*[(\[{<]\s*at\s*[)\]}>]\s*|\s+at\s+)"
_DOT = r"(?:\.|\s*[(\[{<]\s*dot\s*[)\]}>]\s*|\s+dot\s+)"
EMAIL_RE = re.compile(
    rf"(?<![\w.+\-])[\w.+\-]*\w{_AT}[\w\-]+(?P<dots>(?:{_DOT}[\w\-]+)*{_DOT})(?P<tld>[a-z]{{2,24}})(?![\w@])")
_TLD_RE = re.compile(rf"(?:{_TLDS})")

_APPS = (r"snap(?:chat)?|insta(?:gram)?|ig|telegram|tg|whats\s?app|watsapp|discord|kik|"
         r"skype|tik\s?tok|wechat|viber|threema|line\s?id|only\s?fans|twitter|facebook|fb|"
         r"reddit|session\s?id")
_HANDLE_FILLER = (r"(?:[\s:=>\-–@,]|\b(?:is|id|name|handle|username|user|me|at|on|its|it's|"
                  r"my|add|here|via)\b)*")
# Cheap first looks, so that the full patterns run only on the few lines that may match.
_APP_HINT_RE = re.compile(_APPS)
_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_DIGIT_WORD_RE = re.compile("|".join(_DIGIT_WORDS))
_ASCII_DIGITS = b"0123456789"
_OTHER_DIGIT_RE = re.compile(r"(?![0-9])\d")  # \d is str.isdecimal()
HANDLE_RE = re.compile(
    rf"\b(?:{_APPS})\b{_HANDLE_FILLER}(?P<id>@?[\w.\-#/]*\w)")
MENTION_RE = re.compile(r"(?<![\w@.])@(?P<id>[a-z_][\w.]*\w)")
URL_RE = re.compile(
    rf"\b(?:https?://|www\.)\S+|\b[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.(?:{_TLDS})\b(?:/\S*)?")

# Words that follow an app's name in ordinary talk ("is insta down?", "snap me later").
_NOT_AN_ID = frozenset("""
a about account acc after again all also always an and any anymore are as at back be because
been before both but by call can chat could dm dms do does down either else ever every for from
fun going got had has have he her here hey his how i if in instead is it its just later lol
many maybe me message more most much my never no not now of ok okay on one only or our out
please pls plz post posts really right same she should so some sorry still story stories sure
than thanks that the their them then there they this tho though to too u up us video very was
we were what when where which who why will with would yeah yes you your
banned better blocked boring broken cool dead deleted gone lame new old private
thats im ur idk lmao haha hahaha true fine good bad great nice honestly probably
definitely guess think know mean
""".split())


def _id_looks_real(handle: str) -> bool:
    bare = handle.lstrip("@")
    return len(bare) >= 3 and bare not in _NOT_AN_ID


def contact_spans(folded: str, *, urls: bool) -> list[tuple[int, int, str]]:
    """Spans `(start, end, category)` (end exclusive) of contact details in a folded line."""
    spans: list[tuple[int, int, str]] = []
    if _may_hold_an_address(folded):
        for match in EMAIL_RE.finditer(folded):
            spelled_at = "@" not in match.group("at")
            spelled_dot = "dot" in match.group("dots")
            if not spelled_at or spelled_dot or _TLD_RE.fullmatch(match.group("tld")):
                spans.append((match.start(), match.end(), EMAIL))
    # Blanking dates, prices and the like only takes candidates away: it writes "x", a word
    # character, which no number may touch, and every blanked stretch begins after a
    # character that is not a digit. So a line with no candidate before the blanking has none
    # after it, and most lines with digits ("at 10:30", "since 2019") never pay for it.
    if _may_hold_a_phone_number(folded) and PHONE_RE.search(folded):
        for match in PHONE_RE.finditer(_blank_non_phones(folded)):
            start = match.start() + len(match.group()) - len(match.group().lstrip())
            spans.append((start, match.end(), PHONE))
    if _APP_HINT_RE.search(folded):
        for match in HANDLE_RE.finditer(folded):
            if _id_looks_real(match.group("id")):
                spans.append((match.start("id"), match.end("id"), HANDLE))
    if "@" in folded:
        for match in MENTION_RE.finditer(folded):
            if _id_looks_real(match.group("id")):
                spans.append((match.start(), match.end(), HANDLE))
    if urls:
        spans.extend((m.start(), m.end(), URL) for m in URL_RE.finditer(folded))
    return spans


def _may_hold_an_address(folded: str) -> bool:
    """Whether the line has an "at" and a "dot", which every address has (an at spelled
    with a tab or inside spaced brackets, "( at )", is not looked for)."""
    return ("." in folded or "dot" in folded) and (
        "@" in folded or " at " in folded or "(at" in folded or "[at" in folded
        or "{at" in folded or "<at" in folded)


def _may_hold_a_phone_number(folded: str) -> bool:
    """Whether the line has seven digits or number words at all, which every phone number
    has; counted in C (bytes.translate, str.count), since it runs on every line."""
    if folded.isascii():
        raw = folded.encode("ascii")
        digits = len(raw) - len(raw.translate(None, _ASCII_DIGITS))
    else:
        if _OTHER_DIGIT_RE.search(folded):
            return True  # digits of other scripts, rare enough to look at closely
        digits = sum(map(folded.count, "0123456789"))
    if digits >= 7:
        return True
    # Number words are rare: one search for any of them before counting each.
    return _DIGIT_WORD_RE.search(folded) is not None and (
        digits + sum(map(folded.count, _DIGIT_WORDS)) >= 7)
