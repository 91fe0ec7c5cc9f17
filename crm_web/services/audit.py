"""The audit log of sign-ins, user changes, imports, exports and deletions.

Entries are written in their own short transaction after the work they
describe succeeded, so a failed import leaves no entry claiming it ran.
Failed sign-ins are recorded too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import has_request_context, request
from flask_babel import lazy_gettext as _l

from crm_web.data import users as user_data
from crm_web.data.db import Database

# The actions shown in the filter, with their labels.
ACTIONS = {
    "login": _l("Signed in"),
    "login_failed": _l("Wrong password or user name"),
    "login_refused": _l("Sign-in refused (disabled user)"),
    "locked": _l("Locked after wrong passwords"),
    "logout": _l("Signed out"),
    "protection_on": _l("Login protection turned on"),
    "protection_off": _l("Login protection turned off"),
    "user_created": _l("User created"),
    "user_disabled": _l("User disabled"),
    "user_enabled": _l("User enabled"),
    "role_changed": _l("Role changed"),
    "password_reset": _l("Password reset"),
    "password_changed": _l("Password changed"),
    "owner_changed": _l("Owner changed"),
    "shared": _l("Sharing changed"),
    "import": _l("Import"),
    "import_undone": _l("Import undone"),
    "export": _l("Export"),
    "delete": _l("Moved to the trash"),
    "purge": _l("Deleted for good"),
    "backup": _l("Backup written"),
    "restore": _l("Backup restored"),
    "server_prepared": _l("Shared server prepared"),
    "network_rights_changed": _l("Network rights changed"),
    "sync_upload": _l("Uploaded to the shared server"),
    "sync_download": _l("Downloaded from the shared server"),
}


def record(
    db: Database, action: str, *, user: str, target: str = "", detail: str = ""
) -> None:
    """Write one audit entry with the request's address, if any."""
    address = (request.remote_addr or "") if has_request_context() else ""
    db.write(
        lambda db: user_data.insert_audit(
            db, user=user, action=action, target=target, detail=detail, address=address
        )
    )


def entries(
    db: Database,
    *,
    user: str = "",
    action: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    page: int = 1,
    per_page: int = 100,
) -> tuple[list[dict[str, Any]], int]:
    """Return one page of entries, newest first, and how many match."""
    return user_data.find_audit(
        db,
        user=user,
        action=action,
        since=since,
        until=until,
        limit=per_page,
        offset=(page - 1) * per_page,
    )


def action_label(action: str) -> str:
    label = ACTIONS.get(action)
    return action if label is None else str(label)
