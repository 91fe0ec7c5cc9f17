"""Queries on the file repository: file records and their links.

A file record (``files``) names content stored once under its SHA-256 in
the files area, and ``file_links`` attach records to contacts and log entries.
Search matches folded words against a file's own search text or against
the search text of a contact it is attached to, directly or through one of
that contact's log entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    false,
    func,
    or_,
    select,
    true,
)
from sqlalchemy import update as sql_update

from crm_web.data.comm_logs import like_pattern
from crm_web.data.db import Database
from crm_web.data.records import as_dicts, check_columns
from crm_web.data.schema import comm_logs, contacts, file_links, files
from crm_web.data.visibility import current_viewer, visible, visible_about_contact

LIKE_ESCAPE = "!"


@dataclass(frozen=True)
class FileQuery:
    """Conditions on the file list; empty values do not filter.

    ``words`` are folded already (``text.fold``), and every word must match.
    """

    words: tuple[str, ...] = ()
    category: str = ""
    deleted: bool = False


def _like(column: Any, word: str) -> ColumnElement[bool]:
    # The search texts and the words are folded, so no lower() is needed.
    return column.like(like_pattern(word), escape=LIKE_ESCAPE)


def _live_links(kind: str) -> Any:
    return and_(
        file_links.c.file_uuid == files.c.uuid,
        file_links.c.target_kind == kind,
        file_links.c.deleted == false(),
    )


def _contact_matches(word: str) -> ColumnElement[bool]:
    """Return the condition that a contact the file is attached to matches ``word``.

    A file attached to a log entry counts as attached to that entry's contact.
    """
    direct = exists(
        select(file_links.c.id)
        .join(contacts, contacts.c.uuid == file_links.c.target_uuid)
        .where(_live_links("contact"), _like(contacts.c.search_text, word))
    )
    through_log = exists(
        select(file_links.c.id)
        .join(comm_logs, comm_logs.c.uuid == file_links.c.target_uuid)
        .join(contacts, contacts.c.uuid == comm_logs.c.contact_uuid)
        .where(_live_links("log"), _like(contacts.c.search_text, word))
    )
    return or_(direct, through_log)


def _visible_file() -> ColumnElement[bool]:
    """Return the condition that the request's user may open the file.

    The repository is personal: a user sees the files they added, and a
    file attached to a contact or log entry they can see.
    """
    viewer = current_viewer()
    if viewer is None:
        return true()
    seen_contacts = select(contacts.c.uuid).where(visible(contacts, viewer))
    seen_logs = select(comm_logs.c.uuid).where(visible_about_contact(comm_logs, viewer))
    attached = exists(
        select(file_links.c.id).where(
            file_links.c.file_uuid == files.c.uuid,
            file_links.c.deleted == false(),
            or_(
                and_(
                    file_links.c.target_kind == "contact",
                    file_links.c.target_uuid.in_(seen_contacts),
                ),
                and_(
                    file_links.c.target_kind == "log",
                    file_links.c.target_uuid.in_(seen_logs),
                ),
            ),
        )
    )
    return or_(visible(files, viewer), attached)


def _conditions(query: FileQuery) -> list[ColumnElement[bool]]:
    deleted = true() if query.deleted else false()
    conditions: list[ColumnElement[bool]] = [
        files.c.deleted == deleted,
        visible(files),
    ]
    if query.category:
        conditions.append(files.c.category == query.category)
    for word in query.words:
        conditions.append(or_(_like(files.c.search_text, word), _contact_matches(word)))
    return conditions


def insert_file(db: Database, row: dict[str, Any]) -> int:
    """Insert one file record and return its id."""
    check_columns(files, row)
    result = db.execute(files.insert().values(**row))
    return int(result.inserted_primary_key[0])


def get_file(db: Database, file_id: int) -> dict[str, Any] | None:
    """Return one file record, deleted or not, or None."""
    row = db.execute(
        select(files).where(files.c.id == file_id, _visible_file())
    ).first()
    return dict(row._mapping) if row else None


def update_file(
    db: Database,
    file_id: int,
    values: dict[str, Any],
    *,
    expected_version: int | None = None,
) -> bool:
    """Update a record; return False if its version no longer matches."""
    check_columns(files, values)
    statement = sql_update(files).where(files.c.id == file_id)
    if expected_version is not None:
        statement = statement.where(files.c.version == expected_version)
    result = db.execute(statement.values(**values, version=files.c.version + 1))
    return bool(result.rowcount)


def delete_file(db: Database, file_uuid: str) -> None:
    """Remove a file record and its links for good."""
    db.execute(file_links.delete().where(file_links.c.file_uuid == file_uuid))
    db.execute(files.delete().where(files.c.uuid == file_uuid))


def count_by_sha256(db: Database, sha256: str) -> int:
    """Return how many records, trashed ones included, use this content."""
    statement = select(func.count()).select_from(files).where(files.c.sha256 == sha256)
    return int(db.execute(statement).scalar_one())


def _filtered(query: FileQuery, *columns: Any) -> Select[Any]:
    return select(*columns).select_from(files).where(*_conditions(query))


def find_files(
    db: Database, query: FileQuery, *, limit: int, offset: int = 0
) -> list[dict[str, Any]]:
    """Return one page of matching records, newest first."""
    order = (
        (files.c.deleted_at.desc(), files.c.id.desc())
        if query.deleted
        else (files.c.created_at.desc(), files.c.id.desc())
    )
    statement = _filtered(query, files).order_by(*order).limit(limit).offset(offset)
    return as_dicts(db.execute(statement))


def count_files(db: Database, query: FileQuery) -> int:
    statement = _filtered(query, func.count())
    return int(db.execute(statement).scalar_one())


def get_log_entry(db: Database, uuid: str) -> dict[str, Any] | None:
    """Return the log entry with this uuid, deleted or not, or None."""
    row = db.execute(select(comm_logs).where(comm_logs.c.uuid == uuid)).first()
    return dict(row._mapping) if row else None


def find_categories(db: Database) -> list[str]:
    """Return the categories live records use, in sorted order."""
    statement = (
        select(files.c.category)
        .where(files.c.deleted == false(), files.c.category != "")
        .distinct()
        .order_by(files.c.category)
    )
    return [str(value) for value in db.execute(statement).scalars()]


# --- links -------------------------------------------------------------------


def get_link(
    db: Database, file_uuid: str, kind: str, target_uuid: str
) -> dict[str, Any] | None:
    """Return the link between a file and a target, detached or not."""
    statement = select(file_links).where(
        file_links.c.file_uuid == file_uuid,
        file_links.c.target_kind == kind,
        file_links.c.target_uuid == target_uuid,
    )
    row = db.execute(statement).first()
    return dict(row._mapping) if row else None


def insert_link(db: Database, row: dict[str, Any]) -> None:
    check_columns(file_links, row)
    db.execute(file_links.insert().values(**row))


def update_link(db: Database, link_id: int, values: dict[str, Any]) -> None:
    check_columns(file_links, values)
    db.execute(
        sql_update(file_links)
        .where(file_links.c.id == link_id)
        .values(**values, version=file_links.c.version + 1)
    )


def find_contact_links(db: Database, file_uuids: Sequence[str]) -> list[dict[str, Any]]:
    """Return the live contact links of the files, with each contact's name."""
    if not file_uuids:
        return []
    statement = (
        select(
            file_links.c.file_uuid,
            file_links.c.target_uuid,
            contacts.c.id.label("contact_id"),
            contacts.c.name,
            contacts.c.company,
            contacts.c.deleted.label("contact_deleted"),
        )
        .join(contacts, contacts.c.uuid == file_links.c.target_uuid)
        .where(
            file_links.c.file_uuid.in_(list(file_uuids)),
            file_links.c.target_kind == "contact",
            file_links.c.deleted == false(),
        )
        .order_by(contacts.c.name_sort, contacts.c.id)
    )
    return as_dicts(db.execute(statement))


def find_log_links(db: Database, file_uuids: Sequence[str]) -> list[dict[str, Any]]:
    """Return the live log-entry links of the files, newest entry first."""
    if not file_uuids:
        return []
    statement = (
        select(
            file_links.c.file_uuid,
            file_links.c.target_uuid,
            comm_logs.c.id.label("log_id"),
            comm_logs.c.title,
            comm_logs.c.channel,
            comm_logs.c.content,
            comm_logs.c.occurred_at,
            comm_logs.c.deleted.label("log_deleted"),
        )
        .join(comm_logs, comm_logs.c.uuid == file_links.c.target_uuid)
        .where(
            file_links.c.file_uuid.in_(list(file_uuids)),
            file_links.c.target_kind == "log",
            file_links.c.deleted == false(),
        )
        .order_by(comm_logs.c.occurred_at.desc(), comm_logs.c.id.desc())
    )
    return as_dicts(db.execute(statement))


def find_attached(db: Database, kind: str, target_uuid: str) -> list[dict[str, Any]]:
    """Return the live files attached to one contact or log entry, by name."""
    statement = (
        select(files)
        .join(file_links, file_links.c.file_uuid == files.c.uuid)
        .where(
            file_links.c.target_kind == kind,
            file_links.c.target_uuid == target_uuid,
            file_links.c.deleted == false(),
            files.c.deleted == false(),
        )
        .order_by(files.c.name, files.c.id)
    )
    return as_dicts(db.execute(statement))


def find_attached_uuids(db: Database, kind: str, target_uuid: str) -> set[str]:
    """Return the uuids of files with a live link to the target."""
    statement = select(file_links.c.file_uuid).where(
        file_links.c.target_kind == kind,
        file_links.c.target_uuid == target_uuid,
        file_links.c.deleted == false(),
    )
    return {str(value) for value in db.execute(statement).scalars()}
