"""Payments' pure rules: the decline taxonomy, what follows an attempt, the networks' retry limits, card checks
and the keyed fingerprint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sportsbook.payments.bins import BinInfo
from sportsbook.payments.connectors.base import CardData, Outcome
from sportsbook.payments.model import (
    DeclineClass,
    InvalidCard,
    Step,
    card_from,
    classify,
    fingerprint,
    luhn_valid,
    next_step,
    profile_of,
    retry_allowed,
    scheme_by_prefix,
)

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("code", "advice", "expected"),
    [
        # Visa category 1: the issuer will never approve
        *[
            (c, None, DeclineClass.HARD)
            for c in ("04", "07", "12", "14", "15", "41", "43", "46", "57", "R0", "R1", "R3")
        ],
        ("r1", None, DeclineClass.HARD),  # codes are read in upper case
        # Mastercard merchant advice codes 03 and 21 forbid a retry whatever the response code
        ("05", "03", DeclineClass.HARD),
        ("51", "21", DeclineClass.HARD),
        ("05", "01", DeclineClass.SOFT),  # advice 01 (new account information) does not
        ("05", "02", DeclineClass.SOFT),  # advice 02 (try again later) does not
        # fix the data first
        *[(c, None, DeclineClass.FIX_DATA) for c in ("54", "55", "N7", "82", "1A")],
        ("n7", None, DeclineClass.FIX_DATA),
        # strong customer authentication asked: step up to 3-D Secure
        ("authentication_required", None, DeclineClass.AUTHENTICATION),
        ("authentication_failed", None, DeclineClass.HARD),  # the cardholder failed the challenge
        # soft: another connector or a later retry may succeed
        *[(c, None, DeclineClass.SOFT) for c in ("05", "51", "61", "65", "91", "96", "19", "62")],
        (None, None, DeclineClass.SOFT),
        ("", None, DeclineClass.SOFT),
    ],
)
def test_decline_taxonomy(code: str | None, advice: str | None, expected: DeclineClass) -> None:
    assert classify(code, advice) is expected


@pytest.mark.parametrize(
    ("outcome", "decline", "stepped_up", "expected"),
    [
        (Outcome.APPROVED, None, False, Step.DONE),
        (Outcome.REQUIRES_ACTION, None, False, Step.CHALLENGE),
        (Outcome.TIMEOUT, None, False, Step.RESOLVE),
        (Outcome.PENDING, None, False, Step.RESOLVE),
        (Outcome.ERROR, None, False, Step.CASCADE),
        (Outcome.NOT_FOUND, None, False, Step.CASCADE),
        (Outcome.DECLINED, DeclineClass.SOFT, False, Step.CASCADE),
        (Outcome.DECLINED, DeclineClass.SOFT, True, Step.CASCADE),
        (Outcome.DECLINED, DeclineClass.HARD, False, Step.STOP),
        (Outcome.DECLINED, DeclineClass.FIX_DATA, False, Step.STOP),
        (Outcome.DECLINED, DeclineClass.AUTHENTICATION, False, Step.STEP_UP),
        (Outcome.DECLINED, DeclineClass.AUTHENTICATION, True, Step.STOP),  # stepped up once already
    ],
)
def test_next_step(outcome: Outcome, decline: DeclineClass | None, stepped_up: bool, expected: Step) -> None:
    assert next_step(outcome, decline, stepped_up=stepped_up) is expected


def _times(n: int, *, every: timedelta, ending: datetime = NOW) -> list[datetime]:
    return [ending - every * i for i in range(1, n + 1)]


@pytest.mark.parametrize(
    ("scheme", "declined_at", "allowed"),
    [
        ("visa", _times(14, every=timedelta(days=2)), True),  # 14 in 30 days
        ("visa", _times(15, every=timedelta(days=1)), False),  # 15 in 30 days
        ("visa", _times(15, every=timedelta(days=2)), True),  # the 15th is 30 days back: out of the window
        ("visa", _times(100, every=timedelta(days=31)), True),  # one a month forever
        ("mastercard", _times(9, every=timedelta(hours=2)), True),
        ("mastercard", _times(10, every=timedelta(hours=2)), False),  # 10 in 24 hours
        ("mastercard", _times(10, every=timedelta(hours=2, minutes=40)), True),  # the 10th is past 24 hours
        ("mastercard", _times(34, every=timedelta(hours=20)), True),
        ("mastercard", _times(35, every=timedelta(hours=20)), False),  # 35 in 30 days, never 10 in a day
        ("amex", _times(500, every=timedelta(minutes=1)), True),  # no network limit known
    ],
)
def test_network_retry_limits(scheme: str, declined_at: list[datetime], allowed: bool) -> None:
    assert retry_allowed(scheme, declined_at, NOW) is allowed


def _luhn_complete(body: str) -> str:
    for check in "0123456789":
        if luhn_valid(body + check):
            return body + check
    raise AssertionError("one check digit always works")


@given(st.text(alphabet="0123456789", min_size=11, max_size=18))
def test_exactly_one_check_digit_passes_luhn(body: str) -> None:
    assert sum(luhn_valid(body + d) for d in "0123456789") == 1


@given(st.text(alphabet="0123456789", min_size=11, max_size=18), st.integers(0, 17), st.integers(1, 9))
def test_luhn_catches_every_single_digit_error(body: str, at: int, delta: int) -> None:
    number = _luhn_complete(body)
    at %= len(number)
    wrong = number[:at] + str((int(number[at]) + delta) % 10) + number[at + 1 :]
    assert not luhn_valid(wrong)


@pytest.mark.parametrize(
    ("number", "scheme"),
    [
        ("4242424242424242", "visa"),
        ("5555555555554444", "mastercard"),
        ("2223003122003222", "mastercard"),
        ("378282246310005", "amex"),
        ("6011111111111117", "discover"),
        ("3566002020360505", "jcb"),
        ("30569309025904", "diners"),
        ("6200000000000005", "unionpay"),
        ("9999999999999995", "other"),
    ],
)
def test_scheme_by_prefix(number: str, scheme: str) -> None:
    assert scheme_by_prefix(number) == scheme


def test_a_valid_card_is_normalised() -> None:
    card = card_from("4242 4242-4242 4242", 6, 2026, "123", "  Ada   Lovelace ", NOW)
    assert (card.number, card.holder) == ("4242424242424242", "Ada Lovelace")
    assert "4242424242424242" not in repr(card)


@pytest.mark.parametrize(
    ("number", "month", "year", "cvc", "holder"),
    [
        ("4242424242424241", 12, 2030, "123", "A"),  # Luhn
        ("42424242424", 12, 2030, "123", "A"),  # too short
        ("4242424242424242424242", 12, 2030, "123", "A"),  # too long
        ("4242 4242 4242 424x", 12, 2030, "123", "A"),
        ("\uff14\uff12" * 8, 12, 2030, "123", "A"),  # full-width digits
        ("4242424242424242", 5, 2026, "123", "A"),  # expired last month
        ("4242424242424242", 13, 2030, "123", "A"),
        ("4242424242424242", 12, 2030, "12", "A"),
        ("4242424242424242", 12, 2030, "12a", "A"),
        ("4242424242424242", 12, 2030, "123", "   "),
    ],
)
def test_bad_cards_are_refused(number: str, month: int, year: int, cvc: str, holder: str) -> None:
    with pytest.raises(InvalidCard):
        card_from(number, month, year, cvc, holder, NOW)


def test_profile_keeps_the_bin_and_last_four_only() -> None:
    card = CardData("4242424242424242", 12, 2030, "123", "A")
    info = BinInfo("visa", "debit", True, "GB", "Bank")
    profile = profile_of(card, info)
    assert (profile.bin, profile.last4, profile.scheme, profile.card_type, profile.prepaid, profile.country) == (
        "42424242",
        "4242",
        "visa",
        "debit",
        True,
        "GB",
    )
    amex = profile_of(CardData("378282246310005", 12, 2030, "1234", "A"), None)
    assert (amex.bin, amex.scheme, amex.card_type, amex.country) == ("378282", "amex", None, None)


def test_fingerprint_is_keyed_and_stable() -> None:
    a = fingerprint("4242424242424242", b"key-1")
    assert a == fingerprint("4242424242424242", b"key-1")
    assert a != fingerprint("4242424242424242", b"key-2")
    assert a != fingerprint("4000000000000069", b"key-1")
    assert len(a) == 32
