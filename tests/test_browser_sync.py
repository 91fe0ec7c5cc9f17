"""Sync in headless Chromium: an upload's progress and summary, a conflict.

The terminal is the served test app (SQLite), signed in as network user
lily on a MariaDB server database of the test's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest
from conftest import mysql_server
from playwright.sync_api import Page, expect
from sqlalchemy.engine import make_url
from sync_helpers import (
    add_contact,
    add_sale,
    edit_contact,
    prepare_server,
    row_of,
    run,
    sign_in_terminal,
)

from crm_web.config import Settings
from crm_web.data.db import Database
from crm_web.data.schema import contacts
from crm_web.services import search

# The browser, base_url and page fixtures come from conftest.py.
pytestmark = [pytest.mark.browser, pytest.mark.mysql]


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
    sign_in_terminal(app_db, settings.data_dir, mysql_url, "lily")
    return app_db


@pytest.fixture
def sales_counter_lock(mysql_url: str) -> Iterator[pymysql.connections.Connection]:
    """Hold the server's sales counter row, so an upload waits at its sales.

    The app's sessions wait 20 seconds for a row lock. Commit to release it.
    """
    connection = mysql_server()
    connection.select_db(make_url(mysql_url).database)
    connection.begin()
    with connection.cursor() as cursor:
        cursor.execute("SELECT value FROM counters WHERE name = 'sales' FOR UPDATE")
    yield connection
    connection.rollback()
    connection.close()


def test_upload_shows_progress_then_summary(
    page: Page,
    base_url: str,
    terminal: Database,
    sales_counter_lock: pymysql.connections.Connection,
) -> None:
    add_contact(terminal, name="王芳", company="华南电子")
    add_sale(terminal, item="LED 灯", amount="1234.5")
    terminal.release()
    page.goto(f"{base_url}/network/sync")
    page.locator("#sync-upload").click()

    # The contact went up, and the sales record waits for the held counter.
    expect(page.locator("#sync-progress")).to_have_text("1 of 2 records checked")
    expect(page.locator("#sync-bar")).to_have_attribute("aria-valuenow", "50")
    sales_counter_lock.commit()

    expect(page.locator("#sync-summary h2")).to_have_text("Upload finished")
    expect(page.locator("#sync-sent")).to_have_text("2")
    history = page.locator("#sync-history tbody tr").first
    expect(history.locator("td").nth(7)).to_have_text("Finished")


def test_resolve_conflict_by_picking_fields(
    page: Page,
    base_url: str,
    terminal: Database,
    server: Database,
    settings: Settings,
) -> None:
    data_dir: Path = settings.data_dir
    record = add_contact(terminal, name="王芳", company="华南电子")
    run("upload", terminal, data_dir)
    edit_contact(server, record, company="华北电子", notes="服务器的备注")
    edit_contact(terminal, record, company="华东电子", notes="我的备注")
    assert run("upload", terminal, data_dir).conflicts == 1

    page.goto(f"{base_url}/network/sync")
    page.locator("#sync-conflicts a").click()
    page.get_by_role("link", name="王芳").click()
    expect(page.locator("#conflict-explanation")).to_contain_text(
        "changed here and on the server"
    )
    page.get_by_label("Theirs: Company").check()
    page.get_by_role("button", name="Keep my picks").click()

    expect(page.locator(".flash")).to_contain_text(
        "They will be sent with the next upload."
    )
    expect(page.locator("#no-conflicts")).to_be_visible()
    stored = row_of(terminal, contacts, record)
    assert stored is not None
    assert stored["company"] == "华北电子"
    assert stored["notes"] == "我的备注"
