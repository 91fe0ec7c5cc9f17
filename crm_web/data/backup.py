"""Database copies for backup and restore.

A SQLite database is copied with the sqlite3 online backup API, which reads
a consistent snapshot while the app keeps running. A file copy of a live
database could catch a half-written page. A MySQL/MariaDB database is read
table by table inside one REPEATABLE READ transaction started WITH
CONSISTENT SNAPSHOT, so every table shows the same moment. An unbuffered
cursor streams the rows, so no table is held in memory.

Restores go through a staging SQLite file in the current schema: its rows
replace the live tables in one transaction on MySQL, and the file itself
replaces a live SQLite database through the backup API.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    create_engine,
    func,
    inspect,
    select,
)
from sqlalchemy import (
    table as table_clause,
)
from sqlalchemy.engine import make_url
from sqlalchemy.types import TypeEngine

from crm_web.data import schema
from crm_web.data.db import Database

BATCH_ROWS = 1000
# How long a copy waits for another connection's write lock, in seconds.
SQLITE_TIMEOUT = 30


@dataclass(frozen=True)
class ColumnSpec:
    """A column as a backup records it: name, portable kind and constraints."""

    name: str
    kind: str
    length: int | None = None
    nullable: bool = True
    primary_key: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "length": self.length,
            "nullable": self.nullable,
            "primary_key": self.primary_key,
        }


# Kinds of column a backup may contain, and the type each is created with.
KINDS: dict[str, type[TypeEngine[Any]]] = {
    "integer": Integer,
    "bigint": BigInteger,
    "boolean": Boolean,
    "string": String,
    "text": Text,
    "datetime": DateTime,
    "date": Date,
    "numeric": Numeric,
    "float": Float,
    "binary": LargeBinary,
}


def kind_of(column_type: TypeEngine[Any]) -> str:
    """Return the portable kind of a column type; raise for one we cannot copy."""
    # Order matters: Boolean, BigInteger, Text and Float are subclasses.
    checks: list[tuple[type[TypeEngine[Any]], str]] = [
        (Boolean, "boolean"),
        (DateTime, "datetime"),
        (Date, "date"),
        (BigInteger, "bigint"),
        (Integer, "integer"),
        (Text, "text"),
        (String, "string"),
        (Float, "float"),
        (Numeric, "numeric"),
        (LargeBinary, "binary"),
    ]
    for base, kind in checks:
        if isinstance(column_type, base):
            return kind
    raise TypeError(f"no backup kind for column type {column_type!r}")


def describe_tables(conn: Connection) -> dict[str, list[ColumnSpec]]:
    """Return the columns of every schema table the database has.

    Names, nullability and keys come from the database itself, so a database
    still in an older schema is described as it is. A column the schema
    declares takes the schema's kind: MySQL reflects a Boolean as TINYINT.
    """
    inspector = inspect(conn)
    existing = set(inspector.get_table_names())
    described = {}
    for table in schema.metadata.sorted_tables:
        if table.name not in existing:
            continue
        keys = set(inspector.get_pk_constraint(table.name)["constrained_columns"])
        specs = []
        for column in inspector.get_columns(table.name):
            name = column["name"]
            declared = table.c[name].type if name in table.c else column["type"]
            specs.append(
                ColumnSpec(
                    name=name,
                    kind=kind_of(declared),
                    length=getattr(declared, "length", None),
                    nullable=bool(column["nullable"]),
                    primary_key=name in keys,
                )
            )
        described[table.name] = specs
    return described


def table_from_specs(name: str, specs: list[ColumnSpec], metadata: MetaData) -> Table:
    """Build a table with the recorded columns, for reading or staging rows."""
    columns = []
    for spec in specs:
        kind = KINDS[spec.kind]
        column_type = kind(spec.length) if kind is String else kind()
        columns.append(
            Column(
                spec.name,
                column_type,
                primary_key=spec.primary_key,
                nullable=spec.nullable,
                autoincrement=False,
            )
        )
    return Table(name, metadata, *columns)


def stream_rows(conn: Connection, table: Table) -> Iterator[list[tuple[Any, ...]]]:
    """Yield the table's rows in batches, in primary-key order."""
    order = list(table.primary_key.columns) or list(table.columns)
    result = conn.execution_options(yield_per=BATCH_ROWS).execute(
        select(table).order_by(*order)
    )
    for batch in result.partitions(BATCH_ROWS):
        yield [tuple(row) for row in batch]


def insert_rows(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(table.insert(), rows)


def count_rows(conn: Connection, table_name: str) -> int:
    query = select(func.count()).select_from(table_clause(table_name))
    return int(conn.execute(query).scalar_one())


def get_schema_version(conn: Connection) -> int:
    """Return the highest schema upgrade applied, 0 for none."""
    if "schema_migrations" not in set(inspect(conn).get_table_names()):
        return 0
    version = conn.execute(select(func.max(schema.migrations.c.version))).scalar()
    return int(version or 0)


def advance_counter(conn: Connection, name: str, *, above: int) -> None:
    """Set counter ``name`` past both its own value and ``above``."""
    counters = schema.counters
    current = conn.execute(
        select(counters.c.value).where(counters.c.name == name)
    ).scalar_one_or_none()
    value = max(int(current or 0), above) + 1
    if current is None:
        conn.execute(counters.insert().values(name=name, value=value))
    else:
        conn.execute(
            counters.update().where(counters.c.name == name).values(value=value)
        )


def copy_rows(source: Connection, target: Connection) -> dict[str, int]:
    """Replace the rows of every schema table in ``target`` with ``source``'s.

    Both must have the current schema. The caller owns the transaction.
    """
    for table in reversed(schema.metadata.sorted_tables):
        target.execute(table.delete())
    counts = {}
    for table in schema.metadata.sorted_tables:
        names = [column.name for column in table.columns]
        copied = 0
        for batch in stream_rows(source, table):
            insert_rows(
                target, table, [dict(zip(names, row, strict=True)) for row in batch]
            )
            copied += len(batch)
        counts[table.name] = copied
    return counts


def replace_mysql_rows(db: Database, source: Connection) -> dict[str, int]:
    """Replace every schema table's rows in the live database, in one transaction."""
    return db.write(lambda db: copy_rows(source, db.conn))


@contextmanager
def mysql_snapshot(db: Database) -> Iterator[Connection]:
    """Yield a connection reading one consistent snapshot of the database."""
    engine = db.ds.engine
    assert engine is not None, "database is closed"
    with engine.connect() as conn:
        snapshot = conn.execution_options(isolation_level="REPEATABLE READ")
        snapshot.exec_driver_sql(
            "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"
        )
        try:
            yield snapshot
        finally:
            snapshot.rollback()


@contextmanager
def open_sqlite(path: Path) -> Iterator[Connection]:
    """Yield a connection to a SQLite file that is not the live database."""
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def sqlite_path(db: Database) -> Path:
    """Return the file of a SQLite database."""
    name = make_url(db.url).database
    if not name or name == ":memory:":
        raise ValueError(f"{db.safe_url} is not a SQLite file")
    return Path(name)


def copy_sqlite(db: Database, target: Path) -> None:
    """Copy the live SQLite database into the new file ``target``."""
    with (
        closing(sqlite3.connect(sqlite_path(db), timeout=SQLITE_TIMEOUT)) as live,
        closing(sqlite3.connect(target)) as copy,
    ):
        live.backup(copy)
        # The copy is one self-contained file, not in WAL mode.
        copy.execute("PRAGMA journal_mode = DELETE")


def check_sqlite_file(path: Path) -> None:
    """Check a SQLite file's integrity; raise sqlite3.DatabaseError if damaged."""
    with closing(sqlite3.connect(path)) as conn:
        problems = [row[0] for row in conn.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            raise sqlite3.DatabaseError("; ".join(problems[:3]))
        conn.execute("PRAGMA journal_mode = DELETE")


def replace_sqlite(db: Database, source: Path) -> None:
    """Replace the live SQLite database's content with the file ``source``.

    The backup API copies every page in one write transaction of the live
    file, so other connections see the old or the new database, never a mix.
    """
    live_path = sqlite_path(db)
    db.release()
    with (
        closing(sqlite3.connect(live_path, timeout=SQLITE_TIMEOUT)) as live,
        closing(sqlite3.connect(source)) as staged,
    ):
        _match_page_size(staged, live)
        staged.backup(live)


def _match_page_size(staged: sqlite3.Connection, live: sqlite3.Connection) -> None:
    # A WAL database only accepts a backup from a file of its own page size;
    # SQLite before 3.12 made 1,024-byte pages, later versions 4,096.
    expected = live.execute("PRAGMA page_size").fetchone()[0]
    if staged.execute("PRAGMA page_size").fetchone()[0] != expected:
        staged.execute(f"PRAGMA page_size = {int(expected)}")
        staged.execute("VACUUM")
