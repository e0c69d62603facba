"""Odds and market lines: every malformed value is a domain refusal, never an arithmetic exception."""

from __future__ import annotations

import contextlib
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sportsbook.core.errors import DomainError
from sportsbook.core.markets import line_value
from sportsbook.core.odds import from_fractional, parse_odds, to_american, to_fractional


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
