"""The shared server of a team: signing in to it, and this computer's settings.

Every copy of R9 CRM is a CRM of its own. Once an administrator saves a
shared MySQL/MariaDB server on the Network page, the copy also becomes a
terminal of the team. Before each upload and download it signs in to the
server as a network user, which is a row of the server's ``users`` table. The
server database has the same schema as a local one, so a copy of the app
can also run live on it.

Anyone with the MySQL user's password can read the whole shared database,
because the network users' rights are enforced by this app, not by MySQL.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from flask_babel import gettext as _

from crm_web.data import network as network_data
from crm_web.data import preferences as preference_data
from crm_web.data import users as user_data
from crm_web.data.db import Database
from crm_web.data.schema import LATEST_VERSION, table_names
from crm_web.errors import (
    InvalidValueError,
    NetworkAdminOnlyError,
    NetworkNotConfiguredError,
    NetworkPasswordsLostError,
    NetworkSignInError,
    NetworkUserDisabledError,
    ServerNeedsUpgradeError,
    ServerNotPreparedError,
    ServerSchemaTooNewError,
    WorkingLiveSettingsError,
)
from crm_web.services import accounts
from crm_web.services.network_config import (
    KEY_FILE,
    NetworkConfig,
    ServerAddress,
    clean_address,
    forget_network_config,
    load_network_config,
    save_network_config,
)
from crm_web.services.network_server import (
    ServerInfo,
    address_of,
    check_server,
    prepare_server,
    translated_errors,
)
from crm_web.services.network_user import NetworkUser

__all__ = [
    "NetworkConfig",
    "ServerAddress",
    "ServerInfo",
    "check_server",
    "clean_address",
    "forget_network",
    "load_network_config",
    "open_network",
    "prepare_server",
    "remember_network_users",
    "save_network_config",
    "sign_in_network_user",
]

log = logging.getLogger(__name__)

# The local preference listing the server's user names, for sharing choices.
USERS_KEY = "network_users"


# --- signing in ----------------------------------------------------------------


def sign_in_network_user(server_db: Database, name: str, password: str) -> NetworkUser:
    """Check a network user's name and password on the server; return its rights.

    The caller owns ``server_db`` and releases it; the sync engine calls
    this before every upload and download, so a disabled user stops there.

    NOTE: failures are audited on the server but not throttled like the
    app's own sign-in, because a terminal that reaches the server has the
    MySQL password and could read the users table directly.
    """
    address = address_of(server_db)
    name = " ".join(str(name or "").split())
    with translated_errors(address):
        _check_ready(server_db, address)
        user = user_data.find_user_folded(server_db, name) if name else None
        if user is None or not accounts.password_matches(
            password, user["password_hash"] if user else ""
        ):
            server_db.write(
                lambda db: user_data.insert_audit(
                    db, user=name, action="login_failed", detail="network terminal"
                )
            )
            raise NetworkSignInError(address.host, address.database)
        if user["disabled"]:
            server_db.write(
                lambda db: user_data.insert_audit(
                    db, user=user["name"], action="login_refused", detail="disabled"
                )
            )
            raise NetworkUserDisabledError(user["name"], address.host)
    return network_user_of(user)


def _check_ready(db: Database, address: ServerAddress) -> None:
    tables = frozenset(table_names(db.conn))
    found = network_data.get_schema_version(db, tables)
    if found is None or not network_data.get_server_uuid(db, tables):
        raise ServerNotPreparedError(address.host, address.database)
    if found < LATEST_VERSION:
        raise ServerNeedsUpgradeError(
            address.host, address.database, found, LATEST_VERSION
        )
    if found > LATEST_VERSION:
        raise ServerSchemaTooNewError(
            address.host, address.database, found, LATEST_VERSION
        )


def network_user_of(user: dict[str, Any]) -> NetworkUser:
    """Return the NetworkUser of a row of the server's users table."""
    return NetworkUser(
        name=user["name"],
        role=user["role"],
        may_upload=bool(user["may_upload"]),
        may_download=bool(user["may_download"]),
        may_edit_shared=bool(user["may_edit_shared"]),
        categories=parse_categories(user["name"], user["categories"]),
    )


def parse_categories(name: str, raw: str) -> tuple[str, ...]:
    """Return the category uuids stored for a user; "" stands for all."""
    if not raw:
        return ()
    try:
        chosen = json.loads(raw)
    except ValueError:
        chosen = None
    if not isinstance(chosen, list) or not all(isinstance(c, str) for c in chosen):
        # Failing closed: "all categories" would share more than was chosen.
        raise InvalidValueError(
            _("Categories of %(name)s", name=name),
            raw[:40],
            _("ask your team's admin to choose the categories again."),
        )
    return tuple(chosen)


def open_network(
    db: Database, data_dir: Path
) -> tuple[Database, NetworkUser, NetworkConfig]:
    """Connect to the saved server and sign in as the saved network user.

    The caller closes the returned server database; on an error it is
    closed here.
    """
    config = load_network_config(db, data_dir)
    if config is not None and config.passwords_lost:
        raise NetworkPasswordsLostError(config.server.host, str(data_dir / KEY_FILE))
    if config is None or not config.network_user or not config.network_password:
        raise NetworkNotConfiguredError()
    server_db = Database(config.server.url())
    try:
        user = sign_in_network_user(
            server_db, config.network_user, config.network_password
        )
        with translated_errors(config.server):
            names = enabled_user_names(server_db)
        server_db.release()
    except BaseException:
        server_db.close()
        raise
    remember_network_users(db, names)
    if user.role != config.network_role:
        config = replace(config, network_role=user.role)
        save_network_config(db, data_dir, config)
    return server_db, user, config


@contextmanager
def connected_network(
    db: Database, data_dir: Path
) -> Iterator[tuple[Database, NetworkUser, NetworkConfig]]:
    """Open the network for one block of work and close the server after it."""
    server_db, user, config = open_network(db, data_dir)
    try:
        yield server_db, user, config
    finally:
        server_db.release()
        server_db.close()


def enabled_user_names(server_db: Database) -> list[str]:
    return sorted(
        u["name"] for u in user_data.find_users(server_db) if not u["disabled"]
    )


def remember_network_users(db: Database, names: list[str]) -> None:
    """Store the server's user names locally, as choices for sharing."""
    value = json.dumps(sorted(set(names)), ensure_ascii=False)
    db.write(lambda db: preference_data.upsert_preference(db, USERS_KEY, value))


# --- working live on the shared server ------------------------------------------


def live_server(db: Database) -> ServerAddress | None:
    """Return the app's own database's address when it is a prepared shared server.

    A copy started with --database-url on the shared database works live
    on it: it has nothing to sync, and its admins manage the network users
    directly.
    """
    if not db.is_mysql:
        return None
    server_uuid = preference_data.find_preferences(db).get(network_data.SERVER_UUID_KEY)
    return address_of(db) if server_uuid else None


@contextmanager
def managed_network(
    db: Database, data_dir: Path, crm_user: str
) -> Iterator[tuple[Database, NetworkUser, str]]:
    """Yield the server whose network users are managed, the acting user and host.

    Working live, that is the app's own database, acting as ``crm_user``.
    Otherwise it is the saved server, as the saved network user. The
    network user services check that the acting user is an administrator.
    """
    live = live_server(db)
    if live is None:
        with connected_network(db, data_dir) as (server_db, user, config):
            yield server_db, user, config.server.host
        return
    row = user_data.get_user(db, crm_user)
    if row is None:
        raise NetworkAdminOnlyError(crm_user, live.host)
    yield db, network_user_of(row), live.host


def check_not_live(db: Database) -> None:
    """Raise WorkingLiveSettingsError on the shared server's own database."""
    live = live_server(db)
    if live is not None:
        raise WorkingLiveSettingsError(live.host, live.database)


# --- the settings on the Network page ------------------------------------------


def with_saved_password(
    db: Database, data_dir: Path, address: ServerAddress
) -> ServerAddress:
    """Fill an empty password from the saved one when it is for the same user."""
    saved = load_network_config(db, data_dir)
    if address.password or saved is None or not _same_login(saved.server, address):
        return address
    return ServerAddress(
        host=address.host,
        port=address.port,
        database=address.database,
        user=address.user,
        password=saved.server.password,
    )


def is_saved_server(db: Database, data_dir: Path, address: ServerAddress) -> bool:
    """Return whether ``address`` names the saved server's database."""
    saved = load_network_config(db, data_dir)
    return saved is not None and _same_database(saved.server, address)


def save_server(db: Database, data_dir: Path, address: ServerAddress) -> None:
    """Save the server, keeping the saved password when none is typed.

    Saving another server clears the network user signed in on the old one.
    """
    address = with_saved_password(db, data_dir, address)
    saved = load_network_config(db, data_dir)
    if saved is not None and _same_database(saved.server, address):
        config = replace(saved, server=address, passwords_lost=False)
    else:
        config = NetworkConfig(address, "", "")
        db.write(lambda db: preference_data.delete_preference(db, USERS_KEY))
    save_network_config(db, data_dir, config)


def sign_in(db: Database, data_dir: Path, name: str, password: str) -> NetworkUser:
    """Sign in to the saved server as a network user and save the sign-in."""
    saved = load_network_config(db, data_dir)
    if saved is None:
        raise NetworkNotConfiguredError()
    if not saved.server.password and saved.passwords_lost:
        raise NetworkPasswordsLostError(saved.server.host, str(data_dir / KEY_FILE))
    server_db = Database(saved.server.url())
    try:
        user = sign_in_network_user(server_db, name, password)
        with translated_errors(saved.server):
            server_uuid = network_data.get_server_uuid(
                server_db, frozenset(table_names(server_db.conn))
            )
            names = enabled_user_names(server_db)
    finally:
        server_db.release()
        server_db.close()
    config = NetworkConfig(
        saved.server, user.name, password, server_uuid, network_role=user.role
    )
    save_network_config(db, data_dir, config)
    remember_network_users(db, names)
    log.info("Signed in to %s as network user %s", saved.server.describe(), user.name)
    return user


def prepare_saved_server(
    db: Database, data_dir: Path, admin_name: str, admin_password: str
) -> NetworkUser:
    """Prepare the saved server and sign this computer in as its admin."""
    saved = load_network_config(db, data_dir)
    if saved is None:
        raise NetworkNotConfiguredError()
    prepare_server(saved.server, admin_name, admin_password)
    return sign_in(db, data_dir, admin_name, admin_password)


def forget_network(db: Database) -> None:
    """Delete the saved server, the sign-in and the remembered user names."""
    forget_network_config(db, USERS_KEY)


def _same_database(a: ServerAddress, b: ServerAddress) -> bool:
    return (a.host, a.port, a.database) == (b.host, b.port, b.database)


def _same_login(a: ServerAddress, b: ServerAddress) -> bool:
    return _same_database(a, b) and a.user == b.user
