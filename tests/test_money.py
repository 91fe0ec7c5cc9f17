"""Parsing, rounding and formatting of money and quantities."""

from __future__ import annotations

import pytest

from crm_web.errors import InvalidValueError
from crm_web.services import money


@pytest.mark.parametrize(
    ("typed", "currency", "minor"),
    [
        ("1,234.50", "CNY", 123450),
        ("1234.5", "CNY", 123450),
        ("¥1,234.50", "CNY", 123450),
        ("￥1,234.50", "CNY", 123450),
        ("１２３４．５", "CNY", 123450),
        ("１，２３４．５０", "CNY", 123450),
        ("12.340", "CNY", 1234),
        ("$ 12", "USD", 1200),
        ("USD 12.5", "USD", 1250),
        ("12元", "CNY", 1200),
        ("-12.50", "CNY", -1250),
        (".5", "EUR", 50),
        ("1,500", "JPY", 1500),
        ("1.234", "KWD", 1234),
        ("0", "CNY", 0),
    ],
)
def test_parse_money_accepts(typed: str, currency: str, minor: int) -> None:
    assert money.parse_money(typed, currency, field="Amount") == minor


@pytest.mark.parametrize(
    ("typed", "currency", "hint"),
    [
        ("12.345", "CNY", "at most 2 decimal places"),
        ("1.5", "JPY", "no decimal places"),
        ("1,23", "CNY", "type a number"),
        ("12a", "CNY", "type a number"),
        ("", "CNY", "type a number"),
        ("1.2.3", "CNY", "type a number"),
        ("9" * 20, "CNY", "too large"),
    ],
)
def test_parse_money_rejects(typed: str, currency: str, hint: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        money.parse_money(typed, currency, field="Amount")
    assert f"“{typed}”" in caught.value.message
    assert hint in caught.value.message


def test_parse_money_message_names_field() -> None:
    with pytest.raises(InvalidValueError) as caught:
        money.parse_money("12.345", "CNY", field="Unit price")
    assert caught.value.message.startswith("Unit price “12.345”")


@pytest.mark.parametrize(
    ("typed", "milli"),
    [("2.5", 2500), ("1,000", 1_000_000), ("0.001", 1), ("３", 3000)],
)
def test_parse_quantity(typed: str, milli: int) -> None:
    assert money.parse_quantity(typed, field="Quantity") == milli


def test_parse_quantity_rejects_fourth_decimal() -> None:
    with pytest.raises(InvalidValueError):
        money.parse_quantity("0.0005", field="Quantity")


@pytest.mark.parametrize(
    ("milli", "unit_minor", "amount"),
    [
        (2500, 1999, 4998),  # 2.5 × 19.99 = 49.975 rounds half up
        (1000, 1999, 1999),
        (333, 1, 0),  # 0.333 fen rounds down
        (500, 1, 1),  # 0.5 fen rounds up
        (-2500, 1999, -4998),  # half away from zero for returns
        (3000, 0, 0),
    ],
)
def test_line_amount_rounds_half_up(milli: int, unit_minor: int, amount: int) -> None:
    assert money.line_amount(milli, unit_minor) == amount


@pytest.mark.parametrize(
    ("minor", "currency", "locale", "shown"),
    [
        (123450, "CNY", "zh_CN", "¥1,234.50"),
        (123450, "CNY", "en", "CN¥1,234.50"),
        (1500, "JPY", "en", "¥1,500"),
        (123450, "USD", "en", "$1,234.50"),
    ],
)
def test_format_money(minor: int, currency: str, locale: str, shown: str) -> None:
    assert money.format_money(minor, currency, locale) == shown


def test_plain_money_keeps_minor_digits() -> None:
    assert money.plain_money(123450, "CNY") == "1234.50"


def test_plain_quantity_drops_trailing_zeros() -> None:
    assert money.plain_quantity(2500) == "2.5"
    assert money.plain_quantity(3000) == "3"


def test_check_currency_rejects_unknown() -> None:
    with pytest.raises(InvalidValueError) as caught:
        money.check_currency("RMB")
    assert "“RMB”" in caught.value.message


def test_check_currency_upper_cases() -> None:
    assert money.check_currency(" usd ") == "USD"
