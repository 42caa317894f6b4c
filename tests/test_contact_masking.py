"""Contact details are masked by default, and ordinary numbers and words are not."""
from pathlib import Path

import pytest

from moderation.filtering.filters import filter_line


@pytest.mark.parametrize(("line", "masked", "category"), [
    ("call me 555-123-4567", "call me ************", "contact_phone"),
    ("my number: +44 7700 900123 ok", "my number: *** **** ****** ok", "contact_phone"),
    ("(555) 123 4567", "(**** *** ****", "contact_phone"),
    ("5.5.5.1.2.3.4.5.6.7", "*******************", "contact_phone"),
    ("5 5 5 1 2 3 4 5 6 7", "* * * * * * * * * *", "contact_phone"),
    ("５５５１２３４５６７", "**********", "contact_phone"),
    ("55\u200b51234567", "***********", "contact_phone"),
    ("five five five one two three four", "**** **** **** *** *** ***** ****",
     "contact_phone"),
    ("mail bob.smith@example.com now", "mail ********************* now", "contact_email"),
    ("bob at gmail dot com", "*** ** ***** *** ***", "contact_email"),
    ("bob(at)gmail(dot)com", "********************", "contact_email"),
    ("bob @ gmail.com", "*** * *********", "contact_email"),
    ("jo at mail.de", "** ** *******", "contact_email"),
    ("add me on snap: xyz_99", "add me on snap: ******", "contact_handle"),
    ("snapchat is coolguy22", "snapchat is *********", "contact_handle"),
    ("insta @coolguy", "insta ********", "contact_handle"),
    ("my telegram is johnny", "my telegram is ******", "contact_handle"),
    ("whatsapp me: jo.h", "whatsapp me: ****", "contact_handle"),
    ("discord xyz#1234", "discord ********", "contact_handle"),
    ("kik: foo123", "kik: ******", "contact_handle"),
    ("hit me up @lonely_boy", "hit me up ***********", "contact_handle"),
])
def test_contact_details_are_masked(line: str, masked: str, category: str) -> None:
    result = filter_line(line)
    assert result.text == masked
    assert result.filtered
    assert category in result.categories


@pytest.mark.parametrize("line", [
    "I am 25",
    "see you at 5",
    "meet at 5.30 at the station",
    "it costs 1,000,000 dollars",
    "born in 1999",
    "do you have insta?",
    "I like instagram",
    "is snapchat down again",
    "my snap is broken lol",
    "I'm at home. bored",
    "the score was 3-2",
    "one two three go",
    "where are you at",
    "ig thats fine",
])
def test_ordinary_numbers_and_words_are_not_masked(line: str) -> None:
    result = filter_line(line)
    assert result.text == line
    assert not result.filtered


def test_contact_masking_is_a_setting_per_deployment(settings) -> None:  # noqa: ANN001
    settings.FILTER_MASK_CONTACTS = False
    assert filter_line("call me 555-123-4567").text == "call me 555-123-4567"
    assert filter_line("call me 555-123-4567 you shit").text == (
        "call me 555-123-4567 you ****")


def test_links_are_masked_only_where_the_deployment_asks(settings) -> None:  # noqa: ANN001
    line = "look at https://example.org/x and t.me/abc"
    assert filter_line(line).text == line
    settings.FILTER_MASK_URLS = True
    assert filter_line(line).text == "look at ********************* and ********"


NOT_CONTACTS = [line for line in (Path(__file__).resolve().parent / "data" / "not_contacts.txt")
                .read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]


@pytest.mark.parametrize("line", NOT_CONTACTS)
def test_dates_times_prices_versions_orders_and_scores_stay(line: str) -> None:
    result = filter_line(line)
    assert (result.text, result.filtered) == (line, False)


@pytest.mark.parametrize(("line", "masked"), [
    ("born 1990-05-12 call 555-123-4567", "born 1990-05-12 call ************"),
    ("at 10:30 call 5551234567", "at 10:30 call **********"),
    ("06-12-34-56-78", "**************"),
    ("06.12.34.56.78", "**************"),
    ("my cell: 917-555-0134 on 12/05/2024", "my cell: ************ on 12/05/2024"),
])
def test_phone_numbers_next_to_dates_and_times_are_still_masked(line: str, masked: str) -> None:
    assert filter_line(line).text == masked
