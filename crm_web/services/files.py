"""The file repository: adding, describing, finding, attaching, trashing files.

A record keeps the original file name for display and download only. The
stored content is found by its SHA-256 (see ``file_store``), so the same
content added twice is stored once and shared by both records. Purging a
record removes the content only when no other record uses it.
"""

from __future__ import annotations

import logging
import stat
import threading
from collections.abc import Iterable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path, PurePosixPath
from typing import IO, Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm_web.data import contacts as contact_data
from crm_web.data import files as file_data
from crm_web.data.db import Database
from crm_web.data.records import new_record
from crm_web.data.schema import utcnow
from crm_web.data.visibility import current_viewer
from crm_web.errors import (
    FileContentMissingError,
    FileNotInTrashError,
    InvalidValueError,
    LocalFileError,
    NotFoundError,
    UserError,
    VersionConflictError,
)
from crm_web.services import comm_log, text
from crm_web.services.file_names import (
    NAME_LABEL,
    OCTET_STREAM,
    display_name,
    guess_type,
    is_inline,
    validate_name,
)
from crm_web.services.file_store import MB, BlobStore, Received

log = logging.getLogger(__name__)

CATEGORY_MAX = 100
TAGS_MAX = 500
NOTES_MAX = 20000
# MySQL's TEXT stores at most 65,535 bytes, less than 20,000 four-byte characters.
NOTES_MAX_BYTES = 65535

FIELD_LABELS = {
    "name": NAME_LABEL,
    "category": _l("Category"),
    "tags": _l("Tags"),
    "notes": _l("Notes"),
}

# --- adding ------------------------------------------------------------------

TARGET_KINDS = ("contact", "log")

# Moving content into place and committing its record happen under this
# lock, and so do purging a record and removing its content, so a purge
# never removes content that an upload in another thread is about to use.
_store_lock = threading.Lock()


class NotYourFileError(UserError):
    status = HTTPStatus.FORBIDDEN

    def __init__(self, name: str, owner: str) -> None:
        super().__init__(
            _(
                "“%(name)s” belongs to %(owner)s: only they or an administrator "
                "can change it.",
                name=name,
                owner=owner,
            )
        )


@dataclass(frozen=True)
class Target:
    """A contact or log entry that files are attached to."""

    kind: str
    uuid: str


@dataclass(frozen=True)
class Upload:
    name: str
    stream: IO[bytes]


def add_files(
    db: Database,
    store: BlobStore,
    uploads: Sequence[Upload],
    *,
    owner: str,
    limit_bytes: int,
    attach: Target | None = None,
) -> list[int]:
    """Store every upload and its record, or none of them; return the ids."""
    if attach is not None:
        describe_target(db, attach)
    received: list[tuple[str, Received]] = []
    try:
        for upload in uploads:
            name = display_name(upload.name)
            content = store.receive(upload.stream, name=name, limit_bytes=limit_bytes)
            received.append((name, content))
        ids = _keep_all(db, store, received, owner=owner, attach=attach)
    finally:
        for _name, content in received:
            store.discard(content)
    log.info("Added %s file(s) to the repository", len(ids))
    return ids


def _keep_all(
    db: Database,
    store: BlobStore,
    received: list[tuple[str, Received]],
    *,
    owner: str,
    attach: Target | None,
) -> list[int]:
    def work(db: Database) -> list[int]:
        ids = []
        for name, content in received:
            row = {**new_record(owner), **_new_file(name, content)}
            ids.append(file_data.insert_file(db, row))
            if attach is not None:
                _link(db, row["uuid"], attach, owner=owner)
        return ids

    with _store_lock:
        new: list[str] = []
        try:
            for _name, content in received:
                if store.keep(content):
                    new.append(content.sha256)
            return db.write(work)
        except BaseException:
            # Content that arrived with these records has no other user.
            for sha256 in new:
                store.remove(sha256)
            raise


def _new_file(name: str, content: Received) -> dict[str, Any]:
    values = {"name": name, "category": "", "tags": "", "notes": ""}
    return {
        **values,
        "sha256": content.sha256,
        "size": content.size,
        "content_type": guess_type(name),
        "search_text": search_text(values),
    }


def add_local_files(
    db: Database,
    store: BlobStore,
    paths: Iterable[str],
    *,
    owner: str,
    limit_bytes: int,
    attach: Target | None = None,
) -> list[int]:
    """Add files by their paths on this computer, as the desktop dialog gives.

    NOTE: this reads any regular file the server's user may read. The
    server listens only on this computer and the request needs the page's
    CSRF token, so the paths come from the app's own pages.
    """
    with ExitStack() as stack:
        uploads = [
            Upload(Path(p).name, stack.enter_context(_open_local(p))) for p in paths
        ]
        return add_files(
            db, store, uploads, owner=owner, limit_bytes=limit_bytes, attach=attach
        )


def _open_local(raw: str) -> IO[bytes]:
    path = Path(raw)
    if not path.is_absolute():
        raise LocalFileError(raw, _("it is not a full path"))
    try:
        # Checked before opening: opening a FIFO would wait for a writer.
        if not stat.S_ISREG(path.stat().st_mode):
            raise LocalFileError(raw, _("it is not a regular file"))
        return path.open("rb")
    except OSError as error:
        raise LocalFileError(raw, error.strerror or str(error)) from error


# --- metadata and search -----------------------------------------------------


def search_text(values: Mapping[str, str]) -> str:
    """Return the folded text a file is found by: name, category, tags, notes."""
    parts = [values["name"], values["category"], *text.split_tags(values["tags"])]
    parts.append(values["notes"])
    return text.SEARCH_SEPARATOR.join(text.fold(p) for p in parts if p)


def parse_metadata(form: Mapping[str, Any]) -> dict[str, str]:
    """Return the edited name, category, tags and notes, or raise InvalidValueError."""
    category = " ".join(text.clean(form.get("category")).split())
    tags = ", ".join(text.split_tags(str(form.get("tags", ""))))
    notes = text.clean(form.get("notes")).replace("\r\n", "\n")
    for field, value, limit in (
        ("category", category, CATEGORY_MAX),
        ("tags", tags, TAGS_MAX),
        ("notes", notes, NOTES_MAX),
    ):
        too_many_bytes = field == "notes" and len(value.encode()) > NOTES_MAX_BYTES
        if len(value) > limit or too_many_bytes:
            raise InvalidValueError(
                str(FIELD_LABELS[field]),
                value[:40] + "…",
                _(
                    "it is %(length)s characters long; the limit is %(max)s.",
                    length=len(value),
                    max=limit,
                ),
            )
    name = validate_name(str(form.get("name", "")))
    return {"name": name, "category": category, "tags": tags, "notes": notes}


def require_file(db: Database, file_id: int) -> dict[str, Any]:
    row = file_data.get_file(db, file_id)
    if row is None:
        raise NotFoundError(_("File"), file_id)
    return row


def require_own_file(db: Database, file_id: int) -> dict[str, Any]:
    """Return a file the request's user may change: their own, or any for admins.

    A file seen only because it is attached to a shared contact opens and
    downloads, but stays its owner's to rename, delete or attach elsewhere.
    """
    row = require_file(db, file_id)
    viewer = current_viewer()
    if viewer is not None and row["owner"] != viewer.name:
        raise NotYourFileError(row["name"], row["owner"])
    return row


def update_metadata(
    db: Database, file_id: int, form: Mapping[str, Any], *, version: int
) -> None:
    """Save an edited name, category, tags and notes; refuse a stale version."""
    current = require_own_file(db, file_id)
    values: dict[str, Any] = parse_metadata(form)
    values["search_text"] = search_text(values)
    values["content_type"] = _type_after_rename(current, values["name"])
    values["updated_at"] = utcnow()

    def work(db: Database) -> bool:
        return file_data.update_file(db, file_id, values, expected_version=version)

    if not db.write(work):
        raise VersionConflictError(current["name"])
    log.info("File %s updated", file_id)


def _type_after_rename(current: Mapping[str, Any], name: str) -> str:
    # A new extension names the new type; dropping it keeps the old one.
    guessed = guess_type(name)
    return current["content_type"] if guessed == OCTET_STREAM else guessed


@dataclass(frozen=True)
class FilePage:
    files: list[dict[str, Any]]
    total: int


def query_for(
    words: str, *, category: str = "", deleted: bool = False
) -> file_data.FileQuery:
    """Turn a typed search into folded words that must all match."""
    folded = text.fold(text.clean(words))
    return file_data.FileQuery(tuple(folded.split()), category, deleted)


def list_files(
    db: Database, query: file_data.FileQuery, *, offset: int, limit: int
) -> FilePage:
    """Return one page of matching files with their links, and the total."""
    rows = file_data.find_files(db, query, limit=limit, offset=offset)
    return FilePage(with_links(db, rows), file_data.count_files(db, query))


def with_links(db: Database, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return file views, each with its live contact and log-entry links."""
    uuids = [row["uuid"] for row in rows]
    views = {row["uuid"]: file_view(row) for row in rows}
    for view in views.values():
        view["contacts"], view["log_entries"] = [], []
    for link in file_data.find_contact_links(db, uuids):
        views[link["file_uuid"]]["contacts"].append(link)
    for link in file_data.find_log_links(db, uuids):
        link["label"] = comm_log.entry_label(link)
        views[link["file_uuid"]]["log_entries"].append(link)
    return [views[uuid] for uuid in uuids]


def file_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """Return a record with its tag list, type label and whether it opens inline."""
    view = dict(row)
    view["tag_list"] = text.split_tags(row["tags"])
    suffix = PurePosixPath(row["name"]).suffix.lstrip(".")
    view["kind"] = suffix.upper() if 0 < len(suffix) <= 8 else row["content_type"]
    view["opens_inline"] = is_inline(row["content_type"])
    return view


def contacts_by_ids(db: Database, ids: list[int]) -> list[dict[str, Any]]:
    """Return the contacts with ``ids`` in that order, for choosing one."""
    return contact_data.find_contacts_by_ids(db, ids)


def list_categories(db: Database) -> list[str]:
    return file_data.find_categories(db)


def content_path(store: BlobStore, row: Mapping[str, Any]) -> Path:
    """Return where a record's content is, or raise FileContentMissingError."""
    path = store.path_for(row["sha256"])
    if not path.is_file():
        raise FileContentMissingError(row["name"], str(store.root))
    return path


# --- trash -------------------------------------------------------------------


def set_deleted(db: Database, file_id: int, *, deleted: bool) -> dict[str, Any]:
    """Move a file to the trash, or restore it; return the record."""
    row = require_own_file(db, file_id)
    now = utcnow()
    values = {"deleted": deleted, "deleted_at": now if deleted else None}
    db.write(
        lambda db: file_data.update_file(db, file_id, {**values, "updated_at": now})
    )
    log.info("File %s %s", file_id, "deleted" if deleted else "restored")
    return row


def purge_file(db: Database, store: BlobStore, file_id: int) -> dict[str, Any]:
    """Remove a trashed file for good, and its content if nothing else uses it."""
    row = require_own_file(db, file_id)
    if not row["deleted"]:
        raise FileNotInTrashError(row["name"])
    with _store_lock:
        db.write(lambda db: file_data.delete_file(db, row["uuid"]))
        users = file_data.count_by_sha256(db, row["sha256"])
        if users == 0:
            store.remove(row["sha256"])
    log.info("File %s removed for good; %s other record(s) share it", file_id, users)
    return row


def empty_trash(db: Database, store: BlobStore) -> int:
    """Purge every file in the trash; return how many."""
    query = file_data.FileQuery(deleted=True)
    count = 0
    while rows := file_data.find_files(db, query, limit=500):
        for row in rows:
            purge_file(db, store, row["id"])
            count += 1
    return count


# --- attaching to contacts and log entries -----------------------------------


def parse_target(kind: str | None, uuid: str | None) -> Target | None:
    """Return the target named by request arguments, or None for none."""
    if kind in TARGET_KINDS and uuid:
        return Target(kind, uuid)
    return None


def describe_target(db: Database, target: Target) -> dict[str, Any]:
    """Return the target's id, label and kind, or raise NotFoundError."""
    if target.kind == "contact":
        contact = contact_data.get_contact_by_uuid(db, target.uuid)
        if contact is None or contact["deleted"]:
            raise NotFoundError(_("Contact"), target.uuid)
        label = contact["name"] or contact["company"]
        return {"kind": "contact", "id": contact["id"], "label": label}
    entry = file_data.get_log_entry(db, target.uuid)
    if entry is None or entry["deleted"]:
        raise NotFoundError(_("Log entry"), target.uuid)
    return {"kind": "log", "id": entry["id"], "label": comm_log.entry_label(entry)}


def _link(db: Database, file_uuid: str, target: Target, *, owner: str) -> None:
    found = file_data.get_link(db, file_uuid, target.kind, target.uuid)
    if found is None:
        row = {
            **new_record(owner),
            "file_uuid": file_uuid,
            "target_kind": target.kind,
            "target_uuid": target.uuid,
        }
        file_data.insert_link(db, row)
    elif found["deleted"]:
        values = {"deleted": False, "deleted_at": None, "updated_at": utcnow()}
        file_data.update_link(db, found["id"], values)


def attach_file(db: Database, file_id: int, target: Target, *, owner: str) -> None:
    """Attach a live file to a contact or log entry; attaching twice is a no-op."""
    row = require_own_file(db, file_id)
    if row["deleted"]:
        raise NotFoundError(_("File"), row["name"])
    describe_target(db, target)
    db.write(lambda db: _link(db, row["uuid"], target, owner=owner))


def detach_file(db: Database, file_id: int, target: Target) -> None:
    """Remove the file from the contact or log entry; the file stays."""
    row = require_own_file(db, file_id)
    found = file_data.get_link(db, row["uuid"], target.kind, target.uuid)
    if found is None or found["deleted"]:
        return
    now = utcnow()
    values = {"deleted": True, "deleted_at": now, "updated_at": now}
    db.write(lambda db: file_data.update_link(db, found["id"], values))


def attached_files(db: Database, target: Target) -> list[dict[str, Any]]:
    """Return views of the live files attached to a contact or log entry."""
    return [
        file_view(row) for row in file_data.find_attached(db, target.kind, target.uuid)
    ]


def attached_uuids(db: Database, target: Target) -> set[str]:
    return file_data.find_attached_uuids(db, target.kind, target.uuid)


def limit_bytes(limit_mb: int) -> int:
    return limit_mb * MB
