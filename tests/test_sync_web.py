"""The sync pages: upload and download jobs, history, and resolving conflicts.

The terminal is the test app (SQLite), signed in as network user lily on
a MariaDB server database of the test's own.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sync_helpers import (
    JOB_SECONDS,
    add_contact,
    add_sale,
    delete_contact,
    edit_contact,
    edit_sale,
    prepare_server,
    row_of,
    run,
    set_rights,
    sign_in_terminal,
    wait_for_job,
)

from crm_web.config import Settings
from crm_web.data import sync as sync_data
from crm_web.data import visibility
from crm_web.data.db import Database
from crm_web.data.preferences import upsert_preference
from crm_web.data.schema import contacts, sales, sync_conflicts, sync_history
from crm_web.errors import NetworkUserDisabledError
from crm_web.services import accounts, jobs, search

pytestmark = pytest.mark.mysql


@pytest.fixture
def server(mysql_url: str) -> Iterator[Database]:
    database = prepare_server(mysql_url)
    yield database
    database.release()
    search.index_for(database).forget()
    database.close()


@pytest.fixture
def terminal(
    app_db: Database, settings: Settings, server: Database, mysql_url: str
) -> Database:
    """The app's database, signed in to the server as lily."""
    sign_in_terminal(app_db, settings.data_dir, mysql_url, "lily")
    return app_db


@pytest.fixture
def data_dir(settings: Settings) -> Path:
    return settings.data_dir


def finish(client: FlaskClient, response: Any) -> lxml.html.HtmlElement:
    """Wait for the job that a start request redirected to, then return its page."""
    assert response.status_code == HTTPStatus.FOUND
    location = response.headers["Location"]
    wait_for_job(location.rstrip("/").rsplit("/", 1)[-1])
    page = client.get(location)
    assert page.status_code == HTTPStatus.OK
    return lxml.html.fromstring(page.get_data(as_text=True))


def page_of(client: FlaskClient, path: str) -> lxml.html.HtmlElement:
    response = client.get(path)
    assert response.status_code == HTTPStatus.OK
    return lxml.html.fromstring(response.get_data(as_text=True))


def text(doc: lxml.html.HtmlElement, element_id: str) -> str:
    return " ".join(doc.get_element_by_id(element_id).text_content().split())


def count(db: Database, table: Any) -> int:
    found = int(db.execute(select(func.count()).select_from(table)).scalar_one())
    db.release()
    return found


def conflict_id(db: Database) -> int:
    found = db.execute(
        select(sync_conflicts.c.id).where(sync_conflicts.c.resolved_at.is_(None))
    ).scalar_one()
    db.release()
    return int(found)


def field_row(doc: lxml.html.HtmlElement, name: str) -> list[str]:
    """Return the label, mine and theirs cells of one conflict row."""
    rows = doc.xpath(f'//tr[@data-field="{name}"]')
    assert rows, f"no row for {name}"
    return [" ".join(cell.text_content().split()) for cell in rows[0]]


# --- upload and download ------------------------------------------------------


def test_upload_shows_summary(client: FlaskClient, terminal: Database) -> None:
    add_contact(terminal, name="王芳", company="华南电子")
    doc = finish(client, client.post("/network/sync/upload"))
    assert "Upload finished" in text(doc, "sync-summary")
    assert text(doc, "sync-sent") == "1"


def test_upload_reaches_server(
    client: FlaskClient, terminal: Database, server: Database
) -> None:
    record = add_contact(terminal, name="王芳", company="华南电子")
    finish(client, client.post("/network/sync/upload"))
    stored = row_of(server, contacts, record)
    assert stored is not None
    assert stored["owner"] == "lily"


def test_download_shows_summary(
    client: FlaskClient, terminal: Database, server: Database
) -> None:
    add_contact(server, owner="lily", name="李雷", company="远东贸易")
    doc = finish(client, client.post("/network/sync/download"))
    assert "Download finished" in text(doc, "sync-summary")
    assert text(doc, "sync-received") == "1"


def test_download_stores_record(
    client: FlaskClient, terminal: Database, server: Database
) -> None:
    record = add_contact(server, owner="lily", name="李雷", company="远东贸易")
    finish(client, client.post("/network/sync/download"))
    stored = row_of(terminal, contacts, record)
    assert stored is not None
    assert stored["company"] == "远东贸易"


def test_history_row_after_upload(client: FlaskClient, terminal: Database) -> None:
    add_contact(terminal, name="王芳")
    finish(client, client.post("/network/sync/upload"))
    cells = [
        " ".join(cell.text_content().split())
        for cell in page_of(client, "/network/sync").xpath(
            '//table[@id="sync-history"]/tbody/tr[1]/td'
        )
    ]
    assert cells[1:8] == ["Upload", "lily", "1", "0", "0", "0", "Finished"]


def history_cells(client: FlaskClient) -> list[str]:
    """Return the first sync history row's cells as the page shows them."""
    return [
        " ".join(cell.text_content().split())
        for cell in page_of(client, "/network/sync").xpath(
            '//table[@id="sync-history"]/tbody/tr[1]/td'
        )
    ]


def start_history_run(db: Database) -> None:
    db.write(
        lambda db: sync_data.insert_history(db, direction="upload", network_user="lily")
    )


def test_history_interrupted_in_chinese(client: FlaskClient, app_db: Database) -> None:
    start_history_run(app_db)
    app_db.write(sync_data.close_abandoned_history)
    with client.session_transaction() as session:
        session["language"] = "zh_CN"
    message = history_cells(client)[8]
    assert "interrupted" not in message
    assert message.startswith("已中断")


def test_history_keeps_message_code(client: FlaskClient, app_db: Database) -> None:
    start_history_run(app_db)
    app_db.write(sync_data.close_abandoned_history)
    history_cells(client)
    stored = app_db.execute(select(sync_history.c.message)).scalar_one()
    app_db.release()
    assert stored == "interrupted"


def test_history_running_has_hint(client: FlaskClient, app_db: Database) -> None:
    start_history_run(app_db)
    assert history_cells(client)[7] == (
        "Running (if no sync is running, it was interrupted)"
    )


def test_history_dates_in_user_zone(
    client: FlaskClient, terminal: Database, data_dir: Path
) -> None:
    terminal.write(lambda db: upsert_preference(db, "time_zone", "Asia/Shanghai"))
    run("upload", terminal, data_dir)
    started = terminal.execute(select(sync_history.c.started_at)).scalar_one()
    terminal.release()
    shown = page_of(client, "/network/sync").xpath(
        '//table[@id="sync-history"]/tbody/tr[1]/td[1]'
    )[0]
    # Shanghai is eight hours ahead of UTC all year.
    hour = (started.hour + 8) % 24
    assert f"{hour % 12 or 12}:{started.minute:02d}" in shown.text_content()


def test_pending_counts_before_upload(client: FlaskClient, terminal: Database) -> None:
    add_contact(terminal, name="王芳")
    add_contact(terminal, name="李雷")
    row = page_of(client, "/network/sync").xpath('//tr[@data-area="contacts"]/td')
    assert row[0].text_content() == "2"


def test_pending_counts_after_upload(client: FlaskClient, terminal: Database) -> None:
    add_contact(terminal, name="王芳")
    finish(client, client.post("/network/sync/upload"))
    row = page_of(client, "/network/sync").xpath('//tr[@data-area="contacts"]/td')
    assert row[0].text_content() == "0"


def test_rejected_records_named(
    client: FlaskClient, terminal: Database, server: Database, data_dir: Path
) -> None:
    record = add_contact(server, owner="boss", name="赵敏", company="明教")
    share_and_download(terminal, server, data_dir, record)
    edit_contact(terminal, record, company="峨眉")
    set_rights(server, "lily", may_edit_shared=False)
    doc = finish(client, client.post("/network/sync/upload"))
    assert text(doc, "sync-rejected") == "1"
    assert text(doc, "sync-rejected-names") == "赵敏"


def share_and_download(
    terminal: Database, server: Database, data_dir: Path, record: str
) -> None:
    """Share boss's contact with lily and fetch it to her terminal."""
    server.write(lambda db: visibility.set_shares(db, [record], ["lily"]))
    server.release()
    result = run("download", terminal, data_dir)
    assert result.received == 1


def test_download_without_right_is_forbidden(
    client: FlaskClient, terminal: Database, server: Database
) -> None:
    add_contact(server, owner="lily", name="李雷")
    set_rights(server, "lily", may_download=False)
    response = client.post("/network/sync/download")
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "may not download" in response.get_data(as_text=True)


def test_download_without_right_changes_nothing(
    client: FlaskClient, terminal: Database, server: Database
) -> None:
    add_contact(server, owner="lily", name="李雷")
    set_rights(server, "lily", may_download=False)
    client.post("/network/sync/download")
    assert count(terminal, contacts) == 0
    assert count(terminal, sync_history) == 0


def test_sync_page_without_server(client: FlaskClient) -> None:
    doc = page_of(client, "/network/sync")
    assert doc.get_element_by_id("sync-not-configured") is not None


def test_upload_without_server_explains(client: FlaskClient) -> None:
    response = client.post("/network/sync/upload")
    assert response.status_code == HTTPStatus.CONFLICT
    assert "no shared server" in response.get_data(as_text=True)


def back_link(response: Any) -> tuple[str, str]:
    """Return the error page's link back: its address and its text."""
    doc = lxml.html.fromstring(response.get_data(as_text=True))
    link = doc.get_element_by_id("error-back")
    return link.get("href"), link.text_content().strip()


def test_upload_error_links_network(client: FlaskClient) -> None:
    response = client.post("/network/sync/upload")
    assert response.status_code == HTTPStatus.CONFLICT
    assert back_link(response) == ("/network/", "Network")


def test_sync_pages_admin_only(
    app: Flask, client: FlaskClient, app_db: Database
) -> None:
    accounts.create_user(app_db, "Lily", "a good password", "user", by="test")
    admin = next(u for u in accounts.list_users(app_db) if u["name"] == "Admin")
    accounts.set_password(app_db, admin["uuid"], "a good password", by="test")
    accounts.set_protection(app_db, True, by="test")
    lily = app.test_client()
    lily.post("/login", data={"name": "Lily", "password": "a good password"})
    assert lily.get("/network/conflicts").status_code == HTTPStatus.FORBIDDEN


# --- conflicts --------------------------------------------------------------------


@pytest.fixture
def edited_conflict(terminal: Database, server: Database, data_dir: Path) -> str:
    """王芳 changed on the server (company) and here (company and mobile)."""
    record = add_contact(terminal, name="王芳", company="华南电子")
    run("upload", terminal, data_dir)
    edit_contact(server, record, company="华北电子")
    edit_contact(terminal, record, company="华东电子", mobile="13800138000")
    result = run("upload", terminal, data_dir)
    assert result.conflicts == 1
    return record


def test_conflict_list_names_record(client: FlaskClient, edited_conflict: str) -> None:
    cells = page_of(client, "/network/conflicts").xpath(
        '//table[@id="conflict-list"]/tbody/tr[1]/td'
    )
    texts = [cell.text_content().strip() for cell in cells[:3]]
    assert texts == ["Changed on both sides", "Contact", "王芳"]


def test_sync_panel_links_conflicts(client: FlaskClient, edited_conflict: str) -> None:
    doc = page_of(client, "/network/sync")
    assert text(doc, "sync-conflicts") == "1 conflict to resolve"


def test_conflict_shows_both_values(
    client: FlaskClient, terminal: Database, edited_conflict: str
) -> None:
    doc = page_of(client, f"/network/conflicts/{conflict_id(terminal)}")
    assert field_row(doc, "company") == ["Company different", "华东电子", "华北电子"]


def test_conflict_marks_differences(
    client: FlaskClient, terminal: Database, edited_conflict: str
) -> None:
    doc = page_of(client, f"/network/conflicts/{conflict_id(terminal)}")
    assert doc.xpath('//tr[@data-field="name"]/@class') == ["same"]
    assert doc.xpath('//tr[@data-field="mobile"]/@class') == ["differs"]


def test_conflict_trash_row(
    client: FlaskClient, terminal: Database, edited_conflict: str
) -> None:
    doc = page_of(client, f"/network/conflicts/{conflict_id(terminal)}")
    assert field_row(doc, "deleted") == ["In the trash", "No", "No"]


def test_conflict_explains_kind(
    client: FlaskClient, terminal: Database, edited_conflict: str
) -> None:
    doc = page_of(client, f"/network/conflicts/{conflict_id(terminal)}")
    assert "changed here and on the server" in text(doc, "conflict-explanation")


def test_conflict_labels_in_chinese(
    client: FlaskClient, terminal: Database, edited_conflict: str
) -> None:
    with client.session_transaction() as session:
        session["language"] = "zh_CN"
    doc = page_of(client, f"/network/conflicts/{conflict_id(terminal)}")
    assert field_row(doc, "company")[0].startswith("公司")
    assert field_row(doc, "deleted")[:2] == ["在回收站中", "否"]


def test_keep_mine_keeps_local_values(
    client: FlaskClient, terminal: Database, edited_conflict: str
) -> None:
    client.post(f"/network/conflicts/{conflict_id(terminal)}", data={"keep": "mine"})
    stored = row_of(terminal, contacts, edited_conflict)
    assert stored is not None
    assert stored["company"] == "华东电子"
    assert stored["mobile"] == "13800138000"


def test_keep_mine_says_upload_follows(
    client: FlaskClient, terminal: Database, edited_conflict: str
) -> None:
    response = client.post(
        f"/network/conflicts/{conflict_id(terminal)}",
        data={"keep": "mine"},
        follow_redirects=True,
    )
    assert "will be sent with the next upload" in response.get_data(as_text=True)


def test_keep_mine_then_upload_reaches_server(
    client: FlaskClient,
    terminal: Database,
    server: Database,
    edited_conflict: str,
) -> None:
    client.post(f"/network/conflicts/{conflict_id(terminal)}", data={"keep": "mine"})
    finish(client, client.post("/network/sync/upload"))
    stored = row_of(server, contacts, edited_conflict)
    assert stored is not None
    assert stored["company"] == "华东电子"


def test_keep_theirs_takes_server_values(
    client: FlaskClient, terminal: Database, edited_conflict: str
) -> None:
    client.post(f"/network/conflicts/{conflict_id(terminal)}", data={"keep": "theirs"})
    stored = row_of(terminal, contacts, edited_conflict)
    assert stored is not None
    assert stored["company"] == "华北电子"
    assert stored["mobile"] == ""


def test_keep_theirs_leaves_nothing_pending(
    client: FlaskClient, terminal: Database, edited_conflict: str
) -> None:
    client.post(f"/network/conflicts/{conflict_id(terminal)}", data={"keep": "theirs"})
    row = page_of(client, "/network/sync").xpath('//tr[@data-area="contacts"]/td')
    assert row[0].text_content() == "0"


def test_picks_mix_both_versions(
    client: FlaskClient, terminal: Database, edited_conflict: str
) -> None:
    client.post(
        f"/network/conflicts/{conflict_id(terminal)}",
        data={"keep": "merged", "pick-company": "theirs", "pick-mobile": "mine"},
    )
    stored = row_of(terminal, contacts, edited_conflict)
    assert stored is not None
    assert stored["company"] == "华北电子"
    assert stored["mobile"] == "13800138000"


def test_resolved_conflict_leaves_list(
    client: FlaskClient, terminal: Database, edited_conflict: str
) -> None:
    response = client.post(
        f"/network/conflicts/{conflict_id(terminal)}",
        data={"keep": "theirs"},
        follow_redirects=True,
    )
    doc = lxml.html.fromstring(response.get_data(as_text=True))
    assert doc.get_element_by_id("no-conflicts") is not None


def test_resolved_conflict_is_not_found(
    client: FlaskClient, terminal: Database, edited_conflict: str
) -> None:
    found = conflict_id(terminal)
    client.post(f"/network/conflicts/{found}", data={"keep": "theirs"})
    assert client.get(f"/network/conflicts/{found}").status_code == (
        HTTPStatus.NOT_FOUND
    )


def test_resolved_conflict_error_links_conflicts(
    client: FlaskClient, terminal: Database, edited_conflict: str
) -> None:
    found = conflict_id(terminal)
    client.post(f"/network/conflicts/{found}", data={"keep": "theirs"})
    again = client.post(f"/network/conflicts/{found}", data={"keep": "theirs"})
    assert again.status_code == HTTPStatus.NOT_FOUND
    assert back_link(again) == ("/network/conflicts", "Conflicts")


def test_deleted_here_explained(
    client: FlaskClient, terminal: Database, server: Database, data_dir: Path
) -> None:
    record = add_contact(terminal, name="王芳", company="华南电子")
    run("upload", terminal, data_dir)
    edit_contact(server, record, company="华北电子")
    delete_contact(terminal, record)
    run("upload", terminal, data_dir)
    doc = page_of(client, f"/network/conflicts/{conflict_id(terminal)}")
    assert "You deleted it here" in text(doc, "conflict-explanation")
    assert field_row(doc, "deleted") == ["In the trash different", "Yes", "No"]


@pytest.fixture
def sale_conflict(terminal: Database, server: Database, data_dir: Path) -> str:
    """A sales record whose amount changed here and on the server."""
    record = add_sale(terminal, item="LED 灯", amount="1234.5")
    run("upload", terminal, data_dir)
    edit_sale(server, record, amount="99")
    edit_sale(terminal, record, amount="1300")
    assert run("upload", terminal, data_dir).conflicts == 1
    return record


def test_sale_conflict_formats_money(
    client: FlaskClient, terminal: Database, sale_conflict: str
) -> None:
    doc = page_of(client, f"/network/conflicts/{conflict_id(terminal)}")
    assert field_row(doc, "amount_minor") == [
        "Amount different",
        "CN¥1,300.00",
        "CN¥99.00",
    ]


def test_sale_conflict_formats_date(
    client: FlaskClient, terminal: Database, sale_conflict: str
) -> None:
    doc = page_of(client, f"/network/conflicts/{conflict_id(terminal)}")
    assert field_row(doc, "sold_on") == ["Date", "Nov 20, 2026", "Nov 20, 2026"]


def test_sale_conflict_keep_theirs(
    client: FlaskClient, terminal: Database, sale_conflict: str
) -> None:
    client.post(f"/network/conflicts/{conflict_id(terminal)}", data={"keep": "theirs"})
    stored = row_of(terminal, sales, sale_conflict)
    assert stored is not None
    assert stored["amount_minor"] == 9900


def test_network_page_shows_sync_panel(client: FlaskClient, terminal: Database) -> None:
    add_contact(terminal, name="王芳")
    doc = page_of(client, "/network/")
    row = doc.xpath('//section[@id="sync"]//tr[@data-area="contacts"]/td')
    assert row[0].text_content() == "1"


def test_job_state_as_json(client: FlaskClient, terminal: Database) -> None:
    add_contact(terminal, name="王芳")
    location = client.post("/network/sync/upload").headers["Location"]
    wait_for_job(location.rsplit("/", 1)[-1])
    state = client.get(location, headers={"X-Requested-With": "fetch"}).get_json()
    assert state == {"state": "done", "progress": 1, "total": 1, "error": ""}


def test_failed_job_shows_message(client: FlaskClient, terminal: Database) -> None:
    def work(job: jobs.Job) -> None:
        raise NetworkUserDisabledError("lily", "192.0.2.10")

    job = jobs.start_job("sync", work, info={"direction": "download"})
    wait_for_job(job.id)
    doc = page_of(client, f"/network/sync/jobs/{job.id}")
    assert "“lily” is disabled" in text(doc, "sync-error")


def test_running_job_counts_checked_records(client: FlaskClient) -> None:
    counted, release = threading.Event(), threading.Event()

    def work(job: jobs.Job) -> None:
        job.progress, job.total = 1, 2
        counted.set()
        release.wait(JOB_SECONDS)

    job = jobs.start_job("sync", work, info={"direction": "upload"})
    try:
        assert counted.wait(JOB_SECONDS)
        doc = page_of(client, f"/network/sync/jobs/{job.id}")
    finally:
        release.set()
        wait_for_job(job.id)
    assert text(doc, "sync-progress") == "1 of 2 records checked"


def test_job_of_other_kind_not_found(client: FlaskClient) -> None:
    job = jobs.start_job("import", lambda job: None)
    wait_for_job(job.id)
    response = client.get(f"/network/sync/jobs/{job.id}")
    assert response.status_code == HTTPStatus.NOT_FOUND
