"""Money and quantities as exact numbers: parse typed text, store, format.

Money is stored as an integer count of the currency's minor unit (fen,
cents; yen have none), using the decimal digits Babel's CLDR data gives
for the currency. A unit price is stored in millionths of the currency
unit whatever the currency, so US$0.035 or ¥0.0125 per piece fit.
Quantities are stored in thousandths of a unit. None of these values is
ever stored in a float.

Typed numbers use the point as the decimal separator, as both of the
app's languages (English and Simplified Chinese) do. A comma separates
groups of three digits only, and spaces are ignored, so "1,234.5" and
"1 234.5" read as 1234.5 while "1 234,5" is rejected with a hint.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import (
    format_currency,
    format_decimal,
    get_currency_name,
    get_currency_precision,
)
from flask_babel import lazy_gettext as _l

from crm_web.errors import InvalidValueError
from crm_web.services.clock import CURRENCIES

QUANTITY_DIGITS = 3
QUANTITY_SCALE = 10**QUANTITY_DIGITS
PRICE_DIGITS = 6
# The largest magnitude stored: far inside BIGINT, and past any real sale.
MAX_MINOR = 10**15
# A unit price of up to 10**12 currency units, in millionths: inside BIGINT.
MAX_PRICE_MICRO = 10**18

# Symbols and codes users type around an amount; NFKC has already turned
# the full-width ￥ into ¥ and full-width digits into ASCII.
_CURRENCY_MARKS = re.compile(
    r"^(?:[A-Z]{3}|RMB|US\$|HK\$|[¥$€£₩₹])\s*|\s*(?:[A-Z]{3}|RMB|元|[¥$€£])$"
)
# Currencies each sign may stand for; a three-letter code stands for itself.
# "$" is written before every dollar and several pesos and reais, "£" before
# every pound, "¥" before yuan and yen.
_NAMED_BY = {"Dollar": "$", "Pound": "£", "Won": "₩"}
_PESOS_WITH_DOLLAR_SIGN = ("ARS", "BRL", "CLP", "COP", "CUP", "DOP", "MXN", "UYU")


def _sign_currencies() -> dict[str, frozenset[str]]:
    signs: dict[str, set[str]] = {
        "$": set(_PESOS_WITH_DOLLAR_SIGN),
        "£": set(),
        "₩": set(),
        "¥": {"CNY", "JPY"},
        "元": {"CNY"},
        "RMB": {"CNY"},
        "€": {"EUR"},
        "₹": {"INR"},
        "US$": {"USD"},
        "HK$": {"HKD"},
    }
    for code in CURRENCIES:
        name = str(get_currency_name(code, locale="en"))
        for word, sign in _NAMED_BY.items():
            if word in name:
                signs[sign].add(code)
    return {sign: frozenset(codes) for sign, codes in signs.items()}


_SIGN_CURRENCIES = _sign_currencies()
# Digits with optional thousands separators in groups of three, or none.
# A leading zero cannot start a group, so "0,035" is not read as 35.
_NUMBER = re.compile(r"^([1-9]\d{0,2}(?:,\d{3})+|\d+)?(?:\.(\d*))?$")
# A comma used as a decimal separator, as in "1234,5" or "1.234,5".
_DECIMAL_COMMA = re.compile(r"^[\d.]*,\d*$")


def precision(currency: str) -> int:
    """Return the number of decimal digits of ``currency``'s minor unit."""
    return int(get_currency_precision(currency))


def check_currency(raw: str) -> str:
    """Return the upper-case ISO 4217 code, or raise InvalidValueError."""
    code = unicodedata.normalize("NFKC", raw or "").strip().upper()
    if code not in CURRENCIES:
        raise InvalidValueError(
            str(_l("Currency")),
            raw,
            str(_l("use a three-letter currency code such as CNY, USD or EUR.")),
        )
    return code


def parse_decimal(
    raw: str, *, field: str, digits: int, currency: str | None = None
) -> Decimal:
    """Parse typed text such as "¥1,234.50" or "１２３４．５" into a Decimal.

    Raise InvalidValueError naming ``raw`` when it is not a number or has
    more than ``digits`` decimal places, because rounding what the user
    typed would change the value without telling them. With ``currency``,
    a currency sign or code typed with the number must stand for it, so
    "$1" is rejected for CNY; with None any sign is ignored.
    """
    text = unicodedata.normalize("NFKC", raw).strip().replace("。", ".")
    text = text.replace(" ", "")
    sign = ""
    if text[:1] in "-−":
        sign, text = "-", text[1:]
    marks = [match[0].strip() for match in _CURRENCY_MARKS.finditer(text)]
    text = _CURRENCY_MARKS.sub("", text).strip()
    if currency is not None:
        _check_marks(marks, currency, raw=raw, field=field)
    if text[:1] in "-−" and not sign:
        sign, text = "-", text[1:]
    match = _NUMBER.match(text)
    if not text or not match or not (match.group(1) or match.group(2)):
        raise InvalidValueError(field, raw, _number_hint(text))
    fraction = match.group(2) or ""
    if len(fraction.rstrip("0")) > digits:
        raise InvalidValueError(field, raw, _places_hint(digits))
    whole = (match.group(1) or "0").replace(",", "")
    try:
        return Decimal(f"{sign}{whole}.{fraction or '0'}")
    except InvalidOperation as error:  # pragma: no cover - the regex prevents it
        raise InvalidValueError(field, raw, str(error)) from error


def _check_marks(marks: list[str], currency: str, *, raw: str, field: str) -> None:
    for mark in marks:
        if currency not in _SIGN_CURRENCIES.get(mark, frozenset({mark})):
            raise InvalidValueError(
                field,
                raw,
                str(
                    _l(
                        "“%(sign)s” is not a sign of the currency %(currency)s; "
                        "remove it or change the currency.",
                        sign=mark,
                        currency=currency,
                    )
                ),
            )


def _number_hint(text: str) -> str:
    if _DECIMAL_COMMA.match(text):
        return str(
            _l(
                "use a point for decimals, such as 1234.5; a comma may only "
                "separate groups of three digits, such as 1,234.5."
            )
        )
    return str(_l("type a number such as 1,234.50 or 1234.5."))


def _places_hint(digits: int) -> str:
    if digits == 0:
        return str(_l("this currency has no decimal places; type a whole number."))
    return str(
        _l(
            "at most %(digits)s decimal places are allowed; round it and "
            "type it again.",
            digits=digits,
        )
    )


def parse_money(raw: str, currency: str, *, field: str) -> int:
    """Parse a typed amount in ``currency`` and return it in minor units."""
    digits = precision(currency)
    value = parse_decimal(raw, field=field, digits=digits, currency=currency)
    minor = int(value.scaleb(digits))
    _check_range(minor, raw, field)
    return minor


def parse_quantity(raw: str, *, field: str) -> int:
    """Parse a typed quantity and return it in thousandths."""
    value = parse_decimal(raw, field=field, digits=QUANTITY_DIGITS)
    milli = int(value.scaleb(QUANTITY_DIGITS))
    _check_range(milli, raw, field)
    return milli


def parse_unit_price(raw: str, *, field: str, currency: str | None = None) -> int:
    """Parse a typed unit price and return it in millionths of the currency.

    Up to six decimal places are accepted in every currency, because goods
    sold by the thousand are priced below the currency's smallest coin.
    With ``currency``, a currency sign typed with the price must stand for it.
    """
    value = parse_decimal(raw, field=field, digits=PRICE_DIGITS, currency=currency)
    micro = int(value.scaleb(PRICE_DIGITS))
    _check_range(micro, raw, field, limit=MAX_PRICE_MICRO)
    return micro


def _check_range(value: int, raw: str, field: str, *, limit: int = MAX_MINOR) -> None:
    if abs(value) >= limit:
        raise InvalidValueError(field, raw, str(_l("the number is too large.")))


def to_decimal(minor: int, currency: str) -> Decimal:
    """Return minor units of ``currency`` as an exact Decimal amount."""
    return Decimal(minor).scaleb(-precision(currency))


def quantity_decimal(milli: int) -> Decimal:
    """Return a stored quantity as a Decimal without trailing zeros."""
    value = Decimal(milli).scaleb(-QUANTITY_DIGITS)
    return (
        value.quantize(Decimal(1))
        if value == value.to_integral()
        else value.normalize()
    )


def price_decimal(micro: int) -> Decimal:
    """Return a stored unit price as a Decimal without trailing zeros."""
    value = Decimal(micro).scaleb(-PRICE_DIGITS)
    return (
        value.quantize(Decimal(1))
        if value == value.to_integral()
        else value.normalize()
    )


def line_amount(quantity_milli: int, unit_price_micro: int, currency: str) -> int:
    """Return quantity × unit price in ``currency``'s minor units.

    The exact product is rounded half up (away from zero on a tie) to the
    currency's decimal places: 1000 × US$0.0355 is US$35.50, and
    3 × ¥0.125 is ¥0.38.
    """
    shift = QUANTITY_DIGITS + PRICE_DIGITS - precision(currency)
    exact = Decimal(quantity_milli * unit_price_micro).scaleb(-shift)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def format_money(minor: int, currency: str, locale: str) -> str:
    """Format minor units as money in the user's locale, e.g. ¥1,234.50."""
    return str(format_currency(to_decimal(minor, currency), currency, locale=locale))


def format_unit_price(micro: int, currency: str, locale: str) -> str:
    """Format a unit price with the currency's decimals or more, e.g. $0.035."""
    return str(
        format_currency(
            price_decimal(micro), currency, locale=locale, decimal_quantization=False
        )
    )


def format_quantity(milli: int, locale: str) -> str:
    """Format a stored quantity in the user's locale, e.g. 1,234.5."""
    return str(format_decimal(quantity_decimal(milli), locale=locale))


def plain_money(minor: int, currency: str) -> str:
    """Return minor units as plain text for form fields, e.g. 1234.50."""
    return format(to_decimal(minor, currency), "f")


def plain_unit_price(micro: int, currency: str) -> str:
    """Return a unit price as plain text for form fields, e.g. 0.035 or 12.50."""
    value = price_decimal(micro)
    digits = precision(currency)
    if value.as_tuple().exponent > -digits:  # type: ignore[operator]
        value = value.quantize(Decimal(1).scaleb(-digits))
    return format(value, "f")


def plain_quantity(milli: int) -> str:
    """Return a stored quantity as plain text for form fields, e.g. 2.5."""
    return format(quantity_decimal(milli), "f")
