"""Sales list filters by contact (the smart query) and by folded text."""

from __future__ import annotations

from typing import Any

import pytest

from crm_web.data import sales as sale_data
from crm_web.data.db import Database
from crm_web.services import categories
from crm_web.services import contacts as contact_service
from crm_web.services import sales as sale_service


def add_contact(db: Database, **values: str) -> str:
    contact = contact_service.parse_form(values)
    contact_id = contact_service.create_contact(
        db, contact, owner="T", region="CN", allow_duplicate=True
    )
    return str(contact_service.require_contact(db, contact_id)["uuid"])


def add_sale(db: Database, **values: Any) -> None:
    form = {"sold_on": "2026-03-15", "currency": "CNY", **values}
    sale_service.create_sale(db, sale_service.parse_form(form), owner="T")


def items(db: Database, **args: str) -> list[str]:
    filters, errors = sale_service.parse_filters(args)
    assert errors == []
    filters = sale_service.match_contact_filter(db, filters)
    rows, total = sale_service.list_sales(
        db, filters, sort="item", descending=False, page=1, page_size=100
    )
    assert total == len(rows)
    return [row["item"] for row in rows]


@pytest.fixture
def three_contacts(db: Database) -> Database:
    zhang = add_contact(db, name="张小明", mobile="13812345678")
    muller = add_contact(db, name="Jürgen Müller", company="Müller GmbH")
    add_contact(db, name="李华", email="li@example.com")
    add_sale(db, item="A", contact_uuid=zhang)
    add_sale(db, item="B", contact_uuid=muller)
    add_sale(db, item="C")
    return db


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("zxm", ["A"]),
        ("zhangxiaoming", ["A"]),
        ("张小明", ["A"]),
        ("小明", ["A"]),
        ("muller", ["B"]),
        ("MÜLLER", ["B"]),
        ("gmbh", ["B"]),
        ("13812345678", ["A"]),
        ("138 1234 5678", ["A"]),
        ("li@example", []),
        ("nobody", []),
    ],
)
def test_contact_filter_uses_smart_query(
    three_contacts: Database, typed: str, found: list[str]
) -> None:
    assert items(three_contacts, contact=typed) == found


def test_contact_filter_with_category(db: Database) -> None:
    category = categories.create_category(db, "VIP", owner="T")
    zhang = add_contact(db, name="张小明", category_uuid=category)
    zhao = add_contact(db, name="赵小梅")
    add_sale(db, item="A", contact_uuid=zhang)
    add_sale(db, item="B", contact_uuid=zhao)
    assert items(db, contact="zx") == ["A", "B"]
    assert items(db, contact="zx", category=category) == ["A"]


def test_many_matching_contacts_filtered(db: Database) -> None:
    # More contacts than fit in bound parameters are written as literals.
    count = sale_data.BOUND_CONTACTS_MAX + 5
    for number in range(count):
        add_contact(db, name=f"Wang {number:04d}")
    rows = db.query("SELECT uuid FROM contacts ORDER BY id")
    add_sale(db, item="first", contact_uuid=rows[0]["uuid"])
    add_sale(db, item="last", contact_uuid=rows[-1]["uuid"])
    add_sale(db, item="none")
    assert items(db, contact="wang") == ["first", "last"]


@pytest.mark.parametrize("typed", ["LED", "led", "ＬＥＤ", "ｌｅｄ", "Led"])
def test_item_filter_folds_width_and_case(db: Database, typed: str) -> None:
    add_sale(db, item="LED lamp")
    add_sale(db, item="ＬＥＤ灯")
    add_sale(db, item="Bulb")
    assert items(db, item=typed) == ["LED lamp", "ＬＥＤ灯"]


def test_notes_filter_folds_width(db: Database) -> None:
    add_sale(db, item="A", notes="Paid by T/T")
    assert items(db, notes="Ｔ／Ｔ") == ["A"]
