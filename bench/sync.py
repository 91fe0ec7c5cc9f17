"""Upload and download of changed records through the local MariaDB server.

``run(rows)`` fills a terminal (a SQLite file) with ``rows`` records, a
quarter of them sales records and log entries about the contacts, and
times through ``crm_web.services.sync``:

- the first upload (every record is new on the server),
- an upload after every contact changed (updates with a version check;
  its floor updates the same rows with one INSERT ... ON DUPLICATE KEY
  UPDATE executemany into a copy of the server's table),
- a download of everything onto a second, empty terminal.

Each floor reads the same rows from the sending side with one SELECT per
table and writes them with one DBAPI ``executemany`` into an empty copy of
the tables on the receiving side: the least any sync must do. Target: at
most 2x the floor.
"""

from __future__ import annotations

import random
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from bench.backends import connect_dbapi, mysql_database
from bench.report import Figure, Stats, Target, format_table
from crm_web.data import comm_logs as log_data
from crm_web.data import contacts as contact_data
from crm_web.data import sales as sale_data
from crm_web.data import users as user_data
from crm_web.data.db import Database, connect
from crm_web.data.preferences import upsert_preference
from crm_web.data.records import new_record, next_revision
from crm_web.data.schema import contacts, utcnow
from crm_web.data.sync import TABLES, payload_columns
from crm_web.services import contacts as contact_service
from crm_web.services import network, sync
from crm_web.services.comm_log import search_text_of

RATIO_LIMIT = 2.0
SEED = 20261204
ZONE = ZoneInfo("Asia/Shanghai")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"
COMPANIES = ["华南电子", "远东贸易", "Acme Export", "Shenzhen LED Co.", "宁波五金"]


def fill_terminal(db: Database, rows: int) -> None:
    """Write ``rows`` records: contacts, and sales and log entries about them."""
    chance = random.Random(SEED)
    contact_count = rows * 3 // 4
    child_count = rows - contact_count

    def work(db: Database) -> None:
        revision = next_revision(db, "contacts")
        people = []
        for number in range(contact_count):
            name = chance.choice(SURNAMES) + chance.choice(GIVEN) + chance.choice(GIVEN)
            contact = contact_service.parse_form(
                {
                    "name": name,
                    "company": chance.choice(COMPANIES),
                    "mobile": f"1{chance.randint(3, 9)}{number:09d}",
                    "email": f"user{number}@example.com",
                    "notes": "需要报价 " * chance.randint(0, 5),
                }
            )
            people.append(
                {
                    **new_record("Admin"),
                    **contact_service.storable(contact, region="CN"),
                    "revision": revision,
                }
            )
        contact_data.insert_contacts(db, people)
        sales_rows, log_rows = [], []
        for number in range(child_count):
            about = people[number % contact_count]["uuid"]
            if number % 2:
                sales_rows.append(_sale(about, number))
            else:
                log_rows.append(_entry(about, number))
        sale_data.insert_sales(db, sales_rows)
        log_data.insert_logs(db, log_rows)

    db.write(work)
    db.release()


def _sale(contact_uuid: str, number: int) -> dict[str, Any]:
    return {
        **new_record("Admin"),
        "contact_uuid": contact_uuid,
        "sold_on": utcnow().date(),
        "item": f"LED 灯 {number % 40}",
        "service_type": "",
        "quantity_milli": 1000 * (number % 9 + 1),
        "unit_price_micro": 12_500_000,
        "amount_minor": 1250 * (number % 9 + 1),
        "currency": "CNY",
        "status": "paid",
        "notes": "",
        "custom1": "",
        "custom2": "",
        "custom3": "",
        "custom4": "",
    }


def _entry(contact_uuid: str, number: int) -> dict[str, Any]:
    title = f"报价电话 {number}"
    return {
        **new_record("Admin"),
        "contact_uuid": contact_uuid,
        "occurred_at": utcnow(),
        "channel": "phone",
        "title": title,
        "content": "客户要样品",
        "follow_up_on": None,
        "follow_up_done": False,
        "appointment_uuid": None,
        "search_text": search_text_of(title, "客户要样品"),
    }


def touch_every_contact(db: Database) -> int:
    """Change every contact's notes, as an edit would; return the count."""

    def work(db: Database) -> int:
        revision = next_revision(db, "contacts")
        result = db.execute(
            update(contacts).values(
                notes=contacts.c.notes + "已回访",
                updated_at=utcnow(),
                version=contacts.c.version + 1,
                revision=revision,
            )
        )
        return int(result.rowcount)

    count = db.write(work)
    db.release()
    return count


@contextmanager
def prepared_server() -> Iterator[tuple[Database, str]]:
    with mysql_database() as url:
        server = connect(url)

        def work(db: Database) -> None:
            upsert_preference(db, sync.SERVER_PREFERENCE, str(uuid.uuid4()))
            user_data.insert_user(db, name="lily", password_hash="", role="admin")

        server.write(work)
        server.release()
        try:
            yield server, url
        finally:
            server.release()
            server.close()


def _user(server: Database) -> Any:
    row = user_data.get_user(server, "lily")
    server.release()
    assert row is not None
    return network.network_user_of(row)


def floor_seconds(
    source: Database, target_url: str, *, only: str | None = None, upsert: bool = False
) -> float:
    """Return the seconds to copy the synced rows with one executemany each.

    Every table (or only ``only``) is read with one SELECT and written into
    a twin table: an empty one, or with ``upsert`` a full copy of the target
    table that the rows update with one INSERT ... ON DUPLICATE KEY UPDATE.
    """
    connection = connect_dbapi(target_url)
    cursor = connection.cursor()
    is_mysql = "mysql" in target_url
    total = 0.0
    for name, table in TABLES.items():
        if only and name != only:
            continue
        columns = [*payload_columns(table), "owner", "version", "revision"]
        start = time.perf_counter()
        rows = [tuple(row) for row in source.execute(select(*table.c[*columns]))]
        source.release()
        total += time.perf_counter() - start
        if not rows:
            continue
        twin = f"floor_{name}"
        if is_mysql:
            cursor.execute(f"CREATE TABLE {twin} LIKE {name}")
            if upsert:
                cursor.execute(f"INSERT INTO {twin} SELECT * FROM {name}")
        else:
            cursor.execute(f"CREATE TABLE {twin} AS SELECT * FROM {name} WHERE 0")
        connection.commit()
        marks = ", ".join(["%s" if is_mysql else "?"] * len(columns))
        sql = f"INSERT INTO {twin} ({', '.join(columns)}) VALUES ({marks})"
        if upsert:
            sql += " ON DUPLICATE KEY UPDATE " + ", ".join(
                f"{column} = VALUES({column})" for column in columns
            )
        start = time.perf_counter()
        cursor.executemany(sql, rows)
        connection.commit()
        total += time.perf_counter() - start
        cursor.execute(f"DROP TABLE {twin}")
        connection.commit()
    connection.close()
    return total


def _timed(call: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def _figure(name: str, seconds: float, floor: float, note: str) -> Figure:
    return Figure(
        "mysql",
        name,
        "s",
        Stats.single(seconds),
        floor=Stats.single(floor),
        target=Target(RATIO_LIMIT, "ratio"),
        note=note,
    )


def run(rows: int) -> list[Figure]:
    """Fill a terminal with ``rows`` records, then time upload and download."""
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as work:
        terminal = connect(f"sqlite:///{Path(work) / 'lily.sqlite3'}")
        fill_terminal(terminal, rows)
        with prepared_server() as (server, url):
            user = _user(server)
            seconds, summary = _timed(
                lambda: sync.upload(terminal, server, user, local_owner="Admin")
            )
            floor = floor_seconds(terminal, url)
            figures.append(
                _figure("upload, new records", seconds, floor, f"{summary.sent} sent")
            )

            touch_every_contact(terminal)
            seconds, summary = _timed(
                lambda: sync.upload(terminal, server, user, local_owner="Admin")
            )
            floor = floor_seconds(terminal, url, only="contacts", upsert=True)
            figures.append(
                _figure(
                    "upload, changed contacts",
                    seconds,
                    floor,
                    f"{summary.sent} sent; floor: one upsert executemany",
                )
            )

            laptop_path = Path(work) / "laptop.sqlite3"
            laptop = connect(f"sqlite:///{laptop_path}")
            seconds, summary = _timed(
                lambda: sync.download(laptop, server, user, local_owner="Admin")
            )
            floor = floor_seconds(server, f"sqlite:///{laptop_path}")
            figures.append(
                _figure(
                    "download to an empty terminal",
                    seconds,
                    floor,
                    f"{summary.received} received",
                )
            )
            for db in (laptop, terminal):
                db.release()
                db.close()
    return figures


if __name__ == "__main__":
    import sys

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    print(format_table(run(count)))
