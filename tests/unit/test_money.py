from __future__ import annotations

from decimal import Decimal

import pytest

from domain.money import Money, MoneyError, format_minor, to_minor


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("129.00", "USD", 12900),
        ("0.01", "usd", 1),
        ("7.5", "EUR", 750),
        ("1500", "JPY", 1500),
        ("1.234", "KWD", 1234),
        (Decimal("10.10"), "GBP", 1010),
        (3, "USD", 300),
    ],
)
def test_to_minor(amount: object, currency: str, minor: int) -> None:
    assert to_minor(amount, currency) == minor  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        ("1.001", "USD"),
        ("1.5", "JPY"),
        ("abc", "USD"),
        ("NaN", "USD"),
        ("Infinity", "USD"),
        ("1.00", "US"),
        ("1.00", "U$D"),
        ("1.00", ""),
    ],
)
def test_to_minor_refuses_what_cannot_be_exact(amount: str, currency: str) -> None:
    with pytest.raises(MoneyError):
        to_minor(amount, currency)


def test_floats_are_refused() -> None:
    with pytest.raises(MoneyError):
        to_minor(0.1, "USD")  # type: ignore[arg-type]


def test_format_and_arithmetic() -> None:
    assert format_minor(12900, "USD") == "129.00"
    assert format_minor(1500, "JPY") == "1500"
    assert str(Money(12900, "usd") - Money(900, "USD")) == "120.00 USD"
    with pytest.raises(MoneyError):
        Money(1, "USD") + Money(1, "EUR")
    with pytest.raises(MoneyError):
        Money(1.0, "USD")  # type: ignore[arg-type]
