"""Queries on the import history and the changes each import made."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update

from crm_web.data.db import Database
from crm_web.data.records import as_dicts, check_columns
from crm_web.data.schema import import_changes, imports
from crm_web.data.visibility import visible


def insert_import(db: Database, row: dict[str, Any]) -> None:
    check_columns(imports, row)
    db.execute(imports.insert().values(**row))


def update_import(db: Database, import_uuid: str, values: dict[str, Any]) -> None:
    check_columns(imports, values)
    db.execute(
        update(imports)
        .where(imports.c.uuid == import_uuid)
        .values(**values, version=imports.c.version + 1)
    )


def get_import(db: Database, import_uuid: str) -> dict[str, Any] | None:
    row = db.execute(
        select(imports).where(imports.c.uuid == import_uuid, visible(imports))
    ).first()
    return dict(row._mapping) if row else None


def find_imports(db: Database, *, limit: int = 50) -> list[dict[str, Any]]:
    statement = (
        select(imports)
        .where(visible(imports))
        .order_by(imports.c.id.desc())
        .limit(limit)
    )
    return as_dicts(db.execute(statement))


def insert_changes(db: Database, rows: Sequence[dict[str, Any]]) -> None:
    """Insert change records with one DBAPI executemany (see insert_contacts)."""
    names = ["import_uuid", "contact_uuid", "action", "before"]
    columns = ", ".join(db.quote(name) for name in names)
    marks = ", ".join(db.paramstyle_mark for _ in names)
    sql = f"INSERT INTO import_changes ({columns}) VALUES ({marks})"
    db.executemany(sql, [tuple(row[name] for name in names) for row in rows])


def find_changes(db: Database, import_uuid: str) -> list[dict[str, Any]]:
    statement = (
        select(import_changes)
        .where(import_changes.c.import_uuid == import_uuid)
        .order_by(import_changes.c.id)
    )
    return as_dicts(db.execute(statement))
