"""The smart query, on SQLite and on MariaDB: same rows on both."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from crm_web.data.db import Database
from crm_web.services import categories as category_service
from crm_web.services import contacts as service
from crm_web.services.search import Filters, search_contacts

PEOPLE = [
    {
        "name": "张小明",
        "company": "宁波东方科技有限公司",
        "mobile": "+86 155-5550-0102",
        "email": "zxm@dongfang.example",
        "city": "宁波",
        "country": "中国",
        "tags": "VIP",
    },
    {
        "name": "李华",
        "company": "义乌小商品贸易",
        "phone": "0579-8555 1234",
        "city": "义乌",
        "country": "中国",
        "tags": "展会, VIP",
    },
    {
        "name": "Alice Smith",
        "company": "Acme Trading Ltd",
        "whatsapp": "+1 415 555 2671",
        "email": "alice@acme.example",
        "city": "San Francisco",
        "country": "USA",
    },
    {"name": "吕布", "company": "三国科技", "notes": "买过 ３ 台设备"},
]


@pytest.fixture
def people(db: Database) -> dict[str, int]:
    ids = {}
    for person in PEOPLE:
        ids[person["name"]] = service.create_contact(
            db,
            service.parse_form(person),
            owner="Admin",
            region="CN",
            allow_duplicate=True,
        )
    return ids


def names(db: Database, query: str, filters: Filters | None = None) -> list[str]:
    page = search_contacts(db, query, filters, limit=100)
    by_id = {}
    for person_id in page.ids:
        row = service.require_contact(db, person_id)
        by_id[person_id] = row["name"]
    return [by_id[i] for i in page.ids]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("小明", ["张小明"]),
        ("科技", ["吕布", "张小明"]),
        ("zxm", ["张小明"]),
        ("zhangxiaoming", ["张小明"]),
        ("ZhangXiaoMing", ["张小明"]),
        ("lvbu", ["吕布"]),
        ("15555500102", ["张小明"]),
        ("155 5550 0102", ["张小明"]),
        ("5550-0102", ["张小明"]),
        ("+8615555500102", ["张小明"]),
        ("85551234", ["李华"]),
        ("057985551234", ["李华"]),
        ("4155552671", ["Alice Smith"]),
        ("ACME.EX", ["Alice Smith"]),
        ("acme trading", ["Alice Smith"]),
        ("3 台", ["吕布"]),
        ("ｖｉｐ", ["李华", "张小明"]),
        ("nobody-matches", []),
    ],
)
def test_query_finds(
    db: Database, people: dict[str, int], query: str, expected: list[str]
) -> None:
    assert names(db, query) == expected


def test_empty_query_lists_all_in_pinyin_order(
    db: Database, people: dict[str, int]
) -> None:
    assert names(db, "") == ["Alice Smith", "李华", "吕布", "张小明"]


def test_filter_by_tag_and_city(db: Database, people: dict[str, int]) -> None:
    assert names(db, "", Filters(tag="vip")) == ["李华", "张小明"]
    assert names(db, "", Filters(city="义乌")) == ["李华"]


def test_filter_missing_phone(db: Database, people: dict[str, int]) -> None:
    assert names(db, "", Filters(missing="phone")) == ["Alice Smith", "吕布"]


def test_filter_created_between(db: Database, people: dict[str, int]) -> None:
    today = date.today()
    assert len(names(db, "", Filters(created_from=today))) == 4
    assert names(db, "", Filters(created_to=today - timedelta(days=1))) == []


def test_filter_category_and_rename(db: Database, people: dict[str, int]) -> None:
    vip = category_service.create_category(db, "重点客户", owner="Admin")
    form = service.parse_form({**PEOPLE[3], "category_uuid": vip})
    service.update_contact(db, people["吕布"], form, version=1, region="CN")
    assert names(db, "", Filters(category=vip)) == ["吕布"]
    assert names(db, "重点") == ["吕布"]
    category_service.rename_category(db, vip, "大客户")
    assert names(db, "大客户") == ["吕布"]
    assert names(db, "重点") == []


def test_deleted_contact_leaves_results(db: Database, people: dict[str, int]) -> None:
    service.set_deleted(db, people["李华"], deleted=True)
    assert names(db, "义乌") == []


def test_paging_counts_all_matches(db: Database, people: dict[str, int]) -> None:
    page = search_contacts(db, "", None, offset=1, limit=2)
    assert page.total == 4
    assert len(page.ids) == 2


@pytest.mark.parametrize(
    ("stored", "query"),
    [
        ("Jürgen Müller", "muller"),
        ("买买提·艾力", "买买提艾力"),
        ("Zoë O'Brien", "obrien"),
    ],
)
def test_query_ignores_accents_and_name_marks(
    db: Database, stored: str, query: str
) -> None:
    service.create_contact(
        db, service.parse_form({"name": stored}), owner="Admin", region="CN"
    )
    assert names(db, query) == [stored]


def test_city_filter_matches_part(db: Database, people: dict[str, int]) -> None:
    assert names(db, "", Filters(city="san")) == ["Alice Smith"]
    assert names(db, "", Filters(country="us")) == ["Alice Smith"]


def test_record_separator_in_text_keeps_results_aligned(db: Database) -> None:
    for name, notes in (("Ann", "x\x1ey"), ("Bob", "qqq"), ("Cid", "w\x1e\x1ezz")):
        service.create_contact(db, service.parse_form({"name": name, "notes": notes}),
                               owner="Admin", region="CN")
    assert names(db, "qqq") == ["Bob"]
    assert names(db, "zz") == ["Cid"]
