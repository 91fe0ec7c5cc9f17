"""Record visibility: a user's own records and those shared with them.

A request signed in as a user who is not an administrator sets a
``Viewer`` on ``flask.g`` (see crm_web/auth.py). Queries that list or
fetch records for the user add ``visible(table)`` to their conditions.
Outside a request (the command line, background work) and for
administrators that condition is always true. A record is shared with a
user when ``record_shares`` contains its uuid with the user's name, or
with ``*`` for everyone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import g, has_app_context
from sqlalchemy import ColumnElement, Table, and_, delete, or_, select, true, update

from crm_web.data.db import Database
from crm_web.data.records import next_revision
from crm_web.data.schema import contacts, record_shares, utcnow
from crm_web.errors import ReadOnlyRecordError

EVERYONE = "*"


@dataclass(frozen=True)
class Viewer:
    """A user who sees only their own records and those shared with them."""

    name: str
    # Category uuids of the shared contacts visible to this user; empty for all.
    categories: tuple[str, ...] = ()
    # False when records others shared with this user are read-only.
    may_edit_shared: bool = True

    def may_edit(self, owner: str) -> bool:
        """Return True when this user may change a record of ``owner``."""
        return owner == self.name or self.may_edit_shared

    def names(self) -> tuple[str, str]:
        return (self.name, EVERYONE)


def current_viewer() -> Viewer | None:
    """Return the restricted viewer of this request, or None for all records."""
    if not has_app_context():
        return None
    viewer: Viewer | None = g.get("crm_viewer")
    return viewer


def require_may_edit(row: Mapping[str, Any], label: str) -> None:
    """Raise ReadOnlyRecordError when this request's user may only read ``row``."""
    viewer = current_viewer()
    if viewer is not None and not viewer.may_edit(row["owner"]):
        raise ReadOnlyRecordError(label, row["owner"])


def visible(table: Table, viewer: Viewer | None = None) -> ColumnElement[bool]:
    """Return the condition that keeps the rows ``viewer`` may see."""
    viewer = viewer or current_viewer()
    if viewer is None:
        return true()
    shared = select(record_shares.c.record_uuid).where(
        record_shares.c.user.in_(viewer.names())
    )
    is_shared: ColumnElement[bool] = table.c.uuid.in_(shared)
    if table is contacts and viewer.categories:
        is_shared = and_(is_shared, contacts.c.category_uuid.in_(viewer.categories))
    return or_(table.c.owner == viewer.name, is_shared)


def visible_about_contact(
    table: Table, viewer: Viewer | None = None
) -> ColumnElement[bool]:
    """Return ``visible`` widened to every row about a contact the viewer may see.

    For log entries, sales records and appointments: the owner of a
    contact, and every user it is shared with, may see everything recorded
    about it by anyone, including records added after it was shared.
    """
    viewer = viewer or current_viewer()
    if viewer is None:
        return true()
    seen = select(contacts.c.uuid).where(visible(contacts, viewer))
    return or_(visible(table, viewer), table.c.contact_uuid.in_(seen))


def shared_uuids(db: Database, viewer: Viewer) -> set[str]:
    """Return the uuids of every record shared with ``viewer``."""
    rows = db.execute(
        select(record_shares.c.record_uuid).where(
            record_shares.c.user.in_(viewer.names())
        )
    )
    return {row[0] for row in rows}


def shares_of(db: Database, record_uuids: Sequence[str]) -> dict[str, list[str]]:
    """Return, per record, the user names it is shared with ("*" for all)."""
    result: dict[str, list[str]] = {}
    for start in range(0, len(record_uuids), 500):
        rows = db.execute(
            select(record_shares.c.record_uuid, record_shares.c.user)
            .where(record_shares.c.record_uuid.in_(record_uuids[start : start + 500]))
            .order_by(record_shares.c.user)
        )
        for record_uuid, user in rows:
            result.setdefault(record_uuid, []).append(user)
    return result


def set_shares(db: Database, record_uuids: Sequence[str], users: Iterable[str]) -> None:
    """Replace who the given records are shared with (inside a transaction)."""
    chosen = sorted(set(users))
    now = utcnow()
    for start in range(0, len(record_uuids), 500):
        batch = list(record_uuids[start : start + 500])
        db.execute(delete(record_shares).where(record_shares.c.record_uuid.in_(batch)))
        rows = [
            {"record_uuid": uuid, "user": user, "created_at": now}
            for uuid in batch
            for user in chosen
        ]
        if rows:
            db.execute(record_shares.insert(), rows)


def share_records(
    db: Database, table: Table, record_uuids: Sequence[str], users: Iterable[str]
) -> None:
    """Replace who the records are shared with and move their revision on.

    Call it inside a transaction. The sync sends records whose revision
    moved, so a change of sharing reaches the shared server; a table
    without a revision column (appointments) only gets the shares.
    """
    set_shares(db, record_uuids, users)
    if "revision" not in table.c or not record_uuids:
        return
    revision = next_revision(db, table.name)
    for start in range(0, len(record_uuids), 500):
        batch = list(record_uuids[start : start + 500])
        db.execute(
            update(table).where(table.c.uuid.in_(batch)).values(revision=revision)
        )


def find_owners(
    db: Database, table: Table, record_uuids: Sequence[str]
) -> dict[str, str]:
    """Return uuid -> owner of the given records of ``table``."""
    owners: dict[str, str] = {}
    for start in range(0, len(record_uuids), 500):
        batch = list(record_uuids[start : start + 500])
        rows = db.execute(
            select(table.c.uuid, table.c.owner).where(table.c.uuid.in_(batch))
        )
        owners.update({uuid: owner for uuid, owner in rows})
    return owners
