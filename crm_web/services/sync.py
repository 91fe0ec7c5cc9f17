"""Upload to and download from the shared server, with conflict detection.

A terminal's contacts, sales records and log entries (and the category
names) are matched with the server's by uuid. ``sync_state`` keeps, per
record, the server's version and the local revision at the last exchange:
a local revision past it means "changed here", a server version past it
"changed there", and both at once is a conflict that neither side
overwrites. Each batch is one server transaction followed by one local
transaction. A run stopped between the two is repaired by the next run,
which finds the server already holding the same values and only records
that (no second write, no duplicate).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, or_, select, true
from sqlalchemy.engine import make_url

from crm_web.data import categories as category_data
from crm_web.data import contacts as contact_data
from crm_web.data import sync as sync_data
from crm_web.data import users as user_data
from crm_web.data.db import Database
from crm_web.data.preferences import upsert_preference
from crm_web.data.records import next_revision
from crm_web.data.schema import contacts, utcnow
from crm_web.data.sync import NETWORK_USER_PREFERENCE, TABLES
from crm_web.errors import (
    NetworkUserDisabledError,
    ServerNotPreparedError,
    SyncNotAllowedError,
)
from crm_web.services import audit
from crm_web.services.network import network_user_of
from crm_web.services.network_user import NetworkUser

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
CHILD_TABLES = ("sales", "comm_logs")
SERVER_PREFERENCE = "server_uuid"
LOCAL_SERVER_PREFERENCE = "sync_server_uuid"
# Rejected records named in the summary message, at most.
NAMED_REJECTIONS = 5


@dataclass
class SyncSummary:
    """The counts and rejected record names of one upload or download."""

    direction: str
    sent: int = 0
    received: int = 0
    conflicts: int = 0
    rejected: int = 0
    rejected_names: list[str] = field(default_factory=list)
    history_id: int = 0

    def as_detail(self) -> str:
        return (
            f"sent={self.sent} received={self.received} "
            f"conflicts={self.conflicts} rejected={self.rejected}"
        )


def upload(
    local: Database,
    server: Database,
    user: NetworkUser,
    *,
    local_owner: str,
    progress: Progress | None = None,
) -> SyncSummary:
    """Send every record changed here since the last upload, deletions included."""
    run = _Run(local, server, user, "upload", local_owner, progress)
    return run.execute(run.upload_all)


def download(
    local: Database,
    server: Database,
    user: NetworkUser,
    *,
    local_owner: str,
    progress: Progress | None = None,
) -> SyncSummary:
    """Fetch what ``user`` may see that changed on the server since last time."""
    run = _Run(local, server, user, "download", local_owner, progress)
    return run.execute(run.download_all)


@dataclass
class SyncStatus:
    pending: dict[str, int]
    open_conflicts: int
    history: list[dict[str, Any]]


def sync_status(local: Database) -> SyncStatus:
    """Return the records waiting to be uploaded, open conflicts and history."""
    pending = {
        name: sync_data.count_pending(local, table, _mark(local, "up", name))
        for name, table in TABLES.items()
    }
    return SyncStatus(
        pending=pending,
        open_conflicts=sync_data.count_open_conflicts(local),
        history=sync_data.find_history(local),
    )


def visible_condition(table: Table, user: NetworkUser) -> ColumnElement[bool]:
    """Return the condition for the server rows ``user`` may receive.

    A user receives their own records and the contacts shared with them or
    with everyone, within the categories they are given. They also receive
    the sales records and log entries shared with them or about such a
    contact. Admins receive everything.
    """
    # NOTE: a record shared earlier and no longer visible is not fetched
    # again, so a terminal keeps its last copy after the owner unshares it.
    if user.is_admin or table.name == "categories":
        return true()
    contact_rows = _contact_condition(user)
    if table.name == "contacts":
        return contact_rows
    seen = select(contacts.c.uuid).where(contact_rows)
    return or_(
        table.c.owner == user.name,
        sync_data.shared_condition(table, user.name),
        table.c.contact_uuid.in_(seen),
    )


def _contact_condition(user: NetworkUser) -> ColumnElement[bool]:
    shared = sync_data.shared_condition(contacts, user.name)
    if user.categories:
        shared = and_(shared, contacts.c.category_uuid.in_(user.categories))
    return or_(contacts.c.owner == user.name, shared)


def _mark(db: Database, direction: str, name: str) -> tuple[int, int]:
    return (
        sync_data.get_mark(db, f"sync_{direction}_{name}"),
        sync_data.get_mark(db, f"sync_{direction}_{name}_id"),
    )


def _set_mark(db: Database, direction: str, name: str, row: dict[str, Any]) -> None:
    sync_data.set_mark(db, f"sync_{direction}_{name}", int(row["revision"]))
    sync_data.set_mark(db, f"sync_{direction}_{name}_id", int(row["id"]))


def is_same(table: Table, one: dict[str, Any], other: dict[str, Any]) -> bool:
    """Return True when two copies of a record hold the same values."""
    return all(
        one.get(name) == other.get(name) for name in sync_data.compared_columns(table)
    )


def conflict_kind(mine: dict[str, Any], theirs: dict[str, Any]) -> str:
    """Return edited, deleted_here or deleted_there.

    The fourth kind, rejected, is an edit the server refused because the
    user may not change records others shared with them.
    """
    if mine["deleted"] and not theirs["deleted"]:
        return "deleted_here"
    if theirs["deleted"] and not mine["deleted"]:
        return "deleted_there"
    return "edited"


def payload(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in sync_data.payload_columns(table)}


class _Run:
    """One upload or download, batch by batch."""

    def __init__(
        self,
        local: Database,
        server: Database,
        user: NetworkUser,
        direction: str,
        local_owner: str,
        progress: Progress | None,
    ) -> None:
        self.local = local
        self.server = server
        self.user = user
        self.local_owner = local_owner
        self.progress = progress
        self.summary = SyncSummary(direction)
        self.done = 0
        self.total = 0

    def execute(self, work: Callable[[], None]) -> SyncSummary:
        self._check_server()
        self._check_user()
        self.local.write(sync_data.close_abandoned_history)
        self.summary.history_id = self.local.write(
            lambda db: sync_data.insert_history(
                db, direction=self.summary.direction, network_user=self.user.name
            )
        )
        try:
            work()
        except Exception as error:
            self._finish(status="failed", message=str(error)[:1000])
            raise
        self._finish(status="done", message="")
        return self.summary

    def _check_server(self) -> None:
        """Refuse an unprepared server; forget the old one's state on a new one."""
        server_uuid = sync_data.get_preference(self.server, SERVER_PREFERENCE)
        self.server.release()
        if not server_uuid:
            url = make_url(self.server.url)
            raise ServerNotPreparedError(url.host or "", url.database or "")
        known = sync_data.get_preference(self.local, LOCAL_SERVER_PREFERENCE)
        if known == server_uuid:
            return

        def adopt(db: Database) -> None:
            if known:
                log.warning("Sync server changed; forgetting the old one's state")
                sync_data.delete_all_states(db)
            upsert_preference(db, LOCAL_SERVER_PREFERENCE, server_uuid)

        self.local.write(adopt)

    def _check_user(self) -> None:
        """Read the user's rights from the server now: a change applies at once."""
        row = user_data.get_user(self.server, self.user.name)
        self.server.release()
        if row is None or row["disabled"]:
            raise NetworkUserDisabledError(
                self.user.name, make_url(self.server.url).host or ""
            )
        self.user = network_user_of(row)
        direction = self.summary.direction
        allowed = (
            self.user.may_upload if direction == "upload" else (self.user.may_download)
        )
        if not allowed:
            raise SyncNotAllowedError(self.user.name, direction)
        if sync_data.get_preference(self.local, NETWORK_USER_PREFERENCE) != (
            self.user.name
        ):
            self.local.write(
                lambda db: upsert_preference(
                    db, NETWORK_USER_PREFERENCE, self.user.name
                )
            )

    def _finish(self, *, status: str, message: str) -> None:
        summary = self.summary
        counts = {
            "sent": summary.sent,
            "received": summary.received,
            "conflicts": summary.conflicts,
            "rejected": summary.rejected,
        }
        self.local.write(
            lambda db: sync_data.finish_history(
                db, summary.history_id, status=status, message=message, **counts
            )
        )
        action = f"sync_{summary.direction}"
        detail = summary.as_detail() + ("" if status == "done" else f" {status}")
        audit.record(self.local, action, user=self.local_owner, detail=detail)
        audit.record(self.server, action, user=self.user.name, detail=detail)
        self.server.release()
        log.info(
            "Sync %s as %s %s: %s", summary.direction, self.user.name, status, detail
        )

    def save_counts(self, local: Database) -> None:
        """Store the counts so far, so a run that dies half-way shows them."""
        summary = self.summary
        sync_data.update_history_counts(
            local,
            summary.history_id,
            sent=summary.sent,
            received=summary.received,
            conflicts=summary.conflicts,
            rejected=summary.rejected,
        )

    def _advance(self, count: int) -> None:
        self.done += count
        if self.progress:
            self.progress(min(self.done, self.total), self.total)

    # --- upload ---------------------------------------------------------------

    def upload_all(self) -> None:
        # Category names first, so a category both sides created is one.
        self._download_table("categories")
        # The categories just fetched are not part of the upload's count.
        self.done = 0
        self.total = sum(
            sync_data.count_changed(self.local, table, _mark(self.local, "up", name))
            for name, table in TABLES.items()
        )
        for name in TABLES:
            self._upload_table(name)

    def _upload_table(self, name: str) -> None:
        table = TABLES[name]
        while True:
            rows = sync_data.find_changed(
                self.local, table, _mark(self.local, "up", name)
            )
            self.local.release()
            if not rows:
                return
            self._upload_batch(name, table, rows)
            self._advance(len(rows))

    def _upload_batch(
        self, name: str, table: Table, rows: list[dict[str, Any]]
    ) -> None:
        uuids = sync_data.uuids_of(rows)
        states = sync_data.find_states(self.local, uuids)
        blocked = sync_data.open_conflict_uuids(self.local, uuids)
        changed = [
            row
            for row in rows
            if row["uuid"] not in blocked
            and (
                row["uuid"] not in states
                or states[row["uuid"]]["local_revision"] != row["revision"]
            )
        ]
        shares = sync_data.find_shares(self.local, sync_data.uuids_of(changed))
        self.local.release()
        batch = _UploadBatch(self, name, table, changed, states, shares)
        if changed:
            self.server.write(batch.send)
        self.local.write(lambda db: batch.record(db, last=rows[-1]))

    # --- download ------------------------------------------------------------

    def download_all(self) -> None:
        self.total = sum(
            sync_data.count_changed(
                self.server,
                table,
                _mark(self.local, "down", name),
                condition=visible_condition(table, self.user),
            )
            for name, table in TABLES.items()
        )
        self.server.release()
        passed = {name: _mark(self.local, "down", name)[0] for name in CHILD_TABLES}
        new_contacts: list[str] = []
        for name in TABLES:
            new_contacts.extend(self._download_table(name))
        for name in CHILD_TABLES:
            if passed[name]:
                self._download_children(name, new_contacts, up_to=passed[name])

    def _download_table(self, name: str) -> list[str]:
        """Fetch one table's changes; return the uuids of records new here."""
        table = TABLES[name]
        condition = visible_condition(table, self.user)
        arrived: list[str] = []
        while True:
            rows = sync_data.find_changed(
                self.server,
                table,
                _mark(self.local, "down", name),
                condition=condition,
                limit=sync_data.DOWNLOAD_BATCH,
            )
            shares = sync_data.find_shares(self.server, sync_data.uuids_of(rows))
            self.server.release()
            if not rows:
                return arrived
            batch = _DownloadBatch(self, name, table, rows, shares)
            self.local.write(partial(batch.apply, mark=True))
            arrived.extend(batch.inserted)
            self._advance(len(rows))

    def _download_children(
        self, name: str, contact_uuids: Sequence[str], *, up_to: int
    ) -> None:
        """Fetch older records about contacts that just arrived.

        A contact shared today brings its sales records and log entries up
        to revision ``up_to``, which the mark passed while they were hidden.
        Newer ones came with this run's main pass.
        """
        table = TABLES[name]
        condition = and_(visible_condition(table, self.user), table.c.revision <= up_to)
        for start in range(0, len(contact_uuids), sync_data.BATCH):
            rows = sync_data.find_children(
                self.server,
                table,
                contact_uuids[start : start + sync_data.BATCH],
                condition=condition,
            )
            shares = sync_data.find_shares(self.server, sync_data.uuids_of(rows))
            self.server.release()
            if rows:
                batch = _DownloadBatch(self, name, table, rows, shares)
                self.local.write(partial(batch.apply, mark=False))


class _UploadBatch:
    """One batch of local rows sent in one server transaction."""

    def __init__(
        self,
        run: _Run,
        name: str,
        table: Table,
        rows: list[dict[str, Any]],
        states: dict[str, dict[str, Any]],
        shares: dict[str, tuple[str, ...]],
    ) -> None:
        self.run = run
        self.name = name
        self.table = table
        self.rows = rows
        self.states = states
        self.shares = shares
        self._reset()

    def _reset(self) -> None:
        self.new_states: list[dict[str, Any]] = []
        self.conflicts: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        self.sent = 0
        # Rows this user may not change on the server, with the server's copy.
        self.rejected: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def send(self, server: Database) -> None:
        """Write the batch to the server (the whole call is one transaction)."""
        self._reset()
        current = self._server_rows(server)
        editable = self._editable(server, current)
        server_shares = sync_data.find_shares(server, list(current))
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        own_shares: dict[str, tuple[str, ...]] = {}
        for row in self.rows:
            theirs = current.get(row["uuid"])
            state = self.states.get(row["uuid"])
            mine_shares = self.shares.get(row["uuid"], ())
            if theirs is None:
                if state is None and row["deleted"]:
                    continue
                owner = state["server_owner"] if state else self.run.user.name
                inserts.append({**payload(self.table, row), "owner": owner})
                if owner == self.run.user.name:
                    own_shares[row["uuid"]] = mine_shares
                self._keep(row, version=1, owner=owner)
                continue
            is_own = theirs["owner"] == self.run.user.name
            if is_same(self.table, row, theirs) and (
                not is_own or mine_shares == server_shares.get(row["uuid"], ())
            ):
                self._keep(row, version=theirs["version"], owner=theirs["owner"])
            elif state is not None and theirs["version"] == state["server_version"]:
                if row["uuid"] not in editable:
                    self.rejected.append((row, theirs))
                    continue
                updates.append(
                    {
                        **payload(self.table, row),
                        "owner": theirs["owner"],
                        "version": theirs["version"] + 1,
                        "_uuid": row["uuid"],
                    }
                )
                if is_own:
                    own_shares[row["uuid"]] = mine_shares
                self._keep(row, version=theirs["version"] + 1, owner=theirs["owner"])
            elif row["deleted"] and theirs["deleted"]:
                self._keep(row, version=theirs["version"], owner=theirs["owner"])
            else:
                self.conflicts.append((conflict_kind(row, theirs), row, theirs))
        self._write(server, inserts, updates, own_shares)
        self._read_rejected(server)

    def _read_rejected(self, server: Database) -> None:
        """Replace the partial server rows of rejected records with whole ones."""
        uuids = [row["uuid"] for row, _theirs in self.rejected]
        whole = sync_data.find_by_uuids(server, self.table, uuids)
        self.rejected = [(row, whole[row["uuid"]]) for row, _theirs in self.rejected]

    def _server_rows(self, server: Database) -> dict[str, dict[str, Any]]:
        """Lock the batch's server rows; read in full only those compared.

        A row whose server version is the one last synced needs no
        comparison, only its version and owner, and reading whole rows
        over the network is most of an upload's time.
        """
        versions = sync_data.find_versions(
            server, self.table, sync_data.uuids_of(self.rows)
        )
        current = {
            uuid: {"uuid": uuid, "version": version, "owner": owner}
            for uuid, (version, owner) in versions.items()
        }
        compared = [
            uuid
            for uuid, (version, _owner) in versions.items()
            if uuid not in self.states or self.states[uuid]["server_version"] != version
        ]
        current.update(sync_data.find_by_uuids(server, self.table, compared))
        return current

    def _editable(self, server: Database, current: dict[str, Any]) -> set[str]:
        """Return the uuids among ``current`` that this user may change."""
        user = self.run.user
        if user.is_admin or self.name == "categories":
            return set(current)
        own = {uuid for uuid, row in current.items() if row["owner"] == user.name}
        others = [uuid for uuid in current if uuid not in own]
        if not user.may_edit_shared or not others:
            return own
        condition = visible_condition(self.table, user)
        return own | set(
            sync_data.find_by_uuids(server, self.table, others, condition=condition)
        )

    def _write(
        self,
        server: Database,
        inserts: list[dict[str, Any]],
        updates: list[dict[str, Any]],
        own_shares: dict[str, tuple[str, ...]],
    ) -> None:
        if not inserts and not updates:
            return
        revision = next_revision(server, self.name)
        sync_data.insert_records(
            server,
            self.table,
            [{**row, "version": 1, "revision": revision} for row in inserts],
        )
        # The rows were read with FOR UPDATE in this transaction and their
        # versions compared, so no version check is needed in the UPDATE.
        sync_data.update_records(
            server,
            self.table,
            [{**row, "revision": revision} for row in updates],
            check_version=False,
        )
        sync_data.replace_shares(server, own_shares)
        self.sent = len(inserts) + len(updates)

    def _keep(self, row: dict[str, Any], *, version: int, owner: str) -> None:
        self.new_states.append(
            {
                "record_uuid": row["uuid"],
                "table_name": self.name,
                "server_version": version,
                "local_revision": row["revision"],
                "server_owner": owner,
                "synced_at": utcnow(),
            }
        )

    def record(self, local: Database, *, last: dict[str, Any]) -> None:
        """Store what the server now holds, the conflicts, and the mark."""
        sync_data.upsert_states(local, self.new_states)
        for kind, mine, theirs in self.conflicts:
            sync_data.upsert_conflict(
                local,
                table_name=self.name,
                kind=kind,
                mine=mine,
                theirs=theirs,
                server_version=theirs["version"],
            )
        _set_mark(local, "up", self.name, last)
        summary = self.run.summary
        summary.sent += self.sent
        summary.conflicts += len(self.conflicts)
        summary.rejected += len(self.rejected)
        for row, theirs in self.rejected:
            # Kept with the conflicts, so the edit is not left behind unseen:
            # "keep theirs" there takes the server's version back.
            sync_data.upsert_conflict(
                local,
                table_name=self.name,
                kind="rejected",
                mine=row,
                theirs=theirs,
                server_version=theirs["version"],
            )
            if len(summary.rejected_names) < NAMED_REJECTIONS:
                summary.rejected_names.append(record_label(self.name, row))
        self.run.save_counts(local)


class _DownloadBatch:
    """One batch of server rows applied in one local transaction."""

    def __init__(
        self,
        run: _Run,
        name: str,
        table: Table,
        rows: list[dict[str, Any]],
        shares: dict[str, tuple[str, ...]],
    ) -> None:
        self.run = run
        self.name = name
        self.table = table
        self.rows = rows
        self.shares = shares
        self.inserted: list[str] = []

    def apply(self, local: Database, *, mark: bool) -> None:
        self.inserted = []
        uuids = sync_data.uuids_of(self.rows)
        states = sync_data.find_states(local, uuids)
        present = sync_data.find_by_uuids(local, self.table, uuids)
        blocked = sync_data.open_conflict_uuids(local, uuids)
        revision = next_revision(local, self.name)
        inserts, updates, new_states, shares = [], [], [], {}
        received = conflicts = 0
        for theirs in self.rows:
            uuid = theirs["uuid"]
            state, mine = states.get(uuid), present.get(uuid)
            if uuid in blocked:
                sync_data.update_conflict_theirs(local, uuid, theirs, theirs["version"])
                conflicts += 1
                continue
            if (
                mine is not None
                and state
                and state["server_version"] == theirs["version"]
            ):
                continue
            if mine is None:
                if theirs["deleted"]:
                    continue
                inserts.append(self._local_row(theirs, revision))
                self.inserted.append(uuid)
            elif is_same(self.table, mine, theirs):
                new_states.append(self._state(theirs, mine["revision"]))
                continue
            elif state is not None and mine["revision"] == state["local_revision"]:
                updates.append(
                    {
                        **payload(self.table, theirs),
                        "version": mine["version"] + 1,
                        "revision": revision,
                        "_uuid": uuid,
                    }
                )
            else:
                sync_data.upsert_conflict(
                    local,
                    table_name=self.name,
                    kind=conflict_kind(mine, theirs),
                    mine=mine,
                    theirs=theirs,
                    server_version=theirs["version"],
                )
                conflicts += 1
                continue
            received += 1
            new_states.append(self._state(theirs, revision))
            # Who the owner shared it with shows here as on the server.
            shares[uuid] = self.shares.get(uuid, ())
        if self.name == "categories":
            _merge_same_named_categories(local, inserts)
        sync_data.insert_records(local, self.table, inserts)
        sync_data.update_records(local, self.table, updates, check_version=False)
        sync_data.replace_shares(local, shares)
        sync_data.upsert_states(local, new_states)
        if mark:
            _set_mark(local, "down", self.name, self.rows[-1])
        self.run.summary.received += received
        self.run.summary.conflicts += conflicts
        self.run.save_counts(local)

    def _local_row(self, theirs: dict[str, Any], revision: int) -> dict[str, Any]:
        row = {
            **payload(self.table, theirs),
            "owner": self.run.local_owner,
            "version": 1,
            "revision": revision,
        }
        if self.name == "contacts":
            row["import_uuid"] = None
        return row

    def _state(self, theirs: dict[str, Any], local_revision: int) -> dict[str, Any]:
        return {
            "record_uuid": theirs["uuid"],
            "table_name": self.name,
            "server_version": theirs["version"],
            "local_revision": local_revision,
            "server_owner": theirs["owner"],
            "synced_at": utcnow(),
        }


def _merge_same_named_categories(
    local: Database, arriving: list[dict[str, Any]]
) -> None:
    """Fold a local category into an arriving one of the same name.

    Category names are unique in a database, and two terminals that each
    created "VIP" mean the same category, so the local one's contacts move
    to the arriving uuid and the local row goes. This is the one place the
    sync matches by name: categories are labels, not records.
    """
    for row in arriving:
        twin = category_data.get_category_by_name(local, row["name"])
        if twin is None or twin["uuid"] == row["uuid"] or row["deleted"]:
            continue
        contact_data.move_category(
            local,
            from_uuid=twin["uuid"],
            to_uuid=row["uuid"],
            revision=next_revision(local, "contacts"),
        )
        now = utcnow()
        category_data.update_category(
            local,
            twin["uuid"],
            {
                "deleted": True,
                "deleted_at": now,
                "updated_at": now,
                "revision": next_revision(local, "categories"),
            },
        )


def record_label(table_name: str, row: dict[str, Any]) -> str:
    """Return the words that name a record in messages: a name, title or date."""
    if table_name == "contacts":
        return str(row.get("name") or row.get("company") or row["uuid"])
    if table_name == "sales":
        return str(row.get("item") or row.get("sold_on") or row["uuid"])
    if table_name == "comm_logs":
        return str(row.get("title") or row.get("occurred_at") or row["uuid"])
    return str(row.get("name") or row["uuid"])
