"""Odds and market lines: every malformed value is a domain refusal, never an arithmetic exception."""

from __future__ import annotations

import contextlib
import unicodedata
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sportsbook.core.errors import DomainError
from sportsbook.core.markets import line_value
from sportsbook.core.odds import InvalidOdds, from_fractional, parse_odds, to_american, to_fractional


@pytest.mark.parametrize(
    ("odds", "fractional", "american"),
    [("2.50", "3/2", "+150"), ("1.50", "1/2", "-200"), ("2.00", "1/1", "+100"), ("11.00", "10/1", "+1000")],
)
def test_display_formats(odds: str, fractional: str, american: str) -> None:
    assert (to_fractional(Decimal(odds)), to_american(Decimal(odds))) == (fractional, american)
    assert from_fractional(fractional) == Decimal(odds)


@pytest.mark.parametrize("text", ["1e30", "1e-30", "1e999999999", "NaN", "Infinity", "1.005", "1.00", "abc", "-2"])
def test_bad_odds_are_invalid_odds(text: str) -> None:
    with pytest.raises(DomainError) as refused:
        parse_odds(text)
    assert refused.value.code == "invalid_odds"


BAD_LINES = ["1e999999999", "-1e999999999", "1e-999999999", "0.250000001", "0.1", "NaN", "101", "x"]


@pytest.mark.parametrize("text", BAD_LINES)
def test_bad_lines_are_invalid_market(text: str) -> None:
    with pytest.raises(DomainError) as refused:
        line_value({"total": text}, "total")
    assert refused.value.code == "invalid_market"


@given(st.text(max_size=30))
def test_any_text_parses_or_is_refused_with_a_code(text: str) -> None:
    for parse in (parse_odds, lambda t: line_value({"k": t}, "k")):
        with contextlib.suppress(DomainError):  # a refusal with a code is fine; anything else fails the test
            parse(text)


# Python's Decimal reads any Unicode decimal digit ("٣" is 3) and strips any Unicode space; a price on the
# wire is ASCII, like every other number of the API.
NON_ASCII_PRICES = [
    "\u0663.\u0664\u0660",  # Arabic-Indic digits
    "\u06f3.\u06f4\u06f0",  # Extended Arabic-Indic
    "\u0969.\u096a\u0966",  # Devanagari
    "\uff13.\uff14\uff10",  # full width
    "\U0001d7d1.\U0001d7d2\U0001d7ce",  # mathematical bold
    "3.4\u0660",  # one digit is enough
    "3\u066b40",  # the Arabic decimal separator
    "\u20073.40",  # a figure space around ASCII digits
    "3.40\u00a0",  # a no-break space
]


@pytest.mark.parametrize("text", NON_ASCII_PRICES)
def test_a_price_with_any_character_beyond_ascii_is_invalid_odds(text: str) -> None:
    with pytest.raises(InvalidOdds):
        parse_odds(text)


_non_ascii_digits = st.characters(categories=["Nd"]).filter(lambda c: not c.isascii())


@given(st.decimals(min_value="1.01", max_value="1001", places=2), _non_ascii_digits, st.data())
def test_a_valid_price_written_in_another_script_s_digits_is_refused(
    price: Decimal, digit: str, data: st.DataObject
) -> None:
    ascii_text = str(price)
    zero = ord(digit) - unicodedata.digit(digit)  # every script's ten digits are consecutive code points
    # at least one ASCII digit swapped for the same digit of that script
    swapped = data.draw(st.sets(st.sampled_from([i for i, c in enumerate(ascii_text) if c.isdigit()]), min_size=1))
    text = "".join(chr(zero + int(c)) if i in swapped else c for i, c in enumerate(ascii_text))
    assert Decimal(text) == price  # what Python alone would accept
    assert parse_odds(ascii_text) == price
    with pytest.raises(InvalidOdds):
        parse_odds(text)


# digits and spaces of any script, and the decimal point: text shaped like a price
_price_like = st.text(st.characters(categories=["Nd", "Zs"]) | st.sampled_from(".0123456789"), max_size=8)


@given(_price_like | st.text(max_size=12))
def test_whatever_parse_odds_accepts_is_ascii(text: str) -> None:
    with contextlib.suppress(InvalidOdds):
        parse_odds(text)
        assert text.isascii()
