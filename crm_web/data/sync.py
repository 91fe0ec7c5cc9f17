"""Queries of the sync between a terminal's database and the shared server.

Both sides have the same schema. Records of the synced tables are read in
(revision, id) order. Every write takes the next value of the table's
counter under a row lock held until commit, so a reader that has seen
revision r has seen every row committed with a revision up to r.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    delete,
    false,
    func,
    or_,
    select,
    true,
    update,
)

from crm_web.data.db import Database
from crm_web.data.schema import (
    categories,
    comm_logs,
    contacts,
    counters,
    preferences,
    record_shares,
    sales,
    sync_conflicts,
    sync_history,
    sync_state,
    utcnow,
)
from crm_web.data.visibility import EVERYONE

# In the order they are sent: a contact's category before the contact, a
# contact before its sales records and log entries.
TABLES: dict[str, Table] = {
    "categories": categories,
    "contacts": contacts,
    "sales": sales,
    "comm_logs": comm_logs,
}
# Columns that mean something only in the database that contains them.
LOCAL_ONLY = frozenset({"id", "revision", "import_uuid", "owner", "version"})
# Columns left out when comparing whether two copies are equal.
NOT_COMPARED = frozenset({"created_at", "updated_at"})
BATCH = 500
# The network user this terminal last synced as (a preference): records
# whose server owner is someone else keep the sharing that owner set.
NETWORK_USER_PREFERENCE = "sync_network_user"
# Rows fetched per query by a download: fewer round trips, bounded memory.
DOWNLOAD_BATCH = 2000


def payload_columns(table: Table) -> list[str]:
    """Return the columns a record carries from one database to the other."""
    return [c.name for c in table.c if c.name not in LOCAL_ONLY]


def compared_columns(table: Table) -> list[str]:
    return [name for name in payload_columns(table) if name not in NOT_COMPARED]


# --- reading records --------------------------------------------------------


def find_changed(
    db: Database,
    table: Table,
    after: tuple[int, int],
    *,
    condition: ColumnElement[bool] | None = None,
    limit: int = BATCH,
) -> list[dict[str, Any]]:
    """Return rows past ``after`` = (revision, id), in that order."""
    revision, row_id = after
    statement = (
        select(table)
        .where(*_after(table, revision, row_id), _or_true(condition))
        .order_by(table.c.revision, table.c.id)
        .limit(limit)
    )
    return [dict(row._mapping) for row in db.execute(statement)]


def count_changed(
    db: Database,
    table: Table,
    after: tuple[int, int],
    *,
    condition: ColumnElement[bool] | None = None,
) -> int:
    revision, row_id = after
    statement = (
        select(func.count())
        .select_from(table)
        .where(*_after(table, revision, row_id), _or_true(condition))
    )
    return int(db.execute(statement).scalar_one())


def _after(table: Table, revision: int, row_id: int) -> list[ColumnElement[bool]]:
    """Return the conditions for rows after (revision, id) in that order.

    The plain ``revision >= r`` lets MySQL range-scan the revision index,
    which the OR alone does not.
    """
    return [
        table.c.revision >= revision,
        or_(
            table.c.revision > revision,
            and_(table.c.revision == revision, table.c.id > row_id),
        ),
    ]


def _or_true(condition: ColumnElement[bool] | None) -> ColumnElement[bool]:
    return condition if condition is not None else true()


def find_versions(
    db: Database, table: Table, uuids: Sequence[str]
) -> dict[str, tuple[int, str]]:
    """Return (version, owner) per uuid, locking the rows until the commit."""
    found: dict[str, tuple[int, str]] = {}
    for start in range(0, len(uuids), BATCH):
        statement = (
            select(table.c.uuid, table.c.version, table.c.owner)
            .where(table.c.uuid.in_(uuids[start : start + BATCH]))
            .with_for_update()
        )
        for row_uuid, version, owner in db.execute(statement):
            found[row_uuid] = (int(version), str(owner))
    return found


def find_by_uuids(
    db: Database,
    table: Table,
    uuids: Sequence[str],
    *,
    condition: ColumnElement[bool] | None = None,
    lock: bool = False,
) -> dict[str, dict[str, Any]]:
    """Return the rows with these uuids, keyed by uuid.

    With ``lock`` the rows stay locked (SELECT ... FOR UPDATE on MySQL)
    until the caller's transaction ends; SQLite locks the whole file anyway.
    """
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(uuids), BATCH):
        statement = select(table).where(
            table.c.uuid.in_(uuids[start : start + BATCH]),
            condition if condition is not None else true(),
        )
        if lock:
            statement = statement.with_for_update()
        for row in db.execute(statement):
            found[row.uuid] = dict(row._mapping)
    return found


def find_children(
    db: Database,
    table: Table,
    contact_uuids: Sequence[str],
    *,
    condition: ColumnElement[bool] | None = None,
) -> list[dict[str, Any]]:
    """Return the rows of ``table`` about any of these contacts."""
    rows: list[dict[str, Any]] = []
    for start in range(0, len(contact_uuids), BATCH):
        statement = (
            select(table)
            .where(
                table.c.contact_uuid.in_(contact_uuids[start : start + BATCH]),
                condition if condition is not None else true(),
            )
            .order_by(table.c.id)
        )
        rows.extend(dict(row._mapping) for row in db.execute(statement))
    return rows


# --- writing records --------------------------------------------------------


def insert_records(db: Database, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert complete rows (every one with the same keys) in one executemany.

    The rows go to the driver as tuples: SQLAlchemy's per-row parameter
    processing costs more than the insert itself.
    """
    if not rows:
        return
    names = list(rows[0])
    columns = ", ".join(db.quote(name) for name in names)
    marks = ", ".join(db.paramstyle_mark for _ in names)
    sql = f"INSERT INTO {table.name} ({columns}) VALUES ({marks})"
    db.executemany(sql, [tuple(row[name] for name in names) for row in rows])


def update_records(
    db: Database, table: Table, rows: Sequence[dict[str, Any]], *, check_version: bool
) -> int:
    """Update rows by uuid; return how many matched.

    Each row contains the new values plus ``_uuid`` and, when ``check_version``
    is set, ``_version``: the version it must still have.
    """
    if not rows:
        return 0
    names = [name for name in rows[0] if not name.startswith("_")]
    if db.is_mysql and not check_version and "owner" in names:
        return _replace_existing(db, table, rows, names)
    statement = update(table).where(table.c.uuid == bindparam("_uuid"))
    if check_version:
        statement = statement.where(table.c.version == bindparam("_version"))
    statement = statement.values({name: bindparam(name) for name in names})
    result = db.execute(statement, list(rows))
    return int(result.rowcount)


def _replace_existing(
    db: Database, table: Table, rows: Sequence[dict[str, Any]], names: list[str]
) -> int:
    """Update whole rows on MySQL as one batched INSERT ... ON DUPLICATE KEY.

    PyMySQL sends an executemany UPDATE as one round trip per row, but
    folds this INSERT into multi-row statements. Every row already exists
    (the caller read them under lock), so each one only updates.
    """
    columns = [name for name in names if name != "uuid"]
    quoted = [db.quote(name) for name in ["uuid", *columns]]
    marks = ", ".join(db.paramstyle_mark for _ in quoted)
    assignments = ", ".join(f"{name} = VALUES({name})" for name in quoted[1:])
    sql = (
        f"INSERT INTO {table.name} ({', '.join(quoted)}) VALUES ({marks}) "
        f"ON DUPLICATE KEY UPDATE {assignments}"
    )
    db.executemany(
        sql, [(row["_uuid"], *(row[name] for name in columns)) for row in rows]
    )
    return len(rows)


# --- shares ------------------------------------------------------------------


def find_shares(db: Database, uuids: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Return who each record is shared with, sorted; records with none omitted."""
    found: dict[str, list[str]] = {}
    for start in range(0, len(uuids), BATCH):
        rows = db.execute(
            select(record_shares.c.record_uuid, record_shares.c.user).where(
                record_shares.c.record_uuid.in_(uuids[start : start + BATCH])
            )
        )
        for record_uuid, user in rows:
            found.setdefault(record_uuid, []).append(user)
    return {key: tuple(sorted(users)) for key, users in found.items()}


def replace_shares(db: Database, shares: dict[str, tuple[str, ...]]) -> None:
    """Make each record in ``shares`` shared with exactly the users given."""
    uuids = list(shares)
    now = utcnow()
    for start in range(0, len(uuids), BATCH):
        batch = uuids[start : start + BATCH]
        db.execute(delete(record_shares).where(record_shares.c.record_uuid.in_(batch)))
        rows = [
            {"record_uuid": uuid, "user": user, "created_at": now}
            for uuid in batch
            for user in shares[uuid]
        ]
        if rows:
            db.execute(record_shares.insert(), rows)


def shared_condition(table: Table, user: str) -> ColumnElement[bool]:
    """Return the condition: the record is shared with ``user`` or everyone."""
    shared = select(record_shares.c.record_uuid).where(
        record_shares.c.user.in_((user, EVERYONE))
    )
    return table.c.uuid.in_(shared)


# --- sync state, marks, conflicts, history -----------------------------------


def find_states(db: Database, uuids: Sequence[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(uuids), BATCH):
        rows = db.execute(
            select(sync_state).where(
                sync_state.c.record_uuid.in_(uuids[start : start + BATCH])
            )
        )
        for row in rows:
            found[row.record_uuid] = dict(row._mapping)
    return found


def upsert_states(db: Database, states: Sequence[dict[str, Any]]) -> None:
    """Insert or replace the sync state of each record (portable upsert)."""
    if not states:
        return
    uuids = [state["record_uuid"] for state in states]
    for start in range(0, len(uuids), BATCH):
        db.execute(
            delete(sync_state).where(
                sync_state.c.record_uuid.in_(uuids[start : start + BATCH])
            )
        )
    db.execute(sync_state.insert(), list(states))


def find_foreign_owners(db: Database, uuids: Sequence[str]) -> dict[str, str]:
    """Return uuid -> owner for records another network user owns on the server."""
    me = get_preference(db, NETWORK_USER_PREFERENCE)
    if me is None:
        return {}
    found: dict[str, str] = {}
    for start in range(0, len(uuids), BATCH):
        rows = db.execute(
            select(sync_state.c.record_uuid, sync_state.c.server_owner).where(
                sync_state.c.record_uuid.in_(uuids[start : start + BATCH]),
                sync_state.c.server_owner != me,
                sync_state.c.server_owner != "",
            )
        )
        found.update({record_uuid: owner for record_uuid, owner in rows})
    return found


def set_local_revision(db: Database, uuids: Sequence[str], revision: int) -> None:
    for start in range(0, len(uuids), BATCH):
        db.execute(
            update(sync_state)
            .where(sync_state.c.record_uuid.in_(uuids[start : start + BATCH]))
            .values(local_revision=revision)
        )


def set_server_version(db: Database, record_uuid: str, version: int) -> None:
    db.execute(
        update(sync_state)
        .where(sync_state.c.record_uuid == record_uuid)
        .values(server_version=version)
    )


def delete_all_states(db: Database) -> None:
    db.execute(delete(sync_state))
    db.execute(delete(sync_conflicts).where(sync_conflicts.c.resolved_at.is_(None)))
    db.execute(delete(counters).where(counters.c.name.like("sync_%")))


def get_mark(db: Database, name: str) -> int:
    value = db.execute(
        select(counters.c.value).where(counters.c.name == name)
    ).scalar_one_or_none()
    return int(value or 0)


def set_mark(db: Database, name: str, value: int) -> None:
    changed = db.execute(
        update(counters).where(counters.c.name == name).values(value=value)
    ).rowcount
    if not changed:
        db.execute(counters.insert().values(name=name, value=value))


def get_preference(db: Database, name: str) -> str | None:
    value = db.execute(
        select(preferences.c.value).where(preferences.c.name == name)
    ).scalar_one_or_none()
    return None if value is None else str(value)


def open_conflict_uuids(db: Database, uuids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(uuids), BATCH):
        rows = db.execute(
            select(sync_conflicts.c.record_uuid).where(
                sync_conflicts.c.record_uuid.in_(uuids[start : start + BATCH]),
                sync_conflicts.c.resolved_at.is_(None),
            )
        )
        found.update(row[0] for row in rows)
    return found


def upsert_conflict(
    db: Database,
    *,
    table_name: str,
    kind: str,
    mine: dict[str, Any],
    theirs: dict[str, Any],
    server_version: int,
) -> None:
    """Record a conflict, or refresh the open one of the same record."""
    values = {
        "kind": kind,
        "mine": dump_record(mine),
        "theirs": dump_record(theirs),
        "server_version": server_version,
        "detected_at": utcnow(),
    }
    changed = db.execute(
        update(sync_conflicts)
        .where(
            sync_conflicts.c.record_uuid == mine["uuid"],
            sync_conflicts.c.resolved_at.is_(None),
        )
        .values(**values)
    ).rowcount
    if not changed:
        db.execute(
            sync_conflicts.insert().values(
                record_uuid=mine["uuid"], table_name=table_name, **values
            )
        )


def update_conflict_theirs(
    db: Database, record_uuid: str, theirs: dict[str, Any], server_version: int
) -> None:
    db.execute(
        update(sync_conflicts)
        .where(
            sync_conflicts.c.record_uuid == record_uuid,
            sync_conflicts.c.resolved_at.is_(None),
        )
        .values(theirs=dump_record(theirs), server_version=server_version)
    )


def find_open_conflicts(db: Database, *, limit: int = 500) -> list[dict[str, Any]]:
    rows = db.execute(
        select(sync_conflicts)
        .where(sync_conflicts.c.resolved_at.is_(None))
        .order_by(sync_conflicts.c.id)
        .limit(limit)
    )
    return [dict(row._mapping) for row in rows]


def count_open_conflicts(db: Database) -> int:
    return int(
        db.execute(
            select(func.count())
            .select_from(sync_conflicts)
            .where(sync_conflicts.c.resolved_at.is_(None))
        ).scalar_one()
    )


def get_conflict(db: Database, conflict_id: int) -> dict[str, Any] | None:
    row = db.execute(
        select(sync_conflicts).where(sync_conflicts.c.id == conflict_id)
    ).first()
    return dict(row._mapping) if row else None


def close_conflict(db: Database, conflict_id: int, resolution: str) -> None:
    db.execute(
        update(sync_conflicts)
        .where(sync_conflicts.c.id == conflict_id)
        .values(resolved_at=utcnow(), resolution=resolution)
    )


def insert_history(db: Database, *, direction: str, network_user: str) -> int:
    result = db.execute(
        sync_history.insert().values(
            started_at=utcnow(),
            direction=direction,
            network_user=network_user,
            sent=0,
            received=0,
            conflicts=0,
            rejected=0,
            status="running",
            message="",
        )
    )
    return int(result.inserted_primary_key[0])


def finish_history(db: Database, history_id: int, **values: Any) -> None:
    db.execute(
        update(sync_history)
        .where(sync_history.c.id == history_id)
        .values(finished_at=utcnow(), **values)
    )


def update_history_counts(db: Database, history_id: int, **counts: int) -> None:
    db.execute(
        update(sync_history).where(sync_history.c.id == history_id).values(**counts)
    )


def close_abandoned_history(db: Database) -> None:
    """Mark runs that never finished (the app was closed or killed) as failed."""
    db.execute(
        update(sync_history)
        .where(sync_history.c.status == "running")
        .values(status="failed", message="interrupted")
    )


def find_history(db: Database, *, limit: int = 50) -> list[dict[str, Any]]:
    rows = db.execute(
        select(sync_history).order_by(sync_history.c.id.desc()).limit(limit)
    )
    return [dict(row._mapping) for row in rows]


def count_pending(db: Database, table: Table, after: tuple[int, int]) -> int:
    """Count rows past the upload mark that differ from what was last synced."""
    revision, row_id = after
    synced = select(sync_state.c.record_uuid).where(
        sync_state.c.local_revision == table.c.revision,
        sync_state.c.record_uuid == table.c.uuid,
    )
    statement = (
        select(func.count())
        .select_from(table)
        .where(
            or_(
                table.c.revision > revision,
                and_(table.c.revision == revision, table.c.id > row_id),
            ),
            ~synced.exists(),
        )
    )
    return int(db.execute(statement).scalar_one())


# --- record values as JSON ------------------------------------------------------


def dump_record(row: dict[str, Any]) -> str:
    """Return a record as JSON, dates and times in ISO form."""
    return json.dumps({key: _plain(value) for key, value in row.items()})


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def load_record(table: Table, text: str) -> dict[str, Any]:
    """Return a record dumped by ``dump_record`` with its columns' types back."""
    raw = json.loads(text)
    row: dict[str, Any] = {}
    for key, value in raw.items():
        column = table.c.get(key)
        if column is None or value is None:
            row[key] = value
            continue
        python_type = _python_type(column)
        if python_type is datetime:
            row[key] = datetime.fromisoformat(value)
        elif python_type is date:
            row[key] = date.fromisoformat(value)
        else:
            row[key] = value
    return row


def _python_type(column: Any) -> type | None:
    try:
        kind: type = column.type.python_type
    except NotImplementedError:
        return None
    return kind


def deleted_condition(table: Table, *, deleted: bool) -> ColumnElement[bool]:
    return table.c.deleted == (true() if deleted else false())


def uuids_of(rows: Iterable[dict[str, Any]]) -> list[str]:
    return [row["uuid"] for row in rows]
