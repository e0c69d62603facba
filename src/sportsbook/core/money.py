"""Money as integer minor units with an ISO 4217 currency. Never a float."""

from __future__ import annotations

from dataclasses import dataclass

from sportsbook.core.errors import InvalidRequest

# ISO 4217 currencies the platform accepts, with their minor-unit exponent.
CURRENCY_EXPONENTS: dict[str, int] = {
    "AUD": 2, "BGN": 2, "BRL": 2, "CAD": 2, "CHF": 2, "CLP": 0, "CNY": 2, "COP": 2, "CZK": 2,
    "DKK": 2, "EUR": 2, "GBP": 2, "HKD": 2, "HUF": 2, "INR": 2, "ISK": 0, "JPY": 0, "KES": 2,
    "KRW": 0, "MXN": 2, "NGN": 2, "NOK": 2, "NZD": 2, "PEN": 2, "PHP": 2, "PLN": 2, "RON": 2,
    "SEK": 2, "SGD": 2, "TRY": 2, "UAH": 2, "USD": 2, "ZAR": 2,
}  # fmt: skip

# Amounts beyond this are refused: it keeps every sum far inside a signed 64-bit column.
MAX_AMOUNT = 10**15


class InvalidCurrency(InvalidRequest):
    """Unknown or unsupported ISO 4217 currency."""

    code = "invalid_currency"


class InvalidAmount(InvalidRequest):
    """The amount must be a positive whole number of minor units."""

    code = "invalid_amount"


def check_currency(currency: str) -> str:
    """Return the currency if the platform supports it, else raise `invalid_currency`."""
    if currency not in CURRENCY_EXPONENTS:
        raise InvalidCurrency(f"unsupported currency {currency!r}")
    return currency


def check_amount(amount: int, *, allow_negative: bool = False) -> int:
    """Return a valid amount in minor units, else raise `invalid_amount`."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidAmount("amounts are integers in minor units")
    if abs(amount) > MAX_AMOUNT or (amount <= 0 and not allow_negative) or amount == 0:
        raise InvalidAmount(f"amount {amount} is out of range")
    return amount


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units (1050 = 10.50 EUR) and its currency."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        check_currency(self.currency)
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise InvalidAmount("amounts are integers in minor units")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise InvalidCurrency(f"cannot combine {self.currency} with {other.currency}")

    def __str__(self) -> str:
        exp = CURRENCY_EXPONENTS[self.currency]
        sign = "-" if self.amount < 0 else ""
        whole, frac = divmod(abs(self.amount), 10**exp)
        return f"{sign}{whole}.{frac:0{exp}d} {self.currency}" if exp else f"{sign}{whole} {self.currency}"
