"""Turning one row of cells into contact values, with its problems."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _

from crm_web.services import text
from crm_web.services.cells import unguard_formula
from crm_web.services.contacts import ContactInput, ContactInvalidError, parse_form
from crm_web.services.fields import FIELDS_BY_NAME
from crm_web.services.importing.values import TruncatedNumber, cell_to_date

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
        elif target in raw and target != "birthday":
            raw[target] = f"{raw[target]} {value}"
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
                "%(column)s “%(value)s” was already cut to 15 digits by Excel, so "
                "the last digits are lost. Format that column as Text in Excel, "
                "type the full numbers again, and re-import this row.",
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
        value = unguard_formula(value)
    return value.strip()


def _birthday_value(row: ConvertedRow, cell: Any, header: str) -> Any:
    if cell in ("", None):
        return ""
    parsed = cell_to_date(cell)
    if parsed is None and isinstance(cell, str) and cell.strip().isdigit():
        serial = int(cell.strip())
        if serial in _SERIAL_DAYS:
            parsed = _EXCEL_EPOCH + datetime.timedelta(days=serial)
    if parsed is None:
        row.problems.append(
            _(
                "%(column)s “%(value)s” is not a date. Write it as 1990-03-15 or "
                "1990/3/15, or format the cells as dates in Excel.",
                column=header,
                value=str(cell),
            )
        )
        return ""
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
