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
        ("1,23", "CNY", "use a point for decimals"),
        ("1 234,5", "CNY", "use a point for decimals"),
        ("1.234,5", "EUR", "use a point for decimals"),
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
    ("milli", "price_micro", "currency", "amount"),
    [
        (2500, 19_990_000, "CNY", 4998),  # 2.5 × 19.99 = 49.975 rounds half up
        (1000, 19_990_000, "CNY", 1999),
        (333, 10_000, "CNY", 0),  # 0.333 fen rounds down
        (500, 10_000, "CNY", 1),  # 0.5 fen rounds up
        (-2500, 19_990_000, "CNY", -4998),  # half away from zero for returns
        (3000, 0, "CNY", 0),
        (1_000_000, 35_000, "USD", 3500),  # 1000 × US$0.035 = US$35.00
        (1_000_000, 35_500, "USD", 3550),
        (3000, 125_000, "CNY", 38),  # 3 × ¥0.125 = ¥0.375
        (1000, 500_000, "JPY", 1),  # ¥0.5 rounds up to one yen
        (1000, 499_999, "JPY", 0),
        (1000, 1_234_567, "KWD", 1235),  # three decimal places
    ],
)
def test_line_amount_rounds_half_up(
    milli: int, price_micro: int, currency: str, amount: int
) -> None:
    assert money.line_amount(milli, price_micro, currency) == amount


@pytest.mark.parametrize(
    ("typed", "micro"),
    [
        ("0.035", 35_000),
        ("0.0125", 12_500),
        ("¥0.0125", 12_500),
        ("$0.035", 35_000),
        ("US$0.035", 35_000),
        ("０.０３５", 35_000),
        ("０．０３５", 35_000),
        ("￥０.０１２５", 12_500),
        ("0.035  ", 35_000),
        ("\u30000.035\u3000", 35_000),
        ("1,234.5", 1_234_500_000),
        ("1 234.5", 1_234_500_000),
        ("1\u00a0234.5", 1_234_500_000),
        ("0.123456", 123_456),
        ("0.1234560", 123_456),
        ("12元", 12_000_000),
        ("-0.5", -500_000),
    ],
)
def test_parse_unit_price_accepts(typed: str, micro: int) -> None:
    assert money.parse_unit_price(typed, field="Unit price") == micro


@pytest.mark.parametrize(
    ("typed", "hint"),
    [
        ("0.0000001", "at most 6 decimal places"),
        ("¥0.1234567", "at most 6 decimal places"),
        ("0,035", "use a point for decimals"),
        ("abc", "type a number"),
        ("9" * 19, "too large"),
    ],
)
def test_parse_unit_price_rejects(typed: str, hint: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        money.parse_unit_price(typed, field="Unit price")
    assert caught.value.message.startswith(f"Unit price “{typed}”")
    assert hint in caught.value.message


@pytest.mark.parametrize(
    ("micro", "currency", "locale", "shown"),
    [
        (35_000, "USD", "en", "$0.035"),
        (12_500, "CNY", "zh_CN", "¥0.0125"),
        (12_000_000, "CNY", "zh_CN", "¥12.00"),
        (500_000, "JPY", "en", "¥0.5"),
        (3_000_000, "JPY", "en", "¥3"),
        (1_234_567_800, "USD", "en", "$1,234.5678"),
    ],
)
def test_format_unit_price(micro: int, currency: str, locale: str, shown: str) -> None:
    assert money.format_unit_price(micro, currency, locale) == shown


@pytest.mark.parametrize(
    ("micro", "currency", "plain"),
    [
        (35_000, "USD", "0.035"),
        (12_000_000, "CNY", "12.00"),
        (12_500_000, "CNY", "12.50"),
        (3_000_000, "JPY", "3"),
        (123_456, "CNY", "0.123456"),
    ],
)
def test_plain_unit_price(micro: int, currency: str, plain: str) -> None:
    assert money.plain_unit_price(micro, currency) == plain


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


@pytest.mark.parametrize(
    ("typed", "currency"),
    [
        ("$1", "CNY"),
        ("$0.035", "EUR"),
        ("¥5", "USD"),
        ("￥5", "EUR"),
        ("US$1", "HKD"),
        ("HK$1", "USD"),
        ("€5", "GBP"),
        ("£5", "EUR"),
        ("5元", "USD"),
        ("RMB 5", "JPY"),
        ("USD 5", "CNY"),
        ("5 EUR", "USD"),
        ("₩500", "JPY"),
        ("₹5", "CNY"),
    ],
)
def test_sign_of_other_currency_rejected(typed: str, currency: str) -> None:
    for parse in (money.parse_money, price_in):
        with pytest.raises(InvalidValueError) as caught:
            parse(typed, currency, field="Unit price")
        assert caught.value.message.startswith(f"Unit price “{typed}”")
        assert currency in caught.value.message


def price_in(typed: str, currency: str, *, field: str) -> int:
    return money.parse_unit_price(typed, field=field, currency=currency)


@pytest.mark.parametrize(
    ("typed", "currency"),
    [
        ("$1", "USD"),
        ("$1", "HKD"),
        ("$1", "SGD"),
        ("$1", "MXN"),
        ("¥1", "CNY"),
        ("￥1", "JPY"),
        ("US$1", "USD"),
        ("HK$1", "HKD"),
        ("€1", "EUR"),
        ("£1", "GBP"),
        ("1元", "CNY"),
        ("RMB1", "CNY"),
        ("CNY 1", "CNY"),
        ("1 JPY", "JPY"),
        ("₩1", "KRW"),
        ("₹1", "INR"),
        ("1", "EUR"),
    ],
)
def test_sign_of_same_currency_accepted(typed: str, currency: str) -> None:
    assert money.parse_money(typed, currency, field="Amount") > 0
    assert price_in(typed, currency, field="Unit price") == 1_000_000
