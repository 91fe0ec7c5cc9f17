"""Contact ownership and sharing with other users.

A record is private to its owner, shared with everyone, or shared with
chosen users; administrators see everything. Only the owner or an
administrator changes a record's sharing, and only an administrator gives
it another owner. A contact's log entries, sales records and appointments
are visible to every user who may see the contact (data/visibility.py),
so they follow its sharing. They also follow a new owner, unless the
administrator unticks that option.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import update

from crm_web.data import contacts as contact_data
from crm_web.data import users as user_data
from crm_web.data import visibility
from crm_web.data.db import Database
from crm_web.data.records import next_revision
from crm_web.data.schema import appointments, comm_logs, contacts, sales, utcnow
from crm_web.errors import InvalidValueError, NotFoundError, UserError
from crm_web.services import audit
from crm_web.services.accounts import CurrentUser

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


def sharing_of(db: Database, record_uuid: str, owner: str) -> Sharing:
    shared = visibility.shares_of(db, [record_uuid]).get(record_uuid, [])
    return Sharing(
        owner=owner,
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
    known = {u["name"] for u in user_data.find_users(db)}
    chosen = sorted({u for u in users if u} - {owner or contact["owner"]})
    for name in [*chosen, owner]:
        if name and name not in known:
            raise InvalidValueError(
                _("User"), name, _("choose a user from the list on the page.")
            )
    new_owner = owner if (owner and by.is_admin) else contact["owner"]
    shares = [visibility.EVERYONE] if everyone else chosen

    def work(db: Database) -> None:
        visibility.set_shares(db, [contact["uuid"]], shares)
        # The sync sends records whose revision moved, shares included.
        db.execute(
            update(contacts)
            .where(contacts.c.id == contact["id"])
            .values(revision=next_revision(db, "contacts"))
        )
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
