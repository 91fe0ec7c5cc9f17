"""The contact field shared by the sales, log and appointment forms."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

import pytest
from flask.testing import FlaskClient

from crm_web.data.db import Database
from crm_web.services import contact_picker
from crm_web.services import contacts as contact_service


def add_contact(db: Database, **values: str) -> dict[str, Any]:
    contact = contact_service.parse_form(values)
    contact_id = contact_service.create_contact(
        db, contact, owner="Test", region="CN", allow_duplicate=True
    )
    return contact_service.require_contact(db, contact_id)


def pick(db: Database, **form: str) -> contact_picker.ContactPick:
    return contact_picker.pick_contact(db, form, region="CN")


@pytest.fixture
def people(db: Database) -> dict[str, dict[str, Any]]:
    return {
        "zhang": add_contact(
            db, name="张小明", company="东方贸易", mobile="13812345678",
            email="zxm@example.com",
        ),
        "li": add_contact(db, name="李四", company="北方建材"),
        "wang": add_contact(db, name="王强"),
        "wang_copy": add_contact(db, name="王强(重复)"),
        "fang1": add_contact(db, name="王芳", company="南方物流"),
        "fang2": add_contact(db, name="王芳", company="西部五金"),
    }  # fmt: skip


# --- rules -------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "13812345678",
        "+86 138-1234-5678",
        "138 1234 5678",
        "ZXM@Example.com",
        "张小明",
        "东方贸易",
        "\u3000张小明 ",
        "zhangxiaoming",
        "zxm",
        "5678",
    ],
)
def test_typed_text_finds_one(db: Database, people: dict, typed: str) -> None:
    result = pick(db, contact=typed)
    assert result.error == ""
    assert result.uuid == people["zhang"]["uuid"]


def test_exact_name_beats_longer_names(db: Database, people: dict) -> None:
    assert pick(db, contact="王强").uuid == people["wang"]["uuid"]


def test_same_name_gives_candidates(db: Database, people: dict) -> None:
    result = pick(db, contact="王芳")
    assert result.contact is None
    assert {c["uuid"] for c in result.candidates} == {
        people["fang1"]["uuid"],
        people["fang2"]["uuid"],
    }
    assert "2 contacts match “王芳”" in result.error


def test_smart_query_gives_candidates(db: Database, people: dict) -> None:
    result = pick(db, contact="wf")
    assert len(result.candidates) == 2
    assert "match “wf”" in result.error


def test_no_match_names_text(db: Database, people: dict) -> None:
    result = pick(db, contact="无此人")
    assert result.contact is None
    assert result.candidates == []
    assert "No contact matches “无此人”" in result.error


def test_chosen_uuid_wins(db: Database, people: dict) -> None:
    fang = people["fang2"]
    result = pick(db, contact="王芳", contact_uuid=fang["uuid"])
    assert result.uuid == fang["uuid"]
    assert result.error == ""


def test_chosen_uuid_with_label_wins(db: Database, people: dict) -> None:
    zhang = people["zhang"]
    label = contact_picker.contact_label(zhang)
    assert pick(db, contact=label, contact_uuid=zhang["uuid"]).uuid == zhang["uuid"]


def test_retyped_text_overrides_uuid(db: Database, people: dict) -> None:
    result = pick(db, contact="李四", contact_uuid=people["zhang"]["uuid"])
    assert result.uuid == people["li"]["uuid"]


def test_empty_text_means_no_contact(db: Database, people: dict) -> None:
    result = pick(db, contact=" ", contact_uuid=people["zhang"]["uuid"])
    assert result.contact is None
    assert result.error == ""


def test_candidate_pick_wins(db: Database, people: dict) -> None:
    fang = people["fang1"]
    result = pick(db, contact="王芳", contact_pick=fang["uuid"])
    assert result.uuid == fang["uuid"]


def test_deleted_contact_not_chosen(db: Database, people: dict) -> None:
    li = people["li"]
    contact_service.set_deleted(db, li["id"], deleted=True)
    result = pick(db, contact="李四", contact_uuid=li["uuid"])
    assert result.contact is None
    assert "“李四”" in result.error


def test_unknown_uuid_falls_back_to_text(db: Database, people: dict) -> None:
    result = pick(db, contact="李四", contact_uuid="not-a-uuid")
    assert result.uuid == people["li"]["uuid"]


def test_suggestions_use_smart_query(db: Database, people: dict) -> None:
    found = contact_picker.suggest_contacts(db, "lisi")
    assert found == [
        {"uuid": people["li"]["uuid"], "name": "李四", "label": "李四 · 北方建材"}
    ]


def test_suggestions_by_phone_digits(db: Database, people: dict) -> None:
    found = contact_picker.suggest_contacts(db, "1234 5678")
    assert [c["uuid"] for c in found] == [people["zhang"]["uuid"]]


# --- the three forms ------------------------------------------------------------


def create_contact(client: FlaskClient, **values: str) -> None:
    response = client.post("/contacts/new", data={**values, "allow_duplicate": "1"})
    assert response.status_code == HTTPStatus.FOUND, response.data[:500]


FORMS = {
    "sales": ("/sales/new", {"sold_on": "2026-03-15", "currency": "CNY"}),
    "log": (
        "/log/new",
        {"occurred_at": "2026-03-15T10:00", "channel": "phone", "title": "Call"},
    ),
    "appointments": (
        "/appointments/new",
        {"title": "Visit", "starts_at_local": "2026-03-15T10:00"},
    ),
}


@pytest.fixture
def two_fangs(client: FlaskClient, app_db: Database) -> list[str]:
    create_contact(client, name="王芳", company="南方物流")
    create_contact(client, name="王芳", company="西部五金")
    rows = app_db.query("SELECT uuid FROM contacts ORDER BY id")
    return [row["uuid"] for row in rows]


def stored_contact(app_db: Database, form: str) -> list[str | None]:
    table = {"sales": "sales", "log": "comm_logs", "appointments": "appointments"}
    rows = app_db.query(f"SELECT contact_uuid FROM {table[form]}")
    return [row["contact_uuid"] for row in rows]


@pytest.mark.parametrize("form", list(FORMS))
def test_form_has_picker(client: FlaskClient, form: str) -> None:
    page = client.get(FORMS[form][0]).get_data(as_text=True)
    assert "data-contact-picker" in page
    assert 'data-suggest-url="/contacts/suggest"' in page
    assert "js/contact_picker.js" in page
    assert 'name="contact_uuid"' in page


@pytest.mark.parametrize("form", list(FORMS))
def test_form_offers_candidates(
    client: FlaskClient, two_fangs: list[str], form: str
) -> None:
    url, values = FORMS[form]
    response = client.post(url, data={**values, "contact": "王芳"})
    page = response.get_data(as_text=True)
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert "2 contacts match “王芳”" in page
    radios = re.findall(r'name="contact_pick" value="([0-9a-f-]{36})"', page)
    assert sorted(radios) == sorted(two_fangs)


@pytest.mark.parametrize("form", list(FORMS))
def test_form_saves_picked_candidate(
    client: FlaskClient, app_db: Database, two_fangs: list[str], form: str
) -> None:
    url, values = FORMS[form]
    chosen = two_fangs[1]
    data = {**values, "contact": "王芳", "contact_pick": chosen}
    response = client.post(url, data=data)
    assert response.status_code == HTTPStatus.FOUND, response.data[:500]
    assert stored_contact(app_db, form) == [chosen]


@pytest.mark.parametrize("form", list(FORMS))
def test_form_saves_suggested_uuid(
    client: FlaskClient, app_db: Database, two_fangs: list[str], form: str
) -> None:
    url, values = FORMS[form]
    data = {**values, "contact": "王芳", "contact_uuid": two_fangs[0]}
    response = client.post(url, data=data)
    assert response.status_code == HTTPStatus.FOUND, response.data[:500]
    assert stored_contact(app_db, form) == [two_fangs[0]]


@pytest.mark.parametrize("form", list(FORMS))
def test_form_matches_pinyin(
    client: FlaskClient, app_db: Database, two_fangs: list[str], form: str
) -> None:
    create_contact(client, name="张小明", mobile="13812345678")
    url, values = FORMS[form]
    response = client.post(url, data={**values, "contact": "zhangxiaoming"})
    assert response.status_code == HTTPStatus.FOUND, response.data[:500]
    assert len(stored_contact(app_db, form)) == 1
    assert stored_contact(app_db, form)[0] not in two_fangs


def test_suggest_endpoint(client: FlaskClient, two_fangs: list[str]) -> None:
    data = client.get("/contacts/suggest?q=wangfang").get_json()
    assert sorted(c["uuid"] for c in data["contacts"]) == sorted(two_fangs)
    assert {c["label"] for c in data["contacts"]} == {
        "王芳 · 南方物流",
        "王芳 · 西部五金",
    }


def test_suggest_endpoint_empty_query(client: FlaskClient) -> None:
    assert client.get("/contacts/suggest?q=%20").get_json() == {"contacts": []}
