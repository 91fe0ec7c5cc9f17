"""Queries on the communication log (comm_logs), with its contacts joined.

The list is ordered newest first by (occurred_at, id), which the index
(deleted, occurred_at) serves directly: SQLite and InnoDB both keep the
primary key at the end of a secondary index, so a page reads only its rows.
``deleted = false`` is written as an equality because MariaDB uses the index
for it but not for ``deleted IS false``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    and_,
    bindparam,
    false,
    func,
    or_,
    select,
    true,
    update,
)

from crm_web.data.db import Database
from crm_web.data.records import as_dicts, check_columns, next_revision
from crm_web.data.schema import comm_logs, contacts, utcnow
from crm_web.data.visibility import visible_about_contact

NO_CATEGORY = "none"
LIKE_ESCAPE = "!"
# How many entries, next in list order, a word search reads in order before
# it scans the whole log (see _search_rows). Reading 5,000 took MariaDB about
# 50 ms at 100,000 entries, as long as the scan; 1,000 take about 10 ms.
WORD_SEARCH_WINDOW = 1000
# Values of LogQuery.follow_up: entries with a follow-up date, not done or done.
FOLLOW_UP_OPEN = "open"
FOLLOW_UP_DONE = "done"


class StaleSearchTextError(ValueError):
    """A write set the title or content without the search text derived from them."""


@dataclass(frozen=True)
class LogQuery:
    """Conditions on the log list; empty values do not filter.

    Times are stored UTC; ``start`` is inclusive and ``end`` exclusive.
    """

    start: datetime | None = None
    end: datetime | None = None
    contact_uuid: str = ""
    # Entries of any of these contacts: a small category's, or those the
    # smart query finds for the contact filter.
    contact_uuids: tuple[str, ...] | None = None
    # Whether contact_uuids are few enough to read their entries through the
    # contact index. Otherwise the list is read in order and each entry's
    # contact is looked up in the set.
    is_few_contacts: bool = True
    category_uuid: str = ""  # a category uuid, or NO_CATEGORY
    channel: str = ""
    # Folded words, as text.fold returns them. Each must be in search_text.
    words: tuple[str, ...] = ()
    follow_up: str = ""  # FOLLOW_UP_OPEN, FOLLOW_UP_DONE or ""
    deleted: bool = False


def _contact_columns() -> list[Any]:
    return [
        contacts.c.id.label("contact_id"),
        contacts.c.name.label("contact_name"),
        contacts.c.company.label("contact_company"),
        contacts.c.deleted.label("contact_deleted"),
    ]


def _joined(*columns: Any) -> Select[Any]:
    joined = comm_logs.outerjoin(contacts, contacts.c.uuid == comm_logs.c.contact_uuid)
    return select(*columns).select_from(joined)


def contains_pattern(word: str) -> str:
    """Return a LIKE pattern that finds ``word`` anywhere, wildcards escaped."""
    escaped = (
        word.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )
    return f"%{escaped}%"


def like_pattern(word: str) -> str:
    """Return a lower-cased LIKE pattern that finds ``word`` anywhere."""
    return contains_pattern(word.lower())


def _conditions(
    query: LogQuery, *, sequential: bool = False
) -> list[ColumnElement[bool]]:
    log = comm_logs.c
    conditions: list[ColumnElement[bool]]
    by_contact = query.contact_uuids is not None and query.is_few_contacts
    if sequential or by_contact:
        # "deleted + 0" hides the indexes that start with deleted, which both
        # databases otherwise walk, reading rows in random order. For the few
        # contacts' entries of a small category SQLite took 145 ms that way
        # at 100,000 entries, and 0.8 ms through the contact index.
        conditions = [log.deleted.op("+")(0) == int(query.deleted)]
    else:
        conditions = [log.deleted == (true() if query.deleted else false())]
    conditions.append(visible_about_contact(comm_logs))
    if query.contact_uuids is not None:
        conditions.append(_in_contacts(query.contact_uuids))
    if query.start is not None:
        conditions.append(log.occurred_at >= query.start)
    if query.end is not None:
        conditions.append(log.occurred_at < query.end)
    if query.contact_uuid:
        conditions.append(log.contact_uuid == query.contact_uuid)
    if query.channel:
        conditions.append(log.channel == query.channel)
    if query.category_uuid == NO_CATEGORY:
        conditions.append(contacts.c.category_uuid.is_(None))
    elif query.category_uuid:
        conditions.append(contacts.c.category_uuid == query.category_uuid)
    for word in query.words:
        # Both sides are folded already. SQLite's LIKE also ignores ASCII
        # case, which changes nothing on folded text, so both backends
        # match the same rows.
        pattern = contains_pattern(word)
        conditions.append(log.search_text.like(pattern, escape=LIKE_ESCAPE))
    if query.follow_up:
        done = true() if query.follow_up == FOLLOW_UP_DONE else false()
        conditions.append(log.follow_up_on.is_not(None))
        conditions.append(log.follow_up_done == done)
    return conditions


# A longer list of contacts is written into the SQL as literals, because
# SQLite takes at most 32,766 bound parameters in a statement (the default
# since version 3.32) and the contact filter can match more contacts.
BOUND_CONTACTS_MAX = 1000


def _in_contacts(uuids: tuple[str, ...]) -> ColumnElement[bool]:
    """Return the condition that keeps entries of the given contacts."""
    if len(uuids) <= BOUND_CONTACTS_MAX:
        return comm_logs.c.contact_uuid.in_(uuids)
    values: BindParameter[list[str]] = bindparam(
        "contact_uuids", list(uuids), expanding=True, literal_execute=True
    )
    return comm_logs.c.contact_uuid.in_(values)


def _check_search_text(values: Mapping[str, Any]) -> None:
    if ("title" in values or "content" in values) and "search_text" not in values:
        raise StaleSearchTextError(
            "comm_logs: a write of title or content must also set search_text"
        )


def insert_log(db: Database, row: dict[str, Any]) -> int:
    """Insert one entry and return its id."""
    check_columns(comm_logs, row)
    _check_search_text(row)
    row = {**row, "revision": next_revision(db, "comm_logs")}
    result = db.execute(comm_logs.insert().values(**row))
    return int(result.inserted_primary_key[0])


def insert_logs(db: Database, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many entries with one DBAPI executemany; all rows share keys."""
    if not rows:
        return
    check_columns(comm_logs, rows[0])
    _check_search_text(rows[0])
    revision = next_revision(db, "comm_logs")
    names = [name for name in rows[0] if name != "revision"]
    columns = ", ".join(db.quote(name) for name in [*names, "revision"])
    marks = ", ".join(db.paramstyle_mark for _ in range(len(names) + 1))
    sql = f"INSERT INTO comm_logs ({columns}) VALUES ({marks})"
    db.executemany(sql, [(*(row[name] for name in names), revision) for row in rows])


def get_log(db: Database, log_id: int) -> dict[str, Any] | None:
    """Return one entry (deleted or not) with its contact's name, or None."""
    statement = _joined(comm_logs, *_contact_columns()).where(
        comm_logs.c.id == log_id, visible_about_contact(comm_logs)
    )
    row = db.execute(statement).first()
    return dict(row._mapping) if row else None


def update_log(
    db: Database,
    log_id: int,
    values: dict[str, Any],
    *,
    expected_version: int | None = None,
) -> bool:
    """Update an entry; return False if its version no longer matches."""
    check_columns(comm_logs, values)
    _check_search_text(values)
    statement = update(comm_logs).where(comm_logs.c.id == log_id)
    if expected_version is not None:
        statement = statement.where(comm_logs.c.version == expected_version)
    values = {
        **values,
        "version": comm_logs.c.version + 1,
        "revision": next_revision(db, "comm_logs"),
    }
    result = db.execute(statement.values(**values))
    return bool(result.rowcount)


def find_logs(
    db: Database, query: LogQuery, *, limit: int, offset: int = 0
) -> list[dict[str, Any]]:
    """Return one page of entries, newest first, with their contacts."""

    def page(*, sequential: bool = False) -> Select[Any]:
        return (
            _in_list_order(_filtered(query, comm_logs, sequential=sequential), query)
            .order_by(comm_logs.c.occurred_at.desc(), comm_logs.c.id.desc())
            .limit(limit)
            .offset(offset)
        )

    if not _is_word_search(query):
        rows = as_dicts(db.execute(page()))
    else:
        window = None
        if offset + limit <= WORD_SEARCH_WINDOW:
            window = _window(db, query, from_key=None, newer=False)
        rows = _search_rows(db, page(), page(sequential=True), window, needed=limit)
    return _with_contacts(db, rows)


def _is_word_search(query: LogQuery) -> bool:
    """Return whether words are the only narrow condition, so rows are scanned."""
    dated = query.start is not None or query.end is not None
    by_contact = bool(query.contact_uuid) or query.contact_uuids is not None
    return bool(query.words) and not dated and not by_contact


def _window(
    db: Database, query: LogQuery, *, from_key: datetime | None, newer: bool
) -> ColumnElement[bool] | None:
    """Return a condition that keeps the next WORD_SEARCH_WINDOW entries.

    They are the newest entries, or those newer or older than ``from_key``.
    None means that fewer entries are left, so no window is needed.
    """
    at = comm_logs.c.occurred_at
    deleted = true() if query.deleted else false()
    statement = select(at).where(comm_logs.c.deleted == deleted)
    if from_key is not None:
        statement = statement.where(at >= from_key if newer else at <= from_key)
    statement = statement.order_by(at.asc() if newer else at.desc())
    bound = db.execute(
        statement.offset(WORD_SEARCH_WINDOW - 1).limit(1)
    ).scalar_one_or_none()
    if bound is None:
        return None
    return at <= bound if newer else at >= bound


def _search_rows(
    db: Database,
    ordered: Select[Any],
    sequential: Select[Any],
    window: ColumnElement[bool] | None,
    *,
    needed: int,
) -> list[dict[str, Any]]:
    """Run a word search in list order inside a window, else by a full scan.

    In list order the databases follow an index and read each row at random.
    That stops early for a common word but reads every row for a rare one,
    which took 200 ms on SQLite and 300 ms on MariaDB at 100,000 entries. A
    sequential scan that sorts the matches took 20 and 40 ms. So the ordered
    query runs only over the window, and the scan only when the window contains
    fewer than ``needed`` matches.
    """
    if window is None:
        return as_dicts(db.execute(ordered))
    rows = as_dicts(db.execute(ordered.where(window)))
    if len(rows) >= needed:
        return rows
    return as_dicts(db.execute(sequential))


def _needs_contacts(query: LogQuery) -> bool:
    return bool(query.category_uuid)


def _in_list_order(statement: Select[Any], query: LogQuery) -> Select[Any]:
    """Make MySQL read a category's entries in list order, as SQLite does.

    MariaDB 10.11 starts the join from the category's contacts and sorts all
    their entries. For a category with 95,000 of 100,000 entries a page took
    280 ms that way, and 1.3 ms reading the entries newest first up to the
    page's end. Reading newest first costs most for a small category, so the
    service filters a small one by contact_uuids, without the join.
    """
    if query.category_uuid:
        # A mariadb:// URL gets SQLAlchemy's "mariadb" dialect, a mysql:// one
        # its "mysql" dialect, even on a MariaDB server.
        for dialect in ("mysql", "mariadb"):
            statement = statement.prefix_with("STRAIGHT_JOIN", dialect=dialect)
        return statement
    return statement


def find_category_contacts(
    db: Database, category_uuid: str, *, limit: int
) -> list[str] | None:
    """Return the uuids of a category's contacts, or None if over ``limit``.

    Deleted contacts count too, as they do in the list's join.
    """
    category = contacts.c.category_uuid
    condition: ColumnElement[bool]
    if category_uuid == NO_CATEGORY:
        condition = category.is_(None)
    else:
        condition = category == category_uuid
    statement = select(contacts.c.uuid).where(condition).limit(limit + 1)
    uuids = list(db.execute(statement).scalars())
    return None if len(uuids) > limit else uuids


def estimate_contacts(db: Database) -> int:
    """Return the highest contact id: at least the number of contacts, fast."""
    return int(db.execute(select(func.max(contacts.c.id))).scalar_one() or 0)


def _filtered(query: LogQuery, *columns: Any, sequential: bool = False) -> Select[Any]:
    """Select ``columns`` of matching entries, joining contacts only if needed.

    A join on every query makes SQLite count and order through the join:
    about 300 ms instead of under 10 ms for a page of 100,000 entries.
    ``sequential`` keeps the databases from walking an index on deleted.
    """
    conditions = _conditions(query, sequential=sequential)
    if _needs_contacts(query):
        joined = comm_logs.join(contacts, contacts.c.uuid == comm_logs.c.contact_uuid)
        return select(*columns).select_from(joined).where(*conditions)
    return select(*columns).select_from(comm_logs).where(*conditions)


def _with_contacts(db: Database, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add each row's contact id, name, company and deleted flag."""
    uuids = list({row["contact_uuid"] for row in rows})
    found: dict[str, dict[str, Any]] = {}
    if uuids:
        statement = select(contacts.c.uuid, *_contact_columns()).where(
            contacts.c.uuid.in_(uuids)
        )
        found = {row["uuid"]: row for row in as_dicts(db.execute(statement))}
    empty = dict.fromkeys(
        ("contact_id", "contact_name", "contact_company", "contact_deleted")
    )
    for row in rows:
        contact = found.get(row["contact_uuid"], empty)
        row.update({key: contact[key] for key in empty})
    return rows


def find_logs_after(
    db: Database,
    query: LogQuery,
    *,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Return the entries after ``(occurred_at, id)`` in list order.

    Keyset paging: each chunk of an export costs the same however deep it
    is, unlike an OFFSET.
    """
    statement = _joined(
        comm_logs,
        *_contact_columns(),
        contacts.c.mobile.label("contact_mobile"),
        contacts.c.phone.label("contact_phone"),
        contacts.c.email.label("contact_email"),
    ).where(*_conditions(query))
    if after is not None:
        occurred_at, log_id = after
        statement = statement.where(
            or_(
                comm_logs.c.occurred_at < occurred_at,
                and_(comm_logs.c.occurred_at == occurred_at, comm_logs.c.id < log_id),
            )
        )
    statement = statement.order_by(
        comm_logs.c.occurred_at.desc(), comm_logs.c.id.desc()
    ).limit(limit)
    return as_dicts(db.execute(statement))


def count_logs(db: Database, query: LogQuery, *, cap: int | None = None) -> int:
    """Return how many entries match ``query``, or ``cap + 1`` if more do.

    A capped count stops reading at ``cap + 1`` matches, where a full count
    of a word or category filter reads every entry. Words are counted by a
    sequential scan, which is fastest whether they are common or rare.
    """
    sequential = _is_word_search(query)
    if cap is None:
        statement = _filtered(query, func.count(), sequential=sequential)
    else:
        matches = _filtered(query, comm_logs.c.id, sequential=sequential)
        matches = matches.limit(cap + 1)
        statement = select(func.count()).select_from(matches.subquery())
    return int(db.execute(statement).scalar_one())


def find_neighbours(
    db: Database, query: LogQuery, *, occurred_at: datetime, log_id: int
) -> tuple[int | None, int | None]:
    """Return the ids of the entries before and after one, in list order.

    The list runs newest first, so the previous entry is the next newer one.
    """
    log = comm_logs.c
    newer = or_(
        log.occurred_at > occurred_at,
        and_(log.occurred_at == occurred_at, log.id > log_id),
    )
    older = or_(
        log.occurred_at < occurred_at,
        and_(log.occurred_at == occurred_at, log.id < log_id),
    )

    def neighbour(*, is_newer: bool, sequential: bool = False) -> Select[Any]:
        statement = _filtered(query, log.id, sequential=sequential)
        if is_newer:
            order = (log.occurred_at.asc(), log.id.asc())
        else:
            order = (log.occurred_at.desc(), log.id.desc())
        return (
            _in_list_order(statement, query)
            .where(newer if is_newer else older)
            .order_by(*order)
            .limit(1)
        )

    found: list[int | None] = []
    for is_newer in (True, False):
        if _is_word_search(query):
            window = _window(db, query, from_key=occurred_at, newer=is_newer)
            ordered = neighbour(is_newer=is_newer)
            sequential = neighbour(is_newer=is_newer, sequential=True)
            rows = _search_rows(db, ordered, sequential, window, needed=1)
            found.append(rows[0]["id"] if rows else None)
        else:
            found.append(db.execute(neighbour(is_newer=is_newer)).scalar_one_or_none())
    return found[0], found[1]


def find_for_contact(
    db: Database, contact_uuid: str, *, limit: int = 100
) -> list[dict[str, Any]]:
    """Return a contact's live entries, newest first."""
    statement = (
        select(comm_logs)
        .where(
            comm_logs.c.contact_uuid == contact_uuid,
            comm_logs.c.deleted == false(),
            visible_about_contact(comm_logs),
        )
        .order_by(comm_logs.c.occurred_at.desc(), comm_logs.c.id.desc())
        .limit(limit)
    )
    return as_dicts(db.execute(statement))


def find_keys_for_contact(
    db: Database, contact_uuid: str
) -> set[tuple[datetime, str, str]]:
    """Return (occurred_at, channel, title) of a contact's live entries."""
    statement = select(
        comm_logs.c.occurred_at, comm_logs.c.channel, comm_logs.c.title
    ).where(comm_logs.c.contact_uuid == contact_uuid, comm_logs.c.deleted == false())
    return {(row[0], row[1], row[2]) for row in db.execute(statement)}


def find_recent(db: Database, limit: int) -> list[dict[str, Any]]:
    """Return the newest live entries with their contacts."""
    return find_logs(db, LogQuery(), limit=limit)


def find_follow_ups_due(
    db: Database, *, on_or_before: date, limit: int = 200
) -> list[dict[str, Any]]:
    """Return live entries whose follow-up day is ``on_or_before`` or earlier.

    Oldest follow-up first, with their contacts. Done follow-ups are left out.
    """
    statement = (
        _joined(comm_logs, *_contact_columns())
        .where(
            comm_logs.c.deleted == false(),
            visible_about_contact(comm_logs),
            comm_logs.c.follow_up_done == false(),
            comm_logs.c.follow_up_on.is_not(None),
            comm_logs.c.follow_up_on <= on_or_before,
        )
        .order_by(comm_logs.c.follow_up_on.asc(), comm_logs.c.id.asc())
        .limit(limit)
    )
    return as_dicts(db.execute(statement))


def relink_contact(
    db: Database, from_uuid: str, to_uuid: str, *, revision: int | None = None
) -> int:
    """Move every entry of one contact to another; return the count.

    ``revision`` is the contacts counter's value, accepted so a merge can
    pass the same arguments to every area; entries take their own.
    """
    del revision
    result = db.execute(
        update(comm_logs)
        .where(comm_logs.c.contact_uuid == from_uuid)
        .values(
            contact_uuid=to_uuid,
            updated_at=utcnow(),
            version=comm_logs.c.version + 1,
            revision=next_revision(db, "comm_logs"),
        )
    )
    return int(result.rowcount)
