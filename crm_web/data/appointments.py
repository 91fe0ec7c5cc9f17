"""Queries on the appointments table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, select, update

from crm_web.data.db import Database
from crm_web.data.records import check_columns
from crm_web.data.schema import appointment_occurrences, appointments, utcnow
from crm_web.data.visibility import visible_about_contact

REPEATS = ("daily", "weekly", "monthly")
LIVE_STATUSES = ("planned", "done")

# A boolean compared with "=" lets MariaDB use an index that starts with
# ``deleted``; "IS false" does not.
_LIVE = appointments.c.deleted == False  # noqa: E712
# With a one-sided range on starts_at and a LIMIT, MariaDB 10.11 looks up
# only ``deleted`` in this index and scans it from one end. Reading a page
# back from today then took 130 ms at 100,000 rows, and 2.5 ms with the
# hint (rows of bench/appointments.py).
_STARTS_INDEX_HINT = "FORCE INDEX (ix_appointments_starts)"


def _live() -> ColumnElement[bool]:
    """Live appointments the request's user may see."""
    return and_(_LIVE, visible_about_contact(appointments))


def _with_starts_index(statement: Select[Any]) -> Select[Any]:
    for dialect in ("mysql", "mariadb"):
        statement = statement.with_hint(appointments, _STARTS_INDEX_HINT, dialect)
    return statement


def _dicts(result: Any) -> list[dict[str, Any]]:
    # zip over the result's keys is about twice as fast as row._mapping,
    # which counts at the thousands of rows of a month view.
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]


def insert_appointment(db: Database, row: dict[str, Any]) -> None:
    check_columns(appointments, row)
    db.execute(appointments.insert().values(**row))


def get_appointment(db: Database, uuid: str) -> dict[str, Any] | None:
    statement = select(appointments).where(appointments.c.uuid == uuid, _live())
    row = db.execute(statement).first()
    return dict(row._mapping) if row else None


def update_appointment(
    db: Database,
    uuid: str,
    values: dict[str, Any],
    *,
    expected_version: int | None = None,
) -> bool:
    """Update an appointment, or return False if its version no longer matches."""
    check_columns(appointments, values)
    statement = update(appointments).where(appointments.c.uuid == uuid)
    if expected_version is not None:
        statement = statement.where(appointments.c.version == expected_version)
    values = {**values, "updated_at": utcnow(), "version": appointments.c.version + 1}
    result = db.execute(statement.values(**values))
    return bool(result.rowcount)


def find_single_between(
    db: Database, start: datetime, end: datetime, *, statuses: Sequence[str]
) -> list[dict[str, Any]]:
    """Return non-repeating appointments starting in [start, end), by start.

    The range uses the (deleted, starts_at) index, and status and repeat
    are checked on the rows it finds.
    """
    statement = (
        select(appointments)
        .where(
            _live(),
            appointments.c.starts_at >= start,
            appointments.c.starts_at < end,
            appointments.c.repeat == "none",
            appointments.c.status.in_(statuses),
        )
        .order_by(appointments.c.starts_at, appointments.c.id)
    )
    return _dicts(db.execute(statement))


def find_series(
    db: Database, *, statuses: Sequence[str], starting_before: datetime | None = None
) -> list[dict[str, Any]]:
    """Return repeating appointments, through the (status, repeat) index.

    ``deleted`` and ``starts_at`` are checked here, not in SQL, because with
    them in the WHERE clause SQLite 3.40 chose the (deleted, starts_at)
    index and read every row of the table.
    """
    statement = select(appointments).where(
        appointments.c.status.in_(statuses),
        appointments.c.repeat.in_(REPEATS),
        visible_about_contact(appointments),
    )
    rows = _dicts(db.execute(statement.order_by(appointments.c.id)))
    return [
        row
        for row in rows
        if not row["deleted"]
        and (starting_before is None or row["starts_at"] < starting_before)
    ]


def find_single_after(
    db: Database,
    *,
    statuses: Sequence[str],
    starts_at: datetime,
    after_id: int,
    limit: int,
) -> list[dict[str, Any]]:
    """Return the first non-repeating appointments after (starts_at, after_id).

    Rows are ordered by start, then id. The range on starts_at reads the
    (deleted, starts_at) index from that start on, with no OFFSET.
    """
    statement = (
        select(appointments)
        .where(
            _live(),
            appointments.c.starts_at >= starts_at,
            ~(
                (appointments.c.starts_at == starts_at)
                & (appointments.c.id <= after_id)
            ),
            appointments.c.repeat == "none",
            appointments.c.status.in_(statuses),
        )
        .order_by(appointments.c.starts_at, appointments.c.id)
        .limit(limit)
    )
    return _dicts(db.execute(_with_starts_index(statement)))


def find_single_before(
    db: Database,
    *,
    statuses: Sequence[str],
    starts_at: datetime,
    before_id: int,
    limit: int,
) -> list[dict[str, Any]]:
    """Return the last non-repeating appointments before (starts_at, before_id).

    Rows come latest first, the mirror of find_single_after.
    """
    statement = (
        select(appointments)
        .where(
            _live(),
            appointments.c.starts_at <= starts_at,
            ~(
                (appointments.c.starts_at == starts_at)
                & (appointments.c.id >= before_id)
            ),
            appointments.c.repeat == "none",
            appointments.c.status.in_(statuses),
        )
        .order_by(appointments.c.starts_at.desc(), appointments.c.id.desc())
        .limit(limit)
    )
    return _dicts(db.execute(_with_starts_index(statement)))


def find_all(db: Database) -> list[dict[str, Any]]:
    """Return every appointment not deleted, by start (for the .ics export)."""
    statement = (
        select(appointments)
        .where(_live())
        .order_by(appointments.c.starts_at, appointments.c.id)
    )
    return _dicts(db.execute(statement))


def find_for_contact(db: Database, contact_uuid: str) -> list[dict[str, Any]]:
    """Return a contact's appointments, latest start first."""
    statement = (
        select(appointments)
        .where(appointments.c.contact_uuid == contact_uuid, _live())
        .order_by(appointments.c.starts_at.desc(), appointments.c.id.desc())
    )
    return _dicts(db.execute(statement))


def relink_contact(
    db: Database, from_uuid: str, to_uuid: str, *, revision: int | None = None
) -> int:
    """Move every appointment of one contact to another and return the count.

    Appointments carry no revision column, so ``revision`` is accepted for
    symmetry with the other tables' relink calls and not stored.
    """
    del revision
    result = db.execute(
        update(appointments)
        .where(appointments.c.contact_uuid == from_uuid)
        .values(
            contact_uuid=to_uuid,
            updated_at=utcnow(),
            version=appointments.c.version + 1,
        )
    )
    return int(result.rowcount)


def insert_appointments(db: Database, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many appointments with one DBAPI executemany (same keys in each)."""
    if not rows:
        return
    check_columns(appointments, rows[0])
    names = list(rows[0])
    columns = ", ".join(db.quote(name) for name in names)
    marks = ", ".join(db.paramstyle_mark for _ in names)
    sql = f"INSERT INTO appointments ({columns}) VALUES ({marks})"
    db.executemany(sql, [tuple(row[name] for name in names) for row in rows])


# --- changes to one occurrence of a series --------------------------------

_LIVE_CHANGE = appointment_occurrences.c.deleted == False  # noqa: E712


def find_occurrence_changes(
    db: Database, appointment_uuids: Sequence[str]
) -> list[dict[str, Any]]:
    """Return the occurrence changes of the given series."""
    if not appointment_uuids:
        return []
    statement = (
        select(appointment_occurrences)
        .where(
            appointment_occurrences.c.appointment_uuid.in_(appointment_uuids),
            _LIVE_CHANGE,
        )
        .order_by(appointment_occurrences.c.id)
    )
    return _dicts(db.execute(statement))


def get_occurrence_change(
    db: Database, appointment_uuid: str, original_starts_at: datetime
) -> dict[str, Any] | None:
    statement = select(appointment_occurrences).where(
        appointment_occurrences.c.appointment_uuid == appointment_uuid,
        appointment_occurrences.c.original_starts_at == original_starts_at,
    )
    row = db.execute(statement).first()
    return dict(row._mapping) if row else None


def insert_occurrence_change(db: Database, row: dict[str, Any]) -> None:
    check_columns(appointment_occurrences, row)
    db.execute(appointment_occurrences.insert().values(**row))


def update_occurrence_change(db: Database, uuid: str, values: dict[str, Any]) -> None:
    check_columns(appointment_occurrences, values)
    version = appointment_occurrences.c.version + 1
    db.execute(
        update(appointment_occurrences)
        .where(appointment_occurrences.c.uuid == uuid)
        .values(**values, updated_at=utcnow(), version=version)
    )


def delete_occurrence_changes(db: Database, appointment_uuid: str) -> None:
    """Delete a series' occurrence changes, so they can be stored again re-keyed."""
    db.execute(
        delete(appointment_occurrences).where(
            appointment_occurrences.c.appointment_uuid == appointment_uuid
        )
    )
