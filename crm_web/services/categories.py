"""Contact categories: create, rename, delete (moving contacts), counts."""

from __future__ import annotations

import logging
from typing import Any

from flask_babel import gettext as _

from crm_web.data import categories as category_data
from crm_web.data import contacts as contact_data
from crm_web.data.db import Database
from crm_web.data.records import new_record, next_revision
from crm_web.data.schema import utcnow
from crm_web.errors import DuplicateNameError, InvalidValueError, NotFoundError
from crm_web.services import text

log = logging.getLogger(__name__)

MAX_NAME = 100


def list_categories(db: Database) -> list[dict[str, Any]]:
    """Return categories with the number of live contacts in each."""
    counts = contact_data.count_by_category(db)
    rows = category_data.find_categories(db)
    for row in rows:
        row["count"] = counts.get(row["uuid"], 0)
    return rows


def count_uncategorised(db: Database) -> int:
    return contact_data.count_by_category(db).get(None, 0)


def _clean_name(raw: str) -> str:
    name = " ".join(text.clean(raw).split())
    if not name:
        raise InvalidValueError(_("Category name"), raw, _("type a name."))
    if len(name) > MAX_NAME:
        raise InvalidValueError(
            _("Category name"), name, _("use at most %(max)s characters.", max=MAX_NAME)
        )
    return name


def _check_unique(db: Database, name: str, *, except_uuid: str = "") -> None:
    folded = text.fold(name)
    for row in category_data.find_categories(db):
        if text.fold(row["name"]) == folded and row["uuid"] != except_uuid:
            raise DuplicateNameError(_("category"), name)


def create_category(db: Database, raw_name: str, *, owner: str) -> str:
    """Create a category and return its uuid."""
    name = _clean_name(raw_name)

    def work(db: Database) -> str:
        _check_unique(db, name)
        row = {
            **new_record(owner),
            "name": name,
            "sort_order": 0,
            "revision": next_revision(db, "categories"),
        }
        category_data.insert_category(db, row)
        return str(row["uuid"])

    category_uuid = db.write(work)
    log.info("Category %s created", category_uuid)
    return category_uuid


def ensure_category(db: Database, raw_name: str, *, owner: str) -> str | None:
    """Return the uuid of the category with this name, creating it if new.

    Runs inside the caller's transaction (the importer's).
    """
    name = " ".join(text.clean(raw_name).split())[:MAX_NAME]
    if not name:
        return None
    folded = text.fold(name)
    for row in category_data.find_categories(db):
        if text.fold(row["name"]) == folded:
            return str(row["uuid"])
    row = {
        **new_record(owner),
        "name": name,
        "sort_order": 0,
        "revision": next_revision(db, "categories"),
    }
    category_data.insert_category(db, row)
    return str(row["uuid"])


def require_category(db: Database, category_uuid: str) -> dict[str, Any]:
    row = category_data.get_category(db, category_uuid)
    if row is None or row["deleted"]:
        raise NotFoundError(_("Category"), category_uuid)
    return row


def rename_category(db: Database, category_uuid: str, raw_name: str) -> None:
    require_category(db, category_uuid)
    name = _clean_name(raw_name)

    def work(db: Database) -> None:
        _check_unique(db, name, except_uuid=category_uuid)
        category_data.update_category(
            db,
            category_uuid,
            {
                "name": name,
                "updated_at": utcnow(),
                "revision": next_revision(db, "categories"),
            },
        )
        # The search index matches category names; let it reload these rows.
        contact_data.touch_category(
            db, category_uuid=category_uuid, revision=next_revision(db, "contacts")
        )

    db.write(work)
    log.info("Category %s renamed", category_uuid)


def delete_category(db: Database, category_uuid: str, *, move_to: str | None) -> int:
    """Delete a category, moving its contacts; return how many moved."""
    require_category(db, category_uuid)
    if move_to:
        if move_to == category_uuid:
            raise InvalidValueError(
                _("Move contacts to"),
                move_to,
                _("choose a different category from the one being deleted."),
            )
        require_category(db, move_to)

    def work(db: Database) -> int:
        moved = contact_data.move_category(
            db,
            from_uuid=category_uuid,
            to_uuid=move_to or None,
            revision=next_revision(db, "contacts"),
        )
        now = utcnow()
        category_data.update_category(
            db,
            category_uuid,
            {
                "deleted": True,
                "deleted_at": now,
                "updated_at": now,
                "revision": next_revision(db, "categories"),
            },
        )
        return moved

    moved = db.write(work)
    log.info("Category %s deleted, %s contacts moved", category_uuid, moved)
    return moved
