"""Tables, column types and indexes, with numbered upgrades.

Every table is declared here with explicit types so that SQLite and MySQL
get the same schema, and so that no column is ever guessed from data.
``upgrade`` runs at start-up, before any request is served: on MySQL a
reader holding a table would otherwise block DDL until a lock timeout.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    select,
)

log = logging.getLogger(__name__)

metadata = MetaData()

# MySQL: utf8mb4 keeps emoji and rare characters; the binary collation makes
# comparisons, GROUP BY and unique keys behave as on SQLite (case-sensitive,
# trailing spaces significant). Case-insensitive matching is done on our own
# normalised columns instead.
MYSQL_TABLE: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}


def record_columns() -> list[Column]:
    """Return the columns every shareable record carries."""
    return [
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("uuid", String(36), nullable=False, unique=True),
        Column("created_at", DateTime, nullable=False),
        Column("updated_at", DateTime, nullable=False),
        Column("version", Integer, nullable=False, default=1),
        Column("owner", String(64), nullable=False, default=""),
        Column("deleted", Boolean, nullable=False, default=False),
        Column("deleted_at", DateTime, nullable=True),
    ]


migrations = Table(
    "schema_migrations",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", DateTime, nullable=False),
    **MYSQL_TABLE,
)

counters = Table(
    "counters",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False, default=0),
    **MYSQL_TABLE,
)

preferences = Table(
    "preferences",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    **MYSQL_TABLE,
)

categories = Table(
    "categories",
    metadata,
    *record_columns(),
    Column("name", String(100), nullable=False),
    Column("sort_order", Integer, nullable=False, default=0),
    Column("revision", BigInteger, nullable=False, default=0),
    **MYSQL_TABLE,
)

contacts = Table(
    "contacts",
    metadata,
    *record_columns(),
    Column("name", String(200), nullable=False, default=""),
    Column("company", String(200), nullable=False, default=""),
    Column("job_title", String(100), nullable=False, default=""),
    Column("category_uuid", String(36), nullable=True),
    Column("mobile", String(64), nullable=False, default=""),
    Column("phone", String(64), nullable=False, default=""),
    Column("email", String(254), nullable=False, default=""),
    Column("wechat", String(100), nullable=False, default=""),
    Column("qq", String(32), nullable=False, default=""),
    Column("whatsapp", String(64), nullable=False, default=""),
    Column("skype", String(100), nullable=False, default=""),
    Column("country", String(100), nullable=False, default=""),
    Column("province", String(100), nullable=False, default=""),
    Column("city", String(100), nullable=False, default=""),
    Column("address", Text, nullable=False, default=""),
    Column("postcode", String(32), nullable=False, default=""),
    Column("website", String(500), nullable=False, default=""),
    Column("source", String(100), nullable=False, default=""),
    Column("level", String(50), nullable=False, default=""),
    Column("birthday", Date, nullable=True),
    Column("notes", Text, nullable=False, default=""),
    Column("tags", String(500), nullable=False, default=""),
    # JSON object of the user's own fields: label -> text.
    Column("extra", Text, nullable=False, default="{}"),
    # Derived columns, rewritten on every save by the contacts service.
    Column("name_sort", String(400), nullable=False, default=""),
    Column("company_sort", String(400), nullable=False, default=""),
    Column("mobile_norm", String(32), nullable=False, default=""),
    Column("phone_norm", String(32), nullable=False, default=""),
    Column("email_norm", String(254), nullable=False, default=""),
    Column("search_text", Text, nullable=False, default=""),
    # Value of the "contacts" counter when the row last changed; the search
    # index reloads rows whose revision is newer than what it holds.
    Column("revision", BigInteger, nullable=False, default=0),
    Column("import_uuid", String(36), nullable=True),
    Column("merged_into", String(36), nullable=True),
    **MYSQL_TABLE,
)
Index("ix_contacts_name_sort", contacts.c.deleted, contacts.c.name_sort)
Index("ix_contacts_mobile_norm", contacts.c.mobile_norm)
Index("ix_contacts_phone_norm", contacts.c.phone_norm)
Index("ix_contacts_email_norm", contacts.c.email_norm)
Index("ix_contacts_category", contacts.c.category_uuid)
Index("ix_contacts_revision", contacts.c.revision)
Index("ix_contacts_import", contacts.c.import_uuid)

saved_views = Table(
    "saved_views",
    metadata,
    *record_columns(),
    Column("name", String(100), nullable=False),
    # JSON object: query text and filter values.
    Column("params", Text, nullable=False, default="{}"),
    **MYSQL_TABLE,
)

imports = Table(
    "imports",
    metadata,
    *record_columns(),
    Column("filename", String(255), nullable=False),
    Column("file_kind", String(16), nullable=False),
    Column("policy", String(16), nullable=False),
    Column("status", String(16), nullable=False),  # done | undone
    Column("inserted", Integer, nullable=False, default=0),
    Column("updated", Integer, nullable=False, default=0),
    Column("skipped", Integer, nullable=False, default=0),
    Column("rejected", Integer, nullable=False, default=0),
    # File name, inside the data folder's work area, of the rejected rows.
    Column("rejected_file", String(255), nullable=True),
    **MYSQL_TABLE,
)

import_changes = Table(
    "import_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("import_uuid", String(36), nullable=False),
    Column("contact_uuid", String(36), nullable=False),
    Column("action", String(16), nullable=False),  # inserted | updated
    # JSON object of the fields an update changed, with their old values.
    Column("before", Text, nullable=True),
    **MYSQL_TABLE,
)
Index("ix_import_changes_import", import_changes.c.import_uuid)


def _create_initial_tables(conn: Connection) -> None:
    metadata.create_all(
        conn,
        tables=[
            counters,
            preferences,
            categories,
            contacts,
            saved_views,
            imports,
            import_changes,
        ],
    )
    conn.execute(
        counters.insert(),
        [
            {"name": "contacts", "value": 0},
            {"name": "contacts_purged", "value": 0},
            {"name": "categories", "value": 0},
        ],
    )


# Numbered upgrades, applied in order, each once. Append; never renumber.
UPGRADES: list[tuple[int, Callable[[Connection], None]]] = [
    (1, _create_initial_tables),
]

LATEST_VERSION = UPGRADES[-1][0]


def upgrade(conn: Connection) -> list[int]:
    """Bring the schema to the latest version; return the versions applied."""
    migrations.create(conn, checkfirst=True)
    conn.commit()
    done = set(conn.execute(select(migrations.c.version)).scalars())
    applied = []
    for version, step in UPGRADES:
        if version in done:
            continue
        step(conn)
        conn.execute(migrations.insert().values(version=version, applied_at=utcnow()))
        conn.commit()
        applied.append(version)
        log.info("Schema upgraded to version %s", version)
    return applied


def table_names(conn: Connection) -> set[str]:
    """Return the names of the tables that exist in the database."""
    return set(inspect(conn).get_table_names())


def utcnow() -> datetime:
    """Return the current UTC time as a naive datetime, as stored."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)
