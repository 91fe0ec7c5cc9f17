"""Queries on the preferences table (settings users change in the app)."""

from __future__ import annotations

from sqlalchemy import select

from crm_web.data.db import Database
from crm_web.data.schema import preferences


def find_preferences(db: Database) -> dict[str, str]:
    rows = db.execute(select(preferences.c.name, preferences.c.value))
    return {name: value for name, value in rows}


def upsert_preference(db: Database, name: str, value: str) -> None:
    """Insert or replace one preference (portable across both backends)."""
    db.execute(preferences.delete().where(preferences.c.name == name))
    db.execute(preferences.insert().values(name=name, value=value))


def delete_preference(db: Database, name: str) -> None:
    db.execute(preferences.delete().where(preferences.c.name == name))
