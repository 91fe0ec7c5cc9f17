"""Money and quantities as exact numbers: parse typed text, store, format.

Money is stored as an integer count of the currency's minor unit (fen,
cents; yen have none), using the decimal digits Babel's CLDR data gives
for the currency. Quantities are stored in thousandths of a unit. No float
ever holds either value.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import format_currency, format_decimal, get_currency_precision
from flask_babel import lazy_gettext as _l

from crm_web.errors import InvalidValueError
from crm_web.services.clock import CURRENCIES

QUANTITY_DIGITS = 3
QUANTITY_SCALE = 10**QUANTITY_DIGITS
# The largest magnitude stored: far inside BIGINT, and past any real sale.
MAX_MINOR = 10**15

# Symbols and codes users type around an amount; NFKC has already turned
# the full-width ￥ into ¥ and full-width digits into ASCII.
_CURRENCY_MARKS = re.compile(
    r"^(?:[A-Z]{3}|RMB|US\$|HK\$|[¥$€£₩₹])\s*|\s*(?:[A-Z]{3}|RMB|元|[¥$€£])$"
)
# Digits with optional thousands separators in groups of three, or none.
_NUMBER = re.compile(r"^(\d{1,3}(?:,\d{3})+|\d+)?(?:\.(\d*))?$")


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


def parse_decimal(raw: str, *, field: str, digits: int) -> Decimal:
    """Parse typed text such as "¥1,234.50" or "１２３４．５" into a Decimal.

    Raise InvalidValueError naming ``raw`` when it is not a number or has
    more than ``digits`` decimal places, because rounding what the user
    typed would change the value without telling them.
    """
    text = unicodedata.normalize("NFKC", raw).strip().replace("。", ".")
    text = text.replace(" ", "")
    sign = ""
    if text[:1] in "-−":
        sign, text = "-", text[1:]
    text = _CURRENCY_MARKS.sub("", text).strip()
    if text[:1] in "-−" and not sign:
        sign, text = "-", text[1:]
    match = _NUMBER.match(text)
    if not text or not match or not (match.group(1) or match.group(2)):
        raise InvalidValueError(
            field, raw, str(_l("type a number such as 1,234.50 or 1234.5."))
        )
    fraction = match.group(2) or ""
    if len(fraction.rstrip("0")) > digits:
        raise InvalidValueError(field, raw, _places_hint(digits))
    whole = (match.group(1) or "0").replace(",", "")
    try:
        return Decimal(f"{sign}{whole}.{fraction or '0'}")
    except InvalidOperation as error:  # pragma: no cover - the regex prevents it
        raise InvalidValueError(field, raw, str(error)) from error


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
    value = parse_decimal(raw, field=field, digits=digits)
    minor = int(value.scaleb(digits))
    _check_range(minor, raw, field)
    return minor


def parse_quantity(raw: str, *, field: str) -> int:
    """Parse a typed quantity and return it in thousandths."""
    value = parse_decimal(raw, field=field, digits=QUANTITY_DIGITS)
    milli = int(value.scaleb(QUANTITY_DIGITS))
    _check_range(milli, raw, field)
    return milli


def _check_range(value: int, raw: str, field: str) -> None:
    if abs(value) >= MAX_MINOR:
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


def line_amount(quantity_milli: int, unit_price_minor: int) -> int:
    """Return quantity × unit price in minor units, rounded half up."""
    exact = Decimal(quantity_milli * unit_price_minor).scaleb(-QUANTITY_DIGITS)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def format_money(minor: int, currency: str, locale: str) -> str:
    """Format minor units as money in the user's locale, e.g. ¥1,234.50."""
    return str(format_currency(to_decimal(minor, currency), currency, locale=locale))


def format_quantity(milli: int, locale: str) -> str:
    """Format a stored quantity in the user's locale, e.g. 1,234.5."""
    return str(format_decimal(quantity_decimal(milli), locale=locale))


def plain_money(minor: int, currency: str) -> str:
    """Return minor units as plain text for form fields, e.g. 1234.50."""
    return format(to_decimal(minor, currency), "f")


def plain_quantity(milli: int) -> str:
    """Return a stored quantity as plain text for form fields, e.g. 2.5."""
    return format(quantity_decimal(milli), "f")
