"""Payments' rules, pure: card checks, the keyed card fingerprint, the decline taxonomy, what to do after an
attempt, the card networks' retry limits, and the states a payment moves through.

The decline taxonomy follows the card networks: Visa's category 1 declines (the issuer will never approve) and
Mastercard's merchant advice codes 03 and 21 are hard: never retried. Fix-data declines (54 expired card,
55 wrong PIN, N7 CVV2 mismatch, 82 bad CVV, 1A additional authentication) are not retried as they are: the
player must correct the card. `authentication_required` (an issuer asking for strong customer authentication)
is retried once, stepped up to 3-D Secure. Everything else an issuer or acquirer declines is soft: the next
connector may approve it, within the networks' retry limits."""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sportsbook.core.errors import InvalidRequest
from sportsbook.payments.bins import BinInfo
from sportsbook.payments.connectors.base import CardData, CardProfile, Outcome


class InvalidCard(InvalidRequest):
    """The card number, expiry or security code is not valid."""

    code = "invalid_card"


class Status(enum.StrEnum):
    """A payment's state, as the API shows it."""

    PENDING = "pending"  # being processed, or waiting for a PSP's answer (a webhook, a status query)
    REQUIRES_ACTION = "requires_action"  # a 3-D Secure challenge for the player
    SUCCEEDED = "succeeded"  # captured and credited (deposit), paid and posted (withdrawal)
    FAILED = "failed"  # nothing moved, or what moved was given back

    @property
    def final(self) -> bool:
        return self in (Status.SUCCEEDED, Status.FAILED)


class Direction(enum.StrEnum):
    DEPOSIT = "deposit"  # card -> player's cash
    WITHDRAWAL = "withdrawal"  # player's cash -> card
    REFUND = "refund"  # a deposit (part of it) given back to its card by staff
    CHARGEBACK = "chargeback"  # a deposit taken back by the cardholder's bank


class DeclineClass(enum.StrEnum):
    HARD = "hard"  # never retried
    FIX_DATA = "fix_data"  # not retried as it is: the player must fix the card's data
    AUTHENTICATION = "authentication"  # retried once with 3-D Secure
    SOFT = "soft"  # the next connector may approve it


# Visa's category 1 ("issuer will never approve") response codes.
VISA_CATEGORY_1 = frozenset({"04", "07", "12", "14", "15", "41", "43", "46", "57", "R0", "R1", "R3"})
# Mastercard's merchant advice codes that forbid a retry: 03 (do not try again), 21 (payment cancelled).
MASTERCARD_NO_RETRY_ADVICE = frozenset({"03", "21"})
FIX_DATA = frozenset({"54", "55", "N7", "82", "1A"})
AUTHENTICATION_REQUIRED = "authentication_required"
AUTHENTICATION_FAILED = "authentication_failed"  # the cardholder failed the 3-D Secure challenge


def classify(decline_code: str | None, advice_code: str | None = None) -> DeclineClass:
    """The class of a decline from its network code and Mastercard's merchant advice code."""
    if advice_code in MASTERCARD_NO_RETRY_ADVICE:
        return DeclineClass.HARD
    code = (decline_code or "").upper() if decline_code and len(decline_code) <= 2 else (decline_code or "")
    if code in VISA_CATEGORY_1 or code == AUTHENTICATION_FAILED:
        return DeclineClass.HARD
    if code in FIX_DATA:
        return DeclineClass.FIX_DATA
    if code == AUTHENTICATION_REQUIRED:
        return DeclineClass.AUTHENTICATION
    return DeclineClass.SOFT


class Step(enum.StrEnum):
    """What a payment does after an attempt's answer."""

    DONE = "done"  # approved: capture is done, credit
    CHALLENGE = "challenge"  # hand the 3-D Secure challenge to the player
    STEP_UP = "step_up"  # retry at the same connector with 3-D Secure
    CASCADE = "cascade"  # try the next connector
    STOP = "stop"  # fail the payment: no retry may help or is allowed
    RESOLVE = "resolve"  # unknown: ask the PSP before anything else


def next_step(outcome: Outcome, decline: DeclineClass | None, *, stepped_up: bool) -> Step:
    """What to do after one attempt. `decline` is the class of a decline (None otherwise); `stepped_up`: this
    payment already tried 3-D Secure."""
    if outcome is Outcome.APPROVED:
        return Step.DONE
    if outcome is Outcome.REQUIRES_ACTION:
        return Step.CHALLENGE
    if outcome in (Outcome.TIMEOUT, Outcome.PENDING):
        return Step.RESOLVE
    if outcome in (Outcome.ERROR, Outcome.NOT_FOUND):
        return Step.CASCADE  # nothing reached the issuer: another connector may
    if decline is DeclineClass.AUTHENTICATION:
        return Step.STOP if stepped_up else Step.STEP_UP
    if decline is DeclineClass.SOFT:
        return Step.CASCADE
    return Step.STOP


@dataclass(frozen=True, slots=True)
class RetryLimit:
    """At most `attempts` authorisation attempts on one card within `window`."""

    attempts: int
    window: timedelta


# The networks' limits on attempts per card (Visa: 15 in 30 days; Mastercard: 10 in 24 hours, 35 in 30 days).
RETRY_LIMITS: dict[str, tuple[RetryLimit, ...]] = {
    "visa": (RetryLimit(15, timedelta(days=30)),),
    "mastercard": (RetryLimit(10, timedelta(hours=24)), RetryLimit(35, timedelta(days=30))),
}


def retry_allowed(scheme: str, declined_at: Sequence[datetime], now: datetime) -> bool:
    """Whether the networks allow another attempt on a card that was declined at these times."""
    for limit in RETRY_LIMITS.get(scheme, ()):
        since = now - limit.window
        if sum(1 for at in declined_at if at > since) >= limit.attempts:
            return False
    return True


def longest_retry_window(scheme: str) -> timedelta:
    """How far back a card's declines matter to `retry_allowed`."""
    return max((limit.window for limit in RETRY_LIMITS.get(scheme, ())), default=timedelta(0))


# ---- cards ----


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def scheme_by_prefix(digits: str) -> str:
    """The card scheme from the number's leading digits (ISO/IEC 7812 ranges), when the BIN tables do not say."""
    two, four = int(digits[:2]), int(digits[:4])
    if digits[0] == "4":
        return "visa"
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return "mastercard"
    if two in (34, 37):
        return "amex"
    if digits.startswith("6011") or two == 65 or 644 <= int(digits[:3]) <= 649:
        return "discover"
    if 3528 <= four <= 3589:
        return "jcb"
    if two in (36, 38, 39) or 300 <= int(digits[:3]) <= 305:
        return "diners"
    if two == 62:
        return "unionpay"
    return "other"


def card_from(number: str, expiry_month: int, expiry_year: int, cvc: str, holder: str, now: datetime) -> CardData:
    """The card a player typed, checked: 12 to 19 digits passing the Luhn check (spaces and dashes allowed),
    an expiry month not in the past, a 3- or 4-digit security code, a holder's name."""
    digits = number.replace(" ", "").replace("-", "")
    if not (12 <= len(digits) <= 19 and digits.isdigit() and digits.isascii()) or not luhn_valid(digits):
        raise InvalidCard("the card number is not valid")
    if not 1 <= expiry_month <= 12 or not 2000 <= expiry_year <= 2100:
        raise InvalidCard("the expiry date is not valid")
    if (expiry_year, expiry_month) < (now.year, now.month):
        raise InvalidCard("the card has expired")
    if not (3 <= len(cvc) <= 4 and cvc.isdigit() and cvc.isascii()):
        raise InvalidCard("the security code is not valid")
    holder = " ".join(holder.split())
    if not 1 <= len(holder) <= 100:
        raise InvalidCard("the cardholder's name is required")
    return CardData(digits, expiry_month, expiry_year, cvc, holder)


def profile_of(card: CardData, info: BinInfo | None) -> CardProfile:
    """What routing and the PSPs may know of a card: its BIN (8 digits; 6 for a card under 16), last four,
    scheme, type, prepaid flag and issuer country."""
    digits = card.number
    bin_ = digits[:8] if len(digits) >= 16 else digits[:6]
    scheme = (info.scheme if info and info.scheme else None) or scheme_by_prefix(digits)
    return CardProfile(
        bin=bin_,
        last4=digits[-4:],
        scheme=scheme,
        card_type=info.card_type if info else None,
        prepaid=bool(info and info.prepaid),
        country=info.country if info else None,
    )


def fingerprint(number: str, key: bytes) -> str:
    """A keyed fingerprint of a card number: the same card gives the same value under one key, and without the
    key nobody can test a guessed number against it (a plain hash of 16 digits is brute-forced in minutes)."""
    return hmac.new(key, number.encode(), hashlib.sha256).hexdigest()[:32]
