"""Users see their own contacts and those shared with them; admins see all."""

from __future__ import annotations

import io
import re
from http import HTTPStatus
from pathlib import Path

import pytest
from builders import make_xlsx
from conftest import CsrfClient
from flask import Flask
from flask.testing import FlaskClient

from crm_web.data import contacts as contact_data
from crm_web.data.db import Database
from crm_web.services import accounts

PASSWORD = "a good password"


@pytest.fixture
def team(app: Flask, app_db: Database) -> dict[str, FlaskClient]:
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


def add_contact(client: FlaskClient, **fields: str) -> int:
    response = client.post("/contacts/new", data=fields)
    assert response.status_code == HTTPStatus.FOUND, response.get_data(as_text=True)
    match = re.search(r"/contacts/(\d+)", response.headers["Location"])
    assert match
    return int(match.group(1))


def listed(client: FlaskClient, query: str = "") -> set[str]:
    page = client.get(f"/contacts/?q={query}").get_data(as_text=True)
    return set(re.findall(r'<td class="name"><a href="[^"]+">([^<]*)</a>', page))


def test_each_user_sees_only_their_own_contacts(team: dict[str, FlaskClient]) -> None:
    lily_id = add_contact(team["Lily"], name="莉莉的客户", mobile="13800000001")
    add_contact(team["Tom"], name="汤姆的客户", mobile="13800000002")
    assert listed(team["Lily"]) == {"莉莉的客户"}
    assert listed(team["Tom"]) == {"汤姆的客户"}
    assert listed(team["Admin"]) == {"莉莉的客户", "汤姆的客户"}
    # Neither by the smart query nor by the card's address.
    assert listed(team["Tom"], "莉莉") == set()
    assert listed(team["Tom"], "13800000001") == set()
    assert team["Tom"].get(f"/contacts/{lily_id}").status_code == HTTPStatus.NOT_FOUND
    forged = team["Tom"].post(f"/contacts/{lily_id}/delete")
    assert forged.status_code == HTTPStatus.NOT_FOUND
    assert team["Lily"].get(f"/contacts/{lily_id}").status_code == HTTPStatus.OK


def test_export_holds_only_the_users_contacts(
    team: dict[str, FlaskClient], tmp_path: Path
) -> None:
    add_contact(team["Lily"], name="莉莉的客户")
    add_contact(team["Tom"], name="汤姆的客户")
    body = team["Tom"].get("/exports/download?format=txt").get_data()
    text = body.decode("utf-8-sig")
    assert "汤姆的客户" in text
    assert "莉莉的客户" not in text


def test_share_with_one_user(team: dict[str, FlaskClient], app_db: Database) -> None:
    lily_id = add_contact(team["Lily"], name="共享客户", city="宁波")
    team["Lily"].post(
        f"/contacts/{lily_id}/sharing", data={"user": "Tom", "follow": "1"}
    )
    assert listed(team["Tom"]) == {"共享客户"}
    page = team["Tom"].get(f"/contacts/{lily_id}").get_data(as_text=True)
    assert "Owner: Lily." in page
    assert "Save sharing" not in page
    contact = contact_data.get_contact(app_db, lily_id)
    assert contact is not None
    edited = team["Tom"].post(
        f"/contacts/{lily_id}/edit",
        data={"name": "共享客户", "city": "杭州", "version": str(contact["version"])},
    )
    assert edited.status_code == HTTPStatus.FOUND
    # Tom may edit it but not change its sharing.
    refused = team["Tom"].post(f"/contacts/{lily_id}/sharing", data={"everyone": "1"})
    assert refused.status_code == HTTPStatus.FORBIDDEN
    team["Lily"].post(f"/contacts/{lily_id}/sharing", data={})
    assert listed(team["Tom"]) == set()


def test_sharing_with_everyone(team: dict[str, FlaskClient]) -> None:
    lily_id = add_contact(team["Lily"], name="公共客户")
    team["Lily"].post(f"/contacts/{lily_id}/sharing", data={"everyone": "1"})
    assert listed(team["Tom"]) == {"公共客户"}


def test_admin_reassigns_a_contact(team: dict[str, FlaskClient]) -> None:
    lily_id = add_contact(team["Lily"], name="转交客户")
    forged = team["Lily"].post(
        f"/contacts/{lily_id}/sharing", data={"owner": "Tom", "follow": "1"}
    )
    assert forged.status_code == HTTPStatus.FOUND  # saved, but the owner stays
    assert listed(team["Tom"]) == set()
    team["Admin"].post(
        f"/contacts/{lily_id}/sharing", data={"owner": "Tom", "follow": "1"}
    )
    assert listed(team["Tom"]) == {"转交客户"}
    assert listed(team["Lily"]) == set()


def test_import_skips_hidden_contacts(
    team: dict[str, FlaskClient], tmp_path: Path, app_db: Database
) -> None:
    tom_id = add_contact(team["Tom"], name="汤姆的客户", mobile="13800000002")
    path = make_xlsx(
        tmp_path / "list.xlsx",
        [["姓名", "手机", "城市"], ["莉莉导入", "13800000002", "深圳"]],
    )
    with path.open("rb") as handle:
        upload = team["Lily"].post(
            "/imports/upload", data={"file": (handle, "list.xlsx")}
        )
    token = upload.headers["Location"].rsplit("/", 1)[-1]
    review = team["Lily"].get(f"/imports/{token}").get_data(as_text=True)
    assert "will update" not in review.lower()
    team["Lily"].post(
        f"/imports/{token}",
        data={
            "policy": "overwrite",
            "action": "start",
            "columns": "3",
            "map-0": "name",
            "map-1": "mobile",
            "map-2": "city",
        },
    )
    _wait_for_imports(app_db)
    tom_card = contact_data.get_contact(app_db, tom_id)
    assert tom_card is not None and tom_card["city"] == ""
    assert listed(team["Lily"]) == {"莉莉导入"}


def _wait_for_imports(app_db: Database) -> None:
    import time

    from crm_web.services import jobs

    for _ in range(200):
        if all(job.state != "running" for job in jobs._jobs.values()):
            return
        time.sleep(0.05)


def test_saved_views_are_private(team: dict[str, FlaskClient]) -> None:
    team["Lily"].post("/contacts/views", data={"name": "莉莉的视图", "q": "x"})
    assert "莉莉的视图" in team["Lily"].get("/contacts/").get_data(as_text=True)
    assert "莉莉的视图" not in team["Tom"].get("/contacts/").get_data(as_text=True)


def upload_file(client: FlaskClient, name: str, content: bytes, **fields: str) -> int:
    response = client.post(
        "/files/upload",
        data={"file": [(io.BytesIO(content), name)], **fields},
        content_type="multipart/form-data",
    )
    assert response.status_code == HTTPStatus.FOUND, response.data[:300]
    page = client.get("/files/").get_data(as_text=True)
    return max(int(i) for i in re.findall(r'href="/files/(\d+)"', page))


def test_files_private_unless_attached(
    team: dict[str, FlaskClient], app_db: Database
) -> None:
    file_id = upload_file(team["Lily"], "报价单.xlsx", b"PK quote")
    assert "报价单.xlsx" not in team["Tom"].get("/files/").get_data(as_text=True)
    assert team["Tom"].get(f"/files/{file_id}").status_code == HTTPStatus.NOT_FOUND
    contact_id = add_contact(team["Lily"], name="共享客户")
    contact = contact_data.get_contact(app_db, contact_id)
    assert contact is not None
    team["Lily"].post(
        f"/files/{file_id}/attach", data={"kind": "contact", "to": contact["uuid"]}
    )
    team["Lily"].post(f"/contacts/{contact_id}/sharing", data={"user": "Tom"})
    card = team["Tom"].get(f"/contacts/{contact_id}").get_data(as_text=True)
    assert "报价单.xlsx" in card
    download = team["Tom"].get(f"/files/{file_id}/download")
    assert download.status_code == HTTPStatus.OK
    assert download.data == b"PK quote"
    renamed = team["Tom"].post(f"/files/{file_id}/delete")
    assert renamed.status_code == HTTPStatus.FORBIDDEN
    assert team["Admin"].get(f"/files/{file_id}").status_code == HTTPStatus.OK


def add_log_entry(client: FlaskClient, contact_id: int, title: str) -> int:
    response = client.post(
        "/log/new",
        data={
            "contact_id": str(contact_id),
            "occurred_at": "2026-03-15T10:30",
            "channel": "wechat",
            "title": title,
            "content": "FOB price",
        },
    )
    assert response.status_code == HTTPStatus.FOUND, response.data[:500]
    match = re.search(r"/log/(\d+)$", response.headers["Location"])
    assert match
    return int(match.group(1))


def log_titles(client: FlaskClient) -> set[str]:
    page = client.get("/log/").get_data(as_text=True)
    return set(re.findall(r'<td class="log-title"><a [^>]*>([^<]+)</a>', page))


def test_log_entries_follow_the_contact(team: dict[str, FlaskClient]) -> None:
    lily_contact = add_contact(team["Lily"], name="莉莉的客户")
    entry = add_log_entry(team["Lily"], lily_contact, "莉莉的报价")
    assert "莉莉的报价" in log_titles(team["Lily"])
    assert "莉莉的报价" not in log_titles(team["Tom"])
    assert team["Tom"].get(f"/log/{entry}").status_code == HTTPStatus.NOT_FOUND
    team["Lily"].post(f"/contacts/{lily_contact}/sharing", data={"user": "Tom"})
    assert "莉莉的报价" in log_titles(team["Tom"])
    # An entry added after the contact was shared follows it too.
    add_log_entry(team["Lily"], lily_contact, "莉莉的新报价")
    assert "莉莉的新报价" in log_titles(team["Tom"])
    # Tom owns his entry about Lily's contact, and it is visible to Lily
    # because she owns the contact.
    add_log_entry(team["Tom"], lily_contact, "汤姆的回访")
    assert "汤姆的回访" in log_titles(team["Lily"])
    assert {"莉莉的报价", "汤姆的回访"} <= log_titles(team["Admin"])
    # Made private again, the contact takes its whole history with it.
    team["Lily"].post(f"/contacts/{lily_contact}/sharing", data={})
    assert log_titles(team["Tom"]) == {"汤姆的回访"}
    assert team["Tom"].get(f"/log/{entry}").status_code == HTTPStatus.NOT_FOUND


def test_appointments_are_private_to_their_owner(
    team: dict[str, FlaskClient],
) -> None:
    response = team["Lily"].post(
        "/appointments/new",
        data={
            "title": "莉莉的拜访",
            "starts_at_local": "2030-01-07T10:00",
            "repeat": "none",
        },
    )
    assert response.status_code == HTTPStatus.FOUND, response.data[:500]
    for name, expected in (("Lily", True), ("Tom", False), ("Admin", True)):
        page = team[name].get("/appointments/?view=all").get_data(as_text=True)
        assert ("莉莉的拜访" in page) is expected, name


AREAS_FOR_EVERYONE = (
    "/",
    "/contacts/",
    "/log/",
    "/sales/",
    "/appointments/",
    "/vault/",
    "/files/",
    "/imports/",
    "/exports/",
    "/account/password",
)
AREAS_FOR_ADMINS = ("/users/", "/users/audit", "/settings/", "/backup/")


@pytest.mark.parametrize("path", AREAS_FOR_EVERYONE + AREAS_FOR_ADMINS)
def test_each_role_opens_its_areas(team: dict[str, FlaskClient], path: str) -> None:
    assert team["Admin"].get(path).status_code == HTTPStatus.OK
    expected = HTTPStatus.FORBIDDEN if path in AREAS_FOR_ADMINS else HTTPStatus.OK
    assert team["Lily"].get(path).status_code == expected


def test_sales_summary_visibility(
    team: dict[str, FlaskClient],
) -> None:
    for name, item, price in (("Lily", "莉莉的样品", "10"), ("Tom", "汤姆的样品", "7")):
        response = team[name].post(
            "/sales/new",
            data={
                "sold_on": "2026-03-05",
                "item": item,
                "quantity": "2",
                "unit_price": price,
                "currency": "CNY",
                "status": "paid",
            },
        )
        assert response.status_code == HTTPStatus.FOUND, response.data[:500]
    # Item and service type lists are shared words, like categories.
    tom_list = re.sub(
        r"<datalist.*?</datalist>",
        "",
        team["Tom"].get("/sales/").get_data(as_text=True),
    )
    assert "汤姆的样品" in tom_list
    assert "莉莉的样品" not in tom_list
    summary = team["Tom"].get("/sales/summary?by=item").get_data(as_text=True)
    assert "汤姆的样品" in summary
    assert "莉莉的样品" not in summary
    assert "14.00" in summary
    assert "34.00" not in summary
    admin = team["Admin"].get("/sales/summary?by=item").get_data(as_text=True)
    assert "34.00" in admin
    export = team["Tom"].get("/sales/export?format=txt").get_data()
    assert "莉莉的样品".encode() not in export and "汤姆的样品".encode() in export


def test_file_deletions_are_audited(
    team: dict[str, FlaskClient], app_db: Database
) -> None:
    from crm_web.data import users as user_data

    file_id = upload_file(team["Lily"], "合同.pdf", b"%PDF contract")
    team["Lily"].post(f"/files/{file_id}/delete")
    team["Lily"].post(f"/files/{file_id}/purge")
    rows, _total = user_data.find_audit(app_db, user="Lily")
    assert [(r["action"], r["target"]) for r in rows[:2]] == [
        ("purge", "合同.pdf"),
        ("delete", "合同.pdf"),
    ]
