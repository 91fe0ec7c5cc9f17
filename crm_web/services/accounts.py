"""Users, passwords, sign-in and login protection.

After installing, protection is off and one admin, Admin, has no password:
every request acts as Admin. Protection can be turned on only once every
enabled user has a password. Passwords are hashed with bcrypt, which reads
at most 72 bytes: a longer password is refused with a message, never cut.

Failed sign-ins slow down, then lock the user: after ``FREE_ATTEMPTS``
failures each attempt must wait longer (``retry_wait``), and after
``LOCK_AFTER`` failures the user is locked for ``LOCK_MINUTES``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any

import bcrypt
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from crm_web.data import preferences as preference_data
from crm_web.data import users as user_data
from crm_web.data.db import Database
from crm_web.data.schema import utcnow
from crm_web.errors import (
    DuplicateNameError,
    InvalidValueError,
    NotFoundError,
    UserError,
)
from crm_web.i18n import format_list

log = logging.getLogger(__name__)

ROLES = {"admin": _l("Administrator"), "user": _l("User")}
BCRYPT_ROUNDS = 12  # about 0.2 s per hash here; tests lower it
MAX_PASSWORD_BYTES = 72
MIN_PASSWORD_CHARS = 8
MAX_NAME_CHARS = 64
FREE_ATTEMPTS = 3
LOCK_AFTER = 10
LOCK_MINUTES = 15
PROTECTION_KEY = "login_protection"

# Compared against when the name is unknown, so that a wrong name takes as
# long as a wrong password.
_DUMMY_HASH = bcrypt.hashpw(b"no such user", bcrypt.gensalt(4))


@dataclass(frozen=True)
class CurrentUser:
    """The user a request acts as."""

    uuid: str
    name: str
    role: str
    # Rights a network user has on a shared server's database; a local
    # user keeps the defaults.
    may_edit_shared: bool = True
    categories: tuple[str, ...] = ()

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class SignInError(UserError):
    status = HTTPStatus.UNAUTHORIZED

    def __init__(self) -> None:
        super().__init__(
            _(
                "The user name or password is wrong. Check the keyboard's "
                "language and Caps Lock, and try again."
            )
        )


class SignInWaitError(UserError):
    status = HTTPStatus.TOO_MANY_REQUESTS

    def __init__(self, seconds: int) -> None:
        super().__init__(
            ngettext(
                "Too many wrong passwords. Wait %(num)s second, then try again.",
                "Too many wrong passwords. Wait %(num)s seconds, then try again.",
                seconds,
            )
        )


class AccountLockedError(UserError):
    status = HTTPStatus.TOO_MANY_REQUESTS

    def __init__(self, minutes: int) -> None:
        super().__init__(
            ngettext(
                "This user is locked after too many wrong passwords. Try again "
                "in %(num)s minute, or ask an administrator to reset the "
                "password.",
                "This user is locked after too many wrong passwords. Try again "
                "in %(num)s minutes, or ask an administrator to reset the "
                "password.",
                minutes,
            )
        )


class AccountDisabledError(UserError):
    status = HTTPStatus.FORBIDDEN

    def __init__(self, name: str) -> None:
        super().__init__(
            _(
                "User “%(name)s” is disabled. Ask an administrator to enable it.",
                name=name,
            )
        )


class ProtectionBlockedError(UserError):
    status = HTTPStatus.CONFLICT

    def __init__(self, names: list[str]) -> None:
        super().__init__(
            _(
                "Login protection cannot be turned on while %(names)s has no "
                "password. Set a password for each of them first.",
                names=format_list([f"“{name}”" for name in names]),
            )
        )


class LastAdminError(UserError):
    status = HTTPStatus.CONFLICT

    def __init__(self, name: str) -> None:
        super().__init__(
            _(
                "“%(name)s” is the last enabled administrator. Make another "
                "user an administrator first.",
                name=name,
            )
        )


class WrongCurrentPasswordError(UserError):
    def __init__(self) -> None:
        super().__init__(
            _("The current password is wrong; your password was not changed.")
        )


# --- passwords ------------------------------------------------------------


def check_new_password(password: str, *, allow_empty: bool = False) -> bytes:
    """Return the password's bytes, or raise InvalidValueError naming the rule."""
    if not password and allow_empty:
        return b""
    encoded = password.encode("utf-8")
    if len(encoded) > MAX_PASSWORD_BYTES:
        raise InvalidValueError(
            _("Password"),
            "•" * 8,
            _(
                "it is %(bytes)s bytes long and at most 72 bytes are allowed "
                "(72 letters or digits, or 24 Chinese characters). Choose a "
                "shorter one.",
                bytes=len(encoded),
            ),
        )
    if len(password) < MIN_PASSWORD_CHARS or not password.strip():
        raise InvalidValueError(
            _("Password"),
            "•" * len(password),
            _(
                "use at least %(count)s characters, not only spaces.",
                count=MIN_PASSWORD_CHARS,
            ),
        )
    return encoded


def hash_password(password: str, *, allow_empty: bool = False) -> str:
    encoded = check_new_password(password, allow_empty=allow_empty)
    if not encoded:
        return ""
    return bcrypt.hashpw(encoded, bcrypt.gensalt(BCRYPT_ROUNDS)).decode("ascii")


def password_matches(password: str, stored_hash: str) -> bool:
    encoded = password.encode("utf-8")
    if not stored_hash or len(encoded) > MAX_PASSWORD_BYTES:
        bcrypt.checkpw(b"x", _DUMMY_HASH)
        return False
    return bcrypt.checkpw(encoded, stored_hash.encode("ascii"))


def session_stamp(user: dict[str, Any]) -> str:
    """Return a value that changes when the user's password or state does.

    Kept in the session cookie, it signs the user out everywhere once the
    password is changed or reset, or the user is disabled.
    """
    material = "|".join(
        str(user[key])
        for key in ("uuid", "password_hash", "disabled", "sessions_valid_after")
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:24]


# --- protection -------------------------------------------------------------


def protection_on(db: Database) -> bool:
    return preference_data.find_preferences(db).get(PROTECTION_KEY) == "on"


def set_protection(db: Database, on: bool, *, by: str) -> None:
    """Turn login protection on or off; on needs a password for every user."""

    def work(db: Database) -> None:
        if on:
            missing = [
                u["name"]
                for u in user_data.find_users(db)
                if not u["disabled"] and not u["password_hash"]
            ]
            if missing:
                raise ProtectionBlockedError(missing)
        preference_data.upsert_preference(db, PROTECTION_KEY, "on" if on else "off")
        user_data.insert_audit(
            db, user=by, action="protection_on" if on else "protection_off"
        )

    db.write(work)


# --- users -------------------------------------------------------------------


def clean_name(raw: str) -> str:
    name = " ".join(str(raw or "").split())
    if not name or len(name) > MAX_NAME_CHARS or name == "*":
        raise InvalidValueError(
            _("User name"),
            name,
            _("type 1 to %(count)s characters, such as Lily.", count=MAX_NAME_CHARS),
        )
    if any(not ch.isprintable() for ch in name):
        raise InvalidValueError(
            _("User name"), name, _("use letters, digits and spaces only.")
        )
    return name


def create_user(
    db: Database, raw_name: str, password: str, role: str, *, by: str
) -> str:
    """Add a user; return its uuid. A password is needed once protection is on."""
    name = clean_name(raw_name)
    if role not in ROLES:
        raise InvalidValueError(_("Role"), role, _("choose Administrator or User."))

    def work(db: Database) -> str:
        if user_data.find_user_folded(db, name) is not None:
            raise DuplicateNameError(str(_l("user")), name)
        hashed = hash_password(password, allow_empty=not protection_on(db))
        user_uuid = user_data.insert_user(
            db, name=name, password_hash=hashed, role=role
        )
        user_data.insert_audit(
            db, user=by, action="user_created", target=name, detail=f"role={role}"
        )
        return user_uuid

    return db.write(work)


def _require_user(db: Database, user_uuid: str) -> dict[str, Any]:
    user = user_data.get_user_by_uuid(db, user_uuid)
    if user is None:
        raise NotFoundError(str(_l("User")), user_uuid)
    return user


def get_user(db: Database, user_uuid: str) -> dict[str, Any]:
    """Return a user's row, or raise NotFoundError."""
    return _require_user(db, user_uuid)


def list_users(db: Database) -> list[dict[str, Any]]:
    return user_data.find_users(db)


def set_password(db: Database, user_uuid: str, password: str, *, by: str) -> None:
    """Set a user's password (an administrator's reset); unlocks the user."""
    hashed = hash_password(password)

    def work(db: Database) -> None:
        user = _require_user(db, user_uuid)
        user_data.update_user(
            db,
            user_uuid,
            password_hash=hashed,
            failed_logins=0,
            locked_until=None,
        )
        user_data.insert_audit(
            db, user=by, action="password_reset", target=user["name"]
        )

    db.write(work)


def change_own_password(
    db: Database, user_uuid: str, current: str, new: str, *, confirm: str
) -> None:
    """Change the signed-in user's password after checking the current one."""
    user = _require_user(db, user_uuid)
    if user["password_hash"] and not password_matches(current, user["password_hash"]):
        raise WrongCurrentPasswordError()
    if new != confirm:
        raise InvalidValueError(
            _("Password"),
            "•" * 8,
            _("the two new passwords differ; type the same password twice."),
        )
    hashed = hash_password(new)

    def work(db: Database) -> None:
        user_data.update_user(db, user_uuid, password_hash=hashed, failed_logins=0)
        user_data.insert_audit(
            db, user=user["name"], action="password_changed", target=user["name"]
        )

    db.write(work)


def set_disabled(db: Database, user_uuid: str, disabled: bool, *, by: str) -> None:
    def work(db: Database) -> None:
        user = _require_user(db, user_uuid)
        if disabled and user["role"] == "admin" and user_data.count_admins(db) <= 1:
            raise LastAdminError(user["name"])
        changes: dict[str, Any] = {"disabled": disabled}
        if disabled:
            changes["sessions_valid_after"] = utcnow()
        user_data.update_user(db, user_uuid, **changes)
        user_data.insert_audit(
            db,
            user=by,
            action="user_disabled" if disabled else "user_enabled",
            target=user["name"],
        )

    db.write(work)


def set_role(db: Database, user_uuid: str, role: str, *, by: str) -> None:
    if role not in ROLES:
        raise InvalidValueError(_("Role"), role, _("choose Administrator or User."))

    def work(db: Database) -> None:
        user = _require_user(db, user_uuid)
        if (
            user["role"] == "admin"
            and role != "admin"
            and not user["disabled"]
            and user_data.count_admins(db) <= 1
        ):
            raise LastAdminError(user["name"])
        user_data.update_user(db, user_uuid, role=role)
        user_data.insert_audit(
            db,
            user=by,
            action="role_changed",
            target=user["name"],
            detail=f"{user['role']}->{role}",
        )

    db.write(work)


# --- signing in ----------------------------------------------------------------


def retry_wait(failures: int) -> int:
    """Return the seconds to wait after ``failures`` consecutive failures."""
    if failures < FREE_ATTEMPTS:
        return 0
    return int(min(60, 5 * 2 ** (failures - FREE_ATTEMPTS)))


def sign_in(
    db: Database, name: str, password: str, *, address: str, now: datetime | None = None
) -> dict[str, Any]:
    """Return the user whose name and password match, or raise and audit why.

    Attempts for one name run one at a time, so that many sent at once are
    each counted before the next is checked, and the slowdown holds.
    """
    name = " ".join(str(name or "").split())
    with _attempt_lock(name):
        return _sign_in(db, name, password, address=address, now=now or utcnow())


# NOTE: these locks work within one process only. Several processes that
# share one MySQL database can each check an attempt before either counts it.
_attempt_locks: dict[str, threading.Lock] = {}
_attempt_locks_guard = threading.Lock()


def _attempt_lock(name: str) -> threading.Lock:
    with _attempt_locks_guard:
        return _attempt_locks.setdefault(name.lower(), threading.Lock())


def _sign_in(
    db: Database, name: str, password: str, *, address: str, now: datetime
) -> dict[str, Any]:
    user = user_data.find_user_folded(db, name) if name else None
    if user is None:
        password_matches(password, "")
        db.write(
            lambda db: user_data.insert_audit(
                db,
                user=name,
                action="login_failed",
                detail="unknown user",
                address=address,
            )
        )
        raise SignInError()
    _check_not_throttled(user, now)
    if not password_matches(password, user["password_hash"]):
        _record_failure(db, user, now, address)
        raise SignInError()
    if user["disabled"]:
        db.write(
            lambda db: user_data.insert_audit(
                db,
                user=user["name"],
                action="login_refused",
                detail="disabled",
                address=address,
            )
        )
        raise AccountDisabledError(user["name"])

    def work(db: Database) -> None:
        user_data.update_user(
            db,
            user["uuid"],
            failed_logins=0,
            locked_until=None,
            last_failed_at=None,
            last_login_at=now,
        )
        user_data.insert_audit(db, user=user["name"], action="login", address=address)

    db.write(work)
    return user


def _check_not_throttled(user: dict[str, Any], now: datetime) -> None:
    locked_until = user["locked_until"]
    if locked_until is not None and locked_until > now:
        minutes = max(1, int((locked_until - now).total_seconds() + 59) // 60)
        raise AccountLockedError(minutes)
    wait = retry_wait(user["failed_logins"])
    last = user["last_failed_at"]
    if wait and last is not None:
        remaining = int((last + timedelta(seconds=wait) - now).total_seconds())
        if remaining > 0:
            raise SignInWaitError(remaining)


def _record_failure(
    db: Database, user: dict[str, Any], now: datetime, address: str
) -> None:
    failures = user["failed_logins"] + 1
    locked = failures >= LOCK_AFTER

    def work(db: Database) -> None:
        user_data.update_user(
            db,
            user["uuid"],
            failed_logins=0 if locked else failures,
            last_failed_at=now,
            locked_until=now + timedelta(minutes=LOCK_MINUTES) if locked else None,
        )
        user_data.insert_audit(
            db,
            user=user["name"],
            action="locked" if locked else "login_failed",
            detail=f"failures={failures}",
            address=address,
        )

    db.write(work)
    if locked:
        log.warning("User %s locked after %s failed sign-ins", user["name"], failures)


def end_sessions(db: Database, user_uuid: str) -> None:
    """Sign the user out everywhere: every earlier session cookie stops working."""
    db.write(
        lambda db: user_data.update_user(db, user_uuid, sessions_valid_after=utcnow())
    )


def current_user_for(db: Database, session_user: str, stamp: str) -> CurrentUser | None:
    """Return the user a session names, unless it was disabled or changed."""
    user = user_data.get_user_by_uuid(db, session_user)
    if user is None or user["disabled"] or session_stamp(user) != stamp:
        return None
    return CurrentUser(
        user["uuid"],
        user["name"],
        user["role"],
        may_edit_shared=bool(user["may_edit_shared"]),
        categories=tuple(json.loads(user["categories"])) if user["categories"] else (),
    )


def default_admin(db: Database) -> CurrentUser:
    """Return the user requests act as while protection is off."""
    users = user_data.find_users(db)
    admins = [u for u in users if u["role"] == "admin" and not u["disabled"]]
    chosen = next((u for u in admins if u["name"] == "Admin"), None) or (
        admins[0] if admins else None
    )
    if chosen is None:
        return CurrentUser("", "Admin", "admin")
    return CurrentUser(chosen["uuid"], chosen["name"], "admin")
