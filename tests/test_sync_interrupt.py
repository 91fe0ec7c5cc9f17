"""An upload stopped part-way, then run again, leaves what one run leaves.

The reference is the same terminal (a copy of its SQLite file taken
before any upload) sent to a second server database without a stop.
"""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import MYSQL_HOST, MYSQL_PASSWORD, MYSQL_PORT, MYSQL_USER, mysql_server
from sqlalchemy import select

from crm_web.data import contacts as contact_data
from crm_web.data import sales as sale_data
from crm_web.data import users as user_data
from crm_web.data import visibility
from crm_web.data.db import Database, connect
from crm_web.data.preferences import upsert_preference
from crm_web.data.records import new_record, next_revision
from crm_web.data.schema import record_shares
from crm_web.data.sync import TABLES
from crm_web.services import accounts, network, search, sync
from crm_web.services import contacts as contact_service
from crm_web.services import sales as sale_service

pytestmark = pytest.mark.mysql

CONTACTS = 2400
SALES = 600


@contextmanager
def server_database() -> Iterator[str]:
    """Create a prepared server database with user lily; yield its URL."""
    name = f"r9test_{uuid.uuid4().hex[:12]}"
    admin = mysql_server()
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    url = (
        f"mysql+pymysql://{MYSQL_USER}:{MYSQL_PASSWORD}@{MYSQL_HOST}:"
        f"{MYSQL_PORT}/{name}?charset=utf8mb4"
    )
    database = connect(url)

    def work(db: Database) -> None:
        upsert_preference(db, sync.SERVER_PREFERENCE, str(uuid.uuid4()))
        user_data.insert_user(
            db,
            name="lily",
            password_hash=accounts.hash_password("password-lily"),
            role="user",
        )

    database.write(work)
    database.release()
    database.close()
    try:
        yield url
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def fill_terminal(path: Path) -> None:
    """Write contacts (every fifth shared with everyone) and sales."""
    db = connect(f"sqlite:///{path}")

    def work(db: Database) -> None:
        revision = next_revision(db, "contacts")
        rows = []
        for number in range(CONTACTS):
            contact = contact_service.parse_form(
                {"name": f"客户{number:05d}", "mobile": f"139{number:08d}"}
            )
            rows.append(
                {
                    **new_record("Admin"),
                    **contact_service.storable(contact, region="CN"),
                    "revision": revision,
                }
            )
        contact_data.insert_contacts(db, rows)
        visibility.set_shares(
            db, [row["uuid"] for row in rows[::5]], [visibility.EVERYONE]
        )
        for number in range(SALES):
            sale = sale_service.parse_form(
                {
                    "sold_on": "2026-11-01",
                    "currency": "CNY",
                    "status": "paid",
                    "item": f"货品{number}",
                    "amount": "12.50",
                    "contact_uuid": rows[number]["uuid"],
                }
            )
            sale_data.insert_sale(db, {**new_record("Admin"), **sale.values})

    db.write(work)
    db.release()
    search.index_for(db).forget()
    db.close()


def server_state(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Return every synced row and share, without the auto-increment ids."""
    db = connect(url)
    state: dict[str, list[tuple[Any, ...]]] = {}
    for name, table in TABLES.items():
        columns = [c for c in table.c if c.name != "id"]
        rows = db.execute(select(*columns).order_by(table.c.uuid)).all()
        state[name] = [tuple(row) for row in rows]
    shares = db.execute(
        select(record_shares.c.record_uuid, record_shares.c.user).order_by(
            record_shares.c.record_uuid, record_shares.c.user
        )
    ).all()
    state["record_shares"] = [tuple(row) for row in shares]
    db.release()
    db.close()
    return state


def run_upload(local_path: Path, url: str) -> sync.SyncSummary:
    local = connect(f"sqlite:///{local_path}")
    server = connect(url)
    try:
        row = user_data.get_user(server, "lily")
        assert row is not None
        user = network.network_user_of(row)
        return sync.upload(local, server, user, local_owner="Admin")
    finally:
        for db in (local, server):
            db.release()
            db.close()


UPLOAD_SCRIPT = """
import sys
from crm_web.data import users as user_data
from crm_web.data.db import connect
from crm_web.services import network, sync
local, server = connect(sys.argv[1]), connect(sys.argv[2])
user = network.network_user_of(user_data.get_user(server, "lily"))
print("started", flush=True)
sync.upload(local, server, user, local_owner="Admin")
"""


@pytest.fixture
def terminal(tmp_path: Path) -> tuple[Path, Path]:
    """A filled terminal and an untouched copy of it."""
    path = tmp_path / "lily.sqlite3"
    fill_terminal(path)
    copy = tmp_path / "lily-copy.sqlite3"
    shutil.copy(path, copy)
    return path, copy


@pytest.fixture
def reference(terminal: tuple[Path, Path]) -> Iterator[dict[str, Any]]:
    _, copy = terminal
    with server_database() as url:
        run_upload(copy, url)
        yield server_state(url)


def test_upload_stopped_after_server_commit(
    terminal: tuple[Path, Path],
    reference: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The server took a batch but the terminal never recorded it."""
    path, _ = terminal
    original = sync._UploadBatch.record
    calls = {"count": 0}

    def record_then_die(self: Any, local: Database, *, last: dict[str, Any]) -> None:
        calls["count"] += 1
        if calls["count"] == 3:
            raise ConnectionError("network lost")
        original(self, local, last=last)

    with server_database() as url:
        monkeypatch.setattr(sync._UploadBatch, "record", record_then_die)
        with pytest.raises(ConnectionError):
            run_upload(path, url)
        monkeypatch.setattr(sync._UploadBatch, "record", original)
        run_upload(path, url)
        assert server_state(url) == reference


def test_upload_stopped_after_server_commit_sends_rest(
    terminal: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = terminal
    original = sync._UploadBatch.record
    calls = {"count": 0}

    def record_then_die(self: Any, local: Database, *, last: dict[str, Any]) -> None:
        calls["count"] += 1
        if calls["count"] == 2:
            raise ConnectionError("network lost")
        original(self, local, last=last)

    with server_database() as url:
        monkeypatch.setattr(sync._UploadBatch, "record", record_then_die)
        with pytest.raises(ConnectionError):
            run_upload(path, url)
        monkeypatch.setattr(sync._UploadBatch, "record", original)
        summary = run_upload(path, url)
        # The first batch was recorded; the second reached the server only.
        assert summary.sent == CONTACTS + SALES - 2 * 500


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_upload_killed_at_random_points(
    terminal: tuple[Path, Path], reference: dict[str, Any], seed: int
) -> None:
    """Kill the uploading process three times at random moments, then finish."""
    path, _ = terminal
    chance = random.Random(seed)
    killed = 0
    with server_database() as url:
        for _attempt in range(3):
            child = subprocess.Popen(
                [sys.executable, "-c", UPLOAD_SCRIPT, f"sqlite:///{path}", url],
                stdout=subprocess.PIPE,
            )
            assert child.stdout is not None
            child.stdout.readline()
            time.sleep(chance.uniform(0.05, 1.0))
            child.send_signal(signal.SIGKILL)
            killed += child.wait(timeout=30) == -signal.SIGKILL
        run_upload(path, url)
        assert killed >= 1
        assert server_state(url) == reference
