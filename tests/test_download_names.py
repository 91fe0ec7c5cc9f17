"""Download names: safe on every system, Chinese kept, sent per RFC 6266."""

from __future__ import annotations

import pytest
from werkzeug.http import parse_options_header

from crm_web.services.download_names import (
    MAX_NAME_BYTES,
    content_disposition,
    safe_file_name,
)

ENDING = "-2026-03-30.ics"
WINDOWS_RESERVED = set('<>:"/\\|?*')


@pytest.mark.parametrize(
    ("stem", "expected"),
    [
        ("拜访东方贸易", "拜访东方贸易"),
        ("Visit 张经理 😀", "Visit 张经理 😀"),
        ("报价: A/B <v2>?", "报价_ A_B _v2__"),
        ('say "hi" | bye*', "say _hi_ _ bye_"),
        ("C:\\Windows\\system32", "C__Windows_system32"),
        ("../../etc/passwd", "_.._etc_passwd"),
        ("line\nbreak\ttab", "line break tab"),
        ("a\x00b\x7fc", "abc"),
        ("a\x1fb", "a b"),  # str.isspace() counts U+001F as white space
        ("\u202egpj.exe", "gpj.exe"),  # right-to-left override
        ("zero\u200bwidth", "zerowidth"),
        ("  trailing dots...  ", "trailing dots"),
        ("...hidden", "hidden"),
        ("   ", "download"),
        ("", "download"),
        ("CON", "_CON"),
        ("con", "_con"),
        ("nul.txt", "_nul.txt"),
        ("COM1", "_COM1"),
        ("LPT9 ", "_LPT9"),
        ("COM¹", "_COM¹"),
        ("CONSOLE", "CONSOLE"),
        ("ＡＢＣ全角", "ＡＢＣ全角"),
        ("e\u0301", "\u00e9"),  # NFC
    ],
)
def test_safe_file_name(stem: str, expected: str) -> None:
    assert safe_file_name(stem, ENDING) == expected + ENDING


@pytest.mark.parametrize("stem", ["拜" * 200, "a" * 400, "😀" * 100, "拜." * 150])
def test_safe_file_name_fits_255_bytes(stem: str) -> None:
    name = safe_file_name(stem, ENDING)

    assert len(name.encode()) <= MAX_NAME_BYTES
    assert len(name.encode("utf-16-le")) // 2 <= MAX_NAME_BYTES
    assert name.endswith(ENDING)
    assert not name.removesuffix(ENDING).endswith((".", " "))


@pytest.mark.parametrize(
    "stem", ["日程:安排?", "CON", "a|b", "\x01x", "x. ", "报价 <草稿>", "AUX.ics"]
)
def test_safe_file_name_has_no_windows_faults(stem: str) -> None:
    name = safe_file_name(stem, ".ics")
    base = name.split(".")[0].strip().upper()

    assert not WINDOWS_RESERVED & set(name)
    assert all(ord(char) >= 32 for char in name)
    assert base not in {"CON", "PRN", "AUX", "NUL"}


def parse_with_werkzeug(header: str) -> str:
    _kind, options = parse_options_header(header)
    return options["filename"]


@pytest.mark.parametrize(
    "name",
    [
        "预约-2026-03-30.ics",
        "拜访 东方贸易-2026-03-30.ics",
        "Visit 张经理 😀-2026-03-30.ics",
        "100% 报价 & 样品 #2-2026-03-30.ics",
        "café-2026-03-30.ics",
    ],
)
def test_content_disposition_keeps_name(name: str) -> None:
    header = content_disposition(name, ascii_stem="appointments")

    assert header.startswith("attachment; ")
    assert header.isascii()
    assert parse_with_werkzeug(header) == name


def test_content_disposition_ascii_fallback() -> None:
    header = content_disposition("预约-2026-03-30.ics", ascii_stem="appointments")

    assert 'filename="appointments-2026-03-30.ics"' in header
    assert "filename*=UTF-8''%E9%A2%84%E7%BA%A6-2026-03-30.ics" in header


@pytest.mark.parametrize(
    ("name", "fallback"),
    [
        ("拜访_ 东方_贸易_-2026-03-30.ics", "appointment-2026-03-30.ics"),
        ("café 报价.ics", "appointment.ics"),
        ('报价 "A\\B".ics', "appointment.ics"),
        ("报价", "appointment"),
    ],
)
def test_content_disposition_fallback(name: str, fallback: str) -> None:
    header = content_disposition(name, ascii_stem="appointment")

    assert f'filename="{fallback}";' in header


def test_content_disposition_plain_ascii() -> None:
    header = content_disposition("appointments-2026-03-30.ics", ascii_stem="x")

    assert header == 'attachment; filename="appointments-2026-03-30.ics"'
