"""Queries on the categories table."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from crm_web.data.db import Database
from crm_web.data.records import as_dicts, check_columns
from crm_web.data.schema import categories


def find_categories(db: Database) -> list[dict[str, Any]]:
    """Return live categories in display order."""
    statement = (
        select(categories)
        .where(categories.c.deleted.is_(False))
        .order_by(categories.c.sort_order, categories.c.name)
    )
    return as_dicts(db.execute(statement))


def get_category(db: Database, category_uuid: str) -> dict[str, Any] | None:
    statement = select(categories).where(categories.c.uuid == category_uuid)
    row = db.execute(statement).first()
    return dict(row._mapping) if row else None


def get_category_by_name(db: Database, name: str) -> dict[str, Any] | None:
    statement = select(categories).where(
        categories.c.name == name, categories.c.deleted.is_(False)
    )
    row = db.execute(statement).first()
    return dict(row._mapping) if row else None


def insert_category(db: Database, row: dict[str, Any]) -> None:
    check_columns(categories, row)
    db.execute(categories.insert().values(**row))


def update_category(db: Database, category_uuid: str, values: dict[str, Any]) -> None:
    check_columns(categories, values)
    db.execute(
        update(categories)
        .where(categories.c.uuid == category_uuid)
        .values(**values, version=categories.c.version + 1)
    )
