"""Where this computer's shared server is, and the passwords that reach it.

The settings are one preference row, ``network``, holding JSON. The MySQL
password and the network user's password are stored only as Fernet
tokens under a key kept in the file ``network.key`` in the data folder,
created once with mode 0600. Backups leave that file out, so after a
restore on another computer the passwords cannot be decrypted. They then
load as "" with ``passwords_lost`` set, and the Network page requests
them again.

NOTE: the key file sits in the same folder as the database it protects,
so anyone who can read that folder can decrypt both passwords. It keeps
them out of the database file, its backups and its logs; an OS keychain
would be stronger.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from flask_babel import gettext as _
from sqlalchemy.engine import URL

from crm_web.data import preferences as preference_data
from crm_web.data.db import Database
from crm_web.errors import InvalidValueError

log = logging.getLogger(__name__)

KEY_FILE = "network.key"
CONFIG_KEY = "network"
DEFAULT_PORT = 3306
CONNECT_TIMEOUT_SECONDS = 5
# Plain names only, so they can be quoted in the SQL the messages suggest.
_DATABASE_NAME = re.compile(r"[A-Za-z0-9_$-]{1,64}")
MAX_USER_CHARS = 80  # MariaDB's limit; MySQL's is 32
MAX_HOST_CHARS = 255


@dataclass(frozen=True, kw_only=True)
class ServerAddress:
    """How to reach the shared database on a MySQL or MariaDB server."""

    host: str
    port: int = DEFAULT_PORT
    database: str
    user: str
    password: str = field(default="", repr=False)

    def url(self) -> str:
        """Return the SQLAlchemy URL, with special characters escaped."""
        url = URL.create(
            "mysql+pymysql",
            username=self.user,
            password=self.password,
            host=self.host,
            port=self.port,
            database=self.database,
            query={
                "charset": "utf8mb4",
                "connect_timeout": str(CONNECT_TIMEOUT_SECONDS),
            },
        )
        return url.render_as_string(hide_password=False)

    def describe(self) -> str:
        """Return host, port, database and user for logs; never the password."""
        return f"{self.user}@{self.host}:{self.port}/{self.database}"


@dataclass(frozen=True)
class NetworkConfig:
    """This computer's shared server and the network user it signs in as."""

    server: ServerAddress
    network_user: str
    network_password: str = field(repr=False)
    server_uuid: str = ""
    # Set when stored passwords could not be decrypted with network.key.
    passwords_lost: bool = False
    # The network user's role on the server at the last sign-in or sync.
    network_role: str = ""


def clean_address(
    *, host: str, port: str, database: str, user: str, password: str
) -> ServerAddress:
    """Return the address typed in a form, or raise InvalidValueError."""
    host = host.strip()
    if not host or len(host) > MAX_HOST_CHARS or any(ch.isspace() for ch in host):
        raise InvalidValueError(
            _("Server"), host, _("type a host name or IP address, such as 192.0.2.10.")
        )
    database = database.strip()
    if not _DATABASE_NAME.fullmatch(database):
        raise InvalidValueError(
            _("Database"),
            database,
            _("type its name: letters, digits, _, $ or -, up to 64 characters."),
        )
    user = user.strip()
    if not user or len(user) > MAX_USER_CHARS:
        raise InvalidValueError(
            _("MySQL user"), user, _("type the MySQL user name, up to 80 characters.")
        )
    return ServerAddress(
        host=host,
        port=_clean_port(port),
        database=database,
        user=user,
        password=password,
    )


def _clean_port(raw: str) -> int:
    text = raw.strip() or str(DEFAULT_PORT)
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 65535:
        raise InvalidValueError(
            _("Port"), text, _("type a whole number from 1 to 65535; MySQL uses 3306.")
        )
    return int(text)


def load_network_config(db: Database, data_dir: Path) -> NetworkConfig | None:
    """Return the saved settings, or None when no server was saved."""
    raw = preference_data.find_preferences(db).get(CONFIG_KEY)
    if not raw:
        return None
    try:
        stored = json.loads(raw)
        server = ServerAddress(
            host=str(stored["host"]),
            port=int(stored["port"]),
            database=str(stored["database"]),
            user=str(stored["user"]),
        )
    except (ValueError, KeyError, TypeError):
        log.error("The saved network settings are unreadable and were ignored")
        return None
    fernet = _read_key(data_dir)
    password, lost = _decrypt(fernet, stored.get("password", ""))
    network_password, network_lost = _decrypt(
        fernet, stored.get("network_password", "")
    )
    if lost or network_lost:
        log.warning("Saved network passwords cannot be read: %s differs", KEY_FILE)
    return NetworkConfig(
        server=ServerAddress(
            host=server.host,
            port=server.port,
            database=server.database,
            user=server.user,
            password=password,
        ),
        network_user=str(stored.get("network_user", "")),
        network_password=network_password,
        server_uuid=str(stored.get("server_uuid", "")),
        passwords_lost=lost or network_lost,
        network_role=str(stored.get("network_role", "")),
    )


def save_network_config(db: Database, data_dir: Path, config: NetworkConfig) -> None:
    """Store the settings, with both passwords encrypted under network.key."""
    fernet = _key(data_dir)
    server = config.server
    stored = {
        "host": server.host,
        "port": server.port,
        "database": server.database,
        "user": server.user,
        "password": _encrypt(fernet, server.password),
        "network_user": config.network_user,
        "network_password": _encrypt(fernet, config.network_password),
        "server_uuid": config.server_uuid,
        "network_role": config.network_role,
    }
    db.write(
        lambda db: preference_data.upsert_preference(
            db, CONFIG_KEY, json.dumps(stored, ensure_ascii=False)
        )
    )
    log.info(
        "Shared server saved: %s, network user %s",
        server.describe(),
        config.network_user or "(none)",
    )


def forget_network_config(db: Database, *also: str) -> None:
    """Delete the saved settings, and the preferences named in ``also``."""

    def work(db: Database) -> None:
        for name in (CONFIG_KEY, *also):
            preference_data.delete_preference(db, name)

    db.write(work)
    log.info("Shared server settings deleted")


def _encrypt(fernet: Fernet, secret: str) -> str:
    return fernet.encrypt(secret.encode("utf-8")).decode("ascii") if secret else ""


def _decrypt(fernet: Fernet | None, token: object) -> tuple[str, bool]:
    """Return the secret and whether a stored token could not be read."""
    if not token:
        return "", False
    if fernet is None:
        return "", True
    try:
        return fernet.decrypt(str(token).encode("ascii")).decode("utf-8"), False
    except (InvalidToken, UnicodeError):
        return "", True


def _read_key(data_dir: Path) -> Fernet | None:
    try:
        return Fernet((data_dir / KEY_FILE).read_bytes().strip())
    except (OSError, ValueError):
        return None


def _key(data_dir: Path) -> Fernet:
    """Return the key in network.key, creating the file once with mode 0600."""
    existing = _read_key(data_dir)
    if existing is not None:
        return existing
    path = data_dir / KEY_FILE
    key = Fernet.generate_key()
    # A damaged file is replaced: what it encrypted is lost either way.
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    # O_EXCL and the mode at creation: no moment where others could read it.
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(handle, "wb") as key_file:
        key_file.write(key)
    with contextlib.suppress(OSError):  # Windows ignores POSIX modes.
        path.chmod(0o600)
    log.info("Created the key file %s for saved network passwords", path)
    return Fernet(key)
