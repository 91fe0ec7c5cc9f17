"""Import templates: real files written and read back with openpyxl and csv."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from flask import Flask
from flask_babel import Babel, force_locale
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from crm_web.services.fields import FIELD_NAMES, FIELDS_BY_NAME, PHONE_FIELD_NAMES
from crm_web.services.templates_files import template_headers, write_template

BOM = b"\xef\xbb\xbf"

HEADERS = {
    "name": "姓名(Name)",
    "company": "公司(Company)",
    "job_title": "职位(Job title)",
    "category": "分类(Category)",
    "mobile": "手机(Mobile)",
    "phone": "电话(Phone)",
    "email": "邮箱(E-mail)",
    "wechat": "微信(WeChat)",
    "qq": "QQ号(QQ)",
    "whatsapp": "WhatsApp",
    "skype": "Skype",
    "country": "国家(Country)",
    "province": "省份/州(Province/State)",
    "city": "城市(City)",
    "address": "地址(Address)",
    "postcode": "邮编(Postcode)",
    "website": "网站(Website)",
    "source": "来源(Source)",
    "level": "级别(Level)",
    "birthday": "生日(Birthday)",
    "notes": "备注(Notes)",
    "tags": "标签(Tags)",
}

EXAMPLE_TEXT = {
    "name": "张小明",
    "company": "宁波东方贸易有限公司",
    "job_title": "销售经理",
    "category": "客户",
    "mobile": "13800138000",
    "phone": "0574-87654321",
    "email": "zhangxm@example.com",
    "qq": "12345678",
    "whatsapp": "+86 138 0013 8000",
    "postcode": "315100",
}


@pytest.fixture(scope="module")
def xlsx_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.xlsx"
    write_template(path, "xlsx")
    return path


@pytest.fixture(scope="module")
def contacts_sheet(xlsx_path: Path) -> Worksheet:
    return load_workbook(xlsx_path)["Contacts"]


@pytest.fixture(scope="module")
def help_sheet(xlsx_path: Path) -> Worksheet:
    return load_workbook(xlsx_path)["说明 Help"]


@pytest.fixture(scope="module")
def txt_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("template") / "template.txt"
    write_template(path, "txt")
    return path.read_bytes()


def column_of(field: str) -> int:
    return FIELD_NAMES.index(field) + 1


def txt_lines(data: bytes) -> list[str]:
    return data.decode("utf-8-sig").split("\r\n")


# --- headers --------------------------------------------------------------


def test_headers_follow_field_order() -> None:
    assert tuple(template_headers()) == FIELD_NAMES


@pytest.mark.parametrize(("field", "header"), HEADERS.items())
def test_header_text(field: str, header: str) -> None:
    assert template_headers()[field] == header


@pytest.fixture
def chinese_app(tmp_path: Path) -> Flask:
    """Return an app whose zh_CN catalog translates the field label "Name"."""
    catalog = Catalog(locale="zh_CN")
    catalog.add("Name", "姓名")
    # Babel names the zh_CN locale "zh_Hans_CN" when it looks for catalogs.
    folder = tmp_path / str(Locale.parse("zh_CN")) / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with (folder / "messages.mo").open("wb") as stream:
        write_mo(stream, catalog)

    app = Flask(__name__)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(tmp_path)
    Babel(app)
    return app


def test_chinese_app_translates_labels(chinese_app: Flask) -> None:
    with chinese_app.test_request_context(), force_locale("zh_CN"):
        assert str(FIELDS_BY_NAME["name"].label) == "姓名"


def test_headers_ignore_interface_language(chinese_app: Flask) -> None:
    with chinese_app.test_request_context(), force_locale("zh_CN"):
        assert template_headers() == HEADERS


# --- .xlsx ----------------------------------------------------------------


def test_xlsx_sheet_names(xlsx_path: Path) -> None:
    assert load_workbook(xlsx_path).sheetnames == ["Contacts", "说明 Help"]


def test_xlsx_header_row(contacts_sheet: Worksheet) -> None:
    header = [cell.value for cell in contacts_sheet[1]]
    assert header == list(HEADERS.values())


def test_xlsx_has_one_example_row(contacts_sheet: Worksheet) -> None:
    assert contacts_sheet.max_row == 2


@pytest.mark.parametrize(("field", "value"), EXAMPLE_TEXT.items())
def test_xlsx_example_value(contacts_sheet: Worksheet, field: str, value: str) -> None:
    assert contacts_sheet.cell(2, column_of(field)).value == value


@pytest.mark.parametrize("field", ["mobile", "phone", "qq", "postcode"])
def test_xlsx_example_digits_are_text(contacts_sheet: Worksheet, field: str) -> None:
    assert contacts_sheet.cell(2, column_of(field)).data_type == "s"


def test_xlsx_example_birthday_is_date(contacts_sheet: Worksheet) -> None:
    cell = contacts_sheet.cell(2, column_of("birthday"))
    assert cell.value == datetime(1988, 5, 20)
    assert cell.number_format == "yyyy-mm-dd"


@pytest.mark.parametrize("field", ["mobile", "phone", "qq", "postcode", "name"])
def test_xlsx_text_column_format(contacts_sheet: Worksheet, field: str) -> None:
    letter = contacts_sheet.cell(1, column_of(field)).column_letter
    assert contacts_sheet.column_dimensions[letter].number_format == "@"


def test_xlsx_birthday_column_format(contacts_sheet: Worksheet) -> None:
    letter = contacts_sheet.cell(1, column_of("birthday")).column_letter
    assert contacts_sheet.column_dimensions[letter].number_format == "yyyy-mm-dd"


def test_xlsx_header_is_frozen(contacts_sheet: Worksheet) -> None:
    assert contacts_sheet.freeze_panes == "A2"


def test_help_header_row(help_sheet: Worksheet) -> None:
    header = [cell.value for cell in help_sheet[1]]
    assert header == ["列标题 Column", "说明", "Description", "示例 Example"]


def test_help_row_per_column(help_sheet: Worksheet) -> None:
    headers = [row[0].value for row in help_sheet.iter_rows(min_row=2)]
    assert headers == list(HEADERS.values())


@pytest.mark.parametrize("field", [*PHONE_FIELD_NAMES, "qq", "postcode"])
def test_help_says_digits_need_text(help_sheet: Worksheet, field: str) -> None:
    row = help_sheet[column_of(field) + 1]
    assert "文本格式" in row[1].value
    assert "formatted as Text" in row[2].value


def test_help_example_birthday(help_sheet: Worksheet) -> None:
    row = help_sheet[column_of("birthday") + 1]
    assert row[3].value == "1988-05-20"


def test_help_cells_filled(help_sheet: Worksheet) -> None:
    empty = [
        cell.coordinate
        for row in help_sheet.iter_rows()
        for cell in row
        if not cell.value
    ]
    assert empty == []


# --- .txt -----------------------------------------------------------------


def test_txt_starts_with_bom_comment(txt_bytes: bytes) -> None:
    assert txt_bytes.startswith(BOM + b"# ")


def test_txt_comment_is_one_line(txt_bytes: bytes) -> None:
    lines = txt_lines(txt_bytes)
    assert lines[0].startswith("# ")
    assert not lines[1].startswith("#")


def test_txt_comment_is_bilingual(txt_bytes: bytes) -> None:
    comment = txt_lines(txt_bytes)[0]
    assert "联系人" in comment
    assert "One contact per line" in comment


def test_txt_header_row(txt_bytes: bytes) -> None:
    assert txt_lines(txt_bytes)[1] == "\t".join(HEADERS.values())


def test_txt_example_row(txt_bytes: bytes) -> None:
    row = next(csv.reader([txt_lines(txt_bytes)[2]], dialect=csv.excel_tab))
    example = dict(zip(HEADERS, row, strict=True))
    assert {field: example[field] for field in EXAMPLE_TEXT} == EXAMPLE_TEXT
    assert example["birthday"] == "1988-05-20"


def test_txt_ends_after_example(txt_bytes: bytes) -> None:
    assert txt_lines(txt_bytes)[3:] == [""]


def test_txt_to_stream(txt_bytes: bytes) -> None:
    stream = io.BytesIO()
    write_template(stream, "txt")
    assert stream.getvalue() == txt_bytes


def test_template_unknown_kind(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_template(tmp_path / "a.csv", "csv")
