"""Import template files: an .xlsx workbook and a tab-separated .txt file.

Both contain a header row with every contact field and one example row. The
.xlsx file has them on its "Contacts" sheet and explains each column on a
second sheet, and the .txt file explains the columns in a "# " line first.
The headers read "中文(English)", for example "姓名(Name)", in every interface
language, so the importer can match them with fixed synonyms.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import force_locale
from openpyxl import Workbook

from crm_web.services.exporting import (
    DATE_FORMAT,
    TEXT_FORMAT,
    Target,
    add_sheet,
    open_binary,
    open_text,
    write_text_rows,
)
from crm_web.services.fields import CONTACT_FIELDS, Field

TEMPLATE_KINDS = ("xlsx", "txt")
CONTACTS_SHEET_TITLE = "Contacts"
HELP_SHEET_TITLE = "说明 Help"

# Fields whose values are digits that Excel would turn into numbers, dropping
# leading zeros and the digits of long numbers past the 15th.
_DIGIT_FIELDS = ("mobile", "phone", "whatsapp", "qq", "postcode")
_TEXT_NOTE_ZH = "本列必须为文本格式，否则 Excel 会去掉开头的 0 并改动长号码。"
_TEXT_NOTE_EN = (
    " This column must be formatted as Text, or Excel drops leading zeros"
    " and changes long numbers."
)

_TXT_COMMENT = (
    "# 每行一个联系人，列之间用 Tab 分隔。电话、QQ、邮编按文本填写，生日写成 "
    "YYYY-MM-DD。本行说明不会导入。"
    " One contact per line, with columns separated by tabs. Write phone "
    "numbers, QQ and postcodes as text, and birthdays as YYYY-MM-DD. This "
    "line is not imported."
)


@dataclass(frozen=True)
class _Column:
    chinese: str
    help_zh: str
    help_en: str
    example: str | date


_COLUMNS: dict[str, _Column] = {
    "name": _Column("姓名", "联系人的姓名。", "The contact's full name.", "张小明"),
    "company": _Column(
        "公司", "公司或单位名称。", "Company or organisation.", "宁波东方贸易有限公司"
    ),
    "job_title": _Column("职位", "职位或头衔。", "Job title.", "销售经理"),
    "category": _Column(
        "分类",
        "联系人分类，如客户、供应商。",
        "Category, such as Customer or Supplier.",
        "客户",
    ),
    "mobile": _Column("手机", "手机号码。", "Mobile phone number.", "13800138000"),
    "phone": _Column(
        "电话", "固定电话，可带区号。", "Landline, with area code.", "0574-87654321"
    ),
    "email": _Column(
        "邮箱", "电子邮箱地址。", "E-mail address.", "zhangxm@example.com"
    ),
    "wechat": _Column("微信", "微信号。", "WeChat ID.", "zhangxm_nb"),
    "qq": _Column("QQ号", "QQ 号码。", "QQ number.", "12345678"),
    "whatsapp": _Column(
        "WhatsApp",
        "WhatsApp 号码，建议带国家代码。",
        "WhatsApp number, best with the country code.",
        "+86 138 0013 8000",
    ),
    "skype": _Column("Skype", "Skype 账号。", "Skype name.", "live:zhangxm_nb"),
    "country": _Column("国家", "国家或地区。", "Country or region.", "中国"),
    "province": _Column("省份/州", "省、州或地区。", "Province or state.", "浙江"),
    "city": _Column("城市", "城市。", "City.", "宁波"),
    "address": _Column(
        "地址", "详细地址。", "Street address.", "浙江省宁波市鄞州区天童南路 588 号"
    ),
    "postcode": _Column("邮编", "邮政编码。", "Postcode.", "315100"),
    "website": _Column("网站", "网址。", "Website address.", "https://www.example.com"),
    "source": _Column(
        "来源", "从哪里认识的客户。", "Where the contact came from.", "广交会"
    ),
    "level": _Column(
        "级别", "客户级别，如 A、B、C。", "Level, such as A, B or C.", "A"
    ),
    "birthday": _Column(
        "生日",
        "生日，日期格式 YYYY-MM-DD。",
        "Birthday, as a date (YYYY-MM-DD).",
        date(1988, 5, 20),
    ),
    "notes": _Column(
        "备注",
        "备注，可以有多行。",
        "Notes, which may span several lines.",
        "2024 年秋季广交会认识，关注 LED 灯具。",
    ),
    "tags": _Column(
        "标签",
        "标签，用逗号分隔多个。",
        "Tags, separated by commas.",
        "广交会,LED",
    ),
}


def template_headers() -> dict[str, str]:
    """Return the template's header for each contact field, in field order.

    A header reads "中文(English)", or only the name when both are the same.
    """
    with force_locale("en"):
        return {field.name: _header(field) for field in CONTACT_FIELDS}


def _header(field: Field) -> str:
    chinese = _COLUMNS[field.name].chinese
    english = str(field.label)
    if chinese == english:
        return chinese
    return f"{chinese}({english})"


def write_template(target: Target, kind: str) -> None:
    """Write the import template of ``kind`` ('xlsx' or 'txt') to ``target``."""
    if kind == "xlsx":
        _write_xlsx_template(target)
    elif kind == "txt":
        _write_txt_template(target)
    else:
        message = f"unknown template kind {kind!r}; expected {TEMPLATE_KINDS}"
        raise ValueError(message)


def _contact_columns() -> list[tuple[str, str]]:
    return list(template_headers().items())


def example_values() -> dict[str, object]:
    """Return the example row's values by field name."""
    return _example_row()


def _example_row() -> dict[str, object]:
    return {name: column.example for name, column in _COLUMNS.items()}


def _write_txt_template(target: Target) -> None:
    with open_text(target) as stream:
        stream.write(_TXT_COMMENT + "\r\n")
        write_text_rows(stream, "txt", _contact_columns(), [_example_row()])


def _write_xlsx_template(target: Target) -> None:
    # Excel gives cells typed later in a column the column's number format,
    # so phone numbers added to the template keep their leading zeros too.
    formats = [
        DATE_FORMAT if field.kind == "date" else TEXT_FORMAT for field in CONTACT_FIELDS
    ]
    with open_binary(target) as stream:
        workbook = Workbook(write_only=True)
        add_sheet(
            workbook,
            CONTACTS_SHEET_TITLE,
            _contact_columns(),
            [_example_row()],
            column_formats=formats,
        )
        add_sheet(
            workbook, HELP_SHEET_TITLE, _HELP_COLUMNS, _help_rows(), widths=_HELP_WIDTHS
        )
        workbook.save(stream)


_HELP_COLUMNS = (
    ("header", "列标题 Column"),
    ("help_zh", "说明"),
    ("help_en", "Description"),
    ("example", "示例 Example"),
)
_HELP_WIDTHS = (24, 48, 60, 36)


def _help_rows() -> list[dict[str, object]]:
    headers = template_headers()
    return [_help_row(name, header) for name, header in headers.items()]


def _help_row(name: str, header: str) -> dict[str, object]:
    column = _COLUMNS[name]
    help_zh, help_en = column.help_zh, column.help_en
    if name in _DIGIT_FIELDS:
        help_zh += _TEXT_NOTE_ZH
        help_en += _TEXT_NOTE_EN
    example = column.example
    if isinstance(example, date):
        example = example.isoformat()
    return {
        "header": header,
        "help_zh": help_zh,
        "help_en": help_en,
        "example": example,
    }
