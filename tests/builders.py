"""Build small real import files: xlsx, xls, text, HTML and XML posing as .xls.

Each builder writes ``rows`` (lists of str, int, float, date or datetime
values) to ``path`` the way the program the file imitates would.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
import struct
import zipfile
from collections.abc import Sequence
from html import escape
from pathlib import Path
from xml.sax.saxutils import quoteattr

import openpyxl
import xlwt
from openpyxl.utils import get_column_letter
from xlwt import CompoundDoc

Value = str | int | float | datetime.date | datetime.datetime | None
Rows = Sequence[Sequence[Value]]


def make_xlsx(
    path: Path,
    rows: Rows,
    *,
    title: str | None = None,
    number_formats: dict[int, str] | None = None,
    declared_dimension: str | None = None,
    shared_strings: bool = False,
) -> Path:
    """Write an xlsx, with ``title`` in a row merged across the table above it.

    ``number_formats`` maps a 0-based column to the format of its numbers.
    ``declared_dimension`` replaces the range the sheet claims to use, as
    some generators write "A1:Z1048576" for a few rows. openpyxl writes text
    inline in the sheet; ``shared_strings`` moves it to a shared-string
    table, as Excel and WPS save it.
    """
    book = openpyxl.Workbook()
    sheet = book.active
    if title is not None:
        sheet.append([title])
        width = max((len(row) for row in rows), default=1)
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    for row in rows:
        sheet.append(list(row))
    for column, number_format in (number_formats or {}).items():
        _format_numbers(sheet, column, number_format)
    book.save(path)
    if declared_dimension is not None:
        _declare_dimension(path, declared_dimension)
    if shared_strings:
        _share_strings(path)
    return path


def _format_numbers(sheet, column: int, number_format: str) -> None:
    letter = get_column_letter(column + 1)
    for cell in sheet[letter]:
        if isinstance(cell.value, int | float):
            cell.number_format = number_format


def _declare_dimension(path: Path, dimension: str) -> None:
    entries = _read_zip(path)
    sheet = entries["xl/worksheets/sheet1.xml"]
    new_tag = f'<dimension ref="{dimension}"/>'.encode()
    sheet, count = re.subn(rb'<dimension ref="[^"]*"\s*/>', new_tag, sheet)
    assert count == 1, "openpyxl wrote no <dimension> element"
    entries["xl/worksheets/sheet1.xml"] = sheet
    _write_zip(path, entries)


_INLINE_STRING = re.compile(
    rb'<c r="([A-Z]+[0-9]+)"([^>]*) t="inlineStr"><is><t>(.*?)</t></is></c>'
)
_RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_SST_TYPE = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
)


def _share_strings(path: Path) -> None:
    entries = _read_zip(path)
    strings: dict[bytes, int] = {}

    def to_shared(match: re.Match[bytes]) -> bytes:
        index = strings.setdefault(match[3], len(strings))
        return b'<c r="%s"%s t="s"><v>%d</v></c>' % (match[1], match[2], index)

    sheet = entries["xl/worksheets/sheet1.xml"]
    entries["xl/worksheets/sheet1.xml"] = _INLINE_STRING.sub(to_shared, sheet)
    items = b"".join(b"<si><t>%s</t></si>" % text for text in strings)
    entries["xl/sharedStrings.xml"] = (
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        + items
        + b"</sst>"
    )
    rels = entries["xl/_rels/workbook.xml.rels"].decode()
    entries["xl/_rels/workbook.xml.rels"] = rels.replace(
        "</Relationships>",
        f'<Relationship Id="rIdStrings" Type="{_RELATIONSHIPS}/sharedStrings" '
        'Target="sharedStrings.xml"/></Relationships>',
    ).encode()
    types = entries["[Content_Types].xml"].decode()
    entries["[Content_Types].xml"] = types.replace(
        "</Types>",
        f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_SST_TYPE}"/>'
        "</Types>",
    ).encode()
    _write_zip(path, entries)


def _read_zip(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write_zip(path: Path, entries: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def make_xlsx_with_hidden_sheet(path: Path, visible: Rows, hidden: Rows) -> Path:
    """Write an xlsx whose first sheet is hidden and second is visible."""
    book = openpyxl.Workbook()
    hidden_sheet = book.active
    hidden_sheet.title = "Hidden"
    hidden_sheet.sheet_state = "hidden"
    for row in hidden:
        hidden_sheet.append(list(row))
    visible_sheet = book.create_sheet("Contacts")
    for row in visible:
        visible_sheet.append(list(row))
    book.save(path)
    return path


def make_xls(path: Path, rows: Rows, *, sheet: str = "Sheet1") -> Path:
    """Write a legacy BIFF8 .xls with xlwt, with dates as real date cells."""
    book = xlwt.Workbook(encoding="utf-8")
    _fill_xls_sheet(book.add_sheet(sheet), rows)
    book.save(str(path))
    return path


_XLS_DATE = xlwt.easyxf(num_format_str="YYYY-MM-DD")
_XLS_DATETIME = xlwt.easyxf(num_format_str="YYYY-MM-DD HH:MM")


def _fill_xls_sheet(sheet, rows: Rows) -> None:
    for row_index, row in enumerate(rows):
        for column, value in enumerate(row):
            if isinstance(value, datetime.datetime):
                sheet.write(row_index, column, value, _XLS_DATETIME)
            elif isinstance(value, datetime.date):
                sheet.write(row_index, column, value, _XLS_DATE)
            elif value is not None:
                sheet.write(row_index, column, value)


def make_password_xls(path: Path, rows: Rows) -> Path:
    """Write an .xls whose workbook stream starts with a FILEPASS record.

    Excel writes FILEPASS (0x002F) right after the first BOF record when a
    workbook is saved with a password to open. The rest stays unencrypted
    here, because readers stop at the record.
    """
    book = xlwt.Workbook(encoding="utf-8")
    _fill_xls_sheet(book.add_sheet("Sheet1"), rows)
    stream = book.get_biff_data()
    bof_size = struct.unpack_from("<H", stream, 2)[0]
    cut = 4 + bof_size
    # RC4 encryption header: type 1, version 1.1, then salt and verifiers.
    filepass = struct.pack("<HHHHH", 0x002F, 54, 1, 1, 1) + bytes(48)
    CompoundDoc.XlsDoc().save(str(path), stream[:cut] + filepass + stream[cut:])
    return path


def make_text(
    path: Path,
    rows: Rows,
    *,
    encoding: str = "utf-8",
    delimiter: str = "\t",
    bom: bool = False,
) -> Path:
    """Write delimited text with Windows line ends, as Excel saves it.

    With ``bom`` the text starts with U+FEFF in ``encoding``. Pass an
    encoding that adds no BOM of its own ("utf-8", "utf-16-le").
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    text = ("\ufeff" if bom else "") + buffer.getvalue()
    path.write_bytes(text.encode(encoding))
    return path


def make_html_xls(
    path: Path, rows: Rows, encoding: str = "gbk", *, title: str | None = None
) -> Path:
    """Write an HTML table named like an .xls, as Chinese bank systems export."""
    width = max((len(row) for row in rows), default=1)
    lines = [
        "<html>",
        f'<head><meta http-equiv="Content-Type" content="text/html; '
        f'charset={encoding}"></head>',
        "<body>",
        '<table border="1">',
    ]
    if title is not None:
        lines.append(f'<tr><td colspan="{width}">{escape(title)}</td></tr>')
    for row in rows:
        cells = "".join(f"<td>{_html_cell(value)}</td>" for value in row)
        lines.append(f"  <tr>\n    {cells}\n  </tr>")
    lines += ["</table>", "</body>", "</html>"]
    path.write_bytes("\r\n".join(lines).encode(encoding))
    return path


def _html_cell(value: Value) -> str:
    text = "" if value is None else str(value)
    return "<br>".join(escape(line) for line in text.split("\n"))


_XML2003_HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<?mso-application progid="Excel.Sheet"?>
<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"
 xmlns:o="urn:schemas-microsoft-com:office:office"
 xmlns:x="urn:schemas-microsoft-com:office:excel"
 xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet">
 <Styles>
  <Style ss:ID="Default" ss:Name="Normal"/>
  <Style ss:ID="date"><NumberFormat ss:Format="Short Date"/></Style>
  <Style ss:ID="phone"><NumberFormat ss:Format="00000000000"/></Style>
 </Styles>
"""


def make_xml2003_xls(
    path: Path, rows: Rows, *, sheet: str = "Sheet1", hidden_first: bool = False
) -> Path:
    """Write Excel's "XML Spreadsheet 2003" format under an .xls name.

    Integers get an 11-digit zero-padded format, as a phone column would.
    With ``hidden_first`` a hidden sheet named "Hidden" comes first.
    """
    parts = [_XML2003_HEADER]
    if hidden_first:
        parts.append(_xml2003_sheet("Hidden", [["secret"]], hidden=True))
    parts.append(_xml2003_sheet(sheet, rows, hidden=False))
    parts.append("</Workbook>\n")
    path.write_text("".join(parts), encoding="utf-8")
    return path


def _xml2003_sheet(name: str, rows: Rows, *, hidden: bool) -> str:
    lines = [f" <Worksheet ss:Name={quoteattr(name)}>", "  <Table>"]
    for row in rows:
        cells = "".join(_xml2003_cell(value) for value in row)
        lines.append(f"   <Row>{cells}</Row>")
    lines.append("  </Table>")
    if hidden:
        lines.append(
            '  <WorksheetOptions xmlns="urn:schemas-microsoft-com:office:excel">'
            "<Visible>SheetHidden</Visible></WorksheetOptions>"
        )
    lines.append(" </Worksheet>\n")
    return "\n".join(lines)


def _xml2003_cell(value: Value) -> str:
    if value is None:
        return "<Cell/>"
    if isinstance(value, datetime.datetime | datetime.date):
        moment = (
            value.isoformat()
            if isinstance(value, datetime.datetime)
            else (f"{value.isoformat()}T00:00:00.000")
        )
        return (
            f'<Cell ss:StyleID="date"><Data ss:Type="DateTime">{moment}</Data></Cell>'
        )
    if isinstance(value, int):
        return f'<Cell ss:StyleID="phone"><Data ss:Type="Number">{value}</Data></Cell>'
    if isinstance(value, float):
        return f'<Cell><Data ss:Type="Number">{value!r}</Data></Cell>'
    return f'<Cell><Data ss:Type="String">{escape(value, quote=False)}</Data></Cell>'


def make_password_xlsx(path: Path, rows: Rows, password: str = "secret") -> Path:
    """Encrypt an xlsx with msoffcrypto-tool, as Excel's "Encrypt with Password".

    Raises ImportError when msoffcrypto-tool is not installed.
    """
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = path.with_suffix(".plain.xlsx")
    make_xlsx(plain, rows)
    with plain.open("rb") as source, path.open("wb") as target:
        OOXMLFile(source).encrypt(password, target)
    plain.unlink()
    return path


def make_ole_file(path: Path, stream_name: str, size: int = 4096) -> Path:
    """Write a minimal OLE2 compound file holding one stream of zero bytes.

    The stream is at least 4096 bytes so it lives in ordinary sectors and
    the file needs no mini stream. "EncryptedPackage" imitates an encrypted
    xlsx, and "WordDocument" imitates a Word 97 file.
    """
    sectors = -(-max(size, 4096) // 512)
    end, free, fat_sector = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
    fat = [fat_sector, end] + list(range(3, 2 + sectors)) + [end]
    fat += [free] * (128 - len(fat))
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII",
        bytes.fromhex("d0cf11e0a1b11ae1"), bytes(16), 0x3E, 3, 0xFFFE, 9, 6,
        bytes(6), 0, 1, 1, 0, 4096, end, 0, end, 0,
    )  # fmt: skip
    header += struct.pack("<109I", 0, *([free] * 108))
    directory = _ole_entry("Root Entry", 5, child=1, start=end, size=0)
    directory += _ole_entry(stream_name, 2, child=free, start=2, size=size)
    directory += bytes(256)
    fat_bytes = struct.pack("<128I", *fat)
    path.write_bytes(header + fat_bytes + directory + bytes(sectors * 512))
    return path


def _ole_entry(name: str, kind: int, *, child: int, start: int, size: int) -> bytes:
    encoded = (name + "\0").encode("utf-16-le")
    return struct.pack(
        "<64sHBBIII16sIQQIQ",
        encoded, len(encoded), kind, 1, 0xFFFFFFFF, 0xFFFFFFFF, child,
        bytes(16), 0, 0, 0, start, size,
    )  # fmt: skip
