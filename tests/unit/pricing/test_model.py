"""The odds ladder and the margin: prices are ladder Decimals, rounded in the house's favour, and a book keeps at
least its margin unless a near-certain outcome is held at the shortest price."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sportsbook.core.markets import MarketType
from sportsbook.pricing.model import LADDER, PricingPolicy, apply_margin, on_ladder, overround, to_ladder

D = Decimal


def test_the_ladder_is_sorted_and_has_its_bands() -> None:
    assert list(LADDER) == sorted(set(LADDER))
    assert (LADDER[0], LADDER[-1]) == (D("1.01"), D("1000"))
    for price in ("1.99", "2.00", "2.02", "2.98", "3.05", "4.10", "6.20", "10.50", "21", "32", "55", "110", "990"):
        assert on_ladder(D(price)), price
    for price in ("2.01", "3.01", "4.05", "6.10", "10.20", "20.50", "31", "52", "105", "1001"):
        assert not on_ladder(D(price)), price


@pytest.mark.parametrize(
    ("odds", "expected"),
    [
        ("1.01", "1.01"),
        ("2.00", "2.00"),
        ("2.5", "2.50"),
        ("100", "100"),
        ("1000", "1000"),
        ("1.019", "1.01"),
        ("2.01", "2.00"),
        ("2.999", "2.98"),
        ("3.04", "3.00"),
        ("4.09", "4.00"),
        ("9.99", "9.80"),
        ("20.9", "20"),
        ("51", "50"),
        ("109.99", "100"),
        ("999.99", "990"),
        ("1", "1.01"),
        ("0.5", "1.01"),
        ("1001", "1000"),
        ("1e9", "1000"),
    ],
)
def test_to_ladder_keeps_ladder_prices_rounds_down_and_clamps(odds: str, expected: str) -> None:
    price = to_ladder(D(odds))
    assert price == D(expected)
    assert price.as_tuple().exponent == -2  # the two-decimal form the wire carries


def test_to_ladder_clamps_to_given_limits() -> None:
    assert to_ladder(D("1.3"), min_odds=D("1.50"), max_odds=D("100")) == D("1.50")
    assert to_ladder(D("500"), min_odds=D("1.50"), max_odds=D("100")) == D("100")
    with pytest.raises(ValueError, match="ladder prices"):
        to_ladder(D("2"), min_odds=D("1.015"))
    with pytest.raises(ValueError, match="ladder prices"):
        to_ladder(D("2"), min_odds=D("5"), max_odds=D("2"))
    with pytest.raises(ValueError, match="finite"):
        to_ladder(D("NaN"))


@pytest.mark.parametrize(
    ("fair", "margin", "expected"),
    [
        ([0.5, 0.5], "0.05", ["1.90", "1.90"]),
        ([0.5, 0.5], "0", ["2.00", "2.00"]),
        ([Fraction(1, 3)] * 3, "0", ["3.00", "3.00", "3.00"]),
        ([D("0.25"), D("0.75")], "0.1", ["3.60", "1.21"]),
        ([1.0, 0.0], "0.05", ["1.01", "1000"]),  # held at the shortest price; the book is then below 1.05
        ([0.5, 0.4999999, 0.0000001], "0.05", ["1.90", "1.90", "1000"]),
    ],
)
def test_apply_margin_table(fair: list[float | Fraction | Decimal], margin: str, expected: list[str]) -> None:
    assert apply_margin(fair, D(margin)) == [D(e) for e in expected]


@pytest.mark.parametrize(
    ("fair", "margin"),
    [
        ([0.5, 0.6], "0.05"),
        ([0.5, 0.4], "0.05"),
        ([1.2, -0.2], "0.05"),
        ([], "0.05"),
        ([float("nan"), 1.0], "0.05"),
        ([0.5, 0.5], "-0.01"),
        ([0.5, 0.5], "0.6"),
        ([0.5, 0.5], "NaN"),
    ],
)
def test_apply_margin_refuses_bad_input(fair: list[float], margin: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - every message differs
        apply_margin(fair, D(margin))


def test_apply_margin_accepts_a_sum_within_tolerance() -> None:
    assert apply_margin([0.5, 0.5 - 1e-10], D("0.05")) == [D("1.90"), D("1.90")]


def test_pricing_policy_margins() -> None:
    policy = PricingPolicy(
        D("0.05"), {("football", MarketType.CORRECT_SCORE): D("0.2"), ("tennis", MarketType.ONE_X_TWO): D("0")}
    )
    assert policy.margin_for("football", MarketType.CORRECT_SCORE) == D("0.2")
    assert policy.margin_for("football", MarketType.ONE_X_TWO) == D("0.05")
    assert policy.margin_for("tennis", MarketType.ONE_X_TWO) == D("0")
    assert (policy.min_odds, policy.max_odds) == (D("1.01"), D("1000"))


def test_pricing_policy_cannot_be_changed_through_its_overrides() -> None:
    overrides = {("football", MarketType.BTTS): D("0.1")}
    policy = PricingPolicy(D("0.05"), overrides)
    overrides[("football", MarketType.BTTS)] = D("0.4")
    assert policy.margin_for("football", MarketType.BTTS) == D("0.1")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"default_margin": D("0.51")},
        {"default_margin": D("-0.01")},
        {"default_margin": D("0.05"), "overrides": {("football", MarketType.TOTAL): D("0.7")}},
        {"default_margin": D("0.05"), "min_odds": D("1.005")},
        {"default_margin": D("0.05"), "max_odds": D("1001")},
    ],
)
def test_pricing_policy_refuses_bad_margins_and_limits(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - every message differs
        PricingPolicy(**kwargs)  # type: ignore[arg-type]


# --- properties ------------------------------------------------------------------------------------------------

margins = st.decimals(min_value=0, max_value=D("0.2"), places=4)


@st.composite
def fair_books(draw: st.DrawFn) -> list[Fraction]:
    """2 to 12 exact probabilities summing to 1, zeros allowed."""
    weights = draw(st.lists(st.integers(0, 1_000_000), min_size=2, max_size=12).filter(lambda w: sum(w) > 0))
    total = sum(weights)
    return [Fraction(w, total) for w in weights]


@given(fair_books(), margins)
def test_prices_are_ladder_prices_within_limits(fair: list[Fraction], margin: Decimal) -> None:
    for price in apply_margin(fair, margin):
        assert on_ladder(price)
        assert D("1.01") <= price <= D("1000")


@given(fair_books(), margins)
def test_the_book_keeps_at_least_its_margin(fair: list[Fraction], margin: Decimal) -> None:
    # the one exception, by design: an outcome too likely to price shorter than 1.01 once the margin is on
    assume(max(fair) * (1 + Fraction(margin)) <= Fraction(100, 101))
    prices = apply_margin(fair, margin)
    assert overround(prices) >= 1 + Fraction(margin) - Fraction(1, 10**12)


@given(fair_books(), margins)
def test_float_books_keep_their_margin(fair: list[Fraction], margin: Decimal) -> None:
    floats = [float(p) for p in fair]
    assume(max(fair) * (1 + Fraction(margin)) <= Fraction(100, 101))
    assert float(overround(apply_margin(floats, margin))) >= 1 + float(margin) - 1e-12


@given(fair_books(), margins)
def test_a_near_certain_outcome_is_held_at_the_shortest_price(fair: list[Fraction], margin: Decimal) -> None:
    assume(max(fair) * (1 + Fraction(margin)) > Fraction(100, 101))
    prices = apply_margin(fair, margin)
    assert prices[fair.index(max(fair))] == D("1.01")


odds = st.decimals(min_value=D("0.5"), max_value=D("2000"), places=4)


@given(odds, odds)
def test_to_ladder_is_monotone_and_never_lengthens(a: Decimal, b: Decimal) -> None:
    low, high = sorted((a, b))
    assert to_ladder(low) <= to_ladder(high)
    price = to_ladder(a)
    assert on_ladder(price)
    assert price <= a or price == D("1.01")
