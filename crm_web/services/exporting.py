"""Table writers for exported .xlsx, tab-separated .txt and .csv files.

Every writer streams: rows may come from a generator of any length and are
written one at a time, so memory does not grow with the row count.

In .xlsx every ``str`` value is a string cell with the Text number format, so
leading zeros, 18-digit ID numbers and ``+86 ...`` stay as typed and nothing
is run as a formula. The text formats are UTF-8 with a byte order mark, which
Excel on Chinese Windows needs to tell UTF-8 from GBK, and CRLF line ends.
Text cells there pass through ``guard_formula``.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO, TextIO

from openpyxl import Workbook
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from crm_web.errors import ExportWriteError, UnsupportedExportFormatError
from crm_web.services.cells import guard_formula

EXPORT_KINDS = ("xlsx", "txt", "csv")

_CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "txt": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
}
_DIALECTS: dict[str, type[csv.Dialect]] = {"txt": csv.excel_tab, "csv": csv.excel}

TEXT_FORMAT = "@"
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
MIN_COLUMN_WIDTH = 12
MAX_COLUMN_WIDTH = 50

# XML 1.0 cannot hold most control characters, and XML readers turn a raw
# carriage return into a line feed. Excel writes these as "_xHHHH_" and reads
# that form back, so they are written the same way. A literal "_x0041_" in
# the text becomes "_x005F_x0041_" (005F is the underscore), or Excel would
# read it as "A". Openpyxl does not decode this form when it reads a file.
_OOXML_ESCAPE = re.compile(r"_(?=x[0-9A-Fa-f]{4}_)|[\x00-\x08\x0b-\x1f]")
_HEADER_FONT = Font(bold=True)

Target = BinaryIO | Path | str
Columns = Sequence[tuple[str, str]]
Row = Mapping[str, object]


def kind_for_filename(filename: str) -> str:
    """Return the export kind that the extension of ``filename`` names."""
    _, dot, extension = filename.strip().rpartition(".")
    kind = extension.lower()
    if not dot or kind not in EXPORT_KINDS:
        raise UnsupportedExportFormatError(filename)
    return kind


def content_type(kind: str) -> str:
    """Return the HTTP Content-Type for a file of export ``kind``."""
    return _CONTENT_TYPES[_checked_kind(kind)]


def write_table(
    target: Target,
    kind: str,
    columns: Columns,
    rows: Iterable[Row],
    *,
    sheet_title: str = "Contacts",
) -> int:
    """Write a header row and ``rows`` to ``target`` and return the row count.

    ``columns`` pairs each row key with its header label. Values may be
    ``str``, ``date``, ``datetime``, ``int``, ``float``, ``Decimal``, or
    ``None`` or ``''`` for an empty cell. A timezone-aware ``datetime`` is
    written in the computer's local time. A path target is written to a
    temporary file beside it first, so a failed export leaves no partial file.
    """
    if _checked_kind(kind) == "xlsx":
        with open_binary(target) as stream:
            workbook = Workbook(write_only=True)
            count = add_sheet(
                workbook,
                sheet_title,
                columns,
                rows,
                column_formats=[TEXT_FORMAT] * len(columns),
            )
            workbook.save(stream)
        return count

    with open_text(target) as stream:
        return write_text_rows(stream, kind, columns, rows)


def _checked_kind(kind: str) -> str:
    if kind not in EXPORT_KINDS:
        raise ValueError(f"unknown export kind {kind!r}; expected {EXPORT_KINDS}")
    return kind


# --- files ----------------------------------------------------------------


@contextmanager
def open_binary(target: Target) -> Iterator[BinaryIO]:
    """Yield a binary stream that writes to ``target``.

    A path target is written to a temporary file beside it, which replaces
    the path only when the block succeeds. Raises ``ExportWriteError`` when
    the file cannot be created or replaced, for example because Excel on
    Windows has it open.
    """
    if not isinstance(target, str | os.PathLike):
        yield target
        return

    path = Path(target)
    try:
        handle, partial = tempfile.mkstemp(
            prefix=f"~{path.stem}.", suffix=".partial", dir=path.parent
        )
    except OSError as error:
        raise ExportWriteError(str(path), error.strerror or str(error)) from error
    try:
        with open(handle, "wb") as stream:
            yield stream
        os.replace(partial, path)
    except OSError as error:
        raise ExportWriteError(str(path), error.strerror or str(error)) from error
    finally:
        Path(partial).unlink(missing_ok=True)


@contextmanager
def open_text(target: Target) -> Iterator[TextIO]:
    """Yield a UTF-8 text stream with a byte order mark for ``target``.

    A caller's binary stream stays open afterwards.
    """
    with open_binary(target) as binary:
        stream = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
        try:
            yield stream
        finally:
            stream.detach()


# --- .txt and .csv --------------------------------------------------------


def write_text_rows(
    stream: TextIO, kind: str, columns: Columns, rows: Iterable[Row]
) -> int:
    """Write a header row and ``rows`` as tab- or comma-separated text."""
    writer = csv.writer(stream, dialect=_DIALECTS[kind])
    writer.writerow([guard_formula(str(label)) for _, label in columns])

    keys = [key for key, _ in columns]
    count = 0
    for row in rows:
        writer.writerow([_text_cell(key, row.get(key)) for key in keys])
        count += 1
    return count


def _text_cell(key: str, value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return guard_formula(value)
    if isinstance(value, datetime):
        return _local_naive(value).isoformat(sep=" ", timespec="minutes")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if _is_number(value):
        return str(value)
    raise _unsupported_value(key, value)


# --- .xlsx ----------------------------------------------------------------


def add_sheet(
    workbook: Workbook,
    title: str,
    columns: Columns,
    rows: Iterable[Row],
    *,
    widths: Sequence[int] | None = None,
    column_formats: Sequence[str | None] | None = None,
) -> int:
    """Append a sheet with a bold, frozen header row to a write-only workbook.

    ``widths`` overrides the widths worked out from the header labels.
    ``column_formats`` sets the number format that Excel gives to cells the
    user types later in each column. Returns the number of rows written.
    """
    sheet = workbook.create_sheet(title)
    labels = [str(label) for _, label in columns]
    _set_columns(sheet, widths or [_column_width(label) for label in labels])
    if column_formats:
        _set_column_formats(sheet, column_formats)
    # Openpyxl writes the column and pane settings before the first row.
    sheet.freeze_panes = "A2"
    sheet.append([_header_cell(sheet, label) for label in labels])

    keys = [key for key, _ in columns]
    pool = _CellPool(sheet, len(keys))
    count = 0
    try:
        for row in rows:
            cells = [pool.fill(i, key, row.get(key)) for i, key in enumerate(keys)]
            sheet.append(cells)
            count += 1
    except BaseException:
        _discard(sheet)
        raise
    return count


def _discard(sheet: WriteOnlyWorksheet) -> None:
    # Openpyxl 3.1 deletes a write-only sheet's temporary file when the
    # workbook is saved, or else only when Python exits.
    sheet.close()
    sheet._writer.cleanup()


def _set_columns(sheet: WriteOnlyWorksheet, widths: Sequence[int]) -> None:
    for index, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(index)].width = width


def _set_column_formats(
    sheet: WriteOnlyWorksheet, formats: Sequence[str | None]
) -> None:
    for index, number_format in enumerate(formats, 1):
        if number_format:
            letter = get_column_letter(index)
            sheet.column_dimensions[letter].number_format = number_format


def _column_width(label: str) -> int:
    # Chinese characters take about two character widths in Excel.
    width = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in label)
    return max(MIN_COLUMN_WIDTH, min(width + 4, MAX_COLUMN_WIDTH))


def _header_cell(sheet: WriteOnlyWorksheet, label: str) -> Cell:
    cell = WriteOnlyCell(sheet)
    _set_string(cell, label)
    cell.number_format = TEXT_FORMAT
    cell.font = _HEADER_FONT
    return cell


class _CellPool:
    """Cells reused from row to row, one per column and number format.

    append() writes a row to the sheet's stream before it returns, so a cell
    is free again for the next row. A cell's number format never changes,
    because openpyxl registers the cell's style object itself and a later
    change would alter the style of cells already written.
    """

    def __init__(self, sheet: WriteOnlyWorksheet, size: int) -> None:
        self.sheet = sheet
        self.cells: list[dict[str, Cell]] = [{} for _ in range(size)]

    def fill(self, index: int, key: str, value: object) -> Cell | None:
        """Return the filled cell for ``value`` in column ``index``, or None."""
        if value is None or value == "":
            return None
        if isinstance(value, str):
            if _is_plain_text(value):
                # A plain str becomes a string cell without a style of its own:
                # writing a styled cell costs about twice as much, and the
                # column's Text format already covers cells typed later.
                return value
            cell = self._cell(index, "General")
            _set_string(cell, value)
            return cell
        number_format, value = _xlsx_value(key, value)
        cell = self._cell(index, number_format)
        cell.value = value
        return cell

    def _cell(self, index: int, number_format: str) -> Cell:
        cell = self.cells[index].get(number_format)
        if cell is None:
            cell = WriteOnlyCell(self.sheet)
            cell.number_format = number_format
            self.cells[index][number_format] = cell
        return cell


def _xlsx_value(key: str, value: object) -> tuple[str, object]:
    """Return the number format and cell value for a date or a number."""
    if isinstance(value, datetime):
        return DATETIME_FORMAT, _local_naive(value)
    if isinstance(value, date):
        return DATE_FORMAT, value
    if _is_number(value):
        return "General", value
    raise _unsupported_value(key, value)


def _is_plain_text(value: str) -> bool:
    """Return whether openpyxl stores ``value`` as a string cell unchanged."""
    return (
        value[0] != "=" and value not in ERROR_CODES and not _OOXML_ESCAPE.search(value)
    )


def _set_string(cell: Cell, value: str) -> None:
    # NOTE: openpyxl cuts text at 32,767 characters, Excel's maximum cell
    # length. The longest contact field, notes, allows 20,000.
    cell.value = _OOXML_ESCAPE.sub(_escape_match, value)
    # The value setter marks text starting with "=" as a formula and "#N/A"
    # and the like as errors, but a string cell is never evaluated.
    cell.data_type = "s"


def _escape_match(match: re.Match[str]) -> str:
    return f"_x{ord(match.group()):04X}_"


# --- values ---------------------------------------------------------------


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _local_naive(value: datetime) -> datetime:
    # Excel has no time zones, so an aware time is shown as local wall time.
    if value.tzinfo is None:
        return value
    return value.astimezone().replace(tzinfo=None)


def _unsupported_value(key: str, value: object) -> TypeError:
    return TypeError(
        f"column {key!r}: cannot export a {type(value).__name__} value {value!r}"
    )
