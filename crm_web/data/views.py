"""Queries on the saved_views table (named smart-query combinations)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from crm_web.data.db import Database
from crm_web.data.records import as_dicts, check_columns
from crm_web.data.schema import saved_views, utcnow
from crm_web.data.visibility import visible


def find_views(db: Database) -> list[dict[str, Any]]:
    statement = (
        select(saved_views)
        .where(saved_views.c.deleted.is_(False), visible(saved_views))
        .order_by(saved_views.c.name)
    )
    return as_dicts(db.execute(statement))


def get_view(db: Database, view_uuid: str) -> dict[str, Any] | None:
    row = db.execute(
        select(saved_views).where(saved_views.c.uuid == view_uuid, visible(saved_views))
    ).first()
    return dict(row._mapping) if row else None


def insert_view(db: Database, row: dict[str, Any]) -> None:
    check_columns(saved_views, row)
    db.execute(saved_views.insert().values(**row))


def delete_view(db: Database, view_uuid: str) -> None:
    now = utcnow()
    db.execute(
        update(saved_views)
        .where(saved_views.c.uuid == view_uuid)
        .values(
            deleted=True,
            deleted_at=now,
            updated_at=now,
            version=saved_views.c.version + 1,
        )
    )
