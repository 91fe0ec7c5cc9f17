"""Two colleagues in their browsers on ``r9crm serve``, each with their records.

The server is a real ``r9crm serve`` process with login protection on, over
a SQLite data folder and over a MariaDB database. The user lily keeps one
contact private and shares one with tom and one with everyone, in her
browser. In a browser context of his own, tom gets only the shared two
and what is recorded about them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

import pytest
from conftest import TIMEOUT_MS, VIEWPORT
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from crm_web.data.db import Database, connect
from crm_web.services import accounts
from crm_web.services import comm_log as log_service
from crm_web.services import contacts as contact_service
from crm_web.services import sales as sale_service

# The browser fixture comes from conftest.py.
pytestmark = pytest.mark.browser

PASSWORD = "同事密码 lan-2026"
SHANGHAI = ZoneInfo("Asia/Shanghai")
SERVE = Path(sys.executable).with_name("r9crm")
START_SECONDS = 60
STOP_SECONDS = 10
SERVING = re.compile(r"Serving R9 CRM on (http://\S+)/")
# All three names contain the query, so a query that ignored sharing
# would list the private one too.
QUERY = "宁波"
PRIVATE = "宁波私人客户"
WITH_TOM = "宁波共享客户"
PUBLIC = "宁波公开客户"
PRIVATE_MOBILE = "13912345678"
PRIVATE_LOG = "私下报价"
SHARED_LOG = "共享的通话"
PRIVATE_ITEM = "私人订单阀门"


@dataclass(frozen=True)
class Office:
    """The served URL and the ids of lily's records."""

    url: str
    contacts: dict[str, int]  # by name
    private_log_id: int
    private_sale_id: int


def add_users(db: Database) -> None:
    """Give Admin a password, add lily and tom, and turn protection on."""
    admin = next(u for u in accounts.list_users(db) if u["name"] == "Admin")
    accounts.set_password(db, admin["uuid"], PASSWORD, by="test")
    for name in ("lily", "tom"):
        accounts.create_user(db, name, PASSWORD, "user", by="test")
    accounts.set_protection(db, True, by="test")


def add_records_of_lily(db: Database) -> tuple[dict[str, int], int, int]:
    """Add lily's three contacts, two log entries and a sales record."""
    contacts = {}
    for name, mobile in (
        (PRIVATE, PRIVATE_MOBILE),
        (WITH_TOM, "13912345679"),
        (PUBLIC, "13912345670"),
    ):
        contact = contact_service.parse_form({"name": name, "mobile": mobile})
        contacts[name] = contact_service.create_contact(
            db, contact, owner="lily", region="CN"
        )
    log_ids = {}
    for name, title in ((PRIVATE, PRIVATE_LOG), (WITH_TOM, SHARED_LOG)):
        raw = {
            "contact_id": str(contacts[name]),
            "occurred_at": "2026-03-15T10:30",
            "channel": "phone",
            "title": title,
        }
        entry = log_service.parse_entry(db, raw, zone=SHANGHAI)
        log_ids[name] = log_service.create_entry(db, entry, owner="lily", zone=SHANGHAI)
    private = contact_service.require_contact(db, contacts[PRIVATE])
    sale = sale_service.parse_form(
        {
            "sold_on": "2026-03-15",
            "status": "ordered",
            "item": PRIVATE_ITEM,
            "contact_uuid": private["uuid"],
        }
    )
    sale_id = sale_service.create_sale(db, sale, owner="lily")
    return contacts, log_ids[PRIVATE], sale_id


def read_url(output: IO[str]) -> str:
    """Return the URL that ``r9crm serve`` prints once it listens."""
    found: list[str] = []

    def read() -> None:
        for line in output:
            match = SERVING.search(line)
            if match:
                found.append(match.group(1))
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(START_SECONDS)
    assert found, f"r9crm serve printed no URL within {START_SECONDS} s"
    return found[0]


@pytest.fixture
def office(tmp_path: Path, database_url: str) -> Iterator[Office]:
    """Serve a prepared database with ``r9crm serve`` in a process of its own."""
    db = connect(database_url)
    try:
        add_users(db)
        contacts, private_log_id, private_sale_id = add_records_of_lily(db)
    finally:
        db.release()
        db.close()
    log_file = (tmp_path / "serve.log").open("w", encoding="utf-8")
    command = [
        str(SERVE),
        "--data-dir",
        str(tmp_path / "data"),
        "--database-url",
        database_url,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
    ]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=log_file,
        text=True,
        env=environment,
    )
    try:
        assert process.stdout is not None
        url = read_url(process.stdout).rstrip("/")
        yield Office(url, contacts, private_log_id, private_sale_id)
    finally:
        process.terminate()
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_SECONDS)
        log_file.close()


def signed_in(browser: Browser, office: Office, name: str) -> BrowserContext:
    """Return a browser context of its own in which ``name`` is signed in."""
    size = ViewportSize(width=VIEWPORT["width"], height=VIEWPORT["height"])
    context = browser.new_context(locale="en-US", viewport=size)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{office.url}/login")
    page.fill("#login-name", name)
    page.fill("#login-password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".signed-in")).to_contain_text(f"Signed in as {name}")
    return context


def share(page: Page, office: Office, name: str, *, everyone: bool) -> None:
    """Share contact ``name`` from its card, with tom or with everyone."""
    page.goto(f"{office.url}/contacts/{office.contacts[name]}")
    sharing = page.locator("#sharing")
    if everyone:
        sharing.get_by_label("Everyone", exact=True).check()
    else:
        sharing.get_by_label("tom", exact=True).check()
    sharing.get_by_role("button", name="Save sharing").click()
    expect(page.locator(".flash-ok")).to_be_visible()


def listed(page: Page, office: Office, query: str = "") -> list[str]:
    """Return the names on the contact list, after a smart query if given."""
    page.goto(f"{office.url}/contacts/")
    if query:
        page.fill("#smart-query", query)
        page.locator("#smart-query").press("Enter")
        expect(page).to_have_url(re.compile(r"[?&]q="))
    return sorted(page.locator("td.name a").all_inner_texts())


@pytest.fixture
def colleagues(browser: Browser, office: Office) -> Iterator[dict[str, Page]]:
    """Sign in lily and tom, and let lily share one contact each way."""
    contexts = {name: signed_in(browser, office, name) for name in ("lily", "tom")}
    pages = {name: context.pages[0] for name, context in contexts.items()}
    errors: list[str] = []
    for page in pages.values():
        page.on("pageerror", lambda error: errors.append(str(error)))
    share(pages["lily"], office, WITH_TOM, everyone=False)
    share(pages["lily"], office, PUBLIC, everyone=True)
    yield pages
    for context in contexts.values():
        context.close()
    assert not errors, f"uncaught JavaScript errors: {errors}"


def test_lan_sharing_per_user(colleagues: dict[str, Page], office: Office) -> None:
    lily, tom = colleagues["lily"], colleagues["tom"]
    assert listed(lily, office) == sorted([PRIVATE, WITH_TOM, PUBLIC])
    assert listed(tom, office) == sorted([WITH_TOM, PUBLIC])
    assert listed(tom, office, QUERY) == sorted([WITH_TOM, PUBLIC])
    assert listed(tom, office, PRIVATE_MOBILE) == []

    hidden = [
        f"/contacts/{office.contacts[PRIVATE]}",
        f"/log/{office.private_log_id}",
        f"/sales/{office.private_sale_id}/edit",
    ]
    for path in hidden:
        response = tom.goto(office.url + path)
        assert response is not None
        assert response.status == 404, path

    tom.goto(f"{office.url}/log/")
    expect(tom.locator("td.log-title")).to_have_text([SHARED_LOG])
    tom.goto(f"{office.url}/sales/")
    expect(tom.locator("tr.sale")).to_have_count(0)
    tom.goto(f"{office.url}/contacts/{office.contacts[WITH_TOM]}")
    expect(tom.locator(".timeline-title")).to_have_text([SHARED_LOG])

    lily.goto(f"{office.url}/log/")
    expect(lily.locator("td.log-title")).to_have_count(2)
    titles = lily.locator("td.log-title").all_inner_texts()
    assert sorted(titles) == sorted([PRIVATE_LOG, SHARED_LOG])
    lily.goto(f"{office.url}/sales/")
    expect(lily.locator("tr.sale")).to_contain_text([PRIVATE_ITEM])
