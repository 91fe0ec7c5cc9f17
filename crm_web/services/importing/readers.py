"""Read the rows of an import file as lists of cells.

Cells are text, except dates, datetimes and times that a spreadsheet stored
as such. Text is kept as typed (trimmed), so "00123" and "+86 155..." reach
the importer unchanged. Row ``i`` of the output is row ``i + 1`` of the
sheet, blank rows included, so messages can name the row number Excel shows.
"""

from __future__ import annotations

import csv
import datetime
import logging
import posixpath
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator
from html.parser import HTMLParser
from itertools import islice
from pathlib import Path
from xml.etree import ElementTree

from openpyxl.styles.numbers import BUILTIN_FORMATS
from openpyxl.utils.cell import column_index_from_string
from python_calamine import CalamineError, CalamineSheet, CalamineWorkbook

from crm_web.errors import CorruptFileError, UnknownEncodingError
from crm_web.services.importing.detect import XML2003_NAMESPACE, SourceInfo
from crm_web.services.importing.values import (
    Cell,
    TruncatedNumber,
    number_to_text,
    text_to_cell,
)

__all__ = ["Cell", "TruncatedNumber", "iter_rows", "sample_rows"]

log = logging.getLogger(__name__)

# Number formats are read from this many rows at the top of a sheet.
_FORMAT_SAMPLE_ROWS = 250
_TEXT_CHUNK_CHARS = 1 << 16
_SS = f"{{{XML2003_NAMESPACE}}}"
_XML2003_NAMED_FORMATS = {
    "Fixed": "0.00",
    "Standard": "#,##0.00",
    "Percent": "0.00%",
}


def iter_rows(
    path: Path,
    info: SourceInfo,
    *,
    sheet: str | None = None,
    on_total: Callable[[int], None] | None = None,
) -> Generator[list[Cell], None, None]:
    """Stream the rows of one sheet, leaving out blank rows at the end.

    ``on_total`` receives the sheet's row count once the workbook reader
    knows it (for a progress bar); other formats do not call it.
    """
    if info.kind in ("xlsx", "xls"):
        rows = _iter_workbook(path, info, _sheet_name(info, sheet), on_total)
        yield from _without_trailing_blank_rows(rows)
        return
    readers = {
        "xlsx": _iter_workbook,
        "xls": _iter_workbook,
        "csv": _iter_text,
        "txt": _iter_text,
        "html": _iter_html,
        "xml2003": _iter_xml2003,
    }
    rows = readers[info.kind](path, info, _sheet_name(info, sheet))
    yield from _without_trailing_blank_rows(rows)


def sample_rows(
    path: Path, info: SourceInfo, *, sheet: str | None = None, limit: int = 30
) -> list[list[Cell]]:
    """Return the first ``limit`` rows, for header detection and preview."""
    rows = iter_rows(path, info, sheet=sheet)
    try:
        return list(islice(rows, limit))
    finally:
        rows.close()


def _sheet_name(info: SourceInfo, sheet: str | None) -> str | None:
    if sheet is None:
        return info.sheet_names[0] if info.sheet_names else None
    return sheet


def _without_trailing_blank_rows(rows: Iterable[list[Cell]]) -> Iterator[list[Cell]]:
    blank_widths: list[int] = []
    for row in rows:
        if any(cell != "" for cell in row):
            for width in blank_widths:
                yield [""] * width
            blank_widths.clear()
            yield row
        else:
            blank_widths.append(len(row))


# --- Excel workbooks --------------------------------------------------------


def _iter_workbook(
    path: Path,
    info: SourceInfo,
    sheet: str | None,
    on_total: Callable[[int], None] | None = None,
) -> Iterator[list[Cell]]:
    try:
        with CalamineWorkbook.from_path(str(path)) as book:
            data = _workbook_sheet(book, sheet)
            if on_total is not None:
                on_total(int(data.height))
            yield from _sheet_rows(path, info, data)
    except CalamineError as error:
        raise CorruptFileError(path.name, "Excel") from error


def _workbook_sheet(book: CalamineWorkbook, sheet: str | None) -> CalamineSheet:
    if sheet is None:
        return book.get_sheet_by_index(0)
    if sheet not in book.sheet_names:
        raise ValueError(f"the workbook has no sheet named {sheet!r}")
    return book.get_sheet_by_name(sheet)


def _sheet_rows(
    path: Path, info: SourceInfo, data: CalamineSheet
) -> Iterator[list[Cell]]:
    if data.start is None:
        return
    # calamine starts its rows at the sheet's first row but its columns at the
    # first used column, so padding restores Excel's column positions.
    padding = [""] * data.start[1]
    formats: dict[int, str] = {}
    if info.kind == "xlsx":
        formats = _column_formats(path, data.name)
    # NOTE: an .xls gets no number formats, because calamine does not expose
    # them, so its numbers read as General and zero-padded codes lose zeros.
    for values in data.iter_rows():
        row = padding + values
        yield [
            text_to_cell(value)
            if type(value) is str
            else _workbook_cell(value, formats.get(index))
            for index, value in enumerate(row)
        ]


def _workbook_cell(value: object, number_format: str | None) -> Cell:
    """Convert a calamine value that is not a string."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return number_to_text(float(value), number_format)
    if isinstance(value, datetime.timedelta):
        return _duration_text(value)
    if isinstance(value, datetime.date | datetime.time):
        return value
    return text_to_cell(str(value))


def _duration_text(value: datetime.timedelta) -> str:
    """Format a duration as Excel's [h]:mm:ss displays it, e.g. '36:30:00'."""
    seconds = round(abs(value.total_seconds()))
    sign = "-" if value.total_seconds() < 0 else ""
    hours, rest = divmod(seconds, 3600)
    return f"{sign}{hours}:{rest // 60:02d}:{rest % 60:02d}"


def _column_formats(path: Path, sheet: str) -> dict[int, str]:
    """Return the most common number format of the numbers in each column.

    NOTE: formats are sampled per column from the first rows only. A column
    whose numbers change format further down gets the sampled one.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            counts = _count_formats(archive, sheet)
    except (KeyError, ValueError, zipfile.BadZipFile, ElementTree.ParseError):
        # Formats only refine how numbers are displayed. calamine has read the
        # values already, so the file is still imported.
        log.warning(
            "Reading number formats of %s failed, so its numbers use General",
            path.name,
            exc_info=True,
        )
        return {}
    return {index: count.most_common(1)[0][0] for index, count in counts.items()}


def _count_formats(archive: zipfile.ZipFile, sheet: str) -> dict[int, Counter[str]]:
    """Count the number formats of numeric cells in the sheet's first rows.

    openpyxl's read-only mode loads every shared string first, and scans the
    whole sheet when its <dimension> element is missing. For 250 rows of a
    100,000 x 15 sheet without <dimension>, openpyxl 3.1.5 took 3.7 s (6.3 s
    with shared strings) on a 2-core machine, where calamine read every value
    in 1.2 s. So the styles and the first rows are parsed here.
    """
    book_path = _relationships(archive, "")["officeDocument"][0]
    book_parts = _relationships(archive, book_path)
    if "styles" not in book_parts:
        return {}
    xf_formats = _cell_style_formats(archive, book_parts["styles"][0])
    sheet_path = _sheet_part(archive, book_path, book_parts, sheet)
    counts: dict[int, Counter[str]] = {}
    with archive.open(sheet_path) as source:
        rows = 0
        for _, element in ElementTree.iterparse(source):
            if _local_name(element.tag) == "row":
                _count_row_formats(element, xf_formats, counts)
                element.clear()
                rows += 1
                if rows >= _FORMAT_SAMPLE_ROWS:
                    break
    return counts


def _relationships(archive: zipfile.ZipFile, part: str) -> dict[str, list[str]]:
    """Map the relationship types and "id:<Id>" keys of a part to its targets."""
    folder, name = posixpath.split(part)
    rels = ElementTree.fromstring(
        archive.read(posixpath.join(folder, "_rels", f"{name}.rels"))
    )
    targets: dict[str, list[str]] = {}
    for rel in rels:
        target = rel.get("Target", "")
        if target.startswith("/"):
            path = target.lstrip("/")
        else:
            path = posixpath.normpath(posixpath.join(folder, target))
        kind = rel.get("Type", "").rpartition("/")[2]
        targets.setdefault(kind, []).append(path)
        targets.setdefault(f"id:{rel.get('Id')}", []).append(path)
    return targets


def _cell_style_formats(archive: zipfile.ZipFile, styles_path: str) -> list[str]:
    """Return the number format of each cell style, indexed like ``s="..."``."""
    styles = ElementTree.fromstring(archive.read(styles_path))
    codes = dict(BUILTIN_FORMATS)
    cell_styles: list[ElementTree.Element] = []
    for element in styles.iter():
        name = _local_name(element.tag)
        if name == "numFmt":
            codes[int(element.get("numFmtId", 0))] = element.get("formatCode", "")
        elif name == "cellXfs":
            cell_styles = list(element)
    return [codes.get(int(xf.get("numFmtId", 0)), "General") for xf in cell_styles]


def _sheet_part(
    archive: zipfile.ZipFile,
    book_path: str,
    book_parts: dict[str, list[str]],
    sheet: str,
) -> str:
    book = ElementTree.fromstring(archive.read(book_path))
    for element in book.iter():
        if _local_name(element.tag) == "sheet" and element.get("name") == sheet:
            ids = [v for k, v in element.attrib.items() if _local_name(k) == "id"]
            return book_parts[f"id:{ids[0]}"][0]
    raise KeyError(sheet)


def _count_row_formats(
    row: ElementTree.Element, xf_formats: list[str], counts: dict[int, Counter[str]]
) -> None:
    column = -1
    for cell in row:
        column = _cell_column(cell, column)
        if cell.get("t", "n") != "n" or not _has_value(cell):
            continue
        style = int(cell.get("s", 0))
        number_format = xf_formats[style] if style < len(xf_formats) else "General"
        counts.setdefault(column, Counter())[number_format] += 1


def _cell_column(cell: ElementTree.Element, previous: int) -> int:
    """Return a cell's 0-based column; without "r" it follows the previous."""
    reference = cell.get("r")
    if reference is None:
        return previous + 1
    return column_index_from_string(reference.rstrip("0123456789")) - 1


def _has_value(cell: ElementTree.Element) -> bool:
    return any(_local_name(child.tag) == "v" and child.text for child in cell)


def _local_name(tag: str) -> str:
    """Drop the namespace, which differs between transitional and strict xlsx."""
    return tag.rpartition("}")[2]


# --- CSV and tab-separated text ----------------------------------------------


def _iter_text(path: Path, info: SourceInfo, sheet: str | None) -> Iterator[list[Cell]]:
    encoding = info.encoding or "utf-8"
    with path.open(encoding=encoding, newline="") as file:
        reader = csv.reader(file, delimiter=info.delimiter or "\t")
        try:
            for record in reader:
                yield [text_to_cell(value) for value in record]
        except UnicodeDecodeError as error:
            raise UnknownEncodingError(path.name, encoding) from error
        except csv.Error as error:
            # Most often an unclosed quote has swallowed the rest of the file.
            raise CorruptFileError(path.name, "CSV") from error


# --- HTML tables saved as .xls ----------------------------------------------


class _TableParser(HTMLParser):
    """Collect the text of every <td> and <th>, row by row."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[Cell]] = []
        self._row: list[Cell] | None = None
        self._cell: list[str] | None = None
        self._colspan = 1

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self._end_row()
            self._row = []
        elif tag in ("td", "th"):
            self._end_cell()
            self._cell = []
            self._colspan = _span(dict(attrs).get("colspan"))
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self._end_cell()
        elif tag in ("tr", "table"):
            self._end_row()

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            # Line breaks and indents in the page source are not in the cell.
            self._cell.append(re.sub(r"\s+", " ", data))

    def close(self) -> None:
        super().close()
        self._end_row()

    def _end_cell(self) -> None:
        if self._cell is None:
            return
        if self._row is None:
            self._row = []
        text = "".join(self._cell).replace(" \n", "\n").replace("\n ", "\n")
        # NOTE: rowspan is not expanded, so a cell spanning rows appears in
        # the first of them only.
        self._row.extend([text_to_cell(text)] + [""] * (self._colspan - 1))
        self._cell = None

    def _end_row(self) -> None:
        self._end_cell()
        if self._row is not None:
            self.rows.append(self._row)
        self._row = None


def _span(value: str | None) -> int:
    try:
        return max(1, min(int(value or 1), 1000))
    except ValueError:
        return 1


def _iter_html(path: Path, info: SourceInfo, sheet: str | None) -> Iterator[list[Cell]]:
    encoding = info.encoding or "utf-8"
    parser = _TableParser()
    with path.open(encoding=encoding, newline="") as file:
        try:
            while chunk := file.read(_TEXT_CHUNK_CHARS):
                parser.feed(chunk.lstrip("\ufeff"))
                yield from parser.rows
                parser.rows.clear()
        except UnicodeDecodeError as error:
            raise UnknownEncodingError(path.name, encoding) from error
    parser.close()
    yield from parser.rows


# --- Excel 2003 XML ---------------------------------------------------------


def _iter_xml2003(
    path: Path, info: SourceInfo, sheet: str | None
) -> Iterator[list[Cell]]:
    formats: dict[str, str] = {}
    current: str | None = None
    next_row = 1
    try:
        for event, element in ElementTree.iterparse(path, events=("start", "end")):
            tag = element.tag
            if event == "start":
                if tag == f"{_SS}Worksheet":
                    current = element.get(f"{_SS}Name")
                continue
            if tag == f"{_SS}Style":
                _collect_style(element, formats)
            elif tag == f"{_SS}Row" and current == (sheet or current):
                index = int(element.get(f"{_SS}Index", next_row))
                yield from ([] for _ in range(next_row, index))
                yield _xml2003_row(element, formats)
                next_row = index + 1
                element.clear()
            elif tag == f"{_SS}Worksheet" and current == (sheet or current):
                return
    except (ElementTree.ParseError, ValueError) as error:
        raise CorruptFileError(path.name, "Excel XML") from error


def _collect_style(style: ElementTree.Element, formats: dict[str, str]) -> None:
    number_format = style.find(f"{_SS}NumberFormat")
    if number_format is not None:
        name = number_format.get(f"{_SS}Format", "")
        formats[style.get(f"{_SS}ID", "")] = _XML2003_NAMED_FORMATS.get(name, name)


def _xml2003_row(row: ElementTree.Element, formats: dict[str, str]) -> list[Cell]:
    cells: list[Cell] = []
    for cell in row.findall(f"{_SS}Cell"):
        index = int(cell.get(f"{_SS}Index", len(cells) + 1))
        cells.extend([""] * (index - 1 - len(cells)))
        number_format = formats.get(cell.get(f"{_SS}StyleID", ""))
        cells.append(_xml2003_value(cell.find(f"{_SS}Data"), number_format))
        cells.extend([""] * int(cell.get(f"{_SS}MergeAcross", 0)))
    return cells


def _xml2003_value(data: ElementTree.Element | None, number_format: str | None) -> Cell:
    if data is None:
        return ""
    text = "".join(data.itertext())
    kind = data.get(f"{_SS}Type")
    if kind == "Number":
        return number_to_text(float(text), number_format)
    if kind == "DateTime":
        return _xml2003_moment(text)
    if kind == "Boolean":
        return "TRUE" if text.strip() == "1" else "FALSE"
    return text_to_cell(text)


def _xml2003_moment(text: str) -> Cell:
    """Return a date, time or datetime, as calamine does for a workbook."""
    moment = datetime.datetime.fromisoformat(text.strip())
    if moment.date() == datetime.date(1899, 12, 31):
        return moment.time()
    if moment.time() == datetime.time():
        return moment.date()
    return moment
