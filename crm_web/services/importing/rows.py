"""Turning one row of cells into contact values, with its problems."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _

from crm_web.services import text
from crm_web.services.cells import unguard_formula
from crm_web.services.contacts import ContactInput, ContactInvalidError, parse_form
from crm_web.services.fields import FIELDS_BY_NAME
from crm_web.services.importing.values import TruncatedNumber, cell_to_date
from crm_web.services.text import has_chinese

# Mapping targets besides the contact field names.
TO_EXTRA = "extra"
TO_NOTES = "notes+"
IGNORE = "ignore"

# An Excel serial day number that plausibly is a date (1927 to 2173).
_SERIAL_DAYS = range(10000, 100000)
_EXCEL_EPOCH = datetime.date(1899, 12, 30)


@dataclass
class ConvertedRow:
    """One data row: its line in the file, values or the reasons it fails."""

    line: int
    cells: list[Any]
    contact: ContactInput | None = None
    category: str = ""
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Set for rows that are not contacts (a total row): they are skipped.
    skip_reason: str = ""


def convert_row(
    line: int,
    cells: list[Any],
    headers: list[str],
    mapping: list[str],
    *,
    is_text_source: bool,
) -> ConvertedRow:
    """Map a row's cells onto contact fields and validate them."""
    row = ConvertedRow(line=line, cells=cells)
    if _is_total_row(cells):
        row.skip_reason = _("a total row, not a contact")
        return row
    raw: dict[str, Any] = {}
    extra: dict[str, str] = {}
    notes_lines: list[str] = []
    for index, target in enumerate(mapping):
        if target == IGNORE:
            continue
        cell = cells[index] if index < len(cells) else ""
        header = headers[index] if index < len(headers) else ""
        value = _cell_value(row, cell, header, target, is_text_source)
        if value in ("", None):
            continue
        if target == TO_EXTRA:
            extra[header or _column_name(index)] = str(value)
        elif target == TO_NOTES:
            notes_lines.append(f"{header or _column_name(index)}: {value}")
        elif target == "birthday" and isinstance(value, str):
            # Kept as typed next to the card, with a warning, rather than
            # rejecting a whole contact over a birthday.
            extra[header or _column_name(index)] = value
        elif target in raw and target != "birthday":
            raw[target] = _join(str(raw[target]), str(value))
        else:
            raw[target] = value
    if notes_lines:
        raw["notes"] = "\n".join(filter(None, [raw.get("notes", ""), *notes_lines]))
    row.category = text.clean(raw.pop("category", ""))
    if row.problems:
        return row
    _validate(row, raw, extra)
    return row


def _cell_value(
    row: ConvertedRow, cell: Any, header: str, target: str, is_text_source: bool
) -> Any:
    if isinstance(cell, TruncatedNumber):
        row.problems.append(
            _(
                "%(column)s “%(value)s” is a long number that Excel has already "
                "shortened, so its last digits are lost. Format that column as "
                "Text in Excel, type the full numbers again, and import this row "
                "again.",
                column=header,
                value=str(cell),
            )
        )
        return ""
    if target == "birthday":
        return _birthday_value(row, cell, header)
    if isinstance(cell, datetime.datetime):
        return (
            cell.strftime("%Y-%m-%d %H:%M")
            if cell.time() != datetime.time()
            else cell.date().isoformat()
        )
    if isinstance(cell, datetime.date | datetime.time):
        return cell.isoformat()
    value = str(cell)
    if is_text_source:
        value = _unwrap_text_formula(unguard_formula(value))
    return value.strip()


# ="0012345": Taobao and other systems wrap numbers this way so that Excel
# keeps them as text; the value is what is inside the quotes.
_TEXT_FORMULA = re.compile(r'="((?:[^"]|"")*)"')


def _unwrap_text_formula(value: str) -> str:
    match = _TEXT_FORMULA.fullmatch(value.strip())
    return match.group(1).replace('""', '"') if match else value


# First cells of the total rows that reports end with.
_TOTAL_WORDS = frozenset(
    [
        "合计",
        "总计",
        "小计",
        "合計",
        "總計",
        "小計",
        "total",
        "totals",
        "sum",
        "subtotal",
        "grand total",
    ]
)


def _is_total_row(cells: list[Any]) -> bool:
    for cell in cells:
        if isinstance(cell, str) and cell.strip():
            words = cell.replace(":", "").replace("：", "").strip()
            return text.fold(words) in _TOTAL_WORDS
        if cell not in ("", None):
            return False
    return False


def _join(first: str, second: str) -> str:
    # Name parts in separate columns: 张 + 小明 is 张小明, Ahmed + Ali is "Ahmed Ali".
    if has_chinese(first[-1:]) and has_chinese(second[:1]):
        return first + second
    return f"{first} {second}"


# Placeholders that mean "no date": Outlook writes 0/0/00 for no birthday.
_NO_DATE = {"0/0/00", "0/0/0000", "00/00/0000", "0000-00-00", "1/0/00", "-"}


def _birthday_value(row: ConvertedRow, cell: Any, header: str) -> Any:
    if cell in ("", None) or (isinstance(cell, str) and cell.strip() in _NO_DATE):
        return ""
    parsed = cell_to_date(cell)
    if parsed is None and isinstance(cell, str) and cell.strip().isdigit():
        serial = int(cell.strip())
        if serial in _SERIAL_DAYS:
            parsed = _EXCEL_EPOCH + datetime.timedelta(days=serial)
    if parsed is None:
        row.warnings.append(
            _(
                "%(column)s “%(value)s” is not a date, so it was kept as an extra "
                "field and the birthday left empty. Correct it on the card, or write "
                "it as 1990-03-15 and import again.",
                column=header,
                value=str(cell),
            )
        )
        return str(cell).strip()
    return parsed


def _validate(row: ConvertedRow, raw: dict[str, Any], extra: dict[str, str]) -> None:
    try:
        row.contact = parse_form(raw, extra=extra, lenient=True)
    except ContactInvalidError as error:
        row.problems.extend(error.errors.values())
        return
    email = row.contact.values.get("email", "")
    if email and "@" not in email:
        row.warnings.append(
            _(
                "“%(value)s” does not look like an e-mail "
                "address; it was kept as typed.",
                value=email,
            )
        )


def _column_name(index: int) -> str:
    return _("Column %(number)s", number=index + 1)


def default_mapping(fields: list[str | None], headers: list[str]) -> list[str]:
    """Return a mapping target per column: its field, or keep it as extra."""
    # Unmatched columns, titled or not, are kept as extra fields, because
    # dropping a column the user did not look at would lose their data.
    return [name or TO_EXTRA for name, _header in zip(fields, headers, strict=False)]


def valid_targets() -> set[str]:
    return {*FIELDS_BY_NAME, TO_EXTRA, TO_NOTES, IGNORE}
