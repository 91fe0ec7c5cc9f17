"""Two sessions edit the same record: the second save shows both versions.

Each test runs on SQLite and on MariaDB, with two test clients of one app
standing for two people at two terminals of the same database.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient

from crm_web.config import Settings, load_settings
from crm_web.data import appointments as appointment_data
from crm_web.data import pick_lists as pick_data
from crm_web.data.db import Database
from crm_web.errors import VersionConflictError
from crm_web.services import appointments as appointment_service
from crm_web.services import comm_log as log_service
from crm_web.services import contacts as contact_service
from crm_web.services import sales as sale_service
from crm_web.services.conflicts import compare_contact, compare_sale


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(data_dir=tmp_path / "data", database_url=database_url)


@pytest.fixture
def other(app: Flask, client: FlaskClient) -> FlaskClient:
    """A second session on the same app and database, as ``client`` is."""
    return app.test_client()


@dataclass(frozen=True)
class Area:
    """How to add, edit and read back one kind of record."""

    name: str
    add: Callable[[FlaskClient], str]  # returns the id in the record's URL
    edit_url: str
    # (edit page, value) -> the fields its form posts, the value in one field
    form: Callable[[str, str], dict[str, str]]
    stored: Callable[[Database, str], str]


def add_contact(client: FlaskClient) -> str:
    response = client.post("/contacts/new", data={"name": "张伟", "city": "上海"})
    assert response.status_code == HTTPStatus.FOUND, response.data[:500]
    return str(response.headers["Location"].rsplit("/", 1)[-1])


def contact_form(_page: str, city: str) -> dict[str, str]:
    return {"name": "张伟", "city": city}


def stored_contact(db: Database, contact_id: str) -> str:
    return str(contact_service.require_contact(db, int(contact_id))["city"])


def add_sale(client: FlaskClient) -> str:
    response = client.post("/sales/new", data=sale_form("", "Steel pipe"))
    assert response.status_code == HTTPStatus.FOUND, response.data[:500]
    rows, _total = sale_service.list_sales(
        client.application.extensions["crm_db"],
        sale_service.SaleFilters(),
        sort="sold_on",
        descending=True,
        page=1,
        page_size=10,
    )
    return str(rows[0]["id"])


def sale_form(_page: str, item: str) -> dict[str, str]:
    return {
        "sold_on": "2026-03-15",
        "item": item,
        "quantity": "2",
        "unit_price": "10",
        "currency": "CNY",
        "status": "ordered",
    }


def stored_sale(db: Database, sale_id: str) -> str:
    return str(sale_service.require_sale(db, int(sale_id))["item"])


def add_entry(client: FlaskClient) -> str:
    contact_id = add_contact(client)
    form = {**entry_form("", "询价"), "contact_id": contact_id}
    response = client.post("/log/new", data=form)
    assert response.status_code == HTTPStatus.FOUND, response.data[:500]
    return str(response.headers["Location"].rsplit("/", 1)[-1])


def entry_form(page: str, title: str) -> dict[str, str]:
    contact = re.search(r'name="contact_uuid" value="([^"]*)"', page)
    return {
        "contact": "张伟",
        "contact_uuid": contact.group(1) if contact else "",
        "occurred_at": "2026-03-15T10:30",
        "channel": "wechat",
        "title": title,
        "content": "FOB price",
    }


def stored_entry(db: Database, entry_id: str) -> str:
    return str(log_service.require_entry(db, int(entry_id))["title"])


def add_appointment(client: FlaskClient) -> str:
    response = client.post("/appointments/new", data=appointment_form("", "拜访"))
    assert response.status_code == HTTPStatus.FOUND, response.data[:500]
    db = client.application.extensions["crm_db"]
    return str(appointment_service.all_appointments(db)[0]["uuid"])


def appointment_form(_page: str, title: str) -> dict[str, str]:
    return {"title": title, "starts_at_local": "2026-05-01T09:00", "repeat": "none"}


def stored_appointment(db: Database, uuid: str) -> str:
    return str(appointment_service.require_appointment(db, uuid)["title"])


AREAS = {
    "contact": Area(
        "contact", add_contact, "/contacts/{id}/edit", contact_form, stored_contact
    ),
    "sale": Area("sale", add_sale, "/sales/{id}/edit", sale_form, stored_sale),
    "log": Area("log", add_entry, "/log/{id}/edit", entry_form, stored_entry),
    "appointment": Area(
        "appointment",
        add_appointment,
        "/appointments/{id}/edit",
        appointment_form,
        stored_appointment,
    ),
}


def version_on(page: str) -> str:
    match = re.search(r'name="version" value="(\d+)"', page)
    assert match, "no version field on the page"
    return match.group(1)


def edit_form(
    area: Area, client: FlaskClient, record_id: str, value: str
) -> dict[str, str]:
    """Return what a session posts: its value and the version its page showed."""
    page = client.get(area.edit_url.format(id=record_id)).get_data(as_text=True)
    return {**area.form(page, value), "version": version_on(page)}


@dataclass
class Race:
    """Both sessions opened the record; A saved first, then B saved."""

    area: Area
    record_id: str
    response: Any  # B's response
    page: str


@pytest.fixture(params=list(AREAS))
def lost_race(
    request: pytest.FixtureRequest, client: FlaskClient, other: FlaskClient
) -> Race:
    area = AREAS[request.param]
    record_id = area.add(client)
    form_a = edit_form(area, client, record_id, "A的值")
    form_b = edit_form(area, other, record_id, "B的值")
    url = area.edit_url.format(id=record_id)
    first = client.post(url, data=form_a)
    assert first.status_code == HTTPStatus.FOUND, first.data[:500]
    second = other.post(url, data=form_b)
    return Race(area, record_id, second, second.get_data(as_text=True))


def test_second_save_is_409(lost_race: Race) -> None:
    assert lost_race.response.status_code == HTTPStatus.CONFLICT


def test_second_save_shows_saved_value(lost_race: Race) -> None:
    assert re.search(r'<td class="saved">A的值</td>', lost_race.page)


def test_second_save_shows_own_value(lost_race: Race) -> None:
    assert re.search(r'<td class="mine">B的值</td>', lost_race.page)


def test_second_save_marks_difference(lost_race: Race) -> None:
    assert '<tr class="differs">' in lost_race.page


def test_first_save_stays_stored(lost_race: Race, app_db: Database) -> None:
    assert lost_race.area.stored(app_db, lost_race.record_id) == "A的值"


def test_message_names_record(lost_race: Race) -> None:
    # A renamed every record but the contact, whose city changed.
    name = "张伟" if lost_race.area.name == "contact" else "A的值"
    expected = f"“{name}” was changed by someone else after you opened it"
    assert expected in lost_race.page


def test_form_keeps_unsaved_value(lost_race: Race) -> None:
    assert 'value="B的值"' in lost_race.page


def test_form_carries_saved_version(lost_race: Race, app_db: Database) -> None:
    assert version_on(lost_race.page) == "2"


def test_save_mine_anyway_overwrites(
    lost_race: Race, other: FlaskClient, app_db: Database
) -> None:
    area = lost_race.area
    form = {**edit_form(area, other, lost_race.record_id, "B的值")}
    form["version"] = version_on(lost_race.page)
    again = other.post(area.edit_url.format(id=lost_race.record_id), data=form)
    assert again.status_code == HTTPStatus.FOUND, again.data[:500]
    assert area.stored(app_db, lost_race.record_id) == "B的值"


def test_discard_link_opens_saved_version(lost_race: Race, other: FlaskClient) -> None:
    url = lost_race.area.edit_url.format(id=lost_race.record_id)
    assert f'class="button secondary discard-mine" href="{url}' in lost_race.page
    assert 'value="A的值"' in other.get(url).get_data(as_text=True)


def test_inline_edit_conflict_flags_json(
    client: FlaskClient, other: FlaskClient
) -> None:
    contact_id = add_contact(client)
    url = f"/contacts/{contact_id}/edit"
    client.post(url, data={"name": "张伟", "city": "A的值", "version": "1"})
    response = other.post(
        url,
        data={"name": "张伟", "city": "B的值", "version": "1"},
        headers={"X-Requested-With": "fetch"},
    )
    assert response.status_code == HTTPStatus.CONFLICT
    assert response.get_json()["conflict"] is True


# --- the services ----------------------------------------------------------

SHANGHAI = ZoneInfo("Asia/Shanghai")


def contact_in(db: Database, name: str = "李华") -> dict[str, Any]:
    contact_id = contact_service.create_contact(
        db, contact_service.parse_form({"name": name}), owner="Admin", region="CN"
    )
    return contact_service.require_contact(db, contact_id)


def test_log_conflict_creates_no_appointment(db: Database) -> None:
    contact = contact_in(db)
    raw = {
        "contact_id": str(contact["id"]),
        "occurred_at": "2026-03-15T10:30",
        "title": "询价",
    }
    entry = log_service.parse_entry(db, raw, zone=SHANGHAI)
    entry_id = log_service.create_entry(db, entry, owner="Admin", zone=SHANGHAI)
    log_service.update_entry(
        db, entry_id, entry, version=1, owner="Admin", zone=SHANGHAI
    )
    with_appointment = {**raw, "follow_up_on": "2026-03-20", "make_appointment": "1"}
    late = log_service.parse_entry(db, with_appointment, zone=SHANGHAI)
    with pytest.raises(VersionConflictError):
        log_service.update_entry(
            db, entry_id, late, version=1, owner="Admin", zone=SHANGHAI
        )
    assert appointment_data.find_all(db) == []
    assert log_service.require_entry(db, entry_id)["appointment_uuid"] is None


def test_sale_conflict_adds_no_pick_value(db: Database) -> None:
    first = sale_service.parse_form(sale_form("", "钢管"))
    sale_id = sale_service.create_sale(db, first, owner="Admin")
    sale_service.update_sale(db, sale_id, first, version=1, owner="Admin")
    late = sale_service.parse_form(sale_form("", "新品"))
    with pytest.raises(VersionConflictError):
        sale_service.update_sale(db, sale_id, late, version=1, owner="Admin")
    assert [v["value"] for v in pick_data.find_values(db, "item")] == ["钢管"]


def test_compare_sale_reads_numbers_as_stored(app: Flask, db: Database) -> None:
    stored = sale_service.parse_form({**sale_form("", "钢管"), "amount": "20"})
    sale_id = sale_service.create_sale(db, stored, owner="Admin")
    typed = sale_service.parse_form({**sale_form("", "钢管"), "amount": "20.00"})
    with app.test_request_context():
        conflict = compare_sale(
            db, sale_service.require_sale(db, sale_id), typed, custom_labels={}
        )
    amount = next(f for f in conflict.fields if f.label == "Amount")
    assert amount.saved == "CN¥20.00"
    assert amount.differs is False


def test_compare_contact_lists_only_filled_fields(app: Flask, db: Database) -> None:
    saved = contact_in(db, "王芳")
    typed = contact_service.parse_form({"name": "王芳", "city": "宁波"})
    with app.test_request_context():
        conflict = compare_contact(saved, typed, category_names={})
    assert [(f.label, f.saved, f.mine) for f in conflict.fields] == [
        ("Name", "王芳", "王芳"),
        ("City", "", "宁波"),
    ]


def test_compare_contact_counts_differences(app: Flask, db: Database) -> None:
    saved = contact_in(db, "王芳")
    typed = contact_service.parse_form({"name": "王芳", "city": "宁波"})
    with app.test_request_context():
        conflict = compare_contact(saved, typed, category_names={})
    assert conflict.differences == 1


def test_compare_contact_labels_in_chinese(app: Flask, db: Database) -> None:
    saved = contact_in(db, "王芳")
    typed = contact_service.parse_form({"name": "王芳", "city": "宁波"})
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        conflict = compare_contact(saved, typed, category_names={})
    assert [f.label for f in conflict.fields] == ["姓名", "城市"]
