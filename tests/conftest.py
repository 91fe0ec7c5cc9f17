"""Fixtures: settings over tmp_path, app, client, and a database per test.

Tests that take ``db`` run twice: on a SQLite file and on a database of
their own on the MariaDB/MySQL server at MYSQL_TEST_URL (default
root@127.0.0.1:3306), which is created for the test and dropped after it.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, Page, sync_playwright

from crm_web import create_app
from crm_web.config import Settings, load_settings
from crm_web.data.db import Database, connect
from crm_web.server import Server
from crm_web.services import accounts, search

MYSQL_HOST = os.environ.get("MYSQL_TEST_HOST", "127.0.0.1")
MYSQL_PORT = int(os.environ.get("MYSQL_TEST_PORT", "3306"))
MYSQL_USER = os.environ.get("MYSQL_TEST_USER", "root")
MYSQL_PASSWORD = os.environ.get("MYSQL_TEST_PASSWORD", "")


def mysql_server() -> pymysql.connections.Connection:
    return pymysql.connect(
        host=MYSQL_HOST,
        port=MYSQL_PORT,
        user=MYSQL_USER,
        password=MYSQL_PASSWORD,
        charset="utf8mb4",
    )


@pytest.fixture
def mysql_url() -> Iterator[str]:
    """Create a uniquely named utf8mb4 database; drop it afterwards."""
    name = f"r9test_{uuid.uuid4().hex[:12]}"
    server = mysql_server()
    with server.cursor() as cursor:
        cursor.execute(
            f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        )
    try:
        yield (
            f"mysql+pymysql://{MYSQL_USER}:{MYSQL_PASSWORD}@{MYSQL_HOST}:"
            f"{MYSQL_PORT}/{name}?charset=utf8mb4"
        )
    finally:
        with server.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        server.close()


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    url: str = request.getfixturevalue("mysql_url")
    return url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A prepared database on each backend; services need no app."""
    database = connect(database_url)
    yield database
    database.release()
    search.index_for(database).forget()
    database.close()


@pytest.fixture(autouse=True)
def quick_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash passwords at bcrypt's lowest cost: the same code, 50 times faster."""
    monkeypatch.setattr(accounts, "BCRYPT_ROUNDS", 4)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data", testing=True)


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    application = create_app(settings)
    yield application
    database: Database = application.extensions["crm_db"]
    search.index_for(database).forget()
    database.close()


class CsrfClient(FlaskClient):
    """A test client that sends the page's CSRF token with every POST form.

    It reads the token from a page once, as a browser would, so the app under
    test keeps its CSRF protection on.
    """

    token: str | None = None

    def open(self, *args: Any, **kwargs: Any) -> Any:
        data = kwargs.get("data")
        if kwargs.get("method") == "POST" and (data is None or isinstance(data, dict)):
            kwargs["data"] = {"csrf_token": self.csrf_token(), **(data or {})}
        return super().open(*args, **kwargs)

    def csrf_token(self) -> str:
        if self.token is None:
            page = super().open("/settings/", follow_redirects=True).get_data(
                as_text=True
            )
            match = re.search(r'name="csrf-token" content="([^"]+)"', page)
            assert match, "no CSRF token on the settings page"
            self.token = match.group(1)
        return self.token


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    app.test_client_class = CsrfClient
    return app.test_client()


@pytest.fixture
def app_db(app: Flask) -> Database:
    database: Database = app.extensions["crm_db"]
    return database


# --- real browser -----------------------------------------------------------
# Debian's Chromium, never a browser downloaded by Playwright. One Playwright
# runs per session: a second sync_playwright() in the same thread fails.

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
TIMEOUT_MS = 10_000
VIEWPORT = {"width": 1280, "height": 800}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def base_url(app: Flask) -> Iterator[str]:
    """Serve ``app`` on a free port and yield its URL without the final slash."""
    server = Server(app, port=0)
    server.start_in_thread()
    yield server.url.rstrip("/")
    server.close()


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    """Yield a page in a fresh context and fail on uncaught JavaScript errors."""
    context = browser.new_context(
        accept_downloads=True, locale="en-US", viewport=VIEWPORT
    )
    context.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    tab = context.new_page()
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    context.close()
    assert not errors, f"uncaught JavaScript errors: {errors}"
