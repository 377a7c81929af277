"""Money as integer minor units with an explicit currency; never a float."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

# ISO 4217 minor-unit exponents that differ from 2.
_EXPONENTS: dict[str, int] = {
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
}


# Digits 0-9 and a point: no thousands separators, no other scripts' digits, no underscores.
_PLAIN_AMOUNT = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)


class MoneyError(ValueError):
    """A money amount or currency that cannot be represented exactly."""


def exponent(currency: str) -> int:
    """Number of decimal places of the currency's minor unit."""
    code = normalise_currency(currency)
    return _EXPONENTS.get(code, 2)


def normalise_currency(currency: str) -> str:
    code = (currency or "").strip().upper()
    if len(code) != 3 or not code.isalpha() or not code.isascii():
        raise MoneyError(f"currency must be a 3-letter ISO 4217 code, got {currency!r}")
    return code


def to_minor(amount: str | int | Decimal, currency: str) -> int:
    """Parse a major-unit decimal string ("129.00") into integer minor units (12900)."""
    if isinstance(amount, float):
        raise MoneyError("amounts must be decimal strings, not floats")
    value = parse_decimal(amount)
    places = exponent(currency)
    scaled = value.scaleb(places)
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"{amount!r} has more than {places} decimal places for {currency}")
    return int(scaled)


def parse_decimal(amount: str | int | Decimal) -> Decimal:
    """A plain decimal: ASCII digits with an optional point ("12.50"); anything else refused."""
    if isinstance(amount, bool):
        raise MoneyError(f"not a decimal amount: {amount!r}")
    if isinstance(amount, Decimal | int):
        value = Decimal(amount)
        if not value.is_finite():
            raise MoneyError(f"not a finite amount: {amount!r}")
        return value
    text = str(amount).strip()
    if not _PLAIN_AMOUNT.fullmatch(text):
        raise MoneyError(f"not a decimal amount: {amount!r} (write digits and a point, e.g. 12.50)")
    return Decimal(text)


def format_minor(minor: int, currency: str) -> str:
    """Render minor units as a major-unit decimal string ("129.00")."""
    places = exponent(currency)
    value = Decimal(minor).scaleb(-places)
    return f"{value:.{places}f}"


@dataclass(frozen=True, slots=True)
class Money:
    minor: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise MoneyError("minor units must be an integer")
        object.__setattr__(self, "currency", normalise_currency(self.currency))

    @classmethod
    def parse(cls, amount: str | int | Decimal, currency: str) -> Money:
        return cls(to_minor(amount, currency), currency)

    def __str__(self) -> str:
        return f"{format_minor(self.minor, self.currency)} {self.currency}"

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.minor - other.minor, self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise MoneyError(f"cannot combine {self.currency} with {other.currency}")
