"""Record ownership and sharing with other users.

A record is private to its owner, shared with everyone, or shared with
chosen users; administrators see everything. Only the owner or an
administrator changes a record's sharing, and only an administrator gives
it another owner. A contact's log entries, sales records and appointments
are visible to every user who may see the contact (data/visibility.py),
so they follow its sharing. They also follow a new owner, unless the
administrator unticks that option. A sales record or log entry can in
addition be shared on its own. Every change of sharing moves the record's
sync revision on in the same transaction, so the next upload sends it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from flask import g, has_app_context
from flask_babel import gettext as _
from sqlalchemy import Table, update

from crm_web.data import comm_logs as log_data
from crm_web.data import contacts as contact_data
from crm_web.data import preferences as preference_data
from crm_web.data import sales as sale_data
from crm_web.data import sync as sync_data
from crm_web.data import users as user_data
from crm_web.data import visibility
from crm_web.data.db import Database
from crm_web.data.records import next_revision
from crm_web.data.schema import appointments, comm_logs, contacts, sales, utcnow
from crm_web.errors import (
    InvalidValueError,
    NotFoundError,
    SharingSelectionChangedError,
    UserError,
)
from crm_web.services import audit
from crm_web.services.accounts import CurrentUser
from crm_web.services.network import USERS_KEY as NETWORK_USERS_KEY
from crm_web.services.preferences import load_preferences
from crm_web.services.search import Filters, search_contacts

# Records that belong to a contact and may follow it to a new owner.
CHILD_TABLES = (comm_logs, sales, appointments)


class NotYourRecordError(UserError):
    status = HTTPStatus.FORBIDDEN

    def __init__(self, owner: str) -> None:
        super().__init__(
            _(
                "Only its owner, %(owner)s, or an administrator can change who "
                "sees this record.",
                owner=owner,
            )
        )


@dataclass(frozen=True)
class Sharing:
    owner: str
    everyone: bool
    users: tuple[str, ...]


@dataclass(frozen=True)
class ShareChoice:
    """Who records are to be shared with: only their owner, everyone, or these users."""

    everyone: bool = False
    users: tuple[str, ...] = ()

    def shares(self, owner: str = "") -> list[str]:
        """Return the record_shares names for a record of ``owner``."""
        if self.everyone:
            return [visibility.EVERYONE]
        return sorted(set(self.users) - {owner})

    @property
    def detail(self) -> str:
        """Return the choice as the audit log writes it."""
        return "everyone" if self.everyone else ", ".join(self.users) or "private"


def choice_of(form: Any) -> ShareChoice:
    """Read a sharing form: ``share`` is private, everyone or users.

    Without ``share``, ``everyone=1`` means everyone and any ``user``
    values the chosen users, as the contact page posted them before.
    """
    share = form.get("share", "")
    if share == "everyone" or (not share and form.get("everyone") == "1"):
        return ShareChoice(everyone=True)
    if share == "private":
        return ShareChoice()
    users = tuple(sorted({name for name in form.getlist("user") if name}))
    return ShareChoice(users=users)


def sharing_of(db: Database, record_uuid: str, owner: str) -> Sharing:
    """Return a record's sharing; its owner is the server's for a fetched one."""
    shared = visibility.shares_of(db, [record_uuid]).get(record_uuid, [])
    foreign = sync_data.find_foreign_owners(db, [record_uuid])
    return Sharing(
        owner=foreign.get(record_uuid, owner),
        everyone=visibility.EVERYONE in shared,
        users=tuple(u for u in shared if u != visibility.EVERYONE),
    )


def set_contact_sharing(
    db: Database,
    contact_id: int,
    *,
    by: CurrentUser,
    everyone: bool,
    users: Iterable[str],
    owner: str = "",
    follow: bool = True,
) -> Sharing:
    """Set a contact's sharing and owner, and its records' owner if ``follow``."""
    contact = contact_data.get_contact(db, contact_id)
    if contact is None:
        raise NotFoundError(_("Contact"), contact_id)
    if not by.is_admin and contact["owner"] != by.name:
        raise NotYourRecordError(contact["owner"])
    _reject_foreign(db, contact["uuid"])
    local = {u["name"] for u in user_data.find_users(db)}
    if owner and owner not in local:
        raise InvalidValueError(
            _("User"), owner, _("choose a user from the list on the page.")
        )
    chosen = check_users(db, users)
    chosen = sorted(set(chosen) - {owner or contact["owner"]})
    new_owner = owner if (owner and by.is_admin) else contact["owner"]
    shares = [visibility.EVERYONE] if everyone else chosen

    def work(db: Database) -> None:
        visibility.share_records(db, contacts, [contact["uuid"]], shares)
        if new_owner != contact["owner"]:
            _reassign(db, contact, new_owner, follow=follow)

    db.write(work)
    detail = "everyone" if everyone else ", ".join(chosen) or "private"
    audit.record(db, "shared", user=by.name, target=_label(contact), detail=detail)
    if new_owner != contact["owner"]:
        audit.record(
            db,
            "owner_changed",
            user=by.name,
            target=_label(contact),
            detail=f"{contact['owner']}->{new_owner}",
        )
    return Sharing(new_owner, everyone, tuple(chosen))


def _reassign(
    db: Database, contact: dict[str, Any], new_owner: str, *, follow: bool
) -> None:
    """Give the contact, and its records the old owner had, a new owner.

    The contact's revision moves on so every search index reloads it.
    """
    now = utcnow()
    db.execute(
        update(contacts)
        .where(contacts.c.id == contact["id"])
        .values(
            owner=new_owner,
            updated_at=now,
            version=contacts.c.version + 1,
            revision=next_revision(db, "contacts"),
        )
    )
    if not follow:
        return
    for table in CHILD_TABLES:
        db.execute(
            update(table)
            .where(
                table.c.contact_uuid == contact["uuid"],
                table.c.owner == contact["owner"],
            )
            .values(
                owner=new_owner,
                updated_at=now,
                version=table.c.version + 1,
                **_revision_of(db, table),
            )
        )


def _label(contact: dict[str, Any]) -> str:
    return str(contact["name"] or contact["company"] or contact["uuid"])


def _revision_of(db: Database, table: Any) -> dict[str, int]:
    """Return the sync revision a change of ``table`` takes, if it keeps one."""
    if "revision" not in table.c:
        return {}
    return {"revision": next_revision(db, table.name)}


# --- sales records and log entries -------------------------------------------


def set_sale_sharing(
    db: Database, sale_id: int, *, by: CurrentUser, choice: ShareChoice
) -> Sharing:
    """Share one sales record, beyond those who see it through its contact."""
    row = sale_data.get_sale(db, sale_id)
    if row is None:
        raise NotFoundError(_("Sales record"), sale_id)
    label = f"{row['sold_on']} {row['item'] or row['service_type']}".strip()
    return _set_record_sharing(db, sales, row, f"sales record {label}", by, choice)


def set_entry_sharing(
    db: Database, entry_id: int, *, by: CurrentUser, choice: ShareChoice
) -> Sharing:
    """Share one log entry, beyond those who see it through its contact."""
    row = log_data.get_log(db, entry_id)
    if row is None:
        raise NotFoundError(_("Log entry"), entry_id)
    title = row["title"] or str(row["content"]).split("\n", 1)[0][:80]
    return _set_record_sharing(db, comm_logs, row, f"log entry {title}", by, choice)


def _set_record_sharing(
    db: Database,
    table: Table,
    row: dict[str, Any],
    label: str,
    by: CurrentUser,
    choice: ShareChoice,
) -> Sharing:
    if not by.is_admin and row["owner"] != by.name:
        raise NotYourRecordError(row["owner"])
    _reject_foreign(db, row["uuid"])
    check_users(db, choice.users)
    shares = choice.shares(row["owner"])
    db.write(lambda db: visibility.share_records(db, table, [row["uuid"]], shares))
    audit.record(db, "shared", user=by.name, target=label[:200], detail=choice.detail)
    users = () if choice.everyone else tuple(shares)
    return Sharing(row["owner"], choice.everyone, users)


# --- who can be chosen --------------------------------------------------------


def known_share_users(db: Database, *, me: str | None = None) -> list[str]:
    """Return the names records can be shared with, sorted, without ``me``.

    These are the local users and the network users this terminal learnt
    when it last signed in to the shared server, without the network user
    it syncs as. ``me`` defaults to the user of the current request.
    """
    if me is None:
        me = _request_user_name()
    # The network user this terminal syncs as is the same person as its user.
    myself = sync_data.get_preference(db, sync_data.NETWORK_USER_PREFERENCE) or ""
    return sorted(_shareable_names(db) - {me, myself, ""})


def check_users(db: Database, users: Iterable[str]) -> list[str]:
    """Return the chosen names sorted; raise InvalidValueError for an unknown one.

    A name is known when it is a local user or a remembered network user.
    """
    chosen = sorted({name for name in users if name})
    known = _shareable_names(db)
    for name in chosen:
        if name not in known:
            raise InvalidValueError(
                _("User"), name, _("choose a user from the list on the page.")
            )
    return chosen


def _shareable_names(db: Database) -> set[str]:
    local = {u["name"] for u in user_data.find_users(db)}
    return local | set(_network_user_names(db))


def _network_user_names(db: Database) -> list[str]:
    """Return the server's user names that the Network page stored, if any."""
    raw = preference_data.find_preferences(db).get(NETWORK_USERS_KEY, "")
    try:
        names = json.loads(raw) if raw else []
    except ValueError:
        return []
    if not isinstance(names, list):
        return []
    return [str(name) for name in names if name]


def _request_user_name() -> str:
    if not has_app_context():
        return ""
    user: CurrentUser | None = g.get("crm_user")
    return user.name if user else ""


# --- new records ----------------------------------------------------------------


def default_shares(db: Database) -> list[str]:
    """Return the record_shares names a new record gets from share_default."""
    if load_preferences(db)["share_default"] == "everyone":
        return [visibility.EVERYONE]
    return []


def share_new_records(db: Database, uuids: Sequence[str], shares: list[str]) -> None:
    """Share records inserted in the caller's transaction, as ``default_shares``.

    A new record's revision is new already, so none is moved here.
    """
    if shares and uuids:
        visibility.set_shares(db, uuids, shares)


# --- every contact of the list at once ---------------------------------------


@dataclass(frozen=True)
class BulkSharing:
    """What sharing the contacts of a list does, or did."""

    matched: int  # contacts the list shows
    changed: int  # the user's contacts whose sharing changes
    unchanged: int  # the user's contacts already shared that way
    skipped: int  # other users' contacts, left as they are


def plan_bulk_sharing(
    db: Database,
    query: str,
    filters: Filters,
    *,
    by: CurrentUser,
    choice: ShareChoice,
) -> BulkSharing:
    """Count what sharing every contact the list shows would change."""
    check_users(db, choice.users)
    uuids = _listed_uuids(db, query, filters, by)
    changes, skipped = _bulk_changes(db, uuids, by, choice)
    changed = sum(len(group) for group in changes.values())
    return BulkSharing(len(uuids), changed, len(uuids) - changed - skipped, skipped)


def share_listed_contacts(
    db: Database,
    query: str,
    filters: Filters,
    *,
    by: CurrentUser,
    choice: ShareChoice,
    expected: int,
) -> BulkSharing:
    """Share every contact the list shows that ``by`` may share, in one transaction.

    A user shares only their own contacts; an administrator shares all.
    ``expected`` is the number of changes the user confirmed: when the
    list or the contacts changed since, nothing is stored and
    SharingSelectionChangedError names the new number.
    """
    check_users(db, choice.users)
    uuids = _listed_uuids(db, query, filters, by)

    def work(db: Database) -> BulkSharing:
        changes, skipped = _bulk_changes(db, uuids, by, choice)
        changed = sum(len(group) for group in changes.values())
        if changed != expected:
            raise SharingSelectionChangedError(expected, changed)
        for shares, group in changes.items():
            visibility.share_records(db, contacts, group, list(shares))
        return BulkSharing(len(uuids), changed, len(uuids) - changed - skipped, skipped)

    result = db.write(work)
    filters_text = ", ".join(f"{k}={v}" for k, v in vars(filters).items() if v)
    audit.record(
        db,
        "shared",
        user=by.name,
        target=f"{result.changed} contacts",
        detail=f"{choice.detail}; skipped={result.skipped}; "
        f"query={query}; filters={filters_text}",
    )
    return result


def _listed_uuids(
    db: Database, query: str, filters: Filters, by: CurrentUser
) -> list[str]:
    """Return the uuids of every contact the list shows ``by``."""
    viewer = None if by.is_admin else visibility.Viewer(by.name)
    return search_contacts(db, query, filters, limit=10**9, viewer=viewer).uuids


def _bulk_changes(
    db: Database, uuids: list[str], by: CurrentUser, choice: ShareChoice
) -> tuple[dict[tuple[str, ...], list[str]], int]:
    """Group the contacts whose sharing changes by their new shares.

    Returns the groups and the number of contacts skipped because they
    belong to others. A contact never lists its own owner among its users.
    """
    owners = visibility.find_owners(db, contacts, uuids)
    foreign = sync_data.find_foreign_owners(db, uuids)
    mine = [
        u
        for u in uuids
        if (by.is_admin or owners.get(u) == by.name) and u not in foreign
    ]
    current = visibility.shares_of(db, mine)
    changes: dict[tuple[str, ...], list[str]] = {}
    for uuid in mine:
        shares = tuple(choice.shares(owners.get(uuid, "")))
        if tuple(sorted(current.get(uuid, []))) != shares:
            changes.setdefault(shares, []).append(uuid)
    return changes, len(uuids) - len(mine)


def _reject_foreign(db: Database, record_uuid: str) -> None:
    """Raise NotYourRecordError for a record another network user owns.

    A record fetched from the shared server keeps the sharing its owner
    set there; a change made here would never be sent.
    """
    owner = sync_data.find_foreign_owners(db, [record_uuid]).get(record_uuid)
    if owner:
        raise NotYourRecordError(owner)
