import datetime

import pytest

from crm_web.services.fields import CONTACT_FIELDS, FIELD_NAMES
from crm_web.services.importing.headers import (
    SYNONYMS,
    find_header_row,
    map_headers,
    match_header,
    normalize_header,
)


def test_synonyms_cover_every_field():
    assert set(SYNONYMS) == set(FIELD_NAMES)


def test_synonyms_name_one_field_each():
    owners: dict[str, list[str]] = {}
    for field, spellings in SYNONYMS.items():
        for spelling in spellings:
            owners.setdefault(normalize_header(spelling), []).append(field)
    shared = {key: fields for key, fields in owners.items() if len(set(fields)) > 1}
    assert shared == {}


@pytest.mark.parametrize("field", CONTACT_FIELDS, ids=lambda field: field.name)
def test_field_name_matches_itself(field):
    assert match_header(field.name) == field.name


@pytest.mark.parametrize("field", CONTACT_FIELDS, ids=lambda field: field.name)
def test_field_label_matches_field(field):
    assert match_header(str(field.label)) == field.name


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("姓名", "name"),
        ("名字", "name"),
        ("联系人", "name"),
        ("客户名称", "company"),
        ("Full name", "name"),
        ("Contact", "name"),
        ("公司名称", "company"),
        ("单位", "company"),
        ("Organization", "company"),
        ("职务", "job_title"),
        ("Job Title", "job_title"),
        ("客户分类", "category"),
        ("Group", "category"),
        ("手机号码", "mobile"),
        ("移动电话", "mobile"),
        ("Cellphone", "mobile"),
        ("座机", "phone"),
        ("办公电话", "phone"),
        ("Tel", "phone"),
        ("电子邮件", "email"),
        ("E-mail", "email"),
        ("e_mail", "email"),
        ("微信号", "wechat"),
        ("QQ号", "qq"),
        ("WhatsApp", "whatsapp"),
        ("Skype", "skype"),
        ("国家/地区", "country"),
        ("省份", "province"),
        ("State", "province"),
        ("城市", "city"),
        ("详细地址", "address"),
        ("邮政编码", "postcode"),
        ("Postal code", "postcode"),
        ("网址", "website"),
        ("URL", "website"),
        ("客户来源", "source"),
        ("客户等级", "level"),
        ("Grade", "level"),
        ("出生日期", "birthday"),
        ("Date of birth", "birthday"),
        ("备注", "notes"),
        ("Remark", "notes"),
        ("标签", "tags"),
        ("電話", "phone"),
        ("手機", "mobile"),
    ],
)
def test_match_header_synonym(header, field):
    assert match_header(header) == field


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("  姓名  ", "姓名"),
        ("*姓名", "姓名"),
        ("姓名*", "姓名"),
        ("姓名：", "姓名"),
        ("Name:", "name"),
        ("手机(必填)", "手机"),
        ("手机（必填）", "手机"),
        ("手机【选填】", "手机"),
        ("邮箱 (optional)", "邮箱"),
        ("生日（格式：2024-01-01）", "生日"),
        ("（姓名）", "姓名"),
        ("Ｅ－ｍａｉｌ", "email"),
        ("E MAIL", "email"),
        ("姓\u3000名", "姓名"),
        ("客户联系电话（办公室）", "客户联系电话(办公室)"),
    ],
)
def test_normalize_header(header, expected):
    assert normalize_header(header) == expected


@pytest.mark.parametrize(
    "header",
    ["客户联系电话（办公室）", "电话号码2", "名", "Name of spouse", "手机号码备用", ""],
)
def test_match_header_is_not_prefix_based(header):
    assert match_header(header) is None


def test_map_headers_first_duplicate_wins():
    assert map_headers(["姓名", "手机", "名字", "Mobile"]) == [
        "name",
        "mobile",
        None,
        None,
    ]


def test_map_headers_keeps_similar_long_headers_apart():
    headers = ["姓名", "客户联系电话（办公室）", "客户联系电话（家庭）"]
    assert map_headers(headers) == ["name", None, None]


def test_map_headers_unknown_column():
    assert map_headers(["姓名", "爱好", "手机"]) == ["name", None, "mobile"]


HEADER = ["姓名", "公司", "手机", "邮箱"]
DATA = ["张三", "某某科技有限公司", "15555500101", "zs@example.com"]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([HEADER, DATA], 0),
        ([["2024年客户名单", "", "", ""], HEADER, DATA], 1),
        ([["2024年客户名单"], [], HEADER, DATA], 2),
        ([["", "", "", ""], ["# 带 * 的列必填", "", "", ""], HEADER, DATA], 2),
        ([["# 姓名", "手机", "公司", "邮箱"], HEADER, DATA], 1),
        ([["导出时间", "2024-03-01", "", ""], HEADER, DATA], 1),
        ([["姓名", "备注", "", ""], HEADER, DATA], 1),
        ([HEADER, HEADER, DATA], 0),
    ],
    ids=[
        "first-row",
        "merged-title",
        "title-and-blank",
        "comment",
        "comment-with-header-words",
        "export-info",
        "fewer-matches-first",
        "tie-earlier",
    ],
)
def test_find_header_row(rows, expected):
    assert find_header_row(rows) == expected


def test_find_header_row_fallback_to_labels():
    rows = [
        ["客户信息表", "", ""],
        ["", "", ""],
        ["甲", "乙", "丙"],
        ["1", "2", "3"],
    ]
    assert find_header_row(rows) == 2


def test_find_header_row_fallback_skips_numbers():
    rows = [
        ["1", "2024-03-01", datetime.date(2024, 3, 1)],
        ["Alpha", "Beta", "Gamma"],
    ]
    assert find_header_row(rows) == 1


def test_find_header_row_scans_thirty_rows():
    rows = [["x", "y"] for _ in range(30)] + [HEADER]
    assert find_header_row(rows) == 0


def test_find_header_row_empty():
    assert find_header_row([]) == 0
