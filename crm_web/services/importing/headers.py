"""Find the header row of an imported table and map its columns to fields.

A header matches a contact field only when its normalized text equals one of
the field's spellings in ``SYNONYMS``. Prefix or fuzzy matching would fold
"客户联系电话（办公室）" and "客户联系电话（家庭）" into one column and lose one
of them.
"""

from __future__ import annotations

import re
import unicodedata

from crm_web.services.importing.values import Cell, TruncatedNumber, parse_date

# fmt: off
SYNONYMS: dict[str, tuple[str, ...]] = {
    "name": (
        "name", "姓名", "名字", "联系人", "联系人姓名", "客户姓名",
        "称呼", "收货人", "收货人姓名", "收件人", "收件人姓名", "买家姓名",
        "Full name", "Contact", "Contact name", "Contact person",
    ),
    "company": (
        "company", "公司", "公司名称", "公司名", "单位", "单位名称", "工作单位",
        "企业", "企业名称", "所属公司", "客户公司", "客户名称", "客户名",
        "Customer name", "Company name",
        "Organization", "Organisation", "Employer",
    ),
    "job_title": (
        "job_title", "职位", "职务", "岗位", "头衔", "职称", "職位", "職稱",
        "Job title", "Position", "Role", "Designation",
    ),
    "category": (
        "category", "分类", "类别", "客户分类", "客户类别", "客户类型", "类型",
        "分组", "客户分组", "Group", "Type", "Customer type",
    ),
    "mobile": (
        "mobile", "手机", "手机号", "手机号码", "移动电话", "联系手机",
        "手機", "手機號碼", "行動電話", "手提电话", "Mobile phone",
        "Mobile number", "Cell", "Cellphone", "Cell phone",
    ),
    "phone": (
        "phone", "电话", "电话号码", "固话", "固定电话", "座机", "办公电话",
        "公司电话", "工作电话", "联系电话", "電話", "Phone number", "Tel",
        "Telephone", "Office phone", "Work phone", "Landline",
        "Business phone", "Company main phone", "Home phone",
    ),
    "email": (
        "email", "邮箱", "电子邮箱", "电子邮件", "邮件", "邮箱地址", "电邮",
        "郵箱", "電子郵件", "E-mail", "Mail", "Email address",
        "E-mail address", "个人邮箱", "企业邮箱", "工作邮箱", "邮件地址",
    ),
    "wechat": (
        "wechat", "微信", "微信号", "微信号码", "微信ID", "WeChat ID", "Weixin",
    ),
    "qq": ("qq", "QQ号", "QQ号码"),
    "whatsapp": ("whatsapp", "WhatsApp number", "WhatsApp号码"),
    "skype": ("skype", "Skype ID", "Skype name", "Skype账号"),
    "country": (
        "country", "国家", "国家/地区", "国别", "所在国家", "國家",
        "Country/Region", "Nation",
    ),
    "province": (
        "province", "省", "省份", "州", "省/州", "省份/州", "所在省份", "省/直辖市",
        "State", "Province/State", "State/Province",
    ),
    "city": ("city", "城市", "市", "所在城市", "Town"),
    "address": (
        "address", "地址", "详细地址", "联系地址", "通讯地址", "公司地址",
        "街道地址", "通訊地址", "收货地址", "收件地址", "送货地址",
        "Street", "Street address", "Mailing address", "Business street",
    ),
    "postcode": (
        "postcode", "邮编", "邮政编码", "郵遞區號", "郵政編碼", "Zip", "Zip code",
        "Postal code", "Post code", "ZIP/Postal code",
    ),
    "website": (
        "website", "网址", "网站", "主页", "公司网址", "公司网站", "官网", "網址",
        "網站", "Web site", "URL", "Homepage", "Home page", "Web",
    ),
    "source": (
        "source", "来源", "客户来源", "渠道", "来源渠道", "获客渠道", "來源",
        "Lead source", "Channel",
    ),
    "level": (
        "level", "级别", "等级", "客户等级", "客户级别", "星级", "級別", "等級",
        "Grade", "Rating",
    ),
    "birthday": (
        "birthday", "生日", "出生日期", "出生年月日", "Birth date", "Birthdate",
        "Date of birth", "DOB",
    ),
    "notes": (
        "notes", "备注", "说明", "备注信息", "附注", "描述", "备忘", "備註",
        "Note", "Remark", "Remarks", "Comments", "Comment", "Description",
        "Memo",
    ),
    "tags": ("tags", "标签", "客户标签", "標籤", "Tag", "Labels"),
}
# fmt: on

_REQUIRED_MARKS = str.maketrans("", "", "*★※")
# Spaces and the punctuation that spells one word several ways:
# "E-mail", "e_mail", "Province / State".
_IGNORED = re.compile(r"[\s\-_./]+")
_TRAILING_COLON = re.compile(r"[:：]+$")
_HINT_WORDS = (
    "必填|选填|可选|非必填|必须|必需|可不填|required|optional|mandatory"
    "|格式|例|如|e\\.g\\.|eg|format"
)
# A bracketed hint at the end: "手机(必填)", "生日（格式：2024-01-01）".
_TRAILING_HINT = re.compile(
    rf"\s*[(\[【<]\s*(?:{_HINT_WORDS})[^)\]】>]*[)\]】>]\s*$", re.IGNORECASE
)
_ENCLOSED = re.compile(r"[(\[【<](.*)[)\]】>]")

_HEADER_SCAN_ROWS = 30


def _build_lookup() -> dict[str, str]:
    lookup: dict[str, str] = {}
    for field, spellings in SYNONYMS.items():
        for spelling in spellings:
            lookup.setdefault(normalize_header(spelling), field)
    return lookup


def normalize_header(text: str) -> str:
    """Fold a header's width, case, marks and hints so spellings compare equal."""
    value = unicodedata.normalize("NFKC", text).casefold().strip()
    value = value.translate(_REQUIRED_MARKS).strip()
    value = _TRAILING_COLON.sub("", value).strip()
    while (stripped := _TRAILING_HINT.sub("", value)) != value:
        value = stripped
    if match := _ENCLOSED.fullmatch(value):
        value = match[1]
    return _IGNORED.sub("", value)


# A bilingual header such as the template's "姓名(Name)" or "手机 / Mobile".
# The bracket form is tried first: "省份/州(Province/State)" has a slash inside.
_BILINGUAL = (
    re.compile(r"(.+?)\s*[(\[【]\s*(.+?)\s*[)\]】]\s*"),
    re.compile(r"(.+?)\s*[/|]\s*(.+)"),
)


def match_header(text: str) -> str | None:
    """Return the contact field a header names, or None.

    A two-part header ("姓名(Name)") matches only when both parts name the
    same field, so "电话（办公室）" and "电话（家庭）" never become Phone.
    """
    field = _LOOKUP.get(normalize_header(text))
    if field:
        return field
    folded = unicodedata.normalize("NFKC", text).strip()
    for pattern in _BILINGUAL:
        if parts := pattern.fullmatch(folded):
            first = _LOOKUP.get(normalize_header(parts[1]))
            second = _LOOKUP.get(normalize_header(parts[2]))
            if first and first == second:
                return first
    return None


# Columns that each hold part of a name (Outlook's First/Middle/Last Name):
# all of them map to the one name field and are joined in column order.
NAME_PARTS = frozenset(
    normalize_header(h)
    for h in (
        "First name",
        "Given name",
        "Middle name",
        "Last name",
        "Family name",
        "Surname",
    )
)


def map_headers(headers: list[str]) -> list[str | None]:
    """Map each column to a field. A field named twice keeps its first column.

    Name parts are the exception: every one of them maps to the name.
    """
    fields: list[str | None] = []
    has_full_name = any(
        match_header(h) == "name" and not _is_name_part(h) for h in headers
    )
    for header in headers:
        if _is_name_part(header):
            fields.append(None if has_full_name else "name")
            continue
        field = match_header(header)
        fields.append(None if field in fields else field)
    return fields


def _is_name_part(header: str) -> bool:
    return normalize_header(header) in NAME_PARTS


def find_header_row(rows: list[list[Cell]]) -> int:
    """Return the index of the row most likely to contain the column headers."""
    candidates = _candidate_rows(rows[:_HEADER_SCAN_ROWS])
    best_index, best_count = 0, 0
    for index, row in candidates:
        count = _matched_field_count(row)
        if count > best_count:
            best_index, best_count = index, count
    if best_count:
        return best_index
    return _first_label_row(candidates)


def _candidate_rows(rows: list[list[Cell]]) -> list[tuple[int, list[Cell]]]:
    """Return the rows that may be headers: not blank, '#' comments or titles."""
    width = max((_filled_width(row) for row in rows), default=0)
    candidates = []
    for index, row in enumerate(rows):
        filled = [cell for cell in row if _is_filled(cell)]
        if not filled or _is_comment(filled[0]):
            continue
        if len(filled) == 1 and width > 1:
            continue
        candidates.append((index, row))
    return candidates


def _matched_field_count(row: list[Cell]) -> int:
    fields = {match_header(cell) for cell in row if isinstance(cell, str)}
    fields.discard(None)
    return len(fields)


def _first_label_row(candidates: list[tuple[int, list[Cell]]]) -> int:
    for index, row in candidates:
        labels = sum(1 for cell in row if _is_label(cell))
        if labels * 2 > _filled_width(row):
            return index
    return candidates[0][0] if candidates else 0


def _filled_width(row: list[Cell]) -> int:
    filled = [index for index, cell in enumerate(row) if _is_filled(cell)]
    return filled[-1] + 1 if filled else 0


def _is_filled(cell: Cell) -> bool:
    return not isinstance(cell, str) or bool(cell.strip())


def _is_comment(cell: Cell) -> bool:
    return isinstance(cell, str) and cell.lstrip().startswith("#")


def _is_label(cell: Cell) -> bool:
    """Return whether a cell is text that could be a header, not a number or date."""
    if not isinstance(cell, str) or isinstance(cell, TruncatedNumber):
        return False
    text = cell.strip()
    return bool(text) and not _is_number(text) and parse_date(text) is None


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


_LOOKUP = _build_lookup()
