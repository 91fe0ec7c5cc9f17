"""Tables, column types and indexes, with numbered upgrades.

Every table is declared here with explicit types so that SQLite and MySQL
get the same schema, and so that no column is ever guessed from data.
``upgrade`` runs at start-up, before any request is served: on MySQL a
reader holding a table would otherwise block DDL until a lock timeout.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from babel.numbers import get_currency_precision
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
    bindparam,
    inspect,
    select,
    text,
)
from sqlalchemy.dialects.mysql import MEDIUMTEXT

log = logging.getLogger(__name__)

# A stored currency code that may be written into the upgrade's SQL.
_CURRENCY_CODE = re.compile(r"[A-Z]{3}")

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
    Column(
        "follow_up_done", Boolean, nullable=False, default=False, server_default="0"
    ),
    Column("appointment_uuid", String(36), nullable=True),
    # Folded title and content, rewritten on every save by the log service.
    # MEDIUMTEXT on MySQL: folding can make it longer than TEXT's 65,535 bytes.
    Column(
        "search_text",
        Text().with_variant(MEDIUMTEXT(), "mysql", "mariadb"),
        nullable=False,
        default="",
    ),
    # Value of the "comm_logs" counter when the row last changed.
    Column("revision", BigInteger, nullable=False, default=0, server_default="0"),
    **MYSQL_TABLE,
)
COMM_LOGS_REVISION_INDEX = Index("ix_comm_logs_revision", comm_logs.c.revision)
Index("ix_comm_logs_occurred", comm_logs.c.deleted, comm_logs.c.occurred_at)
Index("ix_comm_logs_contact", comm_logs.c.contact_uuid, comm_logs.c.occurred_at)
Index("ix_comm_logs_follow_up", comm_logs.c.follow_up_on)
# Serves the home page's due follow-ups without reading the done ones.
FOLLOW_UP_OPEN_INDEX = Index(
    "ix_comm_logs_follow_up_open",
    comm_logs.c.deleted,
    comm_logs.c.follow_up_done,
    comm_logs.c.follow_up_on,
)

sales = Table(
    "sales",
    metadata,
    *record_columns(),
    Column("contact_uuid", String(36), nullable=True),
    # A local calendar date.
    Column("sold_on", Date, nullable=False),
    Column("item", String(200), nullable=False, default=""),
    Column("service_type", String(100), nullable=False, default=""),
    # Thousandths of a unit, so 2.5 kg is 2500: no quantity is ever stored as
    # a float. NULL when left blank, as are the unit price and the amount.
    Column("quantity_milli", BigInteger, nullable=True),
    # Millionths of the currency unit in every currency, so US$0.035 is 35000.
    Column("unit_price_micro", BigInteger, nullable=True),
    # Money in the currency's minor units (cents, fen; yen have none).
    Column("amount_minor", BigInteger, nullable=True),
    Column("currency", String(3), nullable=False, default="CNY"),
    # quoted | ordered | paid | shipped | after_sales | closed
    Column("status", String(20), nullable=False),
    Column("notes", Text, nullable=False, default=""),
    # Four fields whose labels the user sets in the settings.
    Column("custom1", String(200), nullable=False, default=""),
    Column("custom2", String(200), nullable=False, default=""),
    Column("custom3", String(200), nullable=False, default=""),
    Column("custom4", String(200), nullable=False, default=""),
    # Value of the "sales" counter when the row last changed: the sync
    # sends and fetches rows by it, as the search index does for contacts.
    Column("revision", BigInteger, nullable=False, default=0, server_default="0"),
    **MYSQL_TABLE,
)
SALES_REVISION_INDEX = Index("ix_sales_revision", sales.c.revision)
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

# One occurrence of a repeating appointment that the user changed on its own.
appointment_occurrences = Table(
    "appointment_occurrences",
    metadata,
    *record_columns(),
    Column("appointment_uuid", String(36), nullable=False),
    # The occurrence's start in UTC as the series computes it. It stays the
    # key when the occurrence is moved.
    Column("original_starts_at", DateTime, nullable=False),
    # planned | done | cancelled, or NULL to follow the series' status.
    Column("status", String(20), nullable=True),
    # The moved start and end in UTC, or NULL to keep the series' times.
    Column("starts_at", DateTime, nullable=True),
    Column("ends_at", DateTime, nullable=True),
    **MYSQL_TABLE,
)
Index(
    "ux_appointment_occurrences_key",
    appointment_occurrences.c.appointment_uuid,
    appointment_occurrences.c.original_starts_at,
    unique=True,
)


# --- users, sign-in and the audit log -----------------------------------

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("uuid", String(36), nullable=False, unique=True),
    # The sign-in name, also written as the owner of the records they create.
    Column("name", String(64), nullable=False, unique=True),
    # A bcrypt hash, or "" for no password (Admin's state after installing).
    Column("password_hash", String(100), nullable=False, default=""),
    Column("role", String(10), nullable=False),  # admin | user
    Column("disabled", Boolean, nullable=False, default=False),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("last_failed_at", DateTime, nullable=True),
    Column("locked_until", DateTime, nullable=True),
    Column("last_login_at", DateTime, nullable=True),
    # Sessions signed in before this moment are over: set on signing out
    # and on disabling, so a copied cookie cannot be used again.
    Column("sessions_valid_after", DateTime, nullable=True),
    # What a network user may do through a shared server: send changes,
    # fetch records, change records others shared with them.
    Column("may_upload", Boolean, nullable=False, default=True, server_default="1"),
    Column("may_download", Boolean, nullable=False, default=True, server_default="1"),
    Column(
        "may_edit_shared", Boolean, nullable=False, default=True, server_default="1"
    ),
    # JSON list of category uuids whose shared contacts the user receives;
    # "" for every category. Their own records always reach them.
    Column("categories", Text, nullable=False, default=""),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    **MYSQL_TABLE,
)

# Shares of records with users: user is a user name, or "*" for everyone.
record_shares = Table(
    "record_shares",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_uuid", String(36), nullable=False),
    Column("user", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    **MYSQL_TABLE,
)
Index("ix_record_shares_user", record_shares.c.user, record_shares.c.record_uuid)
Index(
    "ix_record_shares_record",
    record_shares.c.record_uuid,
    record_shares.c.user,
    unique=True,
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False),  # UTC
    Column("user", String(64), nullable=False, default=""),
    # login | login_failed | logout | locked | user_* | share | import |
    # export | delete | ...
    Column("action", String(40), nullable=False),
    Column("target", String(200), nullable=False, default=""),
    Column("detail", Text, nullable=False, default=""),
    Column("address", String(45), nullable=False, default=""),
    **MYSQL_TABLE,
)
Index("ix_audit_log_at", audit_log.c.at)
Index("ix_audit_log_user", audit_log.c.user, audit_log.c.at)
Index("ix_audit_log_action", audit_log.c.action, audit_log.c.at)


def _create_user_tables(conn: Connection) -> None:
    """Create users, shares and the audit log, with Admin and no password."""
    metadata.create_all(conn, tables=[users, record_shares, audit_log])
    if conn.execute(select(users.c.id).limit(1)).first() is None:
        now = utcnow()
        conn.execute(
            users.insert().values(
                uuid=str(uuid.uuid4()),
                name="Admin",
                password_hash="",
                role="admin",
                disabled=False,
                failed_logins=0,
                created_at=now,
                updated_at=now,
            )
        )


# --- account vault ---------------------------------------------------------

# One vault per user, keyed by owner. Its entries are encrypted with Fernet
# under a key derived from the vault's own master password.
vaults = Table(
    "vaults",
    metadata,
    *record_columns(),
    # JSON object naming the key derivation and its cost, such as
    # {"name": "scrypt", "n": 131072, "r": 8, "p": 1}.
    Column("kdf", String(200), nullable=False),
    # The key derivation's random salt, base64.
    Column("salt", String(64), nullable=False),
    # A known text encrypted under the derived key: decrypting it checks a
    # master password without reading any entry.
    Column("verifier", Text, nullable=False),
    **MYSQL_TABLE,
)
Index("ix_vaults_owner", vaults.c.owner, unique=True)

vault_entries = Table(
    "vault_entries",
    metadata,
    *record_columns(),
    Column("vault_uuid", String(36), nullable=False),
    # Plain text, so the list can be filtered and sorted: kind and title only.
    # qq | wechat | taobao | alipay | email | website | membership |
    # bank_card | other
    Column("kind", String(20), nullable=False),
    Column("title", String(200), nullable=False),
    Column("contact_uuid", String(36), nullable=True),
    # Fernet token of a JSON object: account name, password, card number,
    # expiry and notes. MEDIUMTEXT on MySQL, because 10,000 characters of
    # notes can outgrow TEXT's 64 KiB once escaped, encrypted and base64-coded.
    Column(
        "secret",
        Text().with_variant(MEDIUMTEXT(), "mysql", "mariadb"),
        nullable=False,
    ),
    **MYSQL_TABLE,
)
Index("ix_vault_entries_vault", vault_entries.c.vault_uuid, vault_entries.c.deleted)


def _create_vault_tables(conn: Connection) -> None:
    # checkfirst: running it on a database that has the tables changes nothing.
    metadata.create_all(conn, tables=[vaults, vault_entries], checkfirst=True)


# --- file repository --------------------------------------------------------

# A file's content is stored once, in the data folder's files area under its
# SHA-256; each row here is one name for it with its own metadata.
files = Table(
    "files",
    metadata,
    *record_columns(),
    # The name shown and offered on download; never used as a path.
    Column("name", String(255), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("category", String(100), nullable=False, default=""),
    Column("tags", String(500), nullable=False, default=""),
    Column("notes", Text, nullable=False, default=""),
    # Folded name, category, tags and notes, rewritten on every save.
    Column("search_text", Text, nullable=False, default=""),
    **MYSQL_TABLE,
)
Index("ix_files_created", files.c.deleted, files.c.created_at)
Index("ix_files_sha256", files.c.sha256)

# Files attached to contacts and log entries; detaching sets deleted.
file_links = Table(
    "file_links",
    metadata,
    *record_columns(),
    Column("file_uuid", String(36), nullable=False),
    Column("target_kind", String(10), nullable=False),  # contact | log
    Column("target_uuid", String(36), nullable=False),
    **MYSQL_TABLE,
)
Index(
    "ix_file_links_pair",
    file_links.c.file_uuid,
    file_links.c.target_kind,
    file_links.c.target_uuid,
    unique=True,
)
Index("ix_file_links_target", file_links.c.target_kind, file_links.c.target_uuid)


def _create_file_tables(conn: Connection) -> None:
    # checkfirst: the tables may exist already, so running it again is safe.
    metadata.create_all(conn, tables=[files, file_links], checkfirst=True)


# --- synchronisation with a shared server -----------------------------------

# Per record that has been sent to or fetched from the shared server: the
# server's version and this database's revision at that moment. A record
# whose revision or server version moved on since has changed on that side.
sync_state = Table(
    "sync_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_uuid", String(36), nullable=False, unique=True),
    Column("table_name", String(20), nullable=False),
    Column("server_version", Integer, nullable=False),
    Column("local_revision", BigInteger, nullable=False),
    # The network user who owns the record on the server.
    Column("server_owner", String(64), nullable=False, default=""),
    Column("synced_at", DateTime, nullable=False),
    **MYSQL_TABLE,
)

_LONG_TEXT = Text().with_variant(MEDIUMTEXT(), "mysql", "mariadb")

# Records changed on both sides: both versions as JSON objects of columns,
# kept until the user picks what stays. Neither side is overwritten before.
sync_conflicts = Table(
    "sync_conflicts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_uuid", String(36), nullable=False),
    Column("table_name", String(20), nullable=False),
    # edited | deleted_here | deleted_there | rejected
    Column("kind", String(20), nullable=False),
    Column("mine", _LONG_TEXT, nullable=False),
    Column("theirs", _LONG_TEXT, nullable=False),
    Column("server_version", Integer, nullable=False),
    Column("detected_at", DateTime, nullable=False),
    Column("resolved_at", DateTime, nullable=True),
    # mine | theirs | merged
    Column("resolution", String(10), nullable=False, default=""),
    **MYSQL_TABLE,
)
Index("ix_sync_conflicts_open", sync_conflicts.c.resolved_at, sync_conflicts.c.id)
Index("ix_sync_conflicts_record", sync_conflicts.c.record_uuid)

sync_history = Table(
    "sync_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime, nullable=True),
    Column("direction", String(10), nullable=False),  # upload | download
    Column("network_user", String(64), nullable=False, default=""),
    Column("sent", Integer, nullable=False, default=0),
    Column("received", Integer, nullable=False, default=0),
    Column("conflicts", Integer, nullable=False, default=0),
    Column("rejected", Integer, nullable=False, default=0),
    # running | done | failed
    Column("status", String(10), nullable=False),
    Column("message", Text, nullable=False, default=""),
    **MYSQL_TABLE,
)
Index("ix_sync_history_started", sync_history.c.started_at)


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


def _sales_blank_numbers_and_micro_prices(conn: Connection) -> None:
    """Let quantity, unit price and amount be NULL; store prices in millionths.

    Existing unit prices are converted from the currency's minor units,
    using the same CLDR decimal digits the app used to store them, and
    every other value is copied unchanged. A database created since these
    columns changed already has them, so each step checks first.
    """
    columns = {c["name"]: c for c in inspect(conn).get_columns("sales")}
    if "unit_price_minor" not in columns and all(
        columns[name]["nullable"] for name in ("quantity_milli", "amount_minor")
    ):
        return
    if conn.dialect.name == "sqlite":
        _rebuild_sqlite_sales(conn, set(columns))
    else:
        _alter_mysql_sales(conn, set(columns))


def _micro_per_minor(conn: Connection) -> str:
    """Return SQL giving a row's unit_price_minor in millionths of its currency."""
    stored = conn.execute(text("SELECT DISTINCT currency FROM sales")).scalars()
    cases = []
    for code in sorted(stored):
        digits = int(get_currency_precision(code))
        if digits != 2 and _CURRENCY_CODE.fullmatch(code):
            cases.append(f"WHEN '{code}' THEN {10 ** (6 - digits)}")
    scale = f"CASE currency {' '.join(cases)} ELSE 10000 END" if cases else "10000"
    return f"unit_price_minor * {scale}"


def _rebuild_sqlite_sales(conn: Connection, old_columns: set[str]) -> None:
    # SQLite cannot drop NOT NULL from a column: copy into a new table.
    price = _micro_per_minor(conn) if "unit_price_minor" in old_columns else ""
    for index in inspect(conn).get_indexes("sales"):
        conn.execute(text(f'DROP INDEX IF EXISTS "{index["name"]}"'))
    conn.execute(text("ALTER TABLE sales RENAME TO sales_before_upgrade"))
    sales.create(conn)
    kept = [c.name for c in sales.columns if c.name in old_columns]
    names = ", ".join(f'"{name}"' for name in kept)
    if price:
        target = f'{names}, "unit_price_micro"'
        source = f"{names}, {price}"
    else:
        target = source = names
    conn.execute(
        text(f"INSERT INTO sales ({target}) SELECT {source} FROM sales_before_upgrade")
    )
    conn.execute(text("DROP TABLE sales_before_upgrade"))


def _alter_mysql_sales(conn: Connection, old_columns: set[str]) -> None:
    conn.execute(
        text(
            "ALTER TABLE sales MODIFY quantity_milli BIGINT NULL, "
            "MODIFY amount_minor BIGINT NULL"
        )
    )
    if "unit_price_micro" not in old_columns:
        conn.execute(
            text(
                "ALTER TABLE sales ADD COLUMN unit_price_micro BIGINT NULL "
                "AFTER quantity_milli"
            )
        )
    if "unit_price_minor" in old_columns:
        conn.execute(
            text(f"UPDATE sales SET unit_price_micro = {_micro_per_minor(conn)}")
        )
        conn.execute(text("ALTER TABLE sales DROP COLUMN unit_price_minor"))


def _comm_log_follow_up_done_and_search_text(conn: Connection) -> None:
    """Add the follow-up done flag and the folded search text to the log.

    Existing entries get "not done" and their search text computed from
    their title and content. A database created since these columns were
    added already has them, so each step checks first.
    """
    present = {c["name"] for c in inspect(conn).get_columns("comm_logs")}
    for column in (comm_logs.c.follow_up_done, comm_logs.c.search_text):
        if column.name not in present:
            _add_comm_log_column(conn, column)
    FOLLOW_UP_OPEN_INDEX.create(conn, checkfirst=True)
    _fill_comm_log_search_text(conn)


def _add_comm_log_column(conn: Connection, column: Column) -> None:
    column_type = column.type.compile(dialect=conn.dialect)
    # SQLite adds a NOT NULL column only with a default. MySQL takes none on
    # a TEXT column before 8.0.13 and fills existing rows with '' anyway.
    if column.name == "follow_up_done":
        default = " DEFAULT 0"
    else:
        default = " DEFAULT ''" if conn.dialect.name == "sqlite" else ""
    conn.execute(
        text(
            f"ALTER TABLE comm_logs ADD COLUMN {column.name} {column_type} "
            f"NOT NULL{default}"
        )
    )


def _fill_comm_log_search_text(conn: Connection, chunk: int = 1000) -> None:
    """Compute the search text of every entry that has none, by id order."""
    # The folding rules live with the log service, which imports this
    # module, so the import waits until the upgrade runs.
    from crm_web.services.comm_log import search_text_of

    entry = comm_logs.c
    last_id = 0
    while True:
        rows = conn.execute(
            select(entry.id, entry.title, entry.content)
            .where(entry.id > last_id, entry.search_text == "")
            .order_by(entry.id)
            .limit(chunk)
        ).all()
        if not rows:
            return
        conn.execute(
            comm_logs.update()
            .where(entry.id == bindparam("row_id"))
            .values(search_text=bindparam("folded")),
            [
                {"row_id": row.id, "folded": search_text_of(row.title, row.content)}
                for row in rows
            ],
        )
        last_id = rows[-1].id


def _create_appointment_occurrences(conn: Connection) -> None:
    # MySQL commits DDL at once, so a run that stopped before it recorded
    # this version has left the table behind.
    appointment_occurrences.create(conn, checkfirst=True)


def _add_session_cut_off(conn: Connection) -> None:
    """Add users.sessions_valid_after, unless the table was made with it."""
    present = {c["name"] for c in inspect(conn).get_columns("users")}
    if "sessions_valid_after" in present:
        return
    column = users.c.sessions_valid_after
    kind = column.type.compile(dialect=conn.dialect)
    conn.execute(text(f"ALTER TABLE users ADD COLUMN sessions_valid_after {kind} NULL"))


def _prepare_sync(conn: Connection) -> None:
    """Add the sync revision of sales and log entries, user rights, sync tables.

    Existing rows get revision 0; databases created since these columns
    were added already have them, so each step checks first.
    """
    for table in (sales, comm_logs):
        present = {c["name"] for c in inspect(conn).get_columns(table.name)}
        if "revision" not in present:
            conn.execute(
                text(
                    f"ALTER TABLE {table.name} ADD COLUMN revision BIGINT "
                    "NOT NULL DEFAULT 0"
                )
            )
    SALES_REVISION_INDEX.create(conn, checkfirst=True)
    COMM_LOGS_REVISION_INDEX.create(conn, checkfirst=True)
    _add_user_rights(conn)
    metadata.create_all(
        conn, tables=[sync_state, sync_conflicts, sync_history], checkfirst=True
    )
    present_counters = set(conn.execute(select(counters.c.name)).scalars())
    for name in ("sales", "comm_logs"):
        if name not in present_counters:
            conn.execute(counters.insert().values(name=name, value=0))


def _add_user_rights(conn: Connection) -> None:
    present = {c["name"] for c in inspect(conn).get_columns("users")}
    for name in ("may_upload", "may_download", "may_edit_shared"):
        if name not in present:
            conn.execute(
                text(f"ALTER TABLE users ADD COLUMN {name} BOOLEAN NOT NULL DEFAULT 1")
            )
    if "categories" not in present:
        # MySQL before 8.0.13 takes no default on TEXT and fills in '' anyway.
        default = " DEFAULT ''" if conn.dialect.name == "sqlite" else ""
        conn.execute(
            text(f"ALTER TABLE users ADD COLUMN categories TEXT NOT NULL{default}")
        )


def _pad_sqlite_datetimes(conn: Connection) -> None:
    """Give every SQLite datetime the microseconds SQLAlchemy writes and reads.

    Bulk inserts stored "2026-12-04 00:00:00" where SQLAlchemy stores
    "2026-12-04 00:00:00.000000"; SQLite compares them as text, so such rows
    fell outside filters starting at their own second. MySQL stores real
    DATETIME values and needs nothing.
    """
    if conn.dialect.name != "sqlite":
        return
    present = table_names(conn)
    for table in metadata.sorted_tables:
        if table.name not in present:
            continue
        for column in table.c:
            if isinstance(column.type, DateTime):
                conn.execute(
                    text(
                        f"UPDATE {table.name} SET {column.name} = "
                        f"{column.name} || '.000000' "
                        f"WHERE length({column.name}) = 19"
                    )
                )


# Numbered upgrades, applied in order, each once. Append; never renumber.
UPGRADES: list[tuple[int, Callable[[Connection], None]]] = [
    (1, _create_initial_tables),
    (2, _create_daily_work_tables),
    (3, _add_summary_indexes),
    (4, _sales_blank_numbers_and_micro_prices),
    (5, _comm_log_follow_up_done_and_search_text),
    (6, _create_appointment_occurrences),
    (7, _create_user_tables),
    (8, _create_vault_tables),
    (9, _create_file_tables),
    (10, _add_session_cut_off),
    (11, _prepare_sync),
    (12, _pad_sqlite_datetimes),
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
