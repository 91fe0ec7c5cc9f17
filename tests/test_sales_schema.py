"""Schema upgrade 4 of the sales table, from its old shape, on both backends.

Before upgrade 4, quantity and amount could not be NULL and unit prices
were stored in the currency's minor units (``unit_price_minor``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    inspect,
)

from crm_web.data import schema
from crm_web.data.db import Database, connect
from crm_web.services import sales as sale_service


def old_sales_table() -> Table:
    """Return the sales table as schema versions 2 and 3 created it."""
    old = MetaData()
    table = Table(
        "sales",
        old,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("uuid", String(36), nullable=False, unique=True),
        Column("created_at", DateTime, nullable=False),
        Column("updated_at", DateTime, nullable=False),
        Column("version", Integer, nullable=False, default=1),
        Column("owner", String(64), nullable=False, default=""),
        Column("deleted", Boolean, nullable=False, default=False),
        Column("deleted_at", DateTime, nullable=True),
        Column("contact_uuid", String(36), nullable=True),
        Column("sold_on", Date, nullable=False),
        Column("item", String(200), nullable=False, default=""),
        Column("service_type", String(100), nullable=False, default=""),
        Column("quantity_milli", BigInteger, nullable=False, default=0),
        Column("unit_price_minor", BigInteger, nullable=False, default=0),
        Column("amount_minor", BigInteger, nullable=False, default=0),
        Column("currency", String(3), nullable=False, default="CNY"),
        Column("status", String(20), nullable=False),
        Column("notes", Text, nullable=False, default=""),
        *(
            Column(f"custom{n}", String(200), nullable=False, default="")
            for n in range(1, 5)
        ),
        **schema.MYSQL_TABLE,
    )
    c = table.c
    Index("ix_sales_sold_on", c.deleted, c.sold_on)
    Index("ix_sales_contact", c.contact_uuid)
    Index("ix_sales_item", c.item)
    Index(
        "ix_sales_sum_contact",
        c.deleted,
        c.contact_uuid,
        c.currency,
        c.quantity_milli,
        c.amount_minor,
    )
    return table


# currency, quantity_milli, unit_price_minor, amount_minor, expected micro
OLD_ROWS = [
    ("CNY", 2500, 1999, 4998, 19_990_000),
    ("USD", 0, 0, 12000, 0),
    ("JPY", 3000, 1500, 4500, 1_500_000_000),
    ("KWD", 1000, 1234, 1234, 1_234_000),
    ("EUR", -1000, 5, -5, 50_000),
]


def make_old_database(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Create a version-3 database whose sales table has the old shape."""
    monkeypatch.setattr(schema, "UPGRADES", schema.UPGRADES[:3])
    database = connect(url)
    table = old_sales_table()
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    conn = database.conn
    schema.sales.drop(conn)
    table.create(conn)
    conn.execute(
        table.insert(),
        [
            {
                "uuid": f"00000000-0000-0000-0000-00000000000{number}",
                "created_at": now,
                "updated_at": now,
                "version": 1,
                "owner": "Old",
                "deleted": False,
                "sold_on": date(2025, 1, number + 1),
                "item": f"item {number}",
                "quantity_milli": quantity,
                "unit_price_minor": price,
                "amount_minor": amount,
                "currency": currency,
                "status": "paid",
                "notes": "kept",
            }
            for number, (currency, quantity, price, amount, _) in enumerate(OLD_ROWS)
        ],
    )
    conn.commit()
    database.close()
    monkeypatch.undo()


def columns_of(url: str) -> dict[str, dict[str, Any]]:
    engine = create_engine(url)
    try:
        return {c["name"]: c for c in inspect(engine).get_columns("sales")}
    finally:
        engine.dispose()


def index_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return {i["name"] for i in inspect(engine).get_indexes("sales")}
    finally:
        engine.dispose()


def stored_rows(database: Database) -> list[dict[str, Any]]:
    return database.query(
        "SELECT item, quantity_milli, unit_price_micro, amount_minor, currency, "
        "notes, owner FROM sales ORDER BY sold_on"
    )


def test_upgrade_converts_prices_and_keeps_rows(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_old_database(database_url, monkeypatch)
    database = connect(database_url)
    rows = stored_rows(database)
    database.close()
    assert len(rows) == len(OLD_ROWS)
    for row, (currency, quantity, _, amount, micro) in zip(rows, OLD_ROWS, strict=True):
        assert row["currency"] == currency
        assert row["quantity_milli"] == quantity
        assert row["unit_price_micro"] == micro
        assert row["amount_minor"] == amount
        assert (row["notes"], row["owner"]) == ("kept", "Old")


def test_upgrade_makes_numbers_nullable(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_old_database(database_url, monkeypatch)
    connect(database_url).close()
    columns = columns_of(database_url)
    assert "unit_price_minor" not in columns
    for name in ("quantity_milli", "unit_price_micro", "amount_minor"):
        assert columns[name]["nullable"], name


def test_upgrade_keeps_indexes(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_old_database(database_url, monkeypatch)
    connect(database_url).close()
    names = index_names(database_url)
    for name in ("ix_sales_sold_on", "ix_sales_contact", "ix_sales_sum_contact"):
        assert name in names


def test_upgraded_table_takes_blank_record(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_old_database(database_url, monkeypatch)
    database = connect(database_url)
    form = {"sold_on": "2026-03-15", "item": "Samples"}
    sale_id = sale_service.create_sale(
        database, sale_service.parse_form(form), owner="T"
    )
    row = sale_service.require_sale(database, sale_id)
    database.close()
    assert row["quantity_milli"] is None
    assert row["unit_price_micro"] is None
    assert row["amount_minor"] is None


def test_upgrade_skips_new_database(database_url: str) -> None:
    connect(database_url).close()
    before = columns_of(database_url)
    engine = create_engine(database_url)
    with engine.begin() as conn:
        schema._sales_blank_numbers_and_micro_prices(conn)
    engine.dispose()
    assert columns_of(database_url).keys() == before.keys()
