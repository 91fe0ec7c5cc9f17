"""Checking and preparing a team's shared MySQL/MariaDB server.

Connection failures are raised as the UserError that names their cause,
such as a server that does not respond, a rejected MySQL user or a missing
database.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from sqlalchemy.engine import make_url

from crm_web.data import network as network_data
from crm_web.data import preferences as preference_data
from crm_web.data import users as user_data
from crm_web.data.db import Database
from crm_web.data.network import ServerConnectionError, server_errors
from crm_web.data.schema import LATEST_VERSION, table_names
from crm_web.errors import (
    DatabaseUnavailableError,
    ServerAccessDeniedError,
    ServerAdminPasswordError,
    ServerAdminRequiredError,
    ServerCharsetError,
    ServerDatabaseDeniedError,
    ServerDatabaseMissingError,
    ServerForeignTablesError,
    ServerHostNotFoundError,
    ServerRefusedError,
    ServerSchemaTooNewError,
    ServerTooOldError,
    ServerUnreachableError,
    UserError,
)
from crm_web.services import accounts
from crm_web.services.network_config import CONNECT_TIMEOUT_SECONDS, ServerAddress

log = logging.getLogger(__name__)

# MySQL client and server error codes (see the MySQL error reference).
UNREACHABLE = {2002, 2003, 2005, 2006, 2013}
CANNOT_CONNECT = 2003
ACCESS_DENIED = 1045
DATABASE_DENIED = 1044
UNKNOWN_DATABASE = 1049
# PyMySQL reports a failed TCP connection as error 2003 with the OSError's
# text, which differs by platform (Linux, macOS, Windows).
REFUSED_TEXTS = ("Connection refused", "actively refused")
UNKNOWN_HOST_TEXTS = (
    "Name or service not known",
    "nodename nor servname",
    "getaddrinfo failed",
    "No address associated with hostname",
    "Temporary failure in name resolution",
)

# Oldest servers whose utf8mb4 index limits and JSON the schema relies on.
MINIMUM_VERSIONS = {"MySQL": (5, 7), "MariaDB": (10, 3)}
_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True)
class ServerVersion:
    """A server's product and version number, read from SELECT VERSION()."""

    product: str  # MySQL | MariaDB
    number: tuple[int, int, int]

    @property
    def is_supported(self) -> bool:
        return self.number[:2] >= MINIMUM_VERSIONS[self.product]


def parse_server_version(text: str) -> ServerVersion | None:
    """Parse "10.11.6-MariaDB-0+deb12u1" or "8.0.36"; None if unrecognised."""
    product = "MariaDB" if "mariadb" in text.lower() else "MySQL"
    # Older MariaDB clients may see a "5.5.5-" prefix kept for replication.
    if product == "MariaDB" and text.startswith("5.5.5-"):
        text = text[len("5.5.5-") :]
    match = _VERSION.match(text.strip())
    if match is None:
        return None
    major, minor, patch = (int(part) for part in match.groups())
    return ServerVersion(product, (major, minor, patch))


@dataclass(frozen=True)
class ServerInfo:
    """The state of a usable server, as Test connection reports it."""

    version: str
    # The highest schema upgrade applied, or None for an empty database.
    schema_version: int | None
    server_uuid: str
    latest_version: int = LATEST_VERSION

    @property
    def is_prepared(self) -> bool:
        """Return whether Prepare server ran on it (schema and server uuid)."""
        return self.schema_version is not None and bool(self.server_uuid)

    @property
    def needs_upgrade(self) -> bool:
        return self.schema_version is not None and (
            self.schema_version < self.latest_version
        )

    @property
    def is_ready(self) -> bool:
        return self.is_prepared and not self.needs_upgrade


# --- checking and preparing ----------------------------------------------------


def check_server(address: ServerAddress) -> ServerInfo:
    """Connect and return the server's state, or raise the precise UserError."""
    db = Database(address.url())
    try:
        return _inspect(db, address)
    finally:
        db.close()


def _inspect(db: Database, address: ServerAddress) -> ServerInfo:
    with translated_errors(address, look_up_account=True):
        facts = network_data.read_server_facts(db)
    version = parse_server_version(facts.version)
    if version is None:
        log.warning("Unrecognised server version %r; assuming it works", facts.version)
    elif not version.is_supported:
        raise ServerTooOldError(address.host, facts.version)
    if facts.charset != "utf8mb4":
        raise ServerCharsetError(address.host, address.database, facts.charset)
    if facts.schema_version is None and facts.tables:
        examples = ", ".join(sorted(facts.tables)[:3])
        raise ServerForeignTablesError(address.host, address.database, examples)
    if facts.schema_version is not None and facts.schema_version > LATEST_VERSION:
        raise ServerSchemaTooNewError(
            address.host, address.database, facts.schema_version, LATEST_VERSION
        )
    return ServerInfo(facts.version, facts.schema_version, facts.server_uuid)


def prepare_server(address: ServerAddress, admin_name: str, admin_password: str) -> str:
    """Create or upgrade the shared schema; return the server's uuid.

    On a server where no user has a password yet, ``admin_name`` becomes its
    first administrator with ``admin_password``. Otherwise they must be
    the name and password of one of its administrators.
    """
    name = accounts.clean_name(admin_name)
    db = Database(address.url())
    try:
        _inspect(db, address)
        with translated_errors(address):
            new_hash = _admin_password_hash(db, address, name, admin_password)
            db.release()
            db.prepare()
            server_uuid = db.write(
                lambda db: _finish_preparing(db, address, name, new_hash)
            )
            accounts.set_protection(db, True, by=name)
    finally:
        db.release()
        db.close()
    log.info("Shared server %s prepared by %s", address.describe(), name)
    return server_uuid


def _admin_password_hash(
    db: Database, address: ServerAddress, name: str, password: str
) -> str | None:
    """Return the first admin's new hash, or None after checking an admin's."""
    tables = frozenset(table_names(db.conn))
    if not network_data.has_user_with_password(db, tables):
        return accounts.hash_password(password)
    admin = network_data.find_admin_credentials(db, name)
    if admin is None:
        # The same words for an unknown name and a user who is not an admin.
        raise ServerAdminRequiredError(address.host, address.database)
    if not accounts.password_matches(password, str(admin["password_hash"])):
        raise ServerAdminPasswordError(
            str(admin["name"]), address.host, address.database
        )
    return None


def _finish_preparing(
    db: Database, address: ServerAddress, name: str, new_hash: str | None
) -> str:
    tables = frozenset(table_names(db.conn))
    server_uuid = network_data.get_server_uuid(db, tables)
    if not server_uuid:
        server_uuid = str(uuid.uuid4())
        preference_data.upsert_preference(db, network_data.SERVER_UUID_KEY, server_uuid)
    if new_hash is not None:
        # Another terminal may have prepared it since the check above.
        if network_data.has_user_with_password(db, tables):
            raise ServerAdminRequiredError(address.host, address.database)
        _install_first_admin(db, name, new_hash)
    user_data.insert_audit(
        db, user=name, action="server_prepared", detail=f"schema={LATEST_VERSION}"
    )
    return server_uuid


def _install_first_admin(db: Database, name: str, password_hash: str) -> None:
    """Give ``name`` the password and admin role, renaming the seeded Admin."""
    existing = user_data.find_user_folded(db, name)
    seeded = user_data.get_user(db, "Admin")
    target = existing or seeded
    if target is None:
        user_data.insert_user(db, name=name, password_hash=password_hash, role="admin")
        return
    user_data.update_user(
        db,
        target["uuid"],
        name=name,
        password_hash=password_hash,
        role="admin",
        disabled=False,
    )


# --- errors --------------------------------------------------------------------


def address_of(db: Database) -> ServerAddress:
    """Return the address of a server database, without its password."""
    url = make_url(db.url)
    return ServerAddress(
        host=url.host or "",
        port=url.port or 3306,
        database=url.database or "",
        user=url.username or "",
    )


@contextmanager
def translated_errors(
    address: ServerAddress, *, look_up_account: bool = False
) -> Iterator[None]:
    """Raise connection failures as the UserError that names their cause.

    With ``look_up_account``, a refused database (error 1044) connects
    again without it to learn the account for the GRANT line, so
    ``address`` must carry the password.
    """
    try:
        with server_errors():
            yield
    except ServerConnectionError as error:
        log.warning("Shared server %s: %s", address.describe(), error.reason)
        account = ""
        if look_up_account and error.code == DATABASE_DENIED:
            account = current_account(address)
        raise connection_error(address, error, account=account) from error


def connection_error(
    address: ServerAddress, error: ServerConnectionError, *, account: str = ""
) -> UserError:
    """Return the UserError for a failure; ``account`` goes in a GRANT line."""
    if error.code == CANNOT_CONNECT and _mentions(error.reason, REFUSED_TEXTS):
        return ServerRefusedError(address.host, address.port)
    if error.code == CANNOT_CONNECT and _mentions(error.reason, UNKNOWN_HOST_TEXTS):
        return ServerHostNotFoundError(address.host, address.port)
    if error.code in UNREACHABLE:
        return ServerUnreachableError(
            address.host, address.port, CONNECT_TIMEOUT_SECONDS
        )
    if error.code == ACCESS_DENIED:
        return ServerAccessDeniedError(address.host, address.user)
    if error.code == DATABASE_DENIED:
        return ServerDatabaseDeniedError(
            address.host, address.database, address.user, account
        )
    if error.code == UNKNOWN_DATABASE:
        return ServerDatabaseMissingError(address.host, address.database, address.user)
    return DatabaseUnavailableError(address.describe(), error.reason)


def _mentions(reason: str, texts: tuple[str, ...]) -> bool:
    folded = reason.casefold()
    return any(text.casefold() in folded for text in texts)


def current_account(address: ServerAddress) -> str:
    """Return the MySQL account of a login as 'user'@'host', or "" if unknown.

    It connects without a database, which a user with no rights on any
    database may still do.
    """
    db = Database(replace(address, database="").url())
    try:
        found = network_data.read_current_account(db)
    except ServerConnectionError as error:
        log.warning("Cannot read CURRENT_USER() on %s: %s", address.host, error.reason)
        return ""
    finally:
        db.close()
    user, at, host = found.rpartition("@")
    if not at:
        return ""
    return f"{_quoted(user)}@{_quoted(host)}"


def _quoted(part: str) -> str:
    return "'" + part.replace("\\", "\\\\").replace("'", "\\'") + "'"
