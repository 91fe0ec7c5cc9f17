"""Queries on a team's shared MySQL/MariaDB server: version, charset, schema.

Connection failures are raised as ``ServerConnectionError`` with the
MySQL error code, so that services can name the cause without importing
the driver.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import InterfaceError, OperationalError

from crm_web.data.db import Database
from crm_web.data.schema import migrations, preferences, table_names, users

SERVER_UUID_KEY = "server_uuid"


class ServerConnectionError(Exception):
    """The server could not be reached or refused the connection or query."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@contextmanager
def server_errors() -> Iterator[None]:
    """Raise a driver's connection and access errors as ServerConnectionError."""
    try:
        yield
    except (OperationalError, InterfaceError) as error:
        args: tuple[Any, ...] = getattr(error.orig, "args", ())
        code = args[0] if args and isinstance(args[0], int) else None
        reason = str(args[1]) if len(args) > 1 else str(error.orig)
        raise ServerConnectionError(code, reason) from error


@dataclass(frozen=True)
class ServerFacts:
    """The version, charset and schema state a shared server reports."""

    version: str
    charset: str
    tables: frozenset[str]
    # The highest schema upgrade applied, or None before any.
    schema_version: int | None
    server_uuid: str


def read_server_facts(db: Database) -> ServerFacts:
    """Read the server's version, the database's charset and its schema state."""
    with server_errors():
        version = str(db.execute(text("SELECT VERSION()")).scalar_one())
        charset = db.execute(
            text(
                "SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA "
                "WHERE SCHEMA_NAME = DATABASE()"
            )
        ).scalar_one_or_none()
        tables = frozenset(table_names(db.conn))
        schema_version = get_schema_version(db, tables)
        server_uuid = get_server_uuid(db, tables)
    return ServerFacts(version, str(charset or ""), tables, schema_version, server_uuid)


def read_current_account(db: Database) -> str:
    """Return the account the server matched the login to, as user@host."""
    with server_errors():
        return str(db.execute(text("SELECT CURRENT_USER()")).scalar_one())


def get_schema_version(db: Database, tables: frozenset[str]) -> int | None:
    if migrations.name not in tables:
        return None
    found = db.execute(select(func.max(migrations.c.version))).scalar_one_or_none()
    return None if found is None else int(found)


def get_server_uuid(db: Database, tables: frozenset[str]) -> str:
    if preferences.name not in tables:
        return ""
    value = db.execute(
        select(preferences.c.value).where(preferences.c.name == SERVER_UUID_KEY)
    ).scalar_one_or_none()
    return str(value or "")


def has_user_with_password(db: Database, tables: frozenset[str]) -> bool:
    """Return whether any user of the database has a password set."""
    if users.name not in tables:
        return False
    found = db.execute(
        select(users.c.id).where(users.c.password_hash != "").limit(1)
    ).first()
    return found is not None


def find_admin_credentials(db: Database, name: str) -> dict[str, object] | None:
    """Return the enabled administrator named ``name``, ignoring ASCII case.

    Only columns every schema version since users exist has are read, so
    this works on a server that still needs an upgrade.
    """
    row = db.execute(
        select(users.c.name, users.c.password_hash).where(
            func.lower(users.c.name) == name.lower(),
            users.c.role == "admin",
            users.c.disabled == False,  # noqa: E712
        )
    ).first()
    return None if row is None else dict(row._mapping)
