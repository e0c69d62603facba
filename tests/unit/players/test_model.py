"""The pure rules of accounts: emails, ages, passwords, countries, roles and the login lockout."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sportsbook.core.errors import InvalidRequest
from sportsbook.core.money import InvalidCurrency
from sportsbook.players.model import (
    STAFF_ROLES,
    AccountLocked,
    InvalidCountry,
    InvalidEmail,
    InvalidRole,
    LockoutPolicy,
    LoginState,
    Principal,
    Role,
    Underage,
    WeakPassword,
    age_on,
    check_country,
    check_date_of_birth,
    check_password,
    check_player_currency,
    check_staff_role,
    normalize_email,
)

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ann@example.com", "ann@example.com"),
        ("  Ann.Smith@Example.COM ", "ann.smith@example.com"),
        ("BOB+bets@Mail.Example.org", "bob+bets@mail.example.org"),
    ],
)
def test_email_is_trimmed_and_lower_cased(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize("raw", ["", "ann", "ann@", "@example.com", "ann@@example.com", "ann@localhost", "a b@x.com"])
def test_malformed_email_is_invalid_email(raw: str) -> None:
    with pytest.raises(InvalidEmail) as info:
        normalize_email(raw)
    assert info.value.code == "invalid_email"
    assert info.value.status == 422


_local = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,20}[A-Za-z0-9]", fullmatch=True).filter(lambda s: ".." not in s)
_domain = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,10}\.(com|org|net|co\.uk)", fullmatch=True)


@given(local=_local, domain=_domain)
def test_email_normalisation_is_idempotent_and_ignores_case(local: str, domain: str) -> None:
    email = f"{local}@{domain}"
    once = normalize_email(email)
    assert normalize_email(once) == once
    assert normalize_email(email.upper()) == once
    assert normalize_email(email.swapcase()) == once


@pytest.mark.parametrize(
    ("born", "today", "age"),
    [
        (date(2008, 1, 1), date(2026, 1, 1), 18),
        (date(2008, 1, 2), date(2026, 1, 1), 17),
        (date(2007, 12, 31), date(2026, 1, 1), 18),
        (date(2008, 2, 29), date(2026, 2, 28), 17),  # a leap-day birthday comes on 1 March
        (date(2008, 2, 29), date(2026, 3, 1), 18),
        (date(2008, 2, 29), date(2028, 2, 29), 20),
    ],
)
def test_age_counts_whole_years(born: date, today: date, age: int) -> None:
    assert age_on(born, today) == age


def test_eighteenth_birthday_is_old_enough() -> None:
    assert check_date_of_birth(date(2008, 1, 1), date(2026, 1, 1)) == date(2008, 1, 1)


def test_day_before_eighteenth_birthday_is_underage() -> None:
    with pytest.raises(Underage) as info:
        check_date_of_birth(date(2008, 1, 2), date(2026, 1, 1))
    assert (info.value.code, info.value.status) == ("underage", 403)


def test_birth_date_in_the_future_is_underage() -> None:
    with pytest.raises(Underage):
        check_date_of_birth(date(2030, 5, 5), date(2026, 1, 1))


def test_implausibly_old_birth_date_is_invalid_request() -> None:
    with pytest.raises(InvalidRequest) as info:
        check_date_of_birth(date(1899, 12, 31), date(2026, 1, 1))
    assert info.value.code == "invalid_request"


@given(
    born=st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)),
    today=st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)),
    later=st.integers(min_value=0, max_value=3000),
)
def test_once_an_adult_always_an_adult(born: date, today: date, later: int) -> None:
    afterwards = today + timedelta(days=later)
    assert age_on(born, afterwards) >= age_on(born, today)
    if age_on(born, today) >= 18:
        assert check_date_of_birth(born, afterwards) == born


@pytest.mark.parametrize(
    "password",
    ["short1!", "password123", "qwertyuiop", "aaaaaaaaaaaaaaaa", "1234567890", "Password2024"],
)
def test_weak_passwords_are_refused(password: str) -> None:
    with pytest.raises(WeakPassword) as info:
        check_password(password)
    assert (info.value.code, info.value.status) == ("weak_password", 422)


def test_strong_but_short_password_is_refused_for_length() -> None:
    with pytest.raises(WeakPassword, match="10 characters"):
        check_password("Zx9#mQ2!v")


@pytest.mark.parametrize("password", ["Zx9#mQ2!vL8p", "correct horse battery staple", "x" * 5 + "Tq7$Lm2@Rw9!" * 10])
def test_strong_passwords_pass(password: str) -> None:
    assert check_password(password) == password


def test_password_made_of_the_email_is_weak() -> None:
    assert check_password("kowalczykowa2001") == "kowalczykowa2001"
    with pytest.raises(WeakPassword):
        check_password("kowalczykowa2001", user_inputs=("kowalczykowa@example.com",))


@pytest.mark.parametrize("country", ["GB", "DE", "MT", "US", "GI"])
def test_iso_country_codes_pass(country: str) -> None:
    assert check_country(country) == country


@pytest.mark.parametrize("country", ["", "G", "GBR", "gb", "XX", "ZZ", "UK", "12", "ÉE"])
def test_unknown_country_is_invalid_country(country: str) -> None:
    with pytest.raises(InvalidCountry) as info:
        check_country(country)
    assert (info.value.code, info.value.status) == ("invalid_country", 422)


def test_unsupported_currency_is_invalid_currency() -> None:
    assert check_player_currency("EUR") == "EUR"
    with pytest.raises(InvalidCurrency):
        check_player_currency("XYZ")


def test_every_back_office_role_is_a_staff_role_and_player_is_not() -> None:
    assert {r.value for r in STAFF_ROLES} == {"admin", "trader", "risk", "payments", "support"}
    assert check_staff_role("trader") is Role.TRADER


@pytest.mark.parametrize("role", ["player", "root", "", "Admin"])
def test_player_or_unknown_role_cannot_be_given_to_staff(role: str) -> None:
    with pytest.raises(InvalidRole):
        check_staff_role(role)


def test_principal_knows_staff_from_players() -> None:
    staff = Principal(id=uuid4(), email="t@example.com", role=Role.TRADER, currency=None)
    player = Principal(id=uuid4(), email="p@example.com", role=Role.PLAYER, currency="EUR")
    assert staff.is_staff
    assert not player.is_staff


POLICY = LockoutPolicy(max_failures=5, lock_s=900)


def test_failures_below_the_limit_do_not_lock() -> None:
    state = LoginState()
    for _ in range(4):
        state = POLICY.after_failure(state, NOW)
    assert state == LoginState(failed_logins=4)
    POLICY.check(state, NOW)


def test_limit_of_failures_locks_for_the_lock_period() -> None:
    state = LoginState(failed_logins=4)
    state = POLICY.after_failure(state, NOW)
    assert state.locked_until == NOW + timedelta(seconds=900)
    with pytest.raises(AccountLocked) as info:
        POLICY.check(state, NOW + timedelta(seconds=899))
    assert (info.value.code, info.value.status) == ("account_locked", 423)
    POLICY.check(state, NOW + timedelta(seconds=900))


def test_after_a_lock_ends_the_full_number_of_attempts_is_back() -> None:
    state = POLICY.after_failure(LoginState(failed_logins=4), NOW)
    later = NOW + timedelta(seconds=901)
    state = POLICY.after_failure(state, later)
    assert not POLICY.is_locked(state, later)
    assert state.failed_logins == 1


def test_success_clears_failures() -> None:
    assert POLICY.after_success() == LoginState()


@given(
    max_failures=st.integers(min_value=1, max_value=10),
    attempts=st.lists(st.booleans(), max_size=40),
)
def test_lock_comes_exactly_when_consecutive_failures_reach_the_limit(max_failures: int, attempts: list[bool]) -> None:
    """Attempts happen at one instant (no lock expires): replay them against a simple counter."""
    policy = LockoutPolicy(max_failures=max_failures, lock_s=60)
    state = LoginState()
    consecutive = 0
    for succeeded in attempts:
        if policy.is_locked(state, NOW):
            break  # a locked account takes no attempts until the lock ends
        if succeeded:
            state, consecutive = policy.after_success(), 0
        else:
            state, consecutive = policy.after_failure(state, NOW), consecutive + 1
        assert policy.is_locked(state, NOW) == (consecutive == max_failures)
