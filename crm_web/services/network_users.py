"""Network users of a shared server, managed by the server's administrators.

Network users are the rows of the server's ``users`` table, so the rules
of ``accounts`` apply: bcrypt passwords, name rules, the last enabled
administrator stays. Each change also requires that the acting user is
still an enabled administrator on the server, re-read in the same
transaction, and is written to the server's audit log.

NOTE: these rights are enforced by R9 CRM, not by MySQL. Anyone with the
MySQL user's password can read and change the whole shared database.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

from crm_web.data import categories as category_data
from crm_web.data import users as user_data
from crm_web.data.db import Database
from crm_web.errors import InvalidValueError, NetworkAdminOnlyError, NotFoundError
from crm_web.services import accounts
from crm_web.services.network import parse_categories
from crm_web.services.network_server import address_of, translated_errors
from crm_web.services.network_user import NetworkUser


@dataclass(frozen=True)
class Rights:
    """The rights of a network user on the shared server."""

    may_upload: bool = True
    may_download: bool = True
    may_edit_shared: bool = True
    # Category uuids whose shared contacts reach the user; empty for all.
    categories: tuple[str, ...] = ()


def list_network_users(server_db: Database, by: NetworkUser) -> list[dict[str, Any]]:
    """Return the server's users, each with its category uuids as a tuple."""
    with translated_errors(address_of(server_db)):
        _require_admin(server_db, by)
        return [
            {
                **user,
                "category_uuids": parse_categories(user["name"], user["categories"]),
            }
            for user in user_data.find_users(server_db)
        ]


def list_server_categories(server_db: Database) -> list[dict[str, Any]]:
    with translated_errors(address_of(server_db)):
        return category_data.find_categories(server_db)


def create_network_user(
    server_db: Database,
    by: NetworkUser,
    *,
    name: str,
    password: str,
    role: str,
    rights: Rights,
) -> str:
    """Add a network user with a password and rights; return its uuid."""
    accounts.check_new_password(password)

    def work(db: Database) -> str:
        _require_admin(db, by)
        values = _rights_values(db, rights)
        user_uuid = accounts.create_user(db, name, password, role, by=by.name)
        user_data.update_user(db, user_uuid, **values)
        return user_uuid

    with translated_errors(address_of(server_db)):
        return server_db.write(work)


def set_network_rights(
    server_db: Database, by: NetworkUser, user_uuid: str, rights: Rights
) -> str:
    """Set what a network user may do; return the user's name."""

    def work(db: Database) -> str:
        _require_admin(db, by)
        user = _require_user(db, user_uuid)
        values = _rights_values(db, rights)
        user_data.update_user(db, user_uuid, **values)
        user_data.insert_audit(
            db,
            user=by.name,
            action="network_rights_changed",
            target=user["name"],
            detail=_describe(values),
        )
        return str(user["name"])

    with translated_errors(address_of(server_db)):
        return server_db.write(work)


def set_network_role(
    server_db: Database, by: NetworkUser, user_uuid: str, role: str
) -> str:
    """Make a network user an administrator or a user; return the user's name."""
    return _as_admin(
        server_db,
        by,
        user_uuid,
        lambda db: accounts.set_role(db, user_uuid, role, by=by.name),
    )


def set_network_user_disabled(
    server_db: Database, by: NetworkUser, user_uuid: str, disabled: bool
) -> str:
    """Disable or enable a network user; return the user's name.

    A disabled user's next sign-in, and so their next sync, is rejected.
    """
    return _as_admin(
        server_db,
        by,
        user_uuid,
        lambda db: accounts.set_disabled(db, user_uuid, disabled, by=by.name),
    )


def set_network_password(
    server_db: Database, by: NetworkUser, user_uuid: str, password: str
) -> str:
    """Set a network user's password; return the user's name."""
    accounts.check_new_password(password)
    return _as_admin(
        server_db,
        by,
        user_uuid,
        lambda db: accounts.set_password(db, user_uuid, password, by=by.name),
    )


def _as_admin(
    server_db: Database,
    by: NetworkUser,
    user_uuid: str,
    change: Callable[[Database], None],
) -> str:
    """Run ``change`` in one transaction after checking that ``by`` is an admin."""

    def work(db: Database) -> str:
        _require_admin(db, by)
        change(db)
        return str(_require_user(db, user_uuid)["name"])

    with translated_errors(address_of(server_db)):
        return server_db.write(work)


def _require_admin(db: Database, by: NetworkUser) -> None:
    user = user_data.get_user(db, by.name)
    if user is None or user["disabled"] or user["role"] != "admin":
        raise NetworkAdminOnlyError(by.name, address_of(db).host)


def _require_user(db: Database, user_uuid: str) -> dict[str, Any]:
    user = user_data.get_user_by_uuid(db, user_uuid)
    if user is None:
        raise NotFoundError(_("Network user"), user_uuid)
    return user


def _rights_values(db: Database, rights: Rights) -> dict[str, Any]:
    """Return the users columns for ``rights``, checking its categories exist."""
    known = {c["uuid"] for c in category_data.find_categories(db)}
    chosen = sorted(set(rights.categories))
    for category_uuid in chosen:
        if category_uuid not in known:
            raise InvalidValueError(
                _("Category"),
                category_uuid,
                _("choose categories from the list on the page."),
            )
    return {
        "may_upload": rights.may_upload,
        "may_download": rights.may_download,
        "may_edit_shared": rights.may_edit_shared,
        "categories": json.dumps(chosen) if chosen else "",
    }


def _describe(values: dict[str, Any]) -> str:
    flags = " ".join(
        f"{name}={int(values[name])}"
        for name in ("may_upload", "may_download", "may_edit_shared")
    )
    return f"{flags} categories={values['categories'] or 'all'}"
