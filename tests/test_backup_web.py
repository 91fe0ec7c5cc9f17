"""The Backup page: back up, download, restore, settings, administrators only."""

from __future__ import annotations

import io
import os
from http import HTTPStatus
from pathlib import Path

import pytest
from backup_helpers import all_rows, fill
from flask.testing import FlaskClient

from crm_web.blueprints import backup as backup_blueprint
from crm_web.config import Settings
from crm_web.data import schema
from crm_web.data import users as user_data
from crm_web.data.db import Database
from crm_web.services import accounts, backup, backup_schedule

GOOD = "correct horse 1"


def protect(db: Database) -> None:
    """Give Admin a password and turn login protection on."""
    admin = user_data.get_user(db, "Admin")
    assert admin is not None
    accounts.set_password(db, admin["uuid"], GOOD, by="test")
    accounts.set_protection(db, True, by="test")


def sign_in(client: FlaskClient, name: str, password: str) -> None:
    client.post("/login", data={"name": name, "password": password})


def app_settings(client: FlaskClient) -> Settings:
    settings: Settings = client.application.extensions["crm_settings"]
    return settings


def back_up(client: FlaskClient) -> Path:
    response = client.post("/backup/create", follow_redirects=True)
    assert response.status_code == HTTPStatus.OK
    assert "Backup written to" in response.get_data(as_text=True)
    [written] = backup.list_backups(app_settings(client).data_dir / "backups")
    return written.path


def test_page_backs_up_and_lists(client: FlaskClient, app_db: Database) -> None:
    page = client.get("/backup/").get_data(as_text=True)
    assert "Back up now" in page
    assert "No backups yet." in page
    assert "Off." in page
    assert "safety-backups" in page

    written = back_up(client)

    page = client.get("/backup/").get_data(as_text=True)
    assert written.name in page
    assert f"/backup/download/{written.name}" in page
    download = client.get(f"/backup/download/{written.name}")
    assert download.status_code == HTTPStatus.OK
    assert download.data == written.read_bytes()
    actions = [row["action"] for row in user_data.find_audit(app_db, limit=10)[0]]
    assert "backup" in actions


def test_restore_from_the_list(client: FlaskClient, app_db: Database) -> None:
    settings = app_settings(client)
    fill(app_db, settings)
    before = all_rows(app_db)
    written = back_up(client)
    app_db.write(lambda db: db.execute(schema.contacts.delete()))

    response = client.post(
        "/backup/restore", data={"name": written.name}, follow_redirects=True
    )

    page = response.get_data(as_text=True)
    assert f"Restored “{written.name}”" in page
    assert str(settings.data_dir / "safety-backups") in page
    assert all_rows(app_db)["contacts"] == before["contacts"]
    actions = [row["action"] for row in user_data.find_audit(app_db, limit=10)[0]]
    assert actions[0] == "restore"


def test_restore_an_upload(client: FlaskClient, app_db: Database) -> None:
    settings = app_settings(client)
    fill(app_db, settings)
    before = all_rows(app_db)
    content = back_up(client).read_bytes()
    app_db.write(lambda db: db.execute(schema.contacts.delete()))

    response = client.post(
        "/backup/restore",
        data={"backup": (io.BytesIO(content), "从U盘.zip")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )

    assert "Restored “从U盘.zip”" in response.get_data(as_text=True)
    assert all_rows(app_db)["contacts"] == before["contacts"]
    assert list(settings.work_dir.iterdir()) == []


def test_upload_of_a_damaged_file_changes_nothing(
    client: FlaskClient, app_db: Database
) -> None:
    settings = app_settings(client)
    fill(app_db, settings)
    before = all_rows(app_db)

    response = client.post(
        "/backup/restore",
        data={"backup": (io.BytesIO(os.urandom(3000)), "备份.zip")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )

    page = response.get_data(as_text=True)
    assert "“备份.zip” is not a zip file" in page
    assert "Nothing was restored" in page
    assert all_rows(app_db) == before
    assert not (settings.data_dir / "safety-backups").exists()


def test_only_our_backup_names_are_served(client: FlaskClient) -> None:
    back_up(client)
    for name in ("secret.key", "..%2Fsecret.key", "r9crm.sqlite3", "notes.txt"):
        assert client.get(f"/backup/download/{name}").status_code in (
            HTTPStatus.NOT_FOUND,
        ), name
    response = client.post(
        "/backup/restore", data={"name": "../secret.key"}, follow_redirects=True
    )
    assert "was not found" in response.get_data(as_text=True)


def test_settings_form(client: FlaskClient, app_db: Database, tmp_path: Path) -> None:
    rejected = client.post(
        "/backup/settings",
        data={"backup_folder": "", "backup_every_days": "400", "backup_keep": "7"},
        follow_redirects=True,
    )
    assert "“400” is not valid" in rejected.get_data(as_text=True)
    target = tmp_path / "elsewhere"
    saved = client.post(
        "/backup/settings",
        data={
            "backup_folder": str(target),
            "backup_every_days": "1",
            "backup_keep": "3",
        },
        follow_redirects=True,
    )
    page = saved.get_data(as_text=True)
    assert "Backup settings saved." in page
    assert f"Every day while R9 CRM is running, into {target}" in page
    client.post("/backup/create")
    assert len(backup.list_backups(target)) == 1
    client.post(
        "/backup/settings",
        data={
            "backup_folder": str(target),
            "backup_every_days": "3",
            "backup_keep": "3",
        },
    )
    assert "Every 3 days while" in client.get("/backup/").get_data(as_text=True)


def test_last_automatic_result_is_shown(client: FlaskClient) -> None:
    backup_schedule.write_status(
        app_settings(client),
        backup_schedule.BackupStatus(
            "2026-12-04T02:00:00", False, "", "The disk is full (test)."
        ),
    )
    page = client.get("/backup/").get_data(as_text=True)
    assert "The last automatic backup failed" in page
    assert "The disk is full (test)." in page


def test_page_needs_an_administrator(client: FlaskClient, app_db: Database) -> None:
    accounts.create_user(app_db, "Lily", GOOD, "user", by="test")
    protect(app_db)
    sign_in(client, "Lily", GOOD)
    refused = [
        client.get("/backup/"),
        client.post("/backup/create"),
        client.post("/backup/restore", data={"name": "x.zip"}),
        client.post("/backup/settings", data={"backup_every_days": "1"}),
        client.get("/backup/download/r9crm-backup-20260101-000000.zip"),
    ]
    assert [r.status_code for r in refused] == [HTTPStatus.FORBIDDEN] * len(refused)
    assert not (app_settings(client).data_dir / "backups").exists()
    assert 'href="/backup/"' not in client.get("/contacts/").get_data(as_text=True)

    client.post("/logout")
    sign_in(client, "Admin", GOOD)
    assert client.get("/backup/").status_code == HTTPStatus.OK
    assert 'href="/backup/"' in client.get("/contacts/").get_data(as_text=True)


def test_signed_out_visitor_is_sent_to_sign_in(
    client: FlaskClient, app_db: Database
) -> None:
    protect(app_db)
    client.post("/logout")
    response = client.get("/backup/")
    assert response.status_code == HTTPStatus.FOUND
    assert response.headers["Location"].startswith("/login")


def test_settings_page_links_here(client: FlaskClient) -> None:
    assert 'href="/backup/"' in client.get("/settings/").get_data(as_text=True)


def test_too_large_upload_points_to_the_folder(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backup_blueprint, "RESTORE_UPLOAD_BYTES", 2 * 1024 * 1024)
    response = client.post(
        "/backup/restore",
        data={"backup": (io.BytesIO(bytes(3 * 1024 * 1024)), "big.zip")},
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert "larger than 2 MB" in page
    assert str(app_settings(client).data_dir / "backups") in page
    assert not (app_settings(client).data_dir / "safety-backups").exists()
