"""Turn spreadsheet numbers and typed dates into the text and dates we store.

Numbers come from calamine as floats, without the number format the cell
shows in Excel, so ``number_to_text`` rebuilds the text Excel displays.
Dates typed as text are parsed only in forms that have one reading.
"""

from __future__ import annotations

import datetime
import decimal
import re
import unicodedata
from decimal import Decimal
from functools import lru_cache

from babel.numbers import format_decimal, format_percent


class TruncatedNumber(str):
    """A number Excel had already cut to 15 significant digits.

    The value is Excel's display of the number. The digits after the 15th
    were lost before the file was saved.
    """


Cell = str | datetime.date | datetime.datetime | datetime.time

# Excel keeps 15 significant digits, so any integer from 10**15 up has lost
# digits when it was typed into a numeric cell.
_EXACT_LIMIT = 10**15
_EXCEL_DIGITS = 15

_ZERO_PADDED = re.compile(r"0+")
_SIMPLE_FORMAT = re.compile(r"(?:#,##)?0+(?:\.0+)?%?")
# Excel pads with "_)" or "_ " so numbers line up. The padding is blank
# space, so it is dropped.
_ALIGNMENT_PADDING = re.compile(r"_.")
_SCIENTIFIC_TEXT = re.compile(r"[+-]?\d+(?:\.\d+)?[eE]\+\d+")


def number_to_text(value: float | int, number_format: str | None = None) -> str:
    """Format a numeric cell as Excel displays it with ``number_format``.

    An ``int`` is taken as exact. A ``float`` whose integer value is 10**15 or
    more cannot be exact in Excel, so it comes back as a ``TruncatedNumber``.
    """
    if isinstance(value, float) and _is_truncated(value):
        return TruncatedNumber(_fifteen_digits(value))
    pattern = _simple_pattern(number_format)
    if pattern is None:
        return _general(value)
    if _ZERO_PADDED.fullmatch(pattern):
        return _zero_padded(value, len(pattern))
    return _babel_format(value, pattern)


def text_to_cell(text: str) -> str:
    """Trim a typed value and flag scientific notation as a truncated number."""
    value = text.strip().lstrip("\ufeff")
    if "+" in value and _SCIENTIFIC_TEXT.fullmatch(value):
        # Excel writes a long number it displays as "1.10101E+17" to CSV in
        # that form, and the digits it dropped cannot be recovered.
        return TruncatedNumber(value)
    return value


def _is_truncated(value: float) -> bool:
    return value == value and abs(value) >= _EXACT_LIMIT and value.is_integer()


def _fifteen_digits(value: float) -> str:
    with decimal.localcontext(prec=_EXCEL_DIGITS, rounding=decimal.ROUND_HALF_UP):
        rounded = +Decimal(value)
    return str(int(rounded))


def _general(value: float | int) -> str:
    if isinstance(value, int):
        return str(value)
    if value.is_integer() and abs(value) < _EXACT_LIMIT:
        return str(int(value))
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    # Rounding to Excel's 15 significant digits turns 0.1 + 0.2 back into
    # the 0.3 that Excel shows.
    with decimal.localcontext(prec=_EXCEL_DIGITS):
        rounded = +Decimal(value)
    return format(rounded.normalize(), "f")


@lru_cache(maxsize=256)
def _simple_pattern(number_format: str | None) -> str | None:
    """Return the format as a Babel pattern, or None to use General."""
    if not number_format:
        return None
    pattern = _ALIGNMENT_PADDING.sub("", number_format).strip()
    if _SIMPLE_FORMAT.fullmatch(pattern):
        return pattern
    return None


def _zero_padded(value: float | int, width: int) -> str:
    number = _round_half_up(value)
    sign = "-" if number < 0 else ""
    return sign + str(abs(number)).zfill(width)


def _round_half_up(value: float | int) -> int:
    exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    return int(exact.quantize(Decimal(1), rounding=decimal.ROUND_HALF_UP))


def _babel_format(value: float | int, pattern: str) -> str:
    exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    # Excel rounds halves away from zero, but Babel's default rounds to even.
    with decimal.localcontext(rounding=decimal.ROUND_HALF_UP):
        try:
            if pattern.endswith("%"):
                return format_percent(exact, format=pattern, locale="en")
            return format_decimal(exact, format=pattern, locale="en")
        except (ValueError, decimal.InvalidOperation):
            return _general(value)


# --- dates and times -------------------------------------------------------

_YEAR_FIRST = re.compile(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})")
_CHINESE_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?")
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_YEAR_LAST = re.compile(r"(\d{1,2})([-/.])(\d{1,2})\2(\d{4})")
_COMPACT_YEARS = range(1900, 2101)

_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?")
_CHINESE_CLOCK = re.compile(
    r"(\d{1,2})\s*[点时](?:\s*(半|\d{1,2})\s*分?)?(?:\s*(\d{1,2})\s*秒)?"
)
_CHINESE_PERIOD = re.compile(r"(上午|早上|早晨|凌晨|中午|下午|晚上|傍晚)\s*(.*)")
_ENGLISH_PERIOD = re.compile(r"(.*?)\s*([AaPp])\.?\s*[Mm]\.?")
_MORNING = ("上午", "早上", "早晨", "凌晨", "a")
_EVENING = ("下午", "晚上", "傍晚", "p")

_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}.*")
_DATE_THEN_TIME = re.compile(r"(.+?)(?:T|\s+)(.+)")
_CHINESE_DATE_THEN_TIME = re.compile(r"(.+?[日号])\s*(.+)")


def parse_date(text: str) -> datetime.date | None:
    """Parse a typed date that has only one reading, or return None."""
    value = unicodedata.normalize("NFKC", text).strip()
    if match := _YEAR_FIRST.fullmatch(value):
        return _make_date(match[1], match[3], match[4])
    if match := _CHINESE_DATE.fullmatch(value):
        return _make_date(match[1], match[2], match[3])
    if match := _COMPACT_DATE.fullmatch(value):
        return _compact_date(match)
    if match := _YEAR_LAST.fullmatch(value):
        return _day_month_or_month_day(match)
    return None


def _make_date(year: str, month: str, day: str) -> datetime.date | None:
    try:
        return datetime.date(int(year), int(month), int(day))
    except ValueError:
        return None


def _compact_date(match: re.Match[str]) -> datetime.date | None:
    # Eight digits are as likely an order number as a date, so only a real
    # date in a plausible century counts.
    if int(match[1]) not in _COMPACT_YEARS:
        return None
    return _make_date(match[1], match[2], match[3])


def _day_month_or_month_day(match: re.Match[str]) -> datetime.date | None:
    first, second, year = int(match[1]), int(match[3]), match[4]
    if first == second or second > 12:
        return _make_date(year, str(first), str(second))
    if first > 12:
        return _make_date(year, str(second), str(first))
    # "3/1/2024" is 1 March in the US and 3 January in most other places.
    return None


def parse_time(text: str) -> datetime.time | None:
    """Parse a typed time of day such as '14:30', '下午2:30' or '2:30 PM'."""
    value = unicodedata.normalize("NFKC", text).strip()
    period = ""
    if match := _CHINESE_PERIOD.fullmatch(value):
        period, value = match[1], match[2]
    elif match := _ENGLISH_PERIOD.fullmatch(value):
        value, period = match[1], match[2].lower()
    parts = _clock_parts(value)
    if parts is None:
        return None
    return _make_time(parts, period)


def _clock_parts(text: str) -> tuple[int, int, int, int] | None:
    if match := _CLOCK.fullmatch(text):
        micro = (match[4] or "").ljust(6, "0")
        return int(match[1]), int(match[2]), int(match[3] or 0), int(micro)
    if match := _CHINESE_CLOCK.fullmatch(text):
        minute = 30 if match[2] == "半" else int(match[2] or 0)
        return int(match[1]), minute, int(match[3] or 0), 0
    return None


def _make_time(parts: tuple[int, int, int, int], period: str) -> datetime.time | None:
    hour, minute, second, micro = parts
    if period in ("a", "p") and not 1 <= hour <= 12:
        return None
    hour = _apply_period(hour, period)
    try:
        return datetime.time(hour, minute, second, micro)
    except ValueError:
        return None


def _apply_period(hour: int, period: str) -> int:
    if period in _MORNING and hour == 12:
        return 0
    if period in _EVENING and hour < 12:
        return hour + 12
    # Noon: "中午12点" is 12:00 and "中午1点" is 13:00.
    if period == "中午" and hour < 11:
        return hour + 12
    return hour


def parse_datetime(text: str) -> datetime.datetime | None:
    """Parse a typed date with a time of day. A bare date returns None."""
    value = unicodedata.normalize("NFKC", text).strip()
    if _ISO_DATETIME.fullmatch(value):
        try:
            return datetime.datetime.fromisoformat(value)
        except ValueError:
            pass
    for pattern in (_CHINESE_DATE_THEN_TIME, _DATE_THEN_TIME):
        match = pattern.fullmatch(value)
        if match and (moment := _combine(match[1], match[2])):
            return moment
    return None


def _combine(date_text: str, time_text: str) -> datetime.datetime | None:
    day = parse_date(date_text)
    clock = parse_time(time_text) if day else None
    if day is None or clock is None:
        return None
    return datetime.datetime.combine(day, clock)


def cell_to_date(cell: Cell) -> datetime.date | None:
    """Return the calendar date in a cell, or None when there is none."""
    if isinstance(cell, datetime.datetime):
        return cell.date()
    if isinstance(cell, datetime.date):
        return cell
    if not isinstance(cell, str) or isinstance(cell, TruncatedNumber):
        return None
    day = parse_date(cell)
    if day is not None:
        return day
    moment = parse_datetime(cell)
    return moment.date() if moment else None
