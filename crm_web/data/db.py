"""Connection handling over dataset for SQLite and MySQL/MariaDB.

dataset keeps one connection per thread. On MySQL a plain read opens a
transaction that nothing ends, so the thread would read a stale snapshot and
keep metadata locks. ``release`` therefore ends it after every request and
returns the connection to the pool. Writes go through ``transaction`` (one
transaction, retried whole on a MySQL deadlock).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

import dataset
from sqlalchemy import Connection, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from crm_web.data import schema
from crm_web.errors import DatabaseCharsetError, DatabaseUnavailableError

log = logging.getLogger(__name__)


def _sqlite_datetime(value: datetime) -> str:
    """Return a datetime as SQLAlchemy writes it to SQLite, microseconds and all.

    sqlite3's own adapter drops ".000000", and SQLite compares the stored
    text: "2026-12-04 00:00:00" sorts before a bound
    "2026-12-04 00:00:00.000000", so rows written by ``executemany`` fell
    outside date filters that start at their own second.
    """
    return value.isoformat(" ", "microseconds")


# Raw executemany (bulk inserts) hands datetimes to sqlite3 directly.
sqlite3.register_adapter(datetime, _sqlite_datetime)

T = TypeVar("T")

# MySQL error codes worth retrying the whole transaction for.
MYSQL_DEADLOCK = 1213
MYSQL_LOCK_WAIT_TIMEOUT = 1205
RETRIES = 3
# Connections the pool keeps open. Each of waitress's threads
# (crm_web.server.THREADS, 8) uses one for a whole request and returns it
# at the end, and background work (index loading, backups, imports) needs
# a few more. With SQLAlchemy's default of 5, the pool closes every
# connection returned beyond five and the next request opens a new one.
POOL_SIZE = 12


class Database:
    """One database (SQLite file or MySQL schema) behind dataset."""

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_mysql = parsed.get_backend_name() in ("mysql", "mariadb")
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self._immediate = threading.local()
        if self.is_mysql:
            url = str(_with_utf8mb4(parsed).render_as_string(hide_password=False))
        self.ds = dataset.connect(
            url,
            ensure_schema=False,
            engine_kwargs=_engine_kwargs(self.is_mysql),
            sqlite_wal_mode=self.is_sqlite,
        )
        if self.is_sqlite:
            self._use_explicit_sqlite_transactions()

    @property
    def conn(self) -> Connection:
        """Return this thread's connection."""
        return self.ds.executable

    def execute(self, statement: Any, params: Any = None) -> Any:
        """Execute a SQLAlchemy statement on this thread's connection."""
        if params is None:
            return self.conn.execute(statement)
        return self.conn.execute(statement, params)

    @property
    def paramstyle_mark(self) -> str:
        """Return the DBAPI driver's positional placeholder."""
        return "%s" if self.is_mysql else "?"

    def quote(self, name: str) -> str:
        engine = self.ds.engine
        assert engine is not None, "database is closed"
        return str(engine.dialect.identifier_preparer.quote(name))

    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """Run one statement for many rows straight on the DBAPI driver."""
        if rows:
            self.conn.exec_driver_sql(sql, rows)

    def query(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        """Run raw SQL with named binds and return the rows as dicts."""
        result = self.conn.execute(text(sql), params)
        return [dict(row) for row in result.mappings()]

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """Run the block in one transaction; commit or roll back as a whole.

        On SQLite the transaction starts with BEGIN IMMEDIATE, so a writer
        waits for the write lock up front instead of failing half-way.
        """
        outermost = not self.ds.in_transaction
        if outermost:
            self._end_implicit_transaction()
            self._immediate.on = True
        try:
            with self.ds:
                yield self
        finally:
            if outermost:
                self._immediate.on = False

    def write(self, work: Callable[[Database], T]) -> T:
        """Run ``work(self)`` in a transaction, retrying it on a deadlock."""
        for attempt in range(1, RETRIES + 1):
            try:
                with self.transaction():
                    return work(self)
            except OperationalError as error:
                if not self._is_retryable(error) or attempt == RETRIES:
                    raise
                log.warning(
                    "Transaction retried after %s (attempt %s)", error.orig, attempt
                )
                time.sleep(0.05 * attempt)
        raise AssertionError("unreachable")

    def release(self) -> None:
        """End this thread's implicit transaction and return its connection."""
        if self.ds.in_transaction:
            log.error("A transaction was left open; rolling it back")
            while self.ds.in_transaction:
                self.ds.rollback()
            return
        self._end_implicit_transaction()
        # NOTE: dataset 2.0 has no public call that returns one thread's
        # connection to the pool; this is the method its own commit uses.
        self.ds._release_connection()

    def prepare(self) -> list[int]:
        """Check the server and bring the schema up to date."""
        try:
            if self.is_mysql:
                self._check_mysql_charset()
            applied = schema.upgrade(self.conn)
        except OperationalError as error:
            raise DatabaseUnavailableError(self.safe_url, str(error.orig)) from error
        finally:
            self.release()
        return applied

    def close(self) -> None:
        """Close every connection and dispose of the engine."""
        self.ds.close()

    @property
    def safe_url(self) -> str:
        """Return the URL with any password hidden, for messages and logs."""
        return make_url(self.url).render_as_string(hide_password=True)

    def _end_implicit_transaction(self) -> None:
        conn = self.ds.connections.get(threading.get_ident())
        if conn is not None and conn.in_transaction():
            conn.commit()

    def _check_mysql_charset(self) -> None:
        row = self.conn.execute(
            text("SELECT DATABASE(), @@character_set_database")
        ).one()
        name, charset = row
        if name is None:
            raise DatabaseUnavailableError(self.safe_url, "the URL names no database")
        if charset != "utf8mb4":
            raise DatabaseCharsetError(name, charset)

    def _use_explicit_sqlite_transactions(self) -> None:
        # pysqlite's own BEGIN handling defers the write lock, so a read
        # followed by a write can fail with "database is locked" at once.
        # Take over BEGIN, as SQLAlchemy's pysqlite documentation shows.
        engine = self.ds.engine

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA busy_timeout = 15000")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            immediate = getattr(self._immediate, "on", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    @staticmethod
    def _is_retryable(error: DBAPIError) -> bool:
        code = error.orig.args[0] if error.orig and error.orig.args else None
        return code in (MYSQL_DEADLOCK, MYSQL_LOCK_WAIT_TIMEOUT)


def _with_utf8mb4(url: Any) -> Any:
    # utf8 (3-byte) would reject emoji and rare characters with error 1366.
    return url.update_query_dict({"charset": "utf8mb4"})


def _engine_kwargs(is_mysql: bool) -> dict[str, Any]:
    if not is_mysql:
        return {"pool_size": POOL_SIZE}
    return {
        "pool_size": POOL_SIZE,
        "pool_pre_ping": True,
        "pool_recycle": 3600,
        # READ COMMITTED: each statement reads what others have committed.
        "isolation_level": "READ COMMITTED",
        "connect_args": {
            "init_command": (
                "SET SESSION lock_wait_timeout = 20, innodb_lock_wait_timeout = 20"
            ),
        },
    }


SUPPORTED_BACKENDS = "sqlite:///FILE or mysql+pymysql://USER:PASSWORD@HOST/DB"


def connect(url: str) -> Database:
    """Open the database at ``url`` and bring its schema up to date."""
    try:
        db = Database(url)
    except (ArgumentError, ImportError) as error:
        # A misspelt URL, or a driver R9 CRM does not ship (mysql:// means
        # MySQLdb, postgresql:// means psycopg).
        raise DatabaseUnavailableError(
            _safe(url), f"use a URL of the form {SUPPORTED_BACKENDS} ({error})"
        ) from error
    db.prepare()
    return db


def _safe(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unreadable URL)"
