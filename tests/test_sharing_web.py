"""Sharing panels, the contact list's "Share these" and share_default, over HTTP.

Admin, Lily and Tom each use their own test client of one app, which runs
on SQLite and on MariaDB.
"""

from __future__ import annotations

import json
import re
from http import HTTPStatus
from pathlib import Path

import pytest
from conftest import CsrfClient
from flask import Flask
from flask.testing import FlaskClient
from test_sharing import PASSWORD, add_contact, add_log_entry, listed

from crm_web.config import Settings, load_settings
from crm_web.data import preferences as preference_data
from crm_web.data.db import Database
from crm_web.services import accounts
from crm_web.services import sales as sale_service

Team = dict[str, FlaskClient]


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(data_dir=tmp_path / "data", database_url=database_url)


@pytest.fixture
def team(app: Flask, app_db: Database) -> Team:
    """Admin, Lily and Tom, each signed in on their own client."""
    for name in ("Lily", "Tom"):
        accounts.create_user(app_db, name, PASSWORD, "user", by="test")
    admin = next(u for u in accounts.list_users(app_db) if u["name"] == "Admin")
    accounts.set_password(app_db, admin["uuid"], PASSWORD, by="test")
    accounts.set_protection(app_db, True, by="test")
    app.test_client_class = CsrfClient
    clients = {}
    for name in ("Admin", "Lily", "Tom"):
        client = app.test_client()
        client.post("/login", data={"name": name, "password": PASSWORD})
        clients[name] = client
    return clients


def add_sale(client: FlaskClient, item: str = "莉莉的样品") -> int:
    form = {"sold_on": "2026-03-05", "item": item, "currency": "CNY"}
    response = client.post("/sales/new", data=form)
    assert response.status_code == HTTPStatus.FOUND, response.data[:500]
    page = client.get("/sales/").get_data(as_text=True)
    return max(int(i) for i in re.findall(r"/sales/(\d+)/edit", page))


def sale_items(client: FlaskClient) -> str:
    """Return the sales list without its pick lists, which name every item."""
    page = client.get("/sales/").get_data(as_text=True)
    return re.sub(r"<datalist.*?</datalist>", "", page, flags=re.S)


# --- a sales record's page -------------------------------------------------------


def test_sale_page_shows_sharing_panel(team: Team) -> None:
    sale_id = add_sale(team["Lily"])
    page = team["Lily"].get(f"/sales/{sale_id}/edit").get_data(as_text=True)
    assert "Who sees this sales record" in page
    assert 'name="user" value="Tom"' in page


def test_sale_panel_says_contact_shares(team: Team) -> None:
    sale_id = add_sale(team["Lily"])
    page = team["Lily"].get(f"/sales/{sale_id}/edit").get_data(as_text=True)
    assert "Whoever sees its contact also sees this record" in page


def test_shared_sale_listed_for_tom(team: Team) -> None:
    sale_id = add_sale(team["Lily"])
    assert "莉莉的样品" not in sale_items(team["Tom"])
    response = team["Lily"].post(
        f"/sales/{sale_id}/sharing", data={"share": "users", "user": "Tom"}
    )
    assert response.status_code == HTTPStatus.FOUND
    assert "莉莉的样品" in sale_items(team["Tom"])


def test_sale_sharing_by_tom_forbidden(team: Team) -> None:
    sale_id = add_sale(team["Lily"])
    team["Lily"].post(
        f"/sales/{sale_id}/sharing", data={"share": "users", "user": "Tom"}
    )
    response = team["Tom"].post(f"/sales/{sale_id}/sharing", data={"share": "everyone"})
    assert response.status_code == HTTPStatus.FORBIDDEN


def test_tom_sees_sale_owner_only(team: Team) -> None:
    sale_id = add_sale(team["Lily"])
    team["Lily"].post(
        f"/sales/{sale_id}/sharing", data={"share": "users", "user": "Tom"}
    )
    page = team["Tom"].get(f"/sales/{sale_id}/edit").get_data(as_text=True)
    assert "Owner: Lily. Shared with Tom." in page
    assert "Save sharing" not in page


# --- a log entry's page --------------------------------------------------------


def test_shared_entry_opens_for_tom(team: Team) -> None:
    contact_id = add_contact(team["Lily"], name="莉莉的客户")
    entry_id = add_log_entry(team["Lily"], contact_id, "莉莉的报价")
    assert team["Tom"].get(f"/log/{entry_id}").status_code == HTTPStatus.NOT_FOUND
    response = team["Lily"].post(f"/log/{entry_id}/sharing", data={"share": "everyone"})
    assert response.status_code == HTTPStatus.FOUND
    assert team["Tom"].get(f"/log/{entry_id}").status_code == HTTPStatus.OK


def test_entry_page_shows_sharing_panel(team: Team) -> None:
    contact_id = add_contact(team["Lily"], name="莉莉的客户")
    entry_id = add_log_entry(team["Lily"], contact_id, "莉莉的报价")
    page = team["Lily"].get(f"/log/{entry_id}").get_data(as_text=True)
    assert "Who sees this log entry" in page
    assert "Whoever sees its contact also sees this entry" in page


# --- who can be chosen ---------------------------------------------------------


def test_panels_hidden_for_single_user(client: FlaskClient) -> None:
    contact_id = add_contact(client, name="唯一客户")
    sale_id = add_sale(client)
    contact_page = client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    sale_page = client.get(f"/sales/{sale_id}/edit").get_data(as_text=True)
    assert "Who sees this contact" not in contact_page
    assert "Who sees this sales record" not in sale_page
    assert "Share these" not in client.get("/contacts/").get_data(as_text=True)


def test_panel_lists_network_users(client: FlaskClient, app_db: Database) -> None:
    names = json.dumps(["王五"], ensure_ascii=False)
    app_db.write(
        lambda db: preference_data.upsert_preference(db, "network_users", names)
    )
    contact_id = add_contact(client, name="唯一客户")
    page = client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    assert 'name="user" value="王五"' in page


def test_panel_leaves_out_me(team: Team) -> None:
    contact_id = add_contact(team["Lily"], name="莉莉的客户")
    page = team["Lily"].get(f"/contacts/{contact_id}").get_data(as_text=True)
    assert 'name="user" value="Lily"' not in page


# --- every contact of the list ---------------------------------------------------


@pytest.fixture
def ningbo(team: Team) -> Team:
    """Lily's two contacts in 宁波 and Tom's, which he shared with Lily."""
    add_contact(team["Lily"], name="莉莉一", city="宁波")
    add_contact(team["Lily"], name="莉莉二", city="宁波")
    add_contact(team["Lily"], name="莉莉杭州", city="杭州")
    tom_id = add_contact(team["Tom"], name="汤姆宁波", city="宁波")
    team["Tom"].post(f"/contacts/{tom_id}/sharing", data={"user": "Lily"})
    return team


def test_share_these_link_keeps_filters(ningbo: Team) -> None:
    page = ningbo["Lily"].get("/contacts/?city=宁波").get_data(as_text=True)
    assert "/contacts/share?city=" in page


def test_share_page_counts_listed(ningbo: Team) -> None:
    page = ningbo["Lily"].get("/contacts/share?city=宁波").get_data(as_text=True)
    assert "3 contacts match the current query." in page


def test_share_confirmation_counts_changes(ningbo: Team) -> None:
    form = {"city": "宁波", "share": "everyone"}
    page = ningbo["Lily"].post("/contacts/share", data=form).get_data(as_text=True)
    assert "2 contacts will change to:" in page
    assert "1 contact belongs to another user and will be skipped." in page


def test_share_confirmation_changes_nothing(ningbo: Team) -> None:
    ningbo["Lily"].post("/contacts/share", data={"city": "宁波", "share": "everyone"})
    assert listed(ningbo["Tom"]) == {"汤姆宁波"}


def test_share_confirmed_shows_contacts(ningbo: Team) -> None:
    form = {"city": "宁波", "share": "everyone", "confirmed": "1", "expected": "2"}
    response = ningbo["Lily"].post("/contacts/share", data=form)
    assert response.status_code == HTTPStatus.FOUND
    assert listed(ningbo["Tom"]) == {"莉莉一", "莉莉二", "汤姆宁波"}


def test_share_confirmed_reports_counts(ningbo: Team) -> None:
    form = {"city": "宁波", "share": "everyone", "confirmed": "1", "expected": "2"}
    page = (
        ningbo["Lily"]
        .post("/contacts/share", data=form, follow_redirects=True)
        .get_data(as_text=True)
    )
    assert (
        "The sharing of 2 contacts was changed. 1 contact belongs to another "
        "user and was left as it was."
    ) in page


def test_share_with_stale_count_is_409(ningbo: Team) -> None:
    form = {"city": "宁波", "share": "everyone", "confirmed": "1", "expected": "5"}
    response = ningbo["Lily"].post("/contacts/share", data=form)
    assert response.status_code == HTTPStatus.CONFLICT
    assert "now 2 would change" in response.get_data(as_text=True)
    assert listed(ningbo["Tom"]) == {"汤姆宁波"}


def test_share_with_chosen_user(ningbo: Team) -> None:
    form = {
        "city": "宁波",
        "share": "users",
        "user": "Tom",
        "confirmed": "1",
        "expected": "2",
    }
    ningbo["Lily"].post("/contacts/share", data=form)
    assert listed(ningbo["Tom"]) == {"莉莉一", "莉莉二", "汤姆宁波"}
    assert listed(ningbo["Admin"]) >= {"莉莉杭州"}


# --- share_default -------------------------------------------------------------


def test_settings_page_offers_share_default(team: Team) -> None:
    page = team["Admin"].get("/settings/").get_data(as_text=True)
    assert '<option value="everyone"' in page
    assert "Private: only the owner" in page


def test_share_default_shares_new_contact(team: Team) -> None:
    saved = team["Admin"].post("/settings/", data={"share_default": "everyone"})
    assert saved.status_code == HTTPStatus.FOUND
    add_contact(team["Lily"], name="新客户")
    assert listed(team["Tom"]) == {"新客户"}


def test_share_default_shares_new_sale(team: Team) -> None:
    team["Admin"].post("/settings/", data={"share_default": "everyone"})
    add_sale(team["Lily"])
    assert "莉莉的样品" in sale_items(team["Tom"])


def test_share_default_private_keeps_sale(team: Team, app_db: Database) -> None:
    add_sale(team["Lily"])
    rows, _total = sale_service.list_sales(
        app_db,
        sale_service.SaleFilters(),
        sort="sold_on",
        descending=True,
        page=1,
        page_size=10,
    )
    assert [r["item"] for r in rows] == ["莉莉的样品"]
    assert "莉莉的样品" not in sale_items(team["Tom"])
