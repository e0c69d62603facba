"""The rules of accounts and logins, pure: who may register, what a strong password is, when to lock.

Nothing here does I/O; the service feeds in the clock's time and the stored state."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from uuid import UUID

import pycountry
from email_validator import EmailNotValidError, validate_email
from zxcvbn import zxcvbn

from sportsbook.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidCursor,
    InvalidRequest,
    NotFound,
    Unauthorized,
)
from sportsbook.core.money import check_currency

MIN_AGE_YEARS = 18
MIN_PASSWORD_LENGTH = 10
MIN_PASSWORD_SCORE = 3  # zxcvbn's 0..4 scale: 3 is "safely unguessable" for an online attack
# zxcvbn refuses inputs past 72 characters (its matching is quadratic); a longer password is scored
# on its first 72, which only ever underrates it.
_ZXCVBN_MAX = 72
EARLIEST_BIRTH_DATE = date(1900, 1, 1)


class Role(StrEnum):
    """Who an account belongs to: a player, or a member of staff with one back-office role."""

    PLAYER = "player"
    ADMIN = "admin"
    TRADER = "trader"
    RISK = "risk"
    PAYMENTS = "payments"
    SUPPORT = "support"


STAFF_ROLES: frozenset[Role] = frozenset(Role) - {Role.PLAYER}


class Status(StrEnum):
    """Whether an account may log in at all."""

    ACTIVE = "active"
    DISABLED = "disabled"


class Kyc(StrEnum):
    """Where a player's identity check stands (know your customer): only a verified player may withdraw."""

    UNVERIFIED = "unverified"
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"


class PlayerNotFound(NotFound):
    """No player has this id."""

    code = "player_not_found"


class EmailTaken(Conflict):
    """An account with this email already exists."""

    code = "email_taken"


class InvalidEmail(InvalidRequest):
    """The email address is not valid."""

    code = "invalid_email"


class Underage(Forbidden):
    """Players must be at least 18 years old."""

    code = "underage"


class WeakPassword(InvalidRequest):
    """The password is too weak: use at least 10 characters that are hard to guess."""

    code = "weak_password"


class InvalidCountry(InvalidRequest):
    """Unknown country: use an ISO 3166-1 alpha-2 code such as "GB"."""

    code = "invalid_country"


class InvalidRole(InvalidRequest):
    """Unknown staff role."""

    code = "invalid_role"


class InvalidCredentials(Unauthorized):
    """The email or password is wrong."""

    code = "invalid_credentials"


class AccountLocked(DomainError):
    """Too many failed logins: the account is locked for a while."""

    code = "account_locked"
    status = 423


class AccountDisabled(Forbidden):
    """This account is disabled."""

    code = "account_disabled"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated user behind a request: what routes need to decide and to scope."""

    id: UUID
    email: str
    role: Role
    currency: str | None  # None for staff, who hold no wallet

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES


def normalize_email(raw: str) -> str:
    """The canonical form of an email address (syntax-checked, lower-cased), else `invalid_email`.

    Lower-casing the local part too is deliberate: no mail provider a player would use tells
    `Ann@x.com` from `ann@x.com`, and two accounts for one inbox would defeat the unique email."""
    try:
        checked = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmail(str(exc)) from exc
    return checked.normalized.lower()


def age_on(date_of_birth: date, today: date) -> int:
    """Whole years lived on `today`; someone born on 29 February ages on 1 March in common years."""
    had_birthday = (today.month, today.day) >= (date_of_birth.month, date_of_birth.day)
    return today.year - date_of_birth.year - (0 if had_birthday else 1)


def check_date_of_birth(date_of_birth: date, today: date) -> date:
    """Return the date of birth if its owner is an adult on `today`, else raise `underage`."""
    if date_of_birth < EARLIEST_BIRTH_DATE:
        raise InvalidRequest(f"date_of_birth must be on or after {EARLIEST_BIRTH_DATE.isoformat()}")
    if age_on(date_of_birth, today) < MIN_AGE_YEARS:
        raise Underage()
    return date_of_birth


def check_password(password: str, *, user_inputs: tuple[str, ...] = ()) -> str:
    """Return the password if it is long and unguessable enough, else raise `weak_password`.

    `user_inputs` (the email, a name) count as known words, so `ann.smith1990` is weak for Ann Smith."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    # zxcvbn keeps the user inputs in module state; callers stay on one thread (the event loop).
    result = zxcvbn(password[:_ZXCVBN_MAX], user_inputs=[*user_inputs, *_email_words(user_inputs)])
    if int(result["score"]) < MIN_PASSWORD_SCORE:
        warning = result.get("feedback", {}).get("warning") or ""
        raise WeakPassword(f"the password is too easy to guess. {warning}".strip())
    return password


def _email_words(inputs: tuple[str, ...]) -> list[str]:
    # "ann.smith@mail.com" yields "ann.smith", "ann", "smith": each is a word an attacker tries first.
    words: list[str] = []
    for value in inputs:
        local = value.split("@", 1)[0]
        words.append(local)
        words.extend(w for w in re.split(r"[^\w]+|_", local) if len(w) >= 3)
    return words


def check_country(country: str) -> str:
    """Return the ISO 3166-1 alpha-2 code if it names a country, else raise `invalid_country`."""
    if len(country) != 2 or not country.isascii() or not country.isupper() or not country.isalpha():
        raise InvalidCountry(f"{country!r} is not an upper-case ISO 3166-1 alpha-2 code")
    if pycountry.countries.get(alpha_2=country) is None:
        raise InvalidCountry(f"{country!r} is not a country code")
    return country


def check_player_currency(currency: str) -> str:
    """Return the wallet currency if the platform supports it, else raise `invalid_currency`."""
    return check_currency(currency)


def check_staff_role(role: str) -> Role:
    """The staff role named `role`, else `invalid_role` (players register, they are never created)."""
    try:
        parsed = Role(role)
    except ValueError:
        parsed = Role.PLAYER
    if parsed not in STAFF_ROLES:
        names = ", ".join(sorted(STAFF_ROLES))
        raise InvalidRole(f"{role!r} is not a staff role; use one of {names}")
    return parsed


@dataclass(frozen=True, slots=True)
class LoginState:
    """What the lockout rule remembers about an account between login attempts."""

    failed_logins: int = 0
    locked_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """After `max_failures` consecutive wrong passwords the account is locked for `lock_s` seconds."""

    max_failures: int
    lock_s: int

    def is_locked(self, state: LoginState, now: datetime) -> bool:
        return state.locked_until is not None and now < state.locked_until

    def check(self, state: LoginState, now: datetime) -> None:
        """Raise `account_locked` while the lock lasts."""
        if self.is_locked(state, now):
            assert state.locked_until is not None
            raise AccountLocked(f"too many failed logins; try again after {state.locked_until.isoformat()}")

    def after_failure(self, state: LoginState, now: datetime) -> LoginState:
        """The state after one more wrong password. Locking restarts the count, so once the lock
        ends the owner gets the full number of attempts again rather than one."""
        failures = state.failed_logins + 1
        if failures >= self.max_failures:
            return LoginState(failed_logins=0, locked_until=now + timedelta(seconds=self.lock_s))
        return LoginState(failed_logins=failures, locked_until=state.locked_until)

    def after_success(self) -> LoginState:
        return LoginState()


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def player_cursor(created_at: datetime, player_id: UUID) -> str:
    """The cursor after this player in a list newest first: their creation time (microseconds) and id."""
    micros = (created_at - _EPOCH) // timedelta(microseconds=1)
    return f"{micros}_{player_id.hex}"


def after_player_cursor(cursor: str) -> tuple[datetime, UUID]:
    """What `player_cursor` encoded; `invalid_cursor` for anything this API did not give out."""
    try:
        micros, hex_id = cursor.split("_")
        if not micros.isdigit():
            raise ValueError(cursor)
        return _EPOCH + timedelta(microseconds=int(micros)), UUID(hex=hex_id)
    except (ValueError, OverflowError):
        raise InvalidCursor() from None
