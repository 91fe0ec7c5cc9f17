"""Records changed both here and on the shared server, and their resolution.

Resolving writes the chosen values here in one transaction. Keeping
"theirs" leaves the record in step with the server. Keeping "mine" or a
mix marks the server's version as seen, so the next upload sends the
result over it (unless someone changed it yet again, which is a new
conflict).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l

from crm_web.data import sync as sync_data
from crm_web.data.db import Database
from crm_web.data.records import next_revision
from crm_web.data.schema import utcnow
from crm_web.data.sync import TABLES
from crm_web.errors import InvalidValueError, NotFoundError
from crm_web.services import contacts as contact_service
from crm_web.services.comm_log import search_text_of
from crm_web.services.sync import payload, record_label

log = logging.getLogger(__name__)

# Columns computed from others; never picked, always recomputed.
DERIVED = {
    "contacts": {
        "name_sort",
        "company_sort",
        "mobile_norm",
        "phone_norm",
        "email_norm",
        "search_text",
        "merged_into",
    },
    "comm_logs": {"search_text"},
}
HIDDEN = {"uuid", "deleted_at"}
KEEP_CHOICES = ("mine", "theirs", "merged")
TABLE_LABELS = {
    "categories": _l("Category"),
    "contacts": _l("Contact"),
    "sales": _l("Sales record"),
    "comm_logs": _l("Log entry"),
}


@dataclass(frozen=True)
class FieldChoice:
    """One column of a conflict: both values and whether they differ."""

    name: str
    mine: Any
    theirs: Any

    @property
    def differs(self) -> bool:
        return bool(self.mine != self.theirs)


@dataclass(frozen=True)
class ConflictView:
    id: int
    table_name: str
    kind: str
    label: str
    detected_at: datetime
    fields: list[FieldChoice]


def pickable_columns(table_name: str) -> list[str]:
    """Return the columns a user may choose one by one, in table order."""
    skipped = DERIVED.get(table_name, set()) | HIDDEN
    return [
        name
        for name in sync_data.compared_columns(TABLES[table_name])
        if name not in skipped
    ]


def list_conflicts(db: Database) -> list[ConflictView]:
    """Return the open conflicts, oldest first."""
    return [_view(row) for row in sync_data.find_open_conflicts(db)]


def get_conflict(db: Database, conflict_id: int) -> ConflictView:
    row = sync_data.get_conflict(db, conflict_id)
    if row is None or row["resolved_at"] is not None:
        raise NotFoundError(_l("Conflict"), conflict_id)
    return _view(row)


def _view(row: dict[str, Any]) -> ConflictView:
    table = TABLES[row["table_name"]]
    mine = sync_data.load_record(table, row["mine"])
    theirs = sync_data.load_record(table, row["theirs"])
    fields = [
        FieldChoice(name, mine.get(name), theirs.get(name))
        for name in pickable_columns(row["table_name"])
    ]
    return ConflictView(
        id=row["id"],
        table_name=row["table_name"],
        kind=row["kind"],
        label=record_label(row["table_name"], mine),
        detected_at=row["detected_at"],
        fields=fields,
    )


def resolve_conflict(
    db: Database,
    conflict_id: int,
    *,
    keep: str,
    picks: Mapping[str, str] | None = None,
    local_owner: str,
    region: str,
) -> None:
    """Keep my version, theirs, or per column the side named in ``picks``.

    ``picks`` maps column names to "mine" or "theirs"; columns it leaves
    out keep mine.
    """
    if keep not in KEEP_CHOICES:
        raise InvalidValueError(
            str(_l("Keep")), keep, str(_l("choose mine or theirs."))
        )
    conflict = sync_data.get_conflict(db, conflict_id)
    if conflict is None or conflict["resolved_at"] is not None:
        raise NotFoundError(_l("Conflict"), conflict_id)
    name = conflict["table_name"]
    table = TABLES[name]
    theirs = sync_data.load_record(table, conflict["theirs"])

    def work(db: Database) -> None:
        current = sync_data.find_by_uuids(db, table, [conflict["record_uuid"]])
        mine = current.get(conflict["record_uuid"]) or sync_data.load_record(
            table, conflict["mine"]
        )
        values = _chosen_values(name, mine, theirs, keep, picks or {}, region)
        revision = next_revision(db, name)
        _write_local(db, name, current, values, revision, local_owner)
        state = {
            "record_uuid": conflict["record_uuid"],
            "table_name": name,
            "server_version": conflict["server_version"],
            # "theirs" is what the server holds; anything else must go up,
            # so the state's revision is left behind the row's.
            "local_revision": revision if keep == "theirs" else revision - 1,
            "server_owner": theirs["owner"],
            "synced_at": utcnow(),
        }
        sync_data.upsert_states(db, [state])
        sync_data.close_conflict(db, conflict_id, keep)

    db.write(work)
    log.info("Sync conflict %s resolved: %s", conflict_id, keep)


def _chosen_values(
    name: str,
    mine: dict[str, Any],
    theirs: dict[str, Any],
    keep: str,
    picks: Mapping[str, str],
    region: str,
) -> dict[str, Any]:
    table = TABLES[name]
    if keep == "theirs":
        return payload(table, theirs)
    values = payload(table, mine)
    if keep == "merged":
        for column in pickable_columns(name):
            if picks.get(column) == "theirs":
                values[column] = theirs.get(column)
        values["updated_at"] = utcnow()
        _recompute(name, values, region)
    return values


def _recompute(name: str, values: dict[str, Any], region: str) -> None:
    if name == "contacts":
        extra = contact_service.decode_extra(values.get("extra"))
        values.update(contact_service.derived_columns(values, extra, region=region))
    elif name == "comm_logs":
        values["search_text"] = search_text_of(values["title"], values["content"])


def _write_local(
    db: Database,
    name: str,
    current: dict[str, dict[str, Any]],
    values: dict[str, Any],
    revision: int,
    local_owner: str,
) -> None:
    table = TABLES[name]
    record_uuid = values["uuid"]
    if record_uuid in current:
        row = current[record_uuid]
        sync_data.update_records(
            db,
            table,
            [
                {
                    **values,
                    "version": row["version"] + 1,
                    "revision": revision,
                    "_uuid": record_uuid,
                }
            ],
            check_version=False,
        )
        return
    row = {**values, "owner": local_owner, "version": 1, "revision": revision}
    if name == "contacts":
        row["import_uuid"] = None
    sync_data.insert_records(db, table, [row])
