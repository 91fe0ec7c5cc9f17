import codecs
import zipfile

import pytest
from builders import (
    make_html_xls,
    make_ole_file,
    make_password_xls,
    make_password_xlsx,
    make_text,
    make_xls,
    make_xlsx,
    make_xlsx_with_hidden_sheet,
    make_xml2003_xls,
)

from crm_web.errors import (
    CorruptFileError,
    EmptyFileError,
    PasswordProtectedError,
    UnknownEncodingError,
    UnsupportedFormatError,
)
from crm_web.services.importing.detect import SourceInfo, detect

SIMPLIFIED = [
    ["姓名", "公司", "手机", "城市"],
    ["张三", "北京星辰科技有限公司", "15555500101", "北京"],
    ["李四", "上海海风贸易有限公司", "13800138000", "上海"],
]
TRADITIONAL = [
    ["姓名", "公司", "手機", "城市"],
    ["陳大文", "台北貿易股份有限公司", "0912345678", "台北"],
    ["林美玲", "高雄電子工業公司", "0987654321", "高雄"],
]
LATIN = [["Name", "City"], ["Müller", "Köln"], ["José", "São Paulo"]]


def test_detect_xlsx(tmp_path):
    path = make_xlsx(tmp_path / "contacts.xlsx", SIMPLIFIED)
    assert detect(path, filename="contacts.xlsx") == SourceInfo(
        "xlsx", None, None, ["Sheet"]
    )


def test_detect_xlsx_lists_visible_sheets(tmp_path):
    path = make_xlsx_with_hidden_sheet(tmp_path / "a.xlsx", SIMPLIFIED, [["x"]])
    assert detect(path, filename="a.xlsx").sheet_names == ["Contacts"]


def test_detect_xls(tmp_path):
    path = make_xls(tmp_path / "old.xls", SIMPLIFIED, sheet="客户")
    assert detect(path, filename="old.xls") == SourceInfo("xls", None, None, ["客户"])


def test_detect_ignores_extension(tmp_path):
    path = make_xlsx(tmp_path / "contacts.csv", SIMPLIFIED)
    assert detect(path, filename="contacts.csv").kind == "xlsx"


@pytest.mark.parametrize(
    ("rows", "encoding", "bom", "delimiter", "expected"),
    [
        (SIMPLIFIED, "gbk", False, "\t", ("txt", "gb18030", "\t")),
        ([["姓名"], ["𠀀㐀"]], "gb18030", False, "\t", ("txt", "gb18030", "\t")),
        (TRADITIONAL, "big5", False, ",", ("csv", "cp950", ",")),
        (SIMPLIFIED, "utf-8", True, ",", ("csv", "utf-8-sig", ",")),
        (SIMPLIFIED, "utf-8", False, ",", ("csv", "utf-8", ",")),
        (SIMPLIFIED, "utf-16-le", True, "\t", ("txt", "utf-16", "\t")),
        (SIMPLIFIED, "utf-16-be", True, "\t", ("txt", "utf-16", "\t")),
        (SIMPLIFIED, "utf-16-le", False, "\t", ("txt", "utf-16-le", "\t")),
        (SIMPLIFIED, "utf-32-le", True, "\t", ("txt", "utf-32", "\t")),
        (SIMPLIFIED, "utf-8", False, ";", ("csv", "utf-8", ";")),
        (SIMPLIFIED, "utf-8", False, "|", ("csv", "utf-8", "|")),
        (LATIN, "cp1252", False, ",", ("csv", "cp1252", ",")),
    ],
    ids=[
        "gbk-tab",
        "gb18030-only-characters",
        "big5-csv",
        "utf8-bom",
        "utf8",
        "utf16le-bom",
        "utf16be-bom",
        "utf16le-no-bom",
        "utf32-bom",
        "semicolon",
        "pipe",
        "cp1252",
    ],
)
def test_detect_text(tmp_path, rows, encoding, bom, delimiter, expected):
    path = make_text(
        tmp_path / "t.txt", rows, encoding=encoding, delimiter=delimiter, bom=bom
    )
    info = detect(path, filename="t.txt")
    assert (info.kind, info.encoding, info.delimiter) == expected
    assert info.sheet_names == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Name;Price\r\nA;1,5\r\nB;2,5\r\n", ";"),
        ('Name,Address\r\nA,"Road 1; Door 2"\r\nB,Road 3\r\n', ","),
        ('"a,b"\t"c"\r\nd\te,f\r\n', "\t"),
        ("# 模板说明\r\n姓名,手机,邮箱\r\n张三,155,a@b.c\r\n", ","),
        ("只有一列\r\n张三\r\n", "\t"),
        ("sep=;\r\nName,Price\r\nA,1\r\n", ";"),
    ],
    ids=[
        "decimal-commas",
        "quoted-semicolon",
        "commas-in-tab-text",
        "comment",
        "one-column",
        "excel-sep-line",
    ],
)
def test_detect_delimiter(tmp_path, text, expected):
    path = tmp_path / "t.csv"
    path.write_bytes(text.encode("utf-8"))
    assert detect(path, filename="t.csv").delimiter == expected


def test_detect_tab_text_named_xls(tmp_path):
    path = make_text(tmp_path / "export.xls", SIMPLIFIED, encoding="gbk")
    info = detect(path, filename="export.xls")
    assert info == SourceInfo("txt", "gb18030", "\t", [])


def test_detect_html_named_xls(tmp_path):
    path = make_html_xls(tmp_path / "bank.xls", SIMPLIFIED, encoding="gbk")
    assert detect(path, filename="bank.xls") == SourceInfo("html", "gb18030", None, [])


def test_detect_html_with_false_charset(tmp_path):
    path = tmp_path / "bank.xls"
    page = '<meta charset="utf-8"><table><tr><td>张三</td><td>北京</td></tr></table>'
    path.write_bytes(page.encode("gbk"))
    assert detect(path, filename="bank.xls").encoding == "gb18030"


def test_detect_html_utf8_charset(tmp_path):
    path = make_html_xls(tmp_path / "bank.xls", SIMPLIFIED, encoding="utf-8")
    assert detect(path, filename="bank.xls").encoding == "utf-8"


def test_detect_xml2003(tmp_path):
    path = make_xml2003_xls(tmp_path / "x.xls", SIMPLIFIED, sheet="客户")
    assert detect(path, filename="x.xls") == SourceInfo("xml2003", None, None, ["客户"])


def test_detect_xml2003_skips_hidden_sheet(tmp_path):
    path = make_xml2003_xls(tmp_path / "x.xls", SIMPLIFIED, hidden_first=True)
    assert detect(path, filename="x.xls").sheet_names == ["Sheet1"]


def test_detect_encoding_override(tmp_path):
    path = make_text(tmp_path / "t.csv", SIMPLIFIED, encoding="gbk", delimiter=",")
    info = detect(path, filename="t.csv", encoding="big5hkscs", delimiter=";")
    assert (info.encoding, info.delimiter) == ("big5hkscs", ";")


@pytest.mark.parametrize("encoding", ["utf-8", "no-such-codec"])
def test_detect_encoding_override_fails(tmp_path, encoding):
    path = make_text(tmp_path / "t.csv", SIMPLIFIED, encoding="gbk")
    with pytest.raises(UnknownEncodingError):
        detect(path, filename="t.csv", encoding=encoding)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"   \r\n\t\r\n",
        codecs.BOM_UTF8,
        codecs.BOM_UTF8 + b"\r\n",
        codecs.BOM_UTF16_LE + " \r\n".encode("utf-16-le"),
    ],
    ids=["zero-bytes", "whitespace", "bom", "bom-newline", "utf16-whitespace"],
)
def test_detect_empty(tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(EmptyFileError):
        detect(path, filename="empty.csv")


def test_detect_error_names_file(tmp_path):
    path = tmp_path / "upload-1234.tmp"
    path.write_bytes(b"")
    with pytest.raises(EmptyFileError, match="客户名单.xlsx"):
        detect(path, filename="客户名单.xlsx")


def test_detect_truncated_xlsx(tmp_path):
    path = make_xlsx(tmp_path / "a.xlsx", SIMPLIFIED)
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(CorruptFileError):
        detect(path, filename="a.xlsx")


def test_detect_xlsx_without_workbook(tmp_path):
    path = tmp_path / "a.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/styles.xml", "<styleSheet/>")
    with pytest.raises(CorruptFileError):
        detect(path, filename="a.xlsx")


def test_detect_xlsx_with_broken_workbook_xml(tmp_path):
    path = make_xlsx(tmp_path / "a.xlsx", SIMPLIFIED)
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    entries["xl/workbook.xml"] = b"<workbook><sheets><sheet name="
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    with pytest.raises(CorruptFileError):
        detect(path, filename="a.xlsx")


def test_detect_docx(tmp_path):
    path = tmp_path / "letter.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    with pytest.raises(UnsupportedFormatError):
        detect(path, filename="letter.xlsx")


@pytest.mark.parametrize(
    "content",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01",
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff",
        bytes(range(256)) * 4,
    ],
    ids=["png", "pdf", "exe", "random"],
)
def test_detect_binary_junk(tmp_path, content):
    path = tmp_path / "contacts.xls"
    path.write_bytes(content)
    with pytest.raises(UnsupportedFormatError):
        detect(path, filename="contacts.xls")


def test_detect_html_without_table(tmp_path):
    path = tmp_path / "page.xls"
    path.write_text("<html><body><p>登录已过期</p></body></html>", encoding="utf-8")
    with pytest.raises(UnsupportedFormatError):
        detect(path, filename="page.xls")


def test_detect_word_97_file(tmp_path):
    path = make_ole_file(tmp_path / "letter.xls", "WordDocument")
    with pytest.raises(UnsupportedFormatError):
        detect(path, filename="letter.xls")


def test_detect_encrypted_package(tmp_path):
    path = make_ole_file(tmp_path / "locked.xlsx", "EncryptedPackage")
    with pytest.raises(PasswordProtectedError):
        detect(path, filename="locked.xlsx")


def test_detect_password_xlsx(tmp_path):
    pytest.importorskip("msoffcrypto")
    path = make_password_xlsx(tmp_path / "locked.xlsx", SIMPLIFIED)
    with pytest.raises(PasswordProtectedError):
        detect(path, filename="locked.xlsx")


def test_detect_password_xls(tmp_path):
    path = make_password_xls(tmp_path / "locked.xls", SIMPLIFIED)
    with pytest.raises(PasswordProtectedError):
        detect(path, filename="locked.xls")


def test_detect_truncated_ole(tmp_path):
    path = make_xls(tmp_path / "old.xls", SIMPLIFIED)
    path.write_bytes(path.read_bytes()[:600])
    with pytest.raises(CorruptFileError):
        detect(path, filename="old.xls")
