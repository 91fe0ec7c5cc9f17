"""Detect what kind of table a file contains, from its bytes, not its name.

Chinese business systems and banks save HTML tables, tab-separated text and
Excel 2003 XML under the name ".xls". Excel saves text in the Windows code
page of the machine. So neither the extension nor a fixed encoding can be
trusted.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import struct
import unicodedata
import zipfile
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO
from xml.etree import ElementTree

from python_calamine import (
    CalamineError,
    CalamineWorkbook,
    PasswordError,
    SheetTypeEnum,
    SheetVisibleEnum,
)

from crm_web.errors import (
    CorruptFileError,
    EmptyFileError,
    PasswordProtectedError,
    UnknownEncodingError,
    UnsupportedFormatError,
)

XML2003_NAMESPACE = "urn:schemas-microsoft-com:office:spreadsheet"
EXCEL_NAMESPACE = "urn:schemas-microsoft-com:office:excel"

_SAMPLE_BYTES = 1 << 20
_SNIFF_CHARS = 1 << 16
_SNIFF_RECORDS = 50
_SEP_LINE = re.compile(r"sep=(.)\r?\n")
DELIMITERS = ("\t", ",", ";", "|")

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Formats rejected by their first bytes. Other binary files are caught later
# by their NUL and control bytes.
_BINARY_MAGIC = (
    b"\x89PNG", b"%PDF", b"GIF8", b"\xff\xd8\xff", b"\x7fELF", b"7z\xbc\xaf",
    b"Rar!", b"\x1f\x8b", b"{\\rtf",
)  # fmt: skip
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Spellings of the Chinese code pages that GB18030 decodes as a superset.
_GB_ALIASES = {"gbk", "gb2312", "x-gbk", "cp936", "gb_2312-80", "euc-cn"}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w-]+)""", re.I)


@dataclass(frozen=True)
class SourceInfo:
    """How to read a file: its kind, and the encoding and delimiter of text."""

    kind: str  # 'xlsx' | 'xls' | 'csv' | 'txt' | 'html' | 'xml2003'
    encoding: str | None
    delimiter: str | None
    sheet_names: list[str]


def detect(
    path: Path,
    *,
    filename: str,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> SourceInfo:
    """Detect a file's format from its content; ``filename`` is only for messages.

    A given ``encoding`` or ``delimiter`` is the user's choice and is used
    as it is.
    """
    with path.open("rb") as file:
        sample = file.read(_SAMPLE_BYTES)
        is_whole = not file.read(1)
    if not sample:
        raise EmptyFileError(filename)
    if sample.startswith(_ZIP_MAGIC):
        return _detect_zip(path, filename)
    if sample.startswith(_OLE_MAGIC):
        return _detect_ole(path, filename)
    if sample.startswith(_BINARY_MAGIC):
        raise UnsupportedFormatError(filename)
    return _detect_text(path, sample, is_whole, filename, encoding, delimiter)


# --- Excel workbooks --------------------------------------------------------


def _detect_zip(path: Path, filename: str) -> SourceInfo:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError) as error:
        raise CorruptFileError(filename, "Excel") from error
    if "xl/workbook.bin" in names:
        # NOTE: calamine reads .xlsb, but number formats cannot be sampled
        # from it with openpyxl, so it is rejected with a request for .xlsx.
        raise UnsupportedFormatError(filename)
    if not any(name.startswith("xl/") for name in names):
        # A Word or PowerPoint file, an OpenDocument sheet or a plain archive.
        raise UnsupportedFormatError(filename)
    return SourceInfo("xlsx", None, None, _workbook_sheets(path, filename))


def _detect_ole(path: Path, filename: str) -> SourceInfo:
    try:
        with path.open("rb") as file:
            names = _ole_stream_names(file)
    except (struct.error, ValueError) as error:
        raise CorruptFileError(filename, "Excel") from error
    # Excel keeps an encrypted .xlsx inside an OLE2 container as this stream.
    if "EncryptedPackage" in names:
        raise PasswordProtectedError(filename)
    if not names & {"Workbook", "Book"}:
        raise UnsupportedFormatError(filename)
    return SourceInfo("xls", None, None, _workbook_sheets(path, filename))


def _workbook_sheets(path: Path, filename: str) -> list[str]:
    try:
        with CalamineWorkbook.from_path(str(path)) as book:
            metadata = book.sheets_metadata
    except PasswordError as error:
        raise PasswordProtectedError(filename) from error
    except CalamineError as error:
        raise CorruptFileError(filename, "Excel") from error
    sheets = [m for m in metadata if m.typ == SheetTypeEnum.WorkSheet]
    if not sheets:
        raise EmptyFileError(filename)
    visible = [m.name for m in sheets if m.visible == SheetVisibleEnum.Visible]
    return visible or [m.name for m in sheets]


def _ole_stream_names(file: BinaryIO) -> set[str]:
    """Return the names in an OLE2 compound file's directory.

    Raises ValueError or struct.error when the container is damaged.
    """
    header = file.read(512)
    sector_size = 1 << struct.unpack_from("<H", header, 0x1E)[0]
    if sector_size not in (512, 4096):
        raise ValueError(f"sector size {sector_size}")
    fat = _ole_fat(file, header, sector_size)
    first_directory_sector = struct.unpack_from("<I", header, 0x30)[0]
    names = set()
    for sector in _ole_chain(fat, first_directory_sector):
        names.update(_ole_entry_names(_ole_sector(file, sector, sector_size)))
    return names


def _ole_fat(file: BinaryIO, header: bytes, sector_size: int) -> list[int]:
    fat_sectors = list(struct.unpack_from("<109I", header, 0x4C))
    next_difat, difat_count = struct.unpack_from("<II", header, 0x44)
    per_sector = sector_size // 4
    # A damaged header may claim billions of sectors, so the file size bounds them.
    file_sectors = file.seek(0, io.SEEK_END) // sector_size
    for _ in range(min(difat_count, file_sectors)):
        data = _ole_sector(file, next_difat, sector_size)
        entries = struct.unpack(f"<{per_sector}I", data)
        fat_sectors.extend(entries[:-1])
        next_difat = entries[-1]
    fat: list[int] = []
    for sector in fat_sectors:
        if sector < _OLE_MAX_SECTOR:
            data = _ole_sector(file, sector, sector_size)
            fat.extend(struct.unpack(f"<{per_sector}I", data))
    return fat


_OLE_MAX_SECTOR = 0xFFFFFFFA


def _ole_chain(fat: list[int], start: int) -> list[int]:
    chain: list[int] = []
    sector = start
    while sector < _OLE_MAX_SECTOR:
        if sector >= len(fat) or len(chain) > len(fat):
            raise ValueError("broken sector chain")
        chain.append(sector)
        sector = fat[sector]
    return chain


def _ole_sector(file: BinaryIO, sector: int, sector_size: int) -> bytes:
    file.seek((sector + 1) * sector_size)
    data = file.read(sector_size)
    if len(data) != sector_size:
        raise ValueError(f"sector {sector} is past the end of the file")
    return data


def _ole_entry_names(sector: bytes) -> list[str]:
    names = []
    for offset in range(0, len(sector), 128):
        entry = sector[offset : offset + 128]
        name_bytes = struct.unpack_from("<H", entry, 64)[0]
        if entry[66] != 0 and 2 <= name_bytes <= 64:
            names.append(entry[: name_bytes - 2].decode("utf-16-le", "replace"))
    return names


# --- text, HTML and XML -----------------------------------------------------


def _detect_text(
    path: Path,
    sample: bytes,
    is_whole: bool,
    filename: str,
    encoding: str | None,
    delimiter: str | None,
) -> SourceInfo:
    chosen = encoding or _guess_encoding(sample, filename)
    text = _decode_sample(sample, chosen, filename, is_whole=is_whole)
    if not text.strip() and is_whole:
        raise EmptyFileError(filename)
    if _looks_binary(text):
        raise UnsupportedFormatError(filename)
    head = text.lstrip()[:_SNIFF_CHARS].lower()
    if head.startswith("<"):
        return _detect_markup(path, sample, head, filename, encoding, chosen)
    chosen_delimiter = delimiter or _sniff_delimiter(text[:_SNIFF_CHARS], is_whole)
    kind = "txt" if chosen_delimiter == "\t" else "csv"
    return SourceInfo(kind, chosen, chosen_delimiter, [])


def _detect_markup(
    path: Path,
    sample: bytes,
    head: str,
    filename: str,
    encoding: str | None,
    guessed: str,
) -> SourceInfo:
    if "<workbook" in head and XML2003_NAMESPACE in head:
        # The XML parser reads the encoding from the XML declaration.
        return SourceInfo("xml2003", None, None, _xml2003_sheets(path, filename))
    if "<table" in head:
        chosen = encoding or _html_encoding(sample, guessed)
        return SourceInfo("html", chosen, None, [])
    raise UnsupportedFormatError(filename)


def _html_encoding(sample: bytes, guessed: str) -> str:
    """Prefer the page's declared charset unless a BOM or decoding rules it out."""
    if any(sample.startswith(bom) for bom, _ in _BOMS):
        return guessed
    match = _META_CHARSET.search(sample[:_SNIFF_CHARS])
    if not match:
        return guessed
    declared = _python_codec(match[1].decode("ascii").lower())
    try:
        codecs.getincrementaldecoder(declared)().decode(sample, final=False)
    except (LookupError, UnicodeDecodeError):
        return guessed
    return declared


def _python_codec(label: str) -> str:
    if label in _GB_ALIASES:
        return "gb18030"
    if label in ("big5", "big5-hkscs", "x-x-big5"):
        return "cp950"
    return label


def _xml2003_sheets(path: Path, filename: str) -> list[str]:
    """List the visible worksheets of an Excel 2003 XML workbook."""
    names: list[str] = []
    hidden: set[str] = set()
    try:
        for event, element in ElementTree.iterparse(path, events=("start", "end")):
            _collect_xml2003_sheet(event, element, names, hidden)
    except ElementTree.ParseError as error:
        raise CorruptFileError(filename, "Excel XML") from error
    visible = [name for name in names if name not in hidden]
    return visible or names


def _collect_xml2003_sheet(
    event: str, element: ElementTree.Element, names: list[str], hidden: set[str]
) -> None:
    if event == "start" and element.tag == f"{{{XML2003_NAMESPACE}}}Worksheet":
        names.append(element.get(f"{{{XML2003_NAMESPACE}}}Name", ""))
    elif event == "end" and element.tag == f"{{{EXCEL_NAMESPACE}}}Visible":
        if names and (element.text or "").strip() in ("SheetHidden", "SheetVeryHidden"):
            hidden.add(names[-1])
    elif event == "end" and element.tag == f"{{{XML2003_NAMESPACE}}}Row":
        element.clear()


def _looks_binary(text: str) -> bool:
    sample = text[:4096]
    controls = sum(
        1 for char in sample
        if unicodedata.category(char) == "Cc" and char not in "\t\r\n\f\v"
    )  # fmt: skip
    return controls > len(sample) // 100


# --- encodings --------------------------------------------------------------


def _decode_sample(
    sample: bytes, encoding: str, filename: str, *, is_whole: bool
) -> str:
    """Decode the start of a file, dropping a partial last character."""
    try:
        decoder = codecs.getincrementaldecoder(encoding)()
        text = decoder.decode(sample, final=is_whole)
    except (LookupError, UnicodeDecodeError) as error:
        raise UnknownEncodingError(filename, encoding) from error
    return text.lstrip("\ufeff")


def _guess_encoding(sample: bytes, filename: str) -> str:
    """Guess the codec of a text file from a sample of its first bytes."""
    for bom, codec in _BOMS:
        if sample.startswith(bom):
            return codec
    utf16 = _utf16_without_bom(sample)
    if utf16:
        return utf16
    if b"\x00" in sample:
        raise UnsupportedFormatError(filename)
    if _decodes(sample, "utf-8"):
        return "utf-8"
    return _guess_legacy_codec(sample)


def _utf16_without_bom(sample: bytes) -> str | None:
    """Spot UTF-16 by its NUL bytes: ASCII has one in every other position."""
    head = sample[:4096]
    even = head[0::2].count(0)
    odd = head[1::2].count(0)
    half = max(len(head) // 2, 1)
    if odd > half * 0.3 and even < odd / 10 and _decodes(sample, "utf-16-le"):
        return "utf-16-le"
    if even > half * 0.3 and odd < even / 10 and _decodes(sample, "utf-16-be"):
        return "utf-16-be"
    return None


def _decodes(sample: bytes, codec: str) -> bool:
    try:
        codecs.getincrementaldecoder(codec)().decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _guess_legacy_codec(sample: bytes) -> str:
    """Choose GB18030 or Big5 by how common the decoded characters are.

    Either codec decodes most text written in the other, but into rare
    characters, kana and private-use code points. So a decoding gains a point
    per common character and loses one per other letter.
    """
    scores = {}
    for codec in ("gb18030", "cp950"):
        if _decodes(sample, codec):
            text = codecs.getincrementaldecoder(codec)().decode(sample, final=False)
            scores[codec] = _commonness(text, _common_characters(codec))
    best = max(scores, key=scores.__getitem__, default=None)
    if best is not None and scores[best] > 0:
        return best
    if _decodes(sample, "cp1252"):
        return "cp1252"
    return best or "cp1252"


def _commonness(text: str, common: frozenset[str]) -> int:
    score = 0
    for char in text:
        if char.isascii():
            continue
        if char in common:
            score += 1
        elif unicodedata.category(char)[0] not in "PSZ":
            # Punctuation, symbols and spaces count for neither codec.
            score -= 1
    return score


@lru_cache(maxsize=2)
def _common_characters(codec: str) -> frozenset[str]:
    """Return the first level of common hanzi in GB2312 or in Big5."""
    if codec == "gb18030":
        # GB2312 level 1: the 3,755 commonly used simplified characters.
        leads, trails = range(0xB0, 0xD8), [*range(0xA1, 0xFF)]
    else:
        # Big5 level 1: the 5,401 commonly used traditional characters.
        leads, trails = range(0xA4, 0xC7), [*range(0x40, 0x7F), *range(0xA1, 0xFF)]
    pairs = b"".join(bytes((lead, trail)) for lead in leads for trail in trails)
    return frozenset(pairs.decode(codec, "ignore"))


# --- delimiters -------------------------------------------------------------


def _sniff_delimiter(text: str, is_whole: bool) -> str:
    """Pick the delimiter that splits the most lines into the same width."""
    # Excel writes and obeys a first line "sep=;" that names the delimiter.
    if match := _SEP_LINE.match(text):
        return match[1]
    if not is_whole and "\n" in text:
        # The last line of a sample may be cut short.
        text = text[: text.rindex("\n")]
    scores = {delimiter: _consistency(text, delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: scores[delimiter])
    return best if scores[best] else "\t"


def _consistency(text: str, delimiter: str) -> int:
    """Count the records whose width is the most common width above one."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    widths: Counter[int] = Counter()
    try:
        for record in reader:
            if len(record) > 1:
                widths[len(record)] += 1
            if reader.line_num > _SNIFF_RECORDS:
                break
    except csv.Error:
        pass
    return widths.most_common(1)[0][1] if widths else 0
