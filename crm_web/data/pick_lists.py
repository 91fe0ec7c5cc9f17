"""Queries on the pick_lists table: values offered for sales items and services."""

from __future__ import annotations

from typing import Any

from sqlalchemy import false, func, select, update

from crm_web.data.db import Database
from crm_web.data.records import as_dicts, check_columns
from crm_web.data.schema import pick_lists, utcnow


def find_values(db: Database, kind: str) -> list[dict[str, Any]]:
    """Return the live values of one list in display order."""
    statement = (
        select(pick_lists)
        .where(pick_lists.c.kind == kind, pick_lists.c.deleted == false())
        .order_by(pick_lists.c.sort_order, pick_lists.c.value)
    )
    return as_dicts(db.execute(statement))


def get_value(db: Database, value_uuid: str) -> dict[str, Any] | None:
    statement = select(pick_lists).where(pick_lists.c.uuid == value_uuid)
    row = db.execute(statement).first()
    return dict(row._mapping) if row else None


def max_sort_order(db: Database, kind: str) -> int:
    statement = select(func.max(pick_lists.c.sort_order)).where(
        pick_lists.c.kind == kind
    )
    return int(db.execute(statement).scalar_one() or 0)


def insert_value(db: Database, row: dict[str, Any]) -> None:
    check_columns(pick_lists, row)
    db.execute(pick_lists.insert().values(**row))


def update_value(db: Database, value_uuid: str, values: dict[str, Any]) -> None:
    """Change one list entry and bump its version."""
    check_columns(pick_lists, values)
    db.execute(
        update(pick_lists)
        .where(pick_lists.c.uuid == value_uuid)
        .values(**values, updated_at=utcnow(), version=pick_lists.c.version + 1)
    )
