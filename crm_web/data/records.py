"""Helpers shared by the data modules: column checks, counters, row shapes."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Table, select, update

from crm_web.data.db import Database
from crm_web.data.schema import counters, utcnow


class UnknownColumnError(ValueError):
    """A write named a column the table does not have (a programming error)."""


def check_columns(table: Table, values: Mapping[str, Any]) -> None:
    """Reject keys that are not columns of ``table``.

    dataset would silently add (or drop) such a column, hiding a typo.
    """
    unknown = set(values) - set(table.c.keys())
    if unknown:
        raise UnknownColumnError(
            f"{table.name} has no column(s) {', '.join(sorted(unknown))}"
        )


def new_record(owner: str) -> dict[str, Any]:
    """Return the bookkeeping columns of a record about to be inserted."""
    now = utcnow()
    return {
        "uuid": str(uuid.uuid4()),
        "created_at": now,
        "updated_at": now,
        "version": 1,
        "owner": owner,
        "deleted": False,
        "deleted_at": None,
    }


def next_revision(db: Database, name: str) -> int:
    """Increment counter ``name`` inside the caller's transaction.

    On MySQL the UPDATE takes a row lock held until commit, so writers of
    the same table get increasing revisions in commit order.
    """
    db.execute(
        update(counters)
        .where(counters.c.name == name)
        .values(value=counters.c.value + 1)
    )
    return int(
        db.execute(select(counters.c.value).where(counters.c.name == name)).scalar_one()
    )


def get_revision(db: Database, name: str) -> int:
    """Return the current value of counter ``name``."""
    value = db.execute(
        select(counters.c.value).where(counters.c.name == name)
    ).scalar_one_or_none()
    return int(value or 0)


def as_dicts(rows: Iterable[Any]) -> list[dict[str, Any]]:
    """Turn SQLAlchemy rows into plain dicts."""
    return [dict(row._mapping) for row in rows]
