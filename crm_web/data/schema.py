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


# --- daily work: communication log, sales and service, appointments -------

comm_logs = Table(
    "comm_logs",
    metadata,
    *record_columns(),
    Column("contact_uuid", String(36), nullable=False),
    # When the exchange happened, in UTC.
    Column("occurred_at", DateTime, nullable=False),
    # phone | wechat | qq | whatsapp | email | visit | meeting | exhibition | other
    Column("channel", String(20), nullable=False),
    Column("title", String(200), nullable=False, default=""),
    Column("content", Text, nullable=False, default=""),
    # A local calendar date: the day to follow up, with no time of day.
    Column("follow_up_on", Date, nullable=True),
    Column("appointment_uuid", String(36), nullable=True),
    **MYSQL_TABLE,
)
Index("ix_comm_logs_occurred", comm_logs.c.deleted, comm_logs.c.occurred_at)
Index("ix_comm_logs_contact", comm_logs.c.contact_uuid, comm_logs.c.occurred_at)
Index("ix_comm_logs_follow_up", comm_logs.c.follow_up_on)

sales = Table(
    "sales",
    metadata,
    *record_columns(),
    Column("contact_uuid", String(36), nullable=True),
    # A local calendar date.
    Column("sold_on", Date, nullable=False),
    Column("item", String(200), nullable=False, default=""),
    Column("service_type", String(100), nullable=False, default=""),
    # Thousandths of a unit, so 2.5 kg is 2500: no quantity is ever stored as a float.
    Column("quantity_milli", BigInteger, nullable=False, default=0),
    # Money in the currency's minor units (cents, fen; yen have none).
    Column("unit_price_minor", BigInteger, nullable=False, default=0),
    Column("amount_minor", BigInteger, nullable=False, default=0),
    Column("currency", String(3), nullable=False, default="CNY"),
    # quoted | ordered | paid | shipped | after_sales | closed
    Column("status", String(20), nullable=False),
    Column("notes", Text, nullable=False, default=""),
    # Four fields whose labels the user sets in the settings.
    Column("custom1", String(200), nullable=False, default=""),
    Column("custom2", String(200), nullable=False, default=""),
    Column("custom3", String(200), nullable=False, default=""),
    Column("custom4", String(200), nullable=False, default=""),
    **MYSQL_TABLE,
)
Index("ix_sales_sold_on", sales.c.deleted, sales.c.sold_on)
Index("ix_sales_contact", sales.c.contact_uuid)
Index("ix_sales_item", sales.c.item)
Index("ix_sales_service_type", sales.c.service_type)
Index("ix_sales_status", sales.c.status)

# Values offered in the sales form's lists: kind is "item" or "service_type".
pick_lists = Table(
    "pick_lists",
    metadata,
    *record_columns(),
    Column("kind", String(20), nullable=False),
    Column("value", String(200), nullable=False),
    Column("sort_order", Integer, nullable=False, default=0),
    **MYSQL_TABLE,
)
Index("ix_pick_lists_kind", pick_lists.c.kind, pick_lists.c.value)

appointments = Table(
    "appointments",
    metadata,
    *record_columns(),
    Column("contact_uuid", String(36), nullable=True),
    Column("title", String(200), nullable=False),
    # Start and end in UTC; time_zone is the IANA zone the user entered them
    # in, which a repeating appointment's later occurrences keep.
    Column("starts_at", DateTime, nullable=False),
    Column("ends_at", DateTime, nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("location", String(200), nullable=False, default=""),
    Column("notes", Text, nullable=False, default=""),
    # planned | done | cancelled
    Column("status", String(20), nullable=False),
    Column("reminder_minutes", Integer, nullable=True),
    # none | daily | weekly | monthly; repeat_until is a local date, inclusive.
    Column("repeat", String(10), nullable=False, default="none"),
    Column("repeat_until", Date, nullable=True),
    **MYSQL_TABLE,
)
Index("ix_appointments_starts", appointments.c.deleted, appointments.c.starts_at)
Index("ix_appointments_status", appointments.c.status, appointments.c.repeat)
Index("ix_appointments_contact", appointments.c.contact_uuid)


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


def _create_daily_work_tables(conn: Connection) -> None:
    metadata.create_all(conn, tables=[comm_logs, sales, pick_lists, appointments])


# Covering indexes for the summaries and filters that otherwise read every
# row: a sales summary by contact took 64 ms on SQLite and 163 ms on MariaDB
# at 100,000 records, 26 and 114 ms with its index (bench/sales.py).
SUMMARY_INDEXES = (
    Index(
        "ix_sales_sum_contact",
        sales.c.deleted,
        sales.c.contact_uuid,
        sales.c.currency,
        sales.c.quantity_milli,
        sales.c.amount_minor,
    ),
    Index(
        "ix_sales_sum_item",
        sales.c.deleted,
        sales.c.item,
        sales.c.currency,
        sales.c.quantity_milli,
        sales.c.amount_minor,
    ),
    Index(
        "ix_comm_logs_channel",
        comm_logs.c.deleted,
        comm_logs.c.channel,
        comm_logs.c.occurred_at,
    ),
)


def _add_summary_indexes(conn: Connection) -> None:
    for index in SUMMARY_INDEXES:
        index.create(conn, checkfirst=True)


# Numbered upgrades, applied in order, each once. Append; never renumber.
UPGRADES: list[tuple[int, Callable[[Connection], None]]] = [
    (1, _create_initial_tables),
    (2, _create_daily_work_tables),
    (3, _add_summary_indexes),
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
