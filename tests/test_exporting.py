"""Export writers: real files written and read back with openpyxl and csv.

String values in .xlsx are read back with python-calamine as well, because it
decodes the "_xHHHH_" escapes the way Excel does and openpyxl does not.
"""

from __future__ import annotations

import csv
import io
import os
import time
import tracemalloc
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.cell import Cell
from openpyxl.worksheet._writer import ALL_TEMP_FILES
from python_calamine import CalamineWorkbook

from crm_web.errors import ExportWriteError, UnsupportedExportFormatError, UserError
from crm_web.services.cells import unguard_formula
from crm_web.services.exporting import (
    content_type,
    kind_for_filename,
    write_table,
)

COLUMNS = [("value", "Value")]
BOM = b"\xef\xbb\xbf"
MIB = 1024 * 1024

AWKWARD = {
    "leading zeros": "00123",
    "area code": "0571-8888",
    "id number": "11010519491231002X",
    "long digits": "123456789012345678",
    "phone with plus": "+86 155 5550 0102",
    "formula": "=1+1",
    "minus number": "-5",
    "at function": "@SUM(A1)",
    "quoted formula": "'=x",
    "two quotes": "''",
    "one quote": "'",
    "tab leading": "\t=1",
    "cr leading": "\r=1",
    "error code": "#N/A",
    "emoji": "😀",
    "gb18030 only": "𠀀",
    "chinese": "宁波东方贸易有限公司",
    "newlines": "第一行\n第二行\r\n第三行\n" + "长" * 5000,
    "comma and quote": 'a,b "c"',
    "outer spaces": "  padded  ",
    "control char": "a\x0bb\x1fc",
    "escape lookalike": "_x0041_ and _x000D_",
}


def write(
    path: Path, kind: str, rows: list[Mapping[str, object]], columns=COLUMNS
) -> Path:
    write_table(path, kind, columns, rows)
    return path


def xlsx_strings(path: Path) -> list[list[object]]:
    """Return the first sheet's values as Excel shows them."""
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()


def xlsx_cells(path: Path) -> list[list[Cell]]:
    sheet = load_workbook(path).worksheets[0]
    return [list(row) for row in sheet.iter_rows()]


def text_rows(path: Path, kind: str) -> list[list[str]]:
    dialect = csv.excel_tab if kind == "txt" else csv.excel
    with path.open(encoding="utf-8-sig", newline="") as stream:
        return list(csv.reader(stream, dialect=dialect))


@pytest.fixture
def shanghai_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make the computer's local time zone UTC+8 for one test."""
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def one_value(value: object) -> list[Mapping[str, object]]:
    return [{"value": value}]


# --- kind_for_filename and content_type -----------------------------------


@pytest.mark.parametrize(
    ("filename", "kind"),
    [
        ("contacts.xlsx", "xlsx"),
        ("a.XLSX", "xlsx"),
        ("通讯录.TXT", "txt"),
        ("report.2024.csv", "csv"),
        ("C:\\Users\\张\\Desktop\\客户.Csv", "csv"),
        ("contacts.xlsx ", "xlsx"),
    ],
)
def test_kind_for_filename(filename: str, kind: str) -> None:
    assert kind_for_filename(filename) == kind


@pytest.mark.parametrize(
    "filename", ["a.xls", "noext", "a.", "xlsx", "a.xlsx.bak", "a.tsv", ""]
)
def test_kind_for_filename_rejects(filename: str) -> None:
    with pytest.raises(UnsupportedExportFormatError):
        kind_for_filename(filename)


def test_kind_error_is_user_error() -> None:
    assert issubclass(UnsupportedExportFormatError, UserError)


def test_kind_error_names_file() -> None:
    with pytest.raises(UnsupportedExportFormatError) as caught:
        kind_for_filename("客户.xls")
    assert "客户.xls" in str(caught.value)


def test_kind_error_names_allowed_types() -> None:
    with pytest.raises(UnsupportedExportFormatError) as caught:
        kind_for_filename("noext")
    assert ".xlsx, .txt or .csv" in str(caught.value)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("txt", "text/plain; charset=utf-8"),
        ("csv", "text/csv; charset=utf-8"),
    ],
)
def test_content_type(kind: str, expected: str) -> None:
    assert content_type(kind) == expected


def test_content_type_unknown_kind() -> None:
    with pytest.raises(ValueError):
        content_type("xls")


def test_write_table_unknown_kind(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_table(tmp_path / "a.xls", "xls", COLUMNS, [])


# --- .xlsx ----------------------------------------------------------------


@pytest.mark.parametrize("value", AWKWARD.values(), ids=AWKWARD.keys())
def test_xlsx_round_trips_text(tmp_path: Path, value: str) -> None:
    path = write(tmp_path / "a.xlsx", "xlsx", one_value(value))
    assert xlsx_strings(path)[1] == [value]


@pytest.mark.parametrize("value", AWKWARD.values(), ids=AWKWARD.keys())
def test_xlsx_text_is_string_cell(tmp_path: Path, value: str) -> None:
    path = write(tmp_path / "a.xlsx", "xlsx", one_value(value))
    assert xlsx_cells(path)[1][0].data_type == "s"


@pytest.mark.parametrize("value", ["00123", "=1+1", "+86 155 5550 0102"])
def test_xlsx_text_column_has_text_format(tmp_path: Path, value: str) -> None:
    # The column's Text format makes Excel keep numbers typed later as text;
    # the exported value itself is a string cell whatever its format.
    path = write(tmp_path / "a.xlsx", "xlsx", one_value(value))
    sheet = load_workbook(path).worksheets[0]
    assert sheet.column_dimensions["A"].number_format == "@"
    assert xlsx_cells(path)[1][0].data_type == "s"


def test_xlsx_formula_text_not_guarded(tmp_path: Path) -> None:
    path = write(tmp_path / "a.xlsx", "xlsx", one_value("=1+1"))
    assert xlsx_cells(path)[1][0].value == "=1+1"


def test_xlsx_header_row(tmp_path: Path) -> None:
    columns = [("name", "姓名(Name)"), ("mobile", "手机(Mobile)")]
    path = write(tmp_path / "a.xlsx", "xlsx", [], columns)
    assert [cell.value for cell in xlsx_cells(path)[0]] == [
        "姓名(Name)",
        "手机(Mobile)",
    ]


def test_xlsx_header_is_bold(tmp_path: Path) -> None:
    path = write(tmp_path / "a.xlsx", "xlsx", [])
    assert xlsx_cells(path)[0][0].font.b is True


def test_xlsx_header_is_frozen(tmp_path: Path) -> None:
    path = write(tmp_path / "a.xlsx", "xlsx", [])
    assert load_workbook(path).worksheets[0].freeze_panes == "A2"


def test_xlsx_sheet_title(tmp_path: Path) -> None:
    write_table(tmp_path / "a.xlsx", "xlsx", COLUMNS, [], sheet_title="客户")
    assert load_workbook(tmp_path / "a.xlsx").sheetnames == ["客户"]


@pytest.mark.parametrize(
    ("label", "width"),
    [("QQ", 12), ("Province/State", 18), ("省份/州(Province/State)", 27)],
)
def test_xlsx_column_width_from_header(tmp_path: Path, label: str, width: int) -> None:
    path = write(tmp_path / "a.xlsx", "xlsx", [], [("value", label)])
    sheet = load_workbook(path).worksheets[0]
    assert sheet.column_dimensions["A"].width == width


def test_xlsx_date_is_date_cell(tmp_path: Path) -> None:
    path = write(tmp_path / "a.xlsx", "xlsx", one_value(date(1988, 5, 20)))
    assert xlsx_cells(path)[1][0].is_date


def test_xlsx_date_value(tmp_path: Path) -> None:
    path = write(tmp_path / "a.xlsx", "xlsx", one_value(date(1988, 5, 20)))
    assert xlsx_strings(path)[1] == [date(1988, 5, 20)]


def test_xlsx_date_format(tmp_path: Path) -> None:
    path = write(tmp_path / "a.xlsx", "xlsx", one_value(date(1988, 5, 20)))
    assert xlsx_cells(path)[1][0].number_format == "yyyy-mm-dd"


def test_xlsx_datetime_value(tmp_path: Path) -> None:
    moment = datetime(2024, 3, 5, 14, 7)
    path = write(tmp_path / "a.xlsx", "xlsx", one_value(moment))
    assert xlsx_cells(path)[1][0].value == moment


def test_xlsx_datetime_format(tmp_path: Path) -> None:
    moment = datetime(2024, 3, 5, 14, 7)
    path = write(tmp_path / "a.xlsx", "xlsx", one_value(moment))
    assert xlsx_cells(path)[1][0].number_format == "yyyy-mm-dd hh:mm"


def test_xlsx_aware_datetime_in_local_time(tmp_path: Path, shanghai_time) -> None:
    moment = datetime(2024, 3, 5, 14, 7, tzinfo=UTC)
    path = write(tmp_path / "a.xlsx", "xlsx", one_value(moment))
    assert xlsx_cells(path)[1][0].value == datetime(2024, 3, 5, 22, 7)


def test_xlsx_mixed_column_keeps_formats(tmp_path: Path) -> None:
    # Cells are reused from row to row, so one row's format must not leak.
    values = [date(2024, 1, 2), datetime(2024, 1, 2, 3, 4), "00123", 7]
    rows = [{"value": value} for value in values]
    path = write(tmp_path / "a.xlsx", "xlsx", rows)
    formats = [row[0].number_format for row in xlsx_cells(path)[1:]]
    assert formats == ["yyyy-mm-dd", "yyyy-mm-dd hh:mm", "General", "General"]


def test_xlsx_rows_keep_own_values(tmp_path: Path) -> None:
    rows = [{"value": f"{i:05d}"} for i in range(50)]
    path = write(tmp_path / "a.xlsx", "xlsx", rows)
    values = [row[0] for row in xlsx_strings(path)[1:]]
    assert values == [f"{i:05d}" for i in range(50)]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(42, 42), (-5, -5), (Decimal("12.50"), 12.5), (2.5, 2.5)],
)
def test_xlsx_number_cell(tmp_path: Path, value: object, expected: object) -> None:
    path = write(tmp_path / "a.xlsx", "xlsx", one_value(value))
    assert xlsx_cells(path)[1][0].value == expected


@pytest.mark.parametrize("value", [None, ""])
def test_xlsx_empty_value(tmp_path: Path, value: object) -> None:
    columns = [("value", "Value"), ("next", "Next")]
    path = write(tmp_path / "a.xlsx", "xlsx", [{"value": value, "next": "x"}], columns)
    assert xlsx_cells(path)[1][0].value is None


def test_xlsx_missing_key_is_empty(tmp_path: Path) -> None:
    columns = [("value", "Value"), ("next", "Next")]
    path = write(tmp_path / "a.xlsx", "xlsx", [{"next": "x"}], columns)
    assert xlsx_cells(path)[1][0].value is None


def test_xlsx_to_stream(tmp_path: Path) -> None:
    stream = io.BytesIO()
    write_table(stream, "xlsx", COLUMNS, one_value("00123"))
    (tmp_path / "a.xlsx").write_bytes(stream.getvalue())
    assert xlsx_strings(tmp_path / "a.xlsx")[1] == ["00123"]


# --- .txt and .csv --------------------------------------------------------


@pytest.mark.parametrize("kind", ["txt", "csv"])
@pytest.mark.parametrize("value", AWKWARD.values(), ids=AWKWARD.keys())
def test_text_round_trips(tmp_path: Path, kind: str, value: str) -> None:
    path = write(tmp_path / f"a.{kind}", kind, one_value(value))
    cell = text_rows(path, kind)[1][0]
    assert unguard_formula(cell) == value


@pytest.mark.parametrize("kind", ["txt", "csv"])
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("'=x", "''=x"),
        ("+86 155 5550 0102", "+86 155 5550 0102"),
        ("-5", "-5"),
    ],
)
def test_text_guards_formula(
    tmp_path: Path, kind: str, value: str, expected: str
) -> None:
    path = write(tmp_path / f"a.{kind}", kind, one_value(value))
    assert text_rows(path, kind)[1][0] == expected


@pytest.mark.parametrize("kind", ["txt", "csv"])
def test_text_starts_with_bom(tmp_path: Path, kind: str) -> None:
    path = write(tmp_path / f"a.{kind}", kind, one_value("x"))
    assert path.read_bytes().startswith(BOM)


@pytest.mark.parametrize("kind", ["txt", "csv"])
def test_text_line_ends_crlf(tmp_path: Path, kind: str) -> None:
    path = write(tmp_path / f"a.{kind}", kind, [{"value": "a"}, {"value": "b"}])
    assert path.read_bytes() == BOM + b"Value\r\na\r\nb\r\n"


def test_txt_is_tab_separated(tmp_path: Path) -> None:
    columns = [("a", "A"), ("b", "B")]
    path = write(tmp_path / "a.txt", "txt", [{"a": "x, y", "b": "张"}], columns)
    assert path.read_bytes() == BOM + "A\tB\r\nx, y\t张\r\n".encode()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", "plain"),
        ("x, y", "x, y"),
        ("a\tb", '"a\tb"'),
        ('say "hi"', '"say ""hi"""'),
        ("x\ny", '"x\ny"'),
    ],
)
def test_txt_quotes_when_needed(tmp_path: Path, value: str, expected: str) -> None:
    path = write(tmp_path / "a.txt", "txt", one_value(value))
    assert path.read_bytes().decode("utf-8-sig").split("\r\n")[1] == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", "plain"),
        ("a\tb", "a\tb"),
        ("a,b", '"a,b"'),
        ('say "hi"', '"say ""hi"""'),
        ("x\ny", '"x\ny"'),
    ],
)
def test_csv_quotes_when_needed(tmp_path: Path, value: str, expected: str) -> None:
    path = write(tmp_path / "a.csv", "csv", one_value(value))
    assert path.read_bytes().decode("utf-8-sig").split("\r\n")[1] == expected


@pytest.mark.parametrize("kind", ["txt", "csv"])
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(1988, 5, 20), "1988-05-20"),
        (date(5, 1, 2), "0005-01-02"),
        (datetime(2024, 3, 5, 14, 7, 59), "2024-03-05 14:07"),
        (42, "42"),
        (-5, "-5"),
        (Decimal("12.50"), "12.50"),
        (Decimal("1E+3"), "1000"),
        (None, ""),
        ("", ""),
    ],
)
def test_text_value_format(
    tmp_path: Path, kind: str, value: object, expected: str
) -> None:
    columns = [("value", "Value"), ("next", "Next")]
    path = write(tmp_path / f"a.{kind}", kind, [{"value": value, "next": "x"}], columns)
    assert text_rows(path, kind)[1] == [expected, "x"]


def test_text_aware_datetime_in_local_time(tmp_path: Path, shanghai_time) -> None:
    moment = datetime(2024, 3, 5, 14, 7, tzinfo=UTC)
    path = write(tmp_path / "a.csv", "csv", one_value(moment))
    assert text_rows(path, "csv")[1] == ["2024-03-05 22:07"]


def test_text_header_guarded(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "csv", [], [("value", "=cmd")])
    assert text_rows(path, "csv")[0] == ["'=cmd"]


def test_text_to_stream_stays_open() -> None:
    stream = io.BytesIO()
    write_table(stream, "csv", COLUMNS, one_value("x"))
    assert not stream.closed


def test_text_to_stream_content() -> None:
    stream = io.BytesIO()
    write_table(stream, "csv", COLUMNS, one_value("张"))
    assert stream.getvalue() == BOM + "Value\r\n张\r\n".encode()


# --- every kind -----------------------------------------------------------


@pytest.mark.parametrize("kind", ["xlsx", "txt", "csv"])
def test_write_table_returns_row_count(tmp_path: Path, kind: str) -> None:
    rows = ({"value": str(i)} for i in range(7))
    assert write_table(tmp_path / f"a.{kind}", kind, COLUMNS, rows) == 7


@pytest.mark.parametrize("kind", ["xlsx", "txt", "csv"])
@pytest.mark.parametrize("value", [object(), True, b"bytes"])
def test_write_table_rejects_value_type(
    tmp_path: Path, kind: str, value: object
) -> None:
    with pytest.raises(TypeError, match="'value'"):
        write_table(tmp_path / f"a.{kind}", kind, COLUMNS, one_value(value))


def failing_rows() -> Iterator[Mapping[str, object]]:
    yield {"value": "first"}
    raise RuntimeError("database went away")


@pytest.mark.parametrize("kind", ["xlsx", "txt", "csv"])
def test_failed_write_keeps_old_file(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"a.{kind}"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        write_table(path, kind, COLUMNS, failing_rows())
    assert path.read_bytes() == b"old"


@pytest.mark.parametrize("kind", ["xlsx", "txt", "csv"])
def test_failed_write_leaves_no_partial(tmp_path: Path, kind: str) -> None:
    with pytest.raises(RuntimeError):
        write_table(tmp_path / f"a.{kind}", kind, COLUMNS, failing_rows())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["xlsx", "txt", "csv"])
def test_write_table_overwrites(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"a.{kind}"
    path.write_bytes(b"old")
    write_table(path, kind, COLUMNS, one_value("new"))
    assert path.read_bytes() != b"old"


def test_failed_xlsx_write_removes_temporary_file(tmp_path: Path) -> None:
    before = {name for name in ALL_TEMP_FILES if os.path.exists(name)}
    with pytest.raises(RuntimeError):
        write_table(tmp_path / "a.xlsx", "xlsx", COLUMNS, failing_rows())
    after = {name for name in ALL_TEMP_FILES if os.path.exists(name)}
    assert after - before == set()


def test_missing_folder_raises_export_error(tmp_path: Path) -> None:
    with pytest.raises(ExportWriteError):
        write_table(tmp_path / "missing" / "a.csv", "csv", COLUMNS, [])


def test_export_error_names_file(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "客户.csv"
    with pytest.raises(ExportWriteError) as caught:
        write_table(path, "csv", COLUMNS, [])
    assert str(path) in str(caught.value)


# --- streaming ------------------------------------------------------------

STREAM_ROWS = 100_000
# Measured with tracemalloc, a list of 100,000 one-column rows takes about
# 24 MiB and openpyxl's normal (not write-only) mode about 55 MiB, so this
# bound fails if the rows or the cells are kept in memory.
STREAM_PEAK_BOUND = 10 * MIB


def many_rows() -> Iterator[Mapping[str, object]]:
    for i in range(STREAM_ROWS):
        yield {
            "value": f"138{i:08d}",
            "date": date(2024, 1, 1) + timedelta(days=i % 365),
            "company": "宁波东方贸易有限公司",
        }


def peak_memory_of_write(path: Path, kind: str, columns) -> int:
    tracemalloc.start()
    try:
        write_table(path, kind, columns, many_rows())
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("kind", ["txt", "csv"])
def test_text_streams_100k_rows(tmp_path: Path, kind: str) -> None:
    columns = [("value", "Value"), ("date", "Date"), ("company", "Company")]
    peak = peak_memory_of_write(tmp_path / f"big.{kind}", kind, columns)
    assert peak < STREAM_PEAK_BOUND


def test_xlsx_streams_100k_rows(tmp_path: Path) -> None:
    # One column, because tracemalloc makes openpyxl about six times slower.
    peak = peak_memory_of_write(tmp_path / "big.xlsx", "xlsx", COLUMNS)
    assert peak < STREAM_PEAK_BOUND


def test_100k_rows_all_written(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    count = write_table(path, "csv", COLUMNS, many_rows())
    assert count == STREAM_ROWS
