"""The databases a run measures: a fresh SQLite file and a MariaDB database.

The MariaDB server is the one the tests use (MYSQL_TEST_HOST, _PORT, _USER
and _PASSWORD; default root with an empty password on 127.0.0.1:3306). Each
run creates a uniquely named utf8mb4 database there and drops it at the end,
also when the run fails.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql
from sqlalchemy.engine import make_url

MYSQL_HOST = os.environ.get("MYSQL_TEST_HOST", "127.0.0.1")
MYSQL_PORT = int(os.environ.get("MYSQL_TEST_PORT", "3306"))
MYSQL_USER = os.environ.get("MYSQL_TEST_USER", "root")
MYSQL_PASSWORD = os.environ.get("MYSQL_TEST_PASSWORD", "")
# Seconds the DROP DATABASE at the end waits for a connection left open,
# instead of MariaDB's default of a day.
DROP_LOCK_WAIT = 30

BACKENDS = ("sqlite", "mysql")


@dataclass(frozen=True)
class Backend:
    name: str
    url: str
    work_dir: Path

    @property
    def is_mysql(self) -> bool:
        return self.name == "mysql"


def connect_dbapi(url: str) -> Any:
    """Open a plain DBAPI connection (sqlite3 or PyMySQL) to ``url``."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return sqlite3.connect(str(parsed.database))
    return pymysql.connect(
        host=parsed.host,
        port=parsed.port or 3306,
        user=parsed.username,
        password=parsed.password or "",
        database=parsed.database,
        charset="utf8mb4",
    )


@contextmanager
def open_backend(name: str, work_dir: Path) -> Iterator[Backend]:
    """Yield an empty database of kind ``name`` and remove it afterwards."""
    folder = work_dir / name
    folder.mkdir(parents=True)
    if name == "sqlite":
        yield Backend(name, f"sqlite:///{folder / 'bench.sqlite3'}", folder)
        return
    with mysql_database() as url:
        yield Backend(name, url, folder)


@contextmanager
def mysql_database() -> Iterator[str]:
    """Create a uniquely named utf8mb4 database and drop it afterwards."""
    name = f"r9bench_{uuid.uuid4().hex[:12]}"
    _run_on_server(
        f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
    )
    try:
        yield (
            f"mysql+pymysql://{MYSQL_USER}:{MYSQL_PASSWORD}@{MYSQL_HOST}:"
            f"{MYSQL_PORT}/{name}?charset=utf8mb4"
        )
    finally:
        # A fresh connection, because a run can outlast the server's idle
        # timeout.
        _run_on_server(
            f"SET SESSION lock_wait_timeout = {DROP_LOCK_WAIT}",
            f"DROP DATABASE IF EXISTS `{name}`",
        )


def _run_on_server(*statements: str) -> None:
    server = pymysql.connect(
        host=MYSQL_HOST,
        port=MYSQL_PORT,
        user=MYSQL_USER,
        password=MYSQL_PASSWORD,
        charset="utf8mb4",
        autocommit=True,
    )
    try:
        with server.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        server.close()
