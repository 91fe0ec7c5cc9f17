"""The shared server: checks, preparing, network sign-in, users and the page.

Every test makes its own database on the MariaDB/MySQL server of
tests/conftest.py and drops it afterwards.
"""

from __future__ import annotations

import json
import socket
import stat
import uuid
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import lxml.html
import pytest
from conftest import (
    MYSQL_HOST,
    MYSQL_PASSWORD,
    MYSQL_PORT,
    MYSQL_USER,
    CsrfClient,
    mysql_server,
)
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import make_url

from crm_web import create_app
from crm_web.config import load_settings
from crm_web.data import categories as category_data
from crm_web.data import preferences as preference_data
from crm_web.data import users as user_data
from crm_web.data.db import Database, connect
from crm_web.data.network import ServerConnectionError
from crm_web.data.records import new_record
from crm_web.data.schema import LATEST_VERSION, migrations, utcnow
from crm_web.errors import (
    InvalidValueError,
    NetworkAdminOnlyError,
    NetworkNotConfiguredError,
    NetworkPasswordsLostError,
    NetworkSignInError,
    NetworkUserDisabledError,
    ServerAccessDeniedError,
    ServerAdminPasswordError,
    ServerAdminRequiredError,
    ServerCharsetError,
    ServerDatabaseDeniedError,
    ServerDatabaseMissingError,
    ServerForeignTablesError,
    ServerHostNotFoundError,
    ServerNeedsUpgradeError,
    ServerNotPreparedError,
    ServerRefusedError,
    ServerSchemaTooNewError,
    ServerUnreachableError,
)
from crm_web.services import (
    accounts,
    network,
    network_server,
    network_users,
    search,
)
from crm_web.services.network import NetworkConfig, ServerAddress
from crm_web.services.network_config import KEY_FILE
from crm_web.services.network_server import parse_server_version
from crm_web.services.network_user import NetworkUser
from crm_web.services.network_users import Rights

pytestmark = pytest.mark.mysql

ADMIN = "Boss"
PASSWORD = "a good password"
MYSQL_SECRET = "my$ql p@ss:w/rd%#"
NETWORK_SECRET = "network secret 42"


def run_sql(*statements: str) -> list[tuple[object, ...]]:
    """Run statements as the test server's root; return the last one's rows."""
    server = mysql_server()
    try:
        with server.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
            rows = list(cursor.fetchall())
        server.commit()
    finally:
        server.close()
    return rows


def address_for(database: str, **changes: object) -> ServerAddress:
    values: dict[str, object] = {
        "host": MYSQL_HOST,
        "port": MYSQL_PORT,
        "database": database,
        "user": MYSQL_USER,
        "password": MYSQL_PASSWORD,
    }
    values.update(changes)
    return ServerAddress(**values)  # type: ignore[arg-type]


def empty_database(charset: str = "utf8mb4") -> str:
    name = f"r9test_{uuid.uuid4().hex[:12]}"
    collation = "utf8mb4_bin" if charset == "utf8mb4" else "latin1_swedish_ci"
    run_sql(f"CREATE DATABASE `{name}` CHARACTER SET {charset} COLLATE {collation}")
    return name


@pytest.fixture
def server() -> Iterator[ServerAddress]:
    """An empty utf8mb4 database on the test server; dropped afterwards."""
    name = empty_database()
    yield address_for(name)
    run_sql(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture(scope="session")
def prepared_once() -> Iterator[str]:
    """A database prepared with Boss as its first administrator, kept read-only."""
    name = empty_database()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "BCRYPT_ROUNDS", 4)
        network.prepare_server(address_for(name), ADMIN, PASSWORD)
    yield name
    run_sql(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def prepared(server: ServerAddress, prepared_once: str) -> ServerAddress:
    """The server, as Prepare server left it: a copy of ``prepared_once``.

    Copying the tables takes a fraction of the time the schema's upgrades do.
    """
    tables = run_sql(
        "SELECT TABLE_NAME FROM information_schema.TABLES "
        f"WHERE TABLE_SCHEMA = '{prepared_once}' AND TABLE_TYPE = 'BASE TABLE'"
    )
    statements = []
    for (table,) in tables:
        copy, original = (
            f"`{server.database}`.`{table}`",
            f"`{prepared_once}`.`{table}`",
        )
        statements.append(f"CREATE TABLE {copy} LIKE {original}")
        statements.append(f"INSERT INTO {copy} SELECT * FROM {original}")
    run_sql(*statements)
    return server


@pytest.fixture
def server_db(prepared: ServerAddress) -> Iterator[Database]:
    database = Database(prepared.url())
    yield database
    database.release()
    database.close()


@pytest.fixture
def boss(server_db: Database) -> NetworkUser:
    return network.sign_in_network_user(server_db, ADMIN, PASSWORD)


@pytest.fixture
def mysql_user(server: ServerAddress) -> Iterator[str]:
    """A MySQL user with a password and no rights; dropped afterwards."""
    name = f"r9t_{uuid.uuid4().hex[:8]}"
    run_sql(f"CREATE USER '{name}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'")
    yield name
    run_sql(f"DROP USER IF EXISTS '{name}'@'127.0.0.1'")


@pytest.fixture
def local_db(tmp_path: Path) -> Iterator[Database]:
    database = connect(f"sqlite:///{tmp_path / 'local.sqlite3'}")
    yield database
    database.release()
    database.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def add_category(db: Database, name: str) -> str:
    row = {**new_record("Boss"), "name": name, "sort_order": 0, "revision": 0}
    db.write(lambda db: category_data.insert_category(db, row))
    return str(row["uuid"])


def save_config(
    local_db: Database, data_dir: Path, address: ServerAddress, name: str, secret: str
) -> None:
    network.save_network_config(
        local_db, data_dir, NetworkConfig(address, name, secret, "uuid-1")
    )


# --- versions and addresses --------------------------------------------------


@pytest.mark.parametrize(
    ("text", "product", "number", "supported"),
    [
        ("10.11.6-MariaDB-0+deb12u1", "MariaDB", (10, 11, 6), True),
        ("10.3.39-MariaDB", "MariaDB", (10, 3, 39), True),
        ("10.2.44-MariaDB-log", "MariaDB", (10, 2, 44), False),
        ("5.5.5-10.4.32-MariaDB", "MariaDB", (10, 4, 32), True),
        ("8.0.36", "MySQL", (8, 0, 36), True),
        ("5.7.44-log", "MySQL", (5, 7, 44), True),
        ("5.6.51-log", "MySQL", (5, 6, 51), False),
    ],
)
def test_version_parser(
    text: str, product: str, number: tuple[int, int, int], supported: bool
) -> None:
    version = parse_server_version(text)
    assert version is not None
    assert version.product == product
    assert version.number == number
    assert version.is_supported is supported


def test_version_parser_unknown_text() -> None:
    assert parse_server_version("unknown") is None


def test_address_url_escapes_password() -> None:
    address = ServerAddress(
        host="db.example.com", database="r9crm", user="lily@x", password=MYSQL_SECRET
    )
    url = make_url(address.url())
    assert url.password == MYSQL_SECRET
    assert url.username == "lily@x"
    assert url.port == 3306
    assert url.query["charset"] == "utf8mb4"


def test_address_repr_hides_password() -> None:
    address = address_for("r9crm", password=MYSQL_SECRET)
    assert MYSQL_SECRET not in repr(address)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("host", ""),
        ("host", "a b"),
        ("port", "70000"),
        ("port", "x"),
        ("database", "bad`name"),
        ("user", ""),
    ],
)
def test_clean_address_rejects(field: str, value: str) -> None:
    fields = {"host": "h", "port": "3306", "database": "d", "user": "u"}
    fields[field] = value
    with pytest.raises(InvalidValueError):
        network.clean_address(password="", **fields)


# --- check_server's errors ---------------------------------------------------


def test_check_refused() -> None:
    address = address_for("r9crm", port=free_port())
    with pytest.raises(ServerRefusedError) as raised:
        network.check_server(address)
    assert f"{MYSQL_HOST} refused the connection on port {address.port}" in (
        raised.value.message
    )


# PyMySQL's error 2003 texts: refused on Linux and Windows, an unknown host
# name on Linux, macOS and Windows, and a timeout.
@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("[Errno 111] Connection refused", ServerRefusedError),
        (
            "[WinError 10061] No connection could be made because the target "
            "machine actively refused it",
            ServerRefusedError,
        ),
        ("[Errno -2] Name or service not known", ServerHostNotFoundError),
        (
            "[Errno 8] nodename nor servname provided, or not known",
            ServerHostNotFoundError,
        ),
        ("[Errno 11001] getaddrinfo failed", ServerHostNotFoundError),
        ("timed out", ServerUnreachableError),
    ],
)
def test_connection_error_names_cause(reason: str, expected: type) -> None:
    address = address_for("r9crm", host="crm.example")
    reason = f"Can't connect to MySQL server on 'crm.example' ({reason})"
    error = network_server.connection_error(
        address, ServerConnectionError(2003, reason)
    )
    assert type(error) is expected
    assert "crm.example" in error.message
    assert str(address.port) in error.message


def test_check_access_denied(server: ServerAddress, mysql_user: str) -> None:
    address = address_for(server.database, user=mysql_user, password="wrong one")
    with pytest.raises(ServerAccessDeniedError) as raised:
        network.check_server(address)
    assert mysql_user in raised.value.message
    assert MYSQL_HOST in raised.value.message


def test_check_database_denied(server: ServerAddress, mysql_user: str) -> None:
    address = address_for(server.database, user=mysql_user, password=PASSWORD)
    with pytest.raises(ServerDatabaseDeniedError) as raised:
        network.check_server(address)
    assert f"GRANT ALL ON `{server.database}`.* TO '{mysql_user}'" in (
        raised.value.message
    )


def test_check_misspelt_database_names_both_causes(
    server: ServerAddress, mysql_user: str
) -> None:
    misspelt = server.database + "_typo"
    address = address_for(misspelt, user=mysql_user, password=PASSWORD)
    with pytest.raises(ServerDatabaseDeniedError) as raised:
        network.check_server(address)
    assert "no database has that name, so check the spelling" in raised.value.message
    assert "the user has no rights on it" in raised.value.message


def test_check_database_denied_grant_names_real_host(
    server: ServerAddress, mysql_user: str
) -> None:
    address = address_for(server.database, user=mysql_user, password=PASSWORD)
    with pytest.raises(ServerDatabaseDeniedError) as raised:
        network.check_server(address)
    grant = f"GRANT ALL ON `{server.database}`.* TO '{mysql_user}'@'127.0.0.1';"
    assert grant in raised.value.message


def test_database_denied_without_account_says_adapt_host() -> None:
    error = network_server.connection_error(
        address_for("r9crm", user="r9crm"),
        ServerConnectionError(1044, "Access denied"),
    )
    assert "TO 'r9crm'@'%';" in error.message
    assert "write that host in place of the %" in error.message


def test_check_database_missing(server: ServerAddress) -> None:
    address = address_for(server.database + "_missing")
    with pytest.raises(ServerDatabaseMissingError) as raised:
        network.check_server(address)
    assert f"CREATE DATABASE `{address.database}`" in raised.value.message


def test_check_latin1_database() -> None:
    name = empty_database("latin1")
    try:
        with pytest.raises(ServerCharsetError) as raised:
            network.check_server(address_for(name))
    finally:
        run_sql(f"DROP DATABASE IF EXISTS `{name}`")
    assert "latin1" in raised.value.message
    assert f"ALTER DATABASE `{name}` CHARACTER SET utf8mb4" in raised.value.message


def test_check_foreign_tables(server: ServerAddress) -> None:
    run_sql(f"CREATE TABLE `{server.database}`.wp_posts (id INT PRIMARY KEY)")
    with pytest.raises(ServerForeignTablesError) as raised:
        network.check_server(server)
    assert "wp_posts" in raised.value.message


def test_check_empty_database(server: ServerAddress) -> None:
    info = network.check_server(server)
    assert info.version.split(".")[0].isdigit()
    assert info.schema_version is None
    assert info.is_prepared is False


def test_check_prepared_server(prepared: ServerAddress) -> None:
    info = network.check_server(prepared)
    assert info.schema_version == LATEST_VERSION
    assert info.is_ready is True


def test_check_schema_too_new(server_db: Database, prepared: ServerAddress) -> None:
    server_db.write(
        lambda db: db.execute(
            migrations.insert().values(version=LATEST_VERSION + 1, applied_at=utcnow())
        )
    )
    with pytest.raises(ServerSchemaTooNewError) as raised:
        network.check_server(prepared)
    assert "Update R9 CRM" in raised.value.message


# --- preparing ---------------------------------------------------------------


def test_prepare_creates_schema_and_admin(
    prepared: ServerAddress, server_db: Database
) -> None:
    users = {u["name"]: u for u in user_data.find_users(server_db)}
    assert list(users) == [ADMIN]
    assert users[ADMIN]["role"] == "admin"
    assert accounts.password_matches(PASSWORD, users[ADMIN]["password_hash"])


def test_prepare_stores_server_uuid(server: ServerAddress) -> None:
    server_uuid = network.prepare_server(server, ADMIN, PASSWORD)
    assert uuid.UUID(server_uuid)
    assert network.check_server(server).server_uuid == server_uuid


def test_prepare_turns_protection_on(server_db: Database) -> None:
    assert accounts.protection_on(server_db) is True


def test_prepare_audits(server_db: Database) -> None:
    rows, _total = user_data.find_audit(server_db, action="server_prepared")
    assert [row["user"] for row in rows] == [ADMIN]


def test_prepare_keeps_admin_name(server: ServerAddress) -> None:
    network.prepare_server(server, "Admin", PASSWORD)
    database = Database(server.url())
    try:
        names = [u["name"] for u in user_data.find_users(database)]
    finally:
        database.close()
    assert names == ["Admin"]


def test_prepare_again_keeps_data_and_uuid(
    prepared: ServerAddress, server_db: Database
) -> None:
    first = network.check_server(prepared).server_uuid
    category_uuid = add_category(server_db, "VIP")
    server_db.release()
    again = network.prepare_server(prepared, ADMIN.lower(), PASSWORD)
    assert again == first
    assert category_data.get_category(server_db, category_uuid) is not None


def test_prepare_upgrades_old_schema(
    prepared: ServerAddress, server_db: Database
) -> None:
    server_db.write(
        lambda db: db.execute(
            migrations.delete().where(migrations.c.version == LATEST_VERSION)
        )
    )
    server_db.release()
    assert network.check_server(prepared).needs_upgrade is True
    network.prepare_server(prepared, ADMIN, PASSWORD)
    assert network.check_server(prepared).is_ready is True


def test_second_preparer_refused(prepared: ServerAddress) -> None:
    with pytest.raises(ServerAdminRequiredError) as raised:
        network.prepare_server(prepared, "Lily", "another password")
    assert prepared.database in raised.value.message


def test_preparer_with_wrong_admin_password_refused(prepared: ServerAddress) -> None:
    with pytest.raises(ServerAdminPasswordError) as raised:
        network.prepare_server(prepared, ADMIN, "not the password")
    assert f"The password is wrong for “{ADMIN}”" in raised.value.message


def test_preparer_non_admin_same_as_unknown(
    prepared: ServerAddress, server_db: Database, boss: NetworkUser
) -> None:
    network_users.create_network_user(
        server_db, boss, name="Tom", password=PASSWORD, role="user", rights=Rights()
    )
    server_db.release()
    with pytest.raises(ServerAdminRequiredError) as non_admin:
        network.prepare_server(prepared, "Tom", PASSWORD)
    with pytest.raises(ServerAdminRequiredError) as unknown:
        network.prepare_server(prepared, "Nobody", PASSWORD)
    assert non_admin.value.message == unknown.value.message
    assert "none has that name and password" in non_admin.value.message


def test_prepare_rejects_short_password(server: ServerAddress) -> None:
    with pytest.raises(InvalidValueError):
        network.prepare_server(server, ADMIN, "short")
    assert network.check_server(server).schema_version is None


# --- signing in --------------------------------------------------------------


def test_sign_in_returns_rights(boss: NetworkUser) -> None:
    assert boss == NetworkUser(ADMIN, "admin", True, True, True, ())


def test_sign_in_wrong_password(server_db: Database) -> None:
    with pytest.raises(NetworkSignInError):
        network.sign_in_network_user(server_db, ADMIN, "not the password")


def test_sign_in_unknown_name_same_message(server_db: Database) -> None:
    with pytest.raises(NetworkSignInError) as unknown:
        network.sign_in_network_user(server_db, "Nobody", PASSWORD)
    with pytest.raises(NetworkSignInError) as wrong:
        network.sign_in_network_user(server_db, ADMIN, "not the password")
    assert unknown.value.message == wrong.value.message


def test_sign_in_not_prepared(server: ServerAddress) -> None:
    database = Database(server.url())
    try:
        with pytest.raises(ServerNotPreparedError):
            network.sign_in_network_user(database, ADMIN, PASSWORD)
    finally:
        database.close()


def test_sign_in_needs_upgrade(server_db: Database) -> None:
    server_db.write(
        lambda db: db.execute(
            migrations.delete().where(migrations.c.version == LATEST_VERSION)
        )
    )
    with pytest.raises(ServerNeedsUpgradeError) as raised:
        network.sign_in_network_user(server_db, ADMIN, PASSWORD)
    assert "Prepare server" in raised.value.message


def test_disabled_user_sign_in_refused(server_db: Database, boss: NetworkUser) -> None:
    lily = network_users.create_network_user(
        server_db, boss, name="Lily", password=PASSWORD, role="user", rights=Rights()
    )
    network_users.set_network_user_disabled(server_db, boss, lily, True)
    with pytest.raises(NetworkUserDisabledError) as raised:
        network.sign_in_network_user(server_db, "Lily", PASSWORD)
    assert "team's admin" in raised.value.message


def test_enabled_again_signs_in(server_db: Database, boss: NetworkUser) -> None:
    lily = network_users.create_network_user(
        server_db, boss, name="Lily", password=PASSWORD, role="user", rights=Rights()
    )
    network_users.set_network_user_disabled(server_db, boss, lily, True)
    network_users.set_network_user_disabled(server_db, boss, lily, False)
    assert network.sign_in_network_user(server_db, "lily", PASSWORD).name == "Lily"


# --- network users -----------------------------------------------------------


def test_create_user_with_rights(server_db: Database, boss: NetworkUser) -> None:
    vip = add_category(server_db, "VIP")
    rights = Rights(may_upload=False, may_edit_shared=False, categories=(vip,))
    network_users.create_network_user(
        server_db, boss, name="Tom", password=PASSWORD, role="user", rights=rights
    )
    tom = network.sign_in_network_user(server_db, "Tom", PASSWORD)
    assert tom == NetworkUser("Tom", "user", False, True, False, (vip,))


def test_create_user_audited(server_db: Database, boss: NetworkUser) -> None:
    network_users.create_network_user(
        server_db, boss, name="Tom", password=PASSWORD, role="user", rights=Rights()
    )
    rows, _total = user_data.find_audit(server_db, action="user_created")
    assert [(row["user"], row["target"]) for row in rows] == [(ADMIN, "Tom")]


def test_create_user_needs_password(server_db: Database, boss: NetworkUser) -> None:
    with pytest.raises(InvalidValueError):
        network_users.create_network_user(
            server_db, boss, name="Tom", password="", role="user", rights=Rights()
        )


def test_set_rights(server_db: Database, boss: NetworkUser) -> None:
    vip = add_category(server_db, "VIP")
    tom = network_users.create_network_user(
        server_db, boss, name="Tom", password=PASSWORD, role="user", rights=Rights()
    )
    rights = Rights(may_download=False, categories=(vip,))
    network_users.set_network_rights(server_db, boss, tom, rights)
    signed_in = network.sign_in_network_user(server_db, "Tom", PASSWORD)
    assert signed_in.may_download is False
    assert signed_in.categories == (vip,)


def test_set_rights_audited(server_db: Database, boss: NetworkUser) -> None:
    tom = network_users.create_network_user(
        server_db, boss, name="Tom", password=PASSWORD, role="user", rights=Rights()
    )
    network_users.set_network_rights(server_db, boss, tom, Rights(may_upload=False))
    rows, _total = user_data.find_audit(server_db, action="network_rights_changed")
    assert [row["target"] for row in rows] == ["Tom"]
    assert "may_upload=0" in rows[0]["detail"]


def test_set_rights_unknown_category(server_db: Database, boss: NetworkUser) -> None:
    tom = network_users.create_network_user(
        server_db, boss, name="Tom", password=PASSWORD, role="user", rights=Rights()
    )
    with pytest.raises(InvalidValueError) as raised:
        network_users.set_network_rights(
            server_db, boss, tom, Rights(categories=("no-such-category",))
        )
    assert "no-such-category" in raised.value.message


def test_set_password(server_db: Database, boss: NetworkUser) -> None:
    tom = network_users.create_network_user(
        server_db, boss, name="Tom", password=PASSWORD, role="user", rights=Rights()
    )
    network_users.set_network_password(server_db, boss, tom, "a new password")
    assert network.sign_in_network_user(server_db, "Tom", "a new password")


def test_last_admin_cannot_be_disabled(server_db: Database, boss: NetworkUser) -> None:
    me = user_data.get_user(server_db, ADMIN)
    assert me is not None
    with pytest.raises(accounts.LastAdminError):
        network_users.set_network_user_disabled(server_db, boss, me["uuid"], True)


def test_non_admin_cannot_manage(server_db: Database, boss: NetworkUser) -> None:
    network_users.create_network_user(
        server_db, boss, name="Tom", password=PASSWORD, role="user", rights=Rights()
    )
    tom = network.sign_in_network_user(server_db, "Tom", PASSWORD)
    with pytest.raises(NetworkAdminOnlyError) as raised:
        network_users.create_network_user(
            server_db, tom, name="Eve", password=PASSWORD, role="admin", rights=Rights()
        )
    assert "“Tom”" in raised.value.message
    assert user_data.get_user(server_db, "Eve") is None


def test_non_admin_cannot_list(server_db: Database, boss: NetworkUser) -> None:
    network_users.create_network_user(
        server_db, boss, name="Tom", password=PASSWORD, role="user", rights=Rights()
    )
    tom = network.sign_in_network_user(server_db, "Tom", PASSWORD)
    with pytest.raises(NetworkAdminOnlyError):
        network_users.list_network_users(server_db, tom)


def test_demoted_admin_cannot_manage(server_db: Database, boss: NetworkUser) -> None:
    tom = network_users.create_network_user(
        server_db, boss, name="Tom", password=PASSWORD, role="admin", rights=Rights()
    )
    tom_user = network.sign_in_network_user(server_db, "Tom", PASSWORD)
    network_users.set_network_role(server_db, boss, tom, "user")
    with pytest.raises(NetworkAdminOnlyError):
        network_users.set_network_rights(server_db, tom_user, tom, Rights())


# --- stored credentials ------------------------------------------------------


def test_config_round_trip(local_db: Database, tmp_path: Path) -> None:
    address = address_for("r9crm", password=MYSQL_SECRET)
    save_config(local_db, tmp_path, address, "Lily", NETWORK_SECRET)
    loaded = network.load_network_config(local_db, tmp_path)
    assert loaded == NetworkConfig(address, "Lily", NETWORK_SECRET, "uuid-1")


def test_passwords_not_in_database_file(local_db: Database, tmp_path: Path) -> None:
    address = address_for("r9crm", password=MYSQL_SECRET)
    save_config(local_db, tmp_path, address, "Lily", NETWORK_SECRET)
    files = [tmp_path / "local.sqlite3", tmp_path / "local.sqlite3-wal"]
    stored = b"".join(path.read_bytes() for path in files if path.exists())
    assert b"Lily" in stored
    assert MYSQL_SECRET.encode() not in stored
    assert NETWORK_SECRET.encode() not in stored


def test_key_file_private(local_db: Database, tmp_path: Path) -> None:
    save_config(local_db, tmp_path, address_for("r9crm"), "Lily", NETWORK_SECRET)
    mode = stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode)
    assert mode == 0o600


def test_missing_key_loses_passwords(local_db: Database, tmp_path: Path) -> None:
    address = address_for("r9crm", password=MYSQL_SECRET)
    save_config(local_db, tmp_path, address, "Lily", NETWORK_SECRET)
    (tmp_path / KEY_FILE).unlink()
    loaded = network.load_network_config(local_db, tmp_path)
    assert loaded is not None
    assert (loaded.server.password, loaded.network_password) == ("", "")
    assert loaded.passwords_lost is True


def test_other_key_loses_passwords(local_db: Database, tmp_path: Path) -> None:
    address = address_for("r9crm", password=MYSQL_SECRET)
    save_config(local_db, tmp_path, address, "Lily", NETWORK_SECRET)
    other = tmp_path / "other"
    other.mkdir()
    save_config(local_db, other, address, "Lily", NETWORK_SECRET)
    (tmp_path / KEY_FILE).write_bytes((other / KEY_FILE).read_bytes())
    (other / KEY_FILE).unlink()
    loaded = network.load_network_config(local_db, other)
    assert loaded is not None
    assert loaded.passwords_lost is True


def test_forget_deletes_settings(local_db: Database, tmp_path: Path) -> None:
    save_config(local_db, tmp_path, address_for("r9crm"), "Lily", NETWORK_SECRET)
    network.remember_network_users(local_db, ["Lily"])
    network.forget_network(local_db)
    stored = preference_data.find_preferences(local_db)
    assert "network" not in stored
    assert "network_users" not in stored


# --- open_network ------------------------------------------------------------


def test_open_without_config(local_db: Database, tmp_path: Path) -> None:
    with pytest.raises(NetworkNotConfiguredError):
        network.open_network(local_db, tmp_path)


def test_open_without_network_password(local_db: Database, tmp_path: Path) -> None:
    save_config(local_db, tmp_path, address_for("r9crm"), "Lily", "")
    with pytest.raises(NetworkNotConfiguredError):
        network.open_network(local_db, tmp_path)


def test_open_with_lost_passwords(
    local_db: Database, tmp_path: Path, prepared: ServerAddress
) -> None:
    save_config(local_db, tmp_path, prepared, ADMIN, PASSWORD)
    (tmp_path / KEY_FILE).unlink()
    with pytest.raises(NetworkPasswordsLostError) as raised:
        network.open_network(local_db, tmp_path)
    assert KEY_FILE in raised.value.message


def test_open_signs_in_and_remembers_users(
    local_db: Database,
    tmp_path: Path,
    prepared: ServerAddress,
    server_db: Database,
    boss: NetworkUser,
) -> None:
    network_users.create_network_user(
        server_db, boss, name="Tom", password=PASSWORD, role="user", rights=Rights()
    )
    save_config(local_db, tmp_path, prepared, "Tom", PASSWORD)
    opened, user, _config = network.open_network(local_db, tmp_path)
    opened.close()
    assert user.name == "Tom"
    stored = preference_data.find_preferences(local_db)["network_users"]
    assert json.loads(stored) == [ADMIN, "Tom"]


def test_open_closes_server_on_error(
    local_db: Database, tmp_path: Path, prepared: ServerAddress
) -> None:
    save_config(local_db, tmp_path, prepared, ADMIN, "not the password")
    with pytest.raises(NetworkSignInError):
        network.open_network(local_db, tmp_path)
    assert connections_to(prepared.database) == 0


def connections_to(database: str) -> int:
    server = mysql_server()
    try:
        with server.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = %s",
                (database,),
            )
            row = cursor.fetchone()
    finally:
        server.close()
    assert row is not None
    return int(row[0])


# --- the page ----------------------------------------------------------------


def server_form(address: ServerAddress, **changes: str) -> dict[str, str]:
    form = {
        "host": address.host,
        "port": str(address.port),
        "database": address.database,
        "user": address.user,
        "password": address.password,
    }
    form.update(changes)
    return form


def switch_language(client: FlaskClient, language: str) -> None:
    response = client.post("/settings/language", data={"language": language})
    assert response.status_code == HTTPStatus.FOUND


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "Test connection"), ("zh_CN", "测试连接")],
)
def test_page_in_language(client: FlaskClient, language: str, expected: str) -> None:
    switch_language(client, language)
    page = client.get("/network/").get_data(as_text=True)
    assert expected in page


def test_sidebar_links_network(client: FlaskClient) -> None:
    page = client.get("/contacts/").get_data(as_text=True)
    assert 'href="/network/"' in page


def test_page_test_connection(client: FlaskClient, server: ServerAddress) -> None:
    response = client.post("/network/test", data=server_form(server))
    page = response.get_data(as_text=True)
    assert response.status_code == HTTPStatus.OK
    assert "MariaDB" in page or "Server version" in page
    assert "not prepared as a shared server yet" in page


def test_page_test_connection_in_chinese(
    client: FlaskClient, server: ServerAddress
) -> None:
    switch_language(client, "zh_CN")
    page = client.post("/network/test", data=server_form(server)).get_data(as_text=True)
    assert "连接正常" in page


def test_page_test_saved_server_says_prepare(
    client: FlaskClient, server: ServerAddress
) -> None:
    client.post("/network/save", data=server_form(server))
    page = client.post("/network/test", data=server_form(server)).get_data(as_text=True)
    assert "Click Prepare server below." in page
    assert "Save the server, then" not in page


def test_page_test_shows_error(client: FlaskClient, server: ServerAddress) -> None:
    form = server_form(server, database=server.database + "_missing")
    page = client.post("/network/test", data=form).get_data(as_text=True)
    assert f"has no database “{server.database}_missing”" in page


def test_page_save_never_echoes_password(
    client: FlaskClient, server: ServerAddress
) -> None:
    form = server_form(server, password=MYSQL_SECRET)
    assert client.post("/network/save", data=form).status_code == HTTPStatus.FOUND
    page = client.get("/network/").get_data(as_text=True)
    assert server.database in page
    assert MYSQL_SECRET not in page


def test_page_save_keeps_password(
    client: FlaskClient, app_db: Database, settings_dir: Path
) -> None:
    address = address_for("r9crm", password=MYSQL_SECRET)
    client.post("/network/save", data=server_form(address))
    client.post("/network/save", data=server_form(address, password=""))
    loaded = network.load_network_config(app_db, settings_dir)
    assert loaded is not None
    assert loaded.server.password == MYSQL_SECRET


def test_page_prepare_and_sign_in(
    client: FlaskClient, server: ServerAddress, app_db: Database, settings_dir: Path
) -> None:
    client.post("/network/save", data=server_form(server))
    response = client.post(
        "/network/prepare", data={"name": ADMIN, "password": PASSWORD}
    )
    assert response.status_code == HTTPStatus.FOUND
    loaded = network.load_network_config(app_db, settings_dir)
    assert loaded is not None
    assert (loaded.network_user, loaded.network_password) == (ADMIN, PASSWORD)


def test_page_sign_in_wrong_password(
    client: FlaskClient, prepared: ServerAddress
) -> None:
    client.post("/network/save", data=server_form(prepared))
    response = client.post(
        "/network/sign-in",
        data={"name": ADMIN, "password": "not the password"},
        follow_redirects=True,
    )
    assert "network user name or password is wrong" in response.get_data(as_text=True)


def test_page_users_create_and_disable(
    client: FlaskClient, prepared: ServerAddress, server_db: Database
) -> None:
    client.post("/network/save", data=server_form(prepared))
    client.post("/network/sign-in", data={"name": ADMIN, "password": PASSWORD})
    client.post(
        "/network/users/new",
        data={"name": "Tom", "password": PASSWORD, "role": "user", "may_upload": "1"},
    )
    tom = user_data.get_user(server_db, "Tom")
    assert tom is not None
    assert (tom["may_upload"], tom["may_download"]) == (True, False)
    client.post(f"/network/users/{tom['uuid']}/disable", data={"disabled": "1"})
    server_db.release()
    page = client.get("/network/users").get_data(as_text=True)
    assert 'data-user="Tom"' in page
    assert user_data.get_user(server_db, "Tom")["disabled"] is True  # type: ignore[index]


def test_page_users_in_chinese(client: FlaskClient, prepared: ServerAddress) -> None:
    client.post("/network/save", data=server_form(prepared))
    client.post("/network/sign-in", data={"name": ADMIN, "password": PASSWORD})
    switch_language(client, "zh_CN")
    page = client.get("/network/users").get_data(as_text=True)
    assert "网络用户" in page


def test_page_users_hint_without_categories(
    client: FlaskClient, prepared: ServerAddress
) -> None:
    client.post("/network/save", data=server_form(prepared))
    client.post("/network/sign-in", data={"name": ADMIN, "password": PASSWORD})
    page = client.get("/network/users").get_data(as_text=True)
    assert "No categories on the server yet" in page
    assert 'name="categories"' not in page


def test_page_users_lists_categories(
    client: FlaskClient, prepared: ServerAddress, server_db: Database
) -> None:
    add_category(server_db, "VIP")
    server_db.release()
    client.post("/network/save", data=server_form(prepared))
    client.post("/network/sign-in", data={"name": ADMIN, "password": PASSWORD})
    page = client.get("/network/users").get_data(as_text=True)
    assert ">VIP</option>" in page
    assert "No categories on the server yet" not in page


def has_users_button(client: FlaskClient) -> bool:
    page = client.get("/network/").get_data(as_text=True)
    return 'id="network-users"' in page


def test_page_users_button_for_admin(
    client: FlaskClient, prepared: ServerAddress
) -> None:
    client.post("/network/save", data=server_form(prepared))
    client.post("/network/sign-in", data={"name": ADMIN, "password": PASSWORD})
    assert has_users_button(client) is True


def test_page_users_button_hidden_from_user(
    client: FlaskClient,
    prepared: ServerAddress,
    server_db: Database,
    boss: NetworkUser,
) -> None:
    network_users.create_network_user(
        server_db, boss, name="Tom", password=PASSWORD, role="user", rights=Rights()
    )
    client.post("/network/save", data=server_form(prepared))
    client.post("/network/sign-in", data={"name": "Tom", "password": PASSWORD})
    assert has_users_button(client) is False


def test_page_users_button_hidden_after_demotion(
    client: FlaskClient,
    prepared: ServerAddress,
    server_db: Database,
    boss: NetworkUser,
) -> None:
    tom = network_users.create_network_user(
        server_db, boss, name="Tom", password=PASSWORD, role="admin", rights=Rights()
    )
    client.post("/network/save", data=server_form(prepared))
    client.post("/network/sign-in", data={"name": "Tom", "password": PASSWORD})
    network_users.set_network_role(server_db, boss, tom, "user")
    server_db.release()
    client.get("/network/users")
    assert has_users_button(client) is False


def test_page_error_links_network(app: Flask) -> None:
    # Without the page's CSRF token, the form is rejected on the error page.
    form = server_form(address_for("r9crm"))
    response = app.test_client().post("/network/save", data=form)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert 'id="error-back" href="/network/">' in response.get_data(as_text=True)


def test_page_users_not_signed_in(client: FlaskClient) -> None:
    response = client.get("/network/users", follow_redirects=True)
    assert "no shared server set up" in response.get_data(as_text=True)


def test_page_users_for_non_admin(
    client: FlaskClient,
    prepared: ServerAddress,
    server_db: Database,
    boss: NetworkUser,
) -> None:
    network_users.create_network_user(
        server_db, boss, name="Tom", password=PASSWORD, role="user", rights=Rights()
    )
    client.post("/network/save", data=server_form(prepared))
    client.post("/network/sign-in", data={"name": "Tom", "password": PASSWORD})
    response = client.get("/network/users", follow_redirects=True)
    assert "Only an administrator of the server" in response.get_data(as_text=True)


def test_page_forbidden_to_local_user(app: Flask, app_db: Database) -> None:
    app.test_client_class = CsrfClient
    admin = user_data.get_user(app_db, "Admin")
    assert admin is not None
    accounts.set_password(app_db, admin["uuid"], PASSWORD, by="test")
    accounts.create_user(app_db, "Lily", PASSWORD, "user", by="test")
    accounts.set_protection(app_db, True, by="test")
    lily = app.test_client()
    lily.post("/login", data={"name": "Lily", "password": PASSWORD})
    assert lily.get("/network/").status_code == HTTPStatus.FORBIDDEN


@pytest.fixture
def settings_dir(app: Flask) -> Path:
    data_dir: Path = app.extensions["crm_settings"].data_dir
    return data_dir


def test_page_test_uses_saved_password(
    client: FlaskClient, server: ServerAddress, mysql_user: str
) -> None:
    run_sql(f"GRANT ALL ON `{server.database}`.* TO '{mysql_user}'@'127.0.0.1'")
    address = address_for(server.database, user=mysql_user, password=PASSWORD)
    client.post("/network/save", data=server_form(address))
    response = client.post("/network/test", data=server_form(address, password=""))
    assert "Server version" in response.get_data(as_text=True)


def test_page_forget(client: FlaskClient, app_db: Database) -> None:
    client.post("/network/save", data=server_form(address_for("r9crm")))
    response = client.post("/network/forget")
    assert response.status_code == HTTPStatus.FOUND
    assert "network" not in preference_data.find_preferences(app_db)


# --- a copy working live on the shared server ----------------------------------


@pytest.fixture
def live_app(prepared: ServerAddress, tmp_path: Path) -> Iterator[Flask]:
    """An app whose own database is the prepared shared server."""
    settings = load_settings(
        data_dir=tmp_path / "live", database_url=prepared.url(), testing=True
    )
    application = create_app(settings)
    application.test_client_class = CsrfClient
    yield application
    database: Database = application.extensions["crm_db"]
    search.index_for(database).forget()
    database.close()


@pytest.fixture
def live_client(live_app: Flask) -> FlaskClient:
    """The live app, signed in as the server's administrator."""
    client = live_app.test_client()
    response = client.post("/login", data={"name": ADMIN, "password": PASSWORD})
    assert response.status_code == HTTPStatus.FOUND
    return client


def test_live_page_names_server(
    live_client: FlaskClient, prepared: ServerAddress
) -> None:
    doc = lxml.html.fromstring(live_client.get("/network/").get_data(as_text=True))
    shown = " ".join(doc.get_element_by_id("working-live").text_content().split())
    assert (
        f"This copy works directly on the shared server "
        f"{prepared.host}/{prepared.database}, so there is nothing to upload or "
        "download."
    ) in shown


@pytest.mark.parametrize("element_id", ["server", "sync", "sync-pending", "prepare"])
def test_live_page_hides_sync(live_client: FlaskClient, element_id: str) -> None:
    doc = lxml.html.fromstring(live_client.get("/network/").get_data(as_text=True))
    assert doc.xpath(f'//*[@id="{element_id}"]') == []


def test_live_page_links_users(live_client: FlaskClient) -> None:
    doc = lxml.html.fromstring(live_client.get("/network/").get_data(as_text=True))
    assert doc.get_element_by_id("network-users").get("href") == "/network/users"


def test_live_sync_page_names_server(live_client: FlaskClient) -> None:
    doc = lxml.html.fromstring(live_client.get("/network/sync").get_data(as_text=True))
    assert (
        "nothing to upload or download"
        in doc.get_element_by_id("sync-live").text_content()
    )


def test_live_upload_refused(live_client: FlaskClient) -> None:
    response = live_client.post("/network/sync/upload")
    assert response.status_code == HTTPStatus.CONFLICT
    assert "nothing to upload or download" in response.get_data(as_text=True)


def test_live_save_refused(
    live_client: FlaskClient, prepared: ServerAddress, server_db: Database
) -> None:
    response = live_client.post(
        "/network/save", data=server_form(prepared), follow_redirects=True
    )
    assert "needs no saved server" in response.get_data(as_text=True)
    assert "network" not in preference_data.find_preferences(server_db)


def test_live_users_page_lists_users(live_client: FlaskClient) -> None:
    response = live_client.get("/network/users")
    assert response.status_code == HTTPStatus.OK
    assert f'data-user="{ADMIN}"' in response.get_data(as_text=True)


def test_live_users_create(live_client: FlaskClient, server_db: Database) -> None:
    live_client.post(
        "/network/users/new",
        data={"name": "Tom", "password": PASSWORD, "role": "user", "may_upload": "1"},
    )
    tom = user_data.get_user(server_db, "Tom")
    assert tom is not None
    assert (tom["may_upload"], tom["may_download"]) == (True, False)


def test_live_users_forbidden_to_user(
    live_app: Flask, server_db: Database, boss: NetworkUser
) -> None:
    network_users.create_network_user(
        server_db, boss, name="Tom", password=PASSWORD, role="user", rights=Rights()
    )
    server_db.release()
    tom = live_app.test_client()
    tom.post("/login", data={"name": "Tom", "password": PASSWORD})
    assert tom.get("/network/users").status_code == HTTPStatus.FORBIDDEN
