"""The schema: numbered upgrades, and the same tables on both backends."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, inspect, select, text

from crm_web.data import schema
from crm_web.data.db import Database, connect


def shape(url: str) -> dict[str, list[tuple[str, bool]]]:
    engine = create_engine(url)
    try:
        inspector = inspect(engine)
        return {
            table: [(c["name"], c["nullable"]) for c in inspector.get_columns(table)]
            for table in sorted(inspector.get_table_names())
        }
    finally:
        engine.dispose()


def test_backends_get_same_tables_and_columns(tmp_path: Path, mysql_url: str) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'a.sqlite3'}"
    for url in (sqlite_url, mysql_url):
        connect(url).close()
    assert shape(sqlite_url) == shape(mysql_url)


def test_upgrade_from_version_one_keeps_data(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    monkeypatch.setattr(schema, "UPGRADES", schema.UPGRADES[:1])
    old = connect(url)
    old.execute(schema.preferences.insert().values(name="page_size", value="20"))
    old.conn.commit()
    old.close()
    monkeypatch.undo()

    database = connect(url)
    versions = [r["version"] for r in database.query(
        "SELECT version FROM schema_migrations ORDER BY version")]
    kept = database.query("SELECT value FROM preferences WHERE name = 'page_size'")
    database.close()
    assert versions == [v for v, _step in schema.UPGRADES]
    assert kept == [{"value": "20"}]


def test_mysql_tables_are_utf8mb4(mysql_url: str) -> None:
    database: Database = connect(mysql_url)
    rows = database.query(
        "SELECT TABLE_NAME, TABLE_COLLATION FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = DATABASE()")
    database.close()
    assert rows
    assert {r["TABLE_COLLATION"] for r in rows} == {"utf8mb4_bin"}


def test_mysql_keeps_emoji_and_rare_characters(mysql_url: str) -> None:
    from crm_web.services import contacts

    database = connect(mysql_url)
    contact_id = contacts.create_contact(
        database, contacts.parse_form({"name": "𠀀䶮😀", "notes": "🎉"}),
        owner="Admin", region="CN")
    row = database.query("SELECT name, notes FROM contacts WHERE id = :i", i=contact_id)
    database.close()
    assert row == [{"name": "𠀀䶮😀", "notes": "🎉"}]


def test_bulk_insert_keeps_second_boundary(db: Database) -> None:
    """A row written by executemany at 00:00:00 is found from 00:00:00 on."""
    midnight = datetime(2026, 12, 4, 0, 0, 0)
    db.write(
        lambda db: db.executemany(
            f"INSERT INTO audit_log (at, user, action, target, detail, address) "
            f"VALUES ({', '.join([db.paramstyle_mark] * 6)})",
            [(midnight, "lily", "login", "", "", "")],
        )
    )
    found = db.execute(
        select(func.count())
        .select_from(schema.audit_log)
        .where(schema.audit_log.c.at >= midnight)
    ).scalar_one()
    assert found == 1


def test_upgrade_pads_sqlite_datetimes(tmp_path: Path) -> None:
    database = connect(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    database.write(
        lambda db: db.execute(
            text(
                "INSERT INTO audit_log (at, user, action, target, detail, address) "
                "VALUES ('2026-12-04 00:00:00', 'lily', 'login', '', '', '')"
            )
        )
    )
    database.write(lambda db: schema._pad_sqlite_datetimes(db.conn))
    stored = database.execute(text("SELECT at FROM audit_log")).scalar_one()
    database.release()
    database.close()
    assert stored == "2026-12-04 00:00:00.000000"
