"""Queries on the sales table: records, list filters and summaries."""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    extract,
    false,
    func,
    or_,
    select,
    true,
    type_coerce,
    update,
)

from crm_web.data.db import Database
from crm_web.data.records import as_dicts, check_columns, next_revision
from crm_web.data.schema import contacts, sales, utcnow
from crm_web.data.visibility import visible, visible_about_contact

INSERT_CHUNK = 1000
# Columns a summary may group by, besides month, contact and category.
GROUP_COLUMNS = (
    "item",
    "service_type",
    "status",
    "currency",
    "custom1",
    "custom2",
    "custom3",
    "custom4",
)
# Columns the list filters match as a case-insensitive substring.
TEXT_FILTERS = ("item", "service_type", "notes", *GROUP_COLUMNS[4:])
SORT_COLUMNS = (
    "sold_on",
    "item",
    "service_type",
    "quantity_milli",
    "unit_price_micro",
    "amount_minor",
    "currency",
    "status",
    "updated_at",
)


@dataclass(frozen=True)
class AmountBound:
    """A typed amount in minor units: ``default`` for most currencies, and
    ``exceptions`` as (currency codes, minor units) for those with another
    number of decimal places."""

    default: int
    exceptions: tuple[tuple[tuple[str, ...], int], ...] = ()


@dataclass(frozen=True)
class SaleFilters:
    """List filters; empty values match everything.

    ``amount_min`` and ``amount_max`` are one typed amount compared in
    each row's own currency, so each carries its minor units per currency.
    """

    contact: str = ""
    # The contacts the smart query finds for ``contact``, set by the
    # service. While None, ``contact`` is matched against names only.
    contact_uuids: tuple[str, ...] | None = None
    contact_uuid: str = ""
    category: str = ""
    sold_from: date | None = None
    sold_to: date | None = None
    item: str = ""
    service_type: str = ""
    status: str = ""
    currency: str = ""
    notes: str = ""
    custom1: str = ""
    custom2: str = ""
    custom3: str = ""
    custom4: str = ""
    quantity_min: int | None = None
    quantity_max: int | None = None
    amount_min: AmountBound | None = None
    amount_max: AmountBound | None = None

    def is_empty(self) -> bool:
        return all(not getattr(self, f.name) for f in fields(self))


def insert_sale(db: Database, row: dict[str, Any]) -> int:
    """Insert one sale and return its id."""
    check_columns(sales, row)
    row = {**row, "revision": next_revision(db, "sales")}
    result = db.execute(sales.insert().values(**row))
    return int(result.inserted_primary_key[0])


def insert_sales(db: Database, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many sales with one DBAPI executemany; every row has the same keys."""
    if not rows:
        return
    check_columns(sales, rows[0])
    revision = next_revision(db, "sales")
    names = [name for name in rows[0] if name != "revision"]
    columns = ", ".join(db.quote(name) for name in [*names, "revision"])
    marks = ", ".join(db.paramstyle_mark for _ in range(len(names) + 1))
    sql = f"INSERT INTO sales ({columns}) VALUES ({marks})"
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = rows[start : start + INSERT_CHUNK]
        db.executemany(
            sql, [(*(row[name] for name in names), revision) for row in chunk]
        )


def get_sale(db: Database, sale_id: int) -> dict[str, Any] | None:
    row = db.execute(
        select(sales).where(sales.c.id == sale_id, visible_about_contact(sales))
    ).first()
    return dict(row._mapping) if row else None


def update_sale(
    db: Database,
    sale_id: int,
    values: dict[str, Any],
    *,
    expected_version: int | None = None,
) -> bool:
    """Update a sale; return False if its version no longer matches."""
    check_columns(sales, values)
    statement = update(sales).where(sales.c.id == sale_id)
    if expected_version is not None:
        statement = statement.where(sales.c.version == expected_version)
    values = {**values, "revision": next_revision(db, "sales")}
    result = db.execute(statement.values(**values, version=sales.c.version + 1))
    return bool(result.rowcount)


def rename_value(db: Database, column: str, old: str, new: str) -> int:
    """Replace ``old`` with ``new`` in one text column; return the rows changed."""
    target = sales.c[column]
    result = db.execute(
        update(sales)
        .where(target == old)
        .values(
            {
                column: new,
                "updated_at": utcnow(),
                "version": sales.c.version + 1,
                "revision": next_revision(db, "sales"),
            }
        )
    )
    return int(result.rowcount)


def relink_contact(
    db: Database, from_uuid: str, to_uuid: str, *, revision: int | None = None
) -> int:
    """Point every sale of one contact at another; return the count.

    Called when two contacts merge. ``revision`` is the contacts counter's
    value, accepted for the callers' uniform signature; sales take their own.
    """
    del revision
    result = db.execute(
        update(sales)
        .where(sales.c.contact_uuid == from_uuid)
        .values(
            contact_uuid=to_uuid,
            updated_at=utcnow(),
            version=sales.c.version + 1,
            revision=next_revision(db, "sales"),
        )
    )
    return int(result.rowcount)


# --- lists -----------------------------------------------------------------


def _live(deleted: bool = False) -> ColumnElement[bool]:
    # MariaDB uses the (deleted, sold_on) index for "= false", not "IS false".
    return sales.c.deleted == (true() if deleted else false())


def _contains(column: Any, needle: str) -> ColumnElement[bool]:
    """Return a case- and width-insensitive substring match on ``column``.

    Stored text keeps the width it was typed in, and SQLite's lower() folds
    ASCII letters only, so "ＬＥＤ" and "led" are both sought as "led",
    "ｌｅｄ" and "ＬＥＤ". Text that mixes widths in one word is missed.
    """
    folded = unicodedata.normalize("NFKC", needle).casefold()
    variants = dict.fromkeys((folded, _full_width(folded), _full_width(folded.upper())))
    return or_(*(_like(column, variant) for variant in variants))


def _like(column: Any, needle: str) -> ColumnElement[bool]:
    escaped = needle.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return func.lower(column).like(f"%{escaped}%", escape="!")


def _full_width(value: str) -> str:
    """Return ``value`` with ASCII letters, digits and signs in full width."""
    return "".join(
        chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char for char in value
    )


# A longer list of contacts is written into the SQL as literals, because
# SQLite takes at most 32,766 bound parameters in a statement (the default
# since version 3.32) and the contact filter can match more contacts.
BOUND_CONTACTS_MAX = 1000


def _in_contacts(uuids: tuple[str, ...]) -> ColumnElement[bool]:
    if len(uuids) <= BOUND_CONTACTS_MAX:
        return sales.c.contact_uuid.in_(uuids)
    values: BindParameter[list[str]] = bindparam(
        "contact_uuids", list(uuids), expanding=True, literal_execute=True
    )
    return sales.c.contact_uuid.in_(values)


def filter_conditions(filters: SaleFilters) -> list[ColumnElement[bool]]:
    """Return the WHERE conditions of ``filters`` on the sales table.

    They include which records the request's user may see.
    """
    conditions: list[ColumnElement[bool]] = [visible_about_contact(sales)]
    for name in TEXT_FILTERS:
        value = getattr(filters, name)
        if value:
            conditions.append(_contains(sales.c[name], value))
    for name in ("status", "currency", "contact_uuid"):
        value = getattr(filters, name)
        if value:
            conditions.append(sales.c[name] == value)
    if filters.sold_from:
        conditions.append(sales.c.sold_on >= filters.sold_from)
    if filters.sold_to:
        conditions.append(sales.c.sold_on <= filters.sold_to)
    if filters.quantity_min is not None:
        conditions.append(sales.c.quantity_milli >= filters.quantity_min)
    if filters.quantity_max is not None:
        conditions.append(sales.c.quantity_milli <= filters.quantity_max)
    if filters.amount_min is not None:
        conditions.append(_amount_bound(filters.amount_min, lower=True))
    if filters.amount_max is not None:
        conditions.append(_amount_bound(filters.amount_max, lower=False))
    if filters.contact_uuids == ():
        conditions.append(false())
    elif filters.contact_uuids is not None:
        conditions.append(_in_contacts(filters.contact_uuids))
    if (filters.contact and filters.contact_uuids is None) or filters.category:
        conditions.append(sales.c.contact_uuid.in_(_contact_subquery(filters)))
    return conditions


def _amount_bound(bound: AmountBound, *, lower: bool) -> ColumnElement[bool]:
    amount = sales.c.amount_minor

    def compare(value: int) -> ColumnElement[bool]:
        return amount >= value if lower else amount <= value

    named = [code for codes, _ in bound.exceptions for code in codes]
    branches = [
        and_(sales.c.currency.in_(codes), compare(minor))
        for codes, minor in bound.exceptions
    ]
    branches.append(and_(sales.c.currency.not_in(named), compare(bound.default)))
    return or_(*branches)


def _contact_subquery(filters: SaleFilters) -> Select[Any]:
    statement = select(contacts.c.uuid)
    if filters.category == "none":
        statement = statement.where(contacts.c.category_uuid.is_(None))
    elif filters.category:
        statement = statement.where(contacts.c.category_uuid == filters.category)
    if filters.contact and filters.contact_uuids is None:
        statement = statement.where(
            or_(
                _contains(contacts.c.name, filters.contact),
                _contains(contacts.c.company, filters.contact),
            )
        )
    return statement


def find_sales(
    db: Database,
    filters: SaleFilters,
    *,
    sort: str = "sold_on",
    descending: bool = True,
    limit: int = 50,
    offset: int = 0,
    deleted: bool = False,
    is_few: bool = False,
) -> list[dict[str, Any]]:
    """Return one page of sales with the contact's name and company.

    Pass ``is_few`` when few rows match: they are then found through the
    filters' indexes and sorted, instead of read in the sort column's index
    order. For one contact's records among 100,000 that took a page from
    120 ms to a few ms on SQLite, because the index walk reads every row
    before it gives up filling the page.
    """
    column: Any = sales.c[sort if sort in SORT_COLUMNS else "sold_on"]
    if is_few:
        # An expression has no index, so the planner cannot walk one in order.
        column = func.coalesce(column, column)
    order = [column.desc(), sales.c.id.desc()] if descending else [column, sales.c.id]
    statement = (
        select(
            sales,
            contacts.c.id.label("contact_id"),
            contacts.c.name.label("contact_name"),
            contacts.c.company.label("contact_company"),
        )
        .select_from(sales.outerjoin(contacts, contacts.c.uuid == sales.c.contact_uuid))
        .where(_live(deleted), *filter_conditions(filters))
        .order_by(*order)
        .limit(limit)
        .offset(offset)
    )
    return as_dicts(db.execute(statement))


def iter_sales(db: Database, filters: SaleFilters) -> list[dict[str, Any]]:
    """Return every matching live sale, oldest first, for export."""
    return find_sales(db, filters, descending=False, limit=10**9)


def count_sales(db: Database, filters: SaleFilters, *, deleted: bool = False) -> int:
    statement = select(func.count()).where(_live(deleted), *filter_conditions(filters))
    return int(db.execute(statement.select_from(sales)).scalar_one())


def find_for_contact(db: Database, contact_uuid: str) -> list[dict[str, Any]]:
    """Return a contact's live sales, newest first."""
    statement = (
        select(sales)
        .where(
            _live(),
            sales.c.contact_uuid == contact_uuid,
            visible_about_contact(sales),
        )
        .order_by(sales.c.sold_on.desc(), sales.c.id.desc())
    )
    return as_dicts(db.execute(statement))


# --- summaries ---------------------------------------------------------------


def _group_expressions(db: Database, by: str) -> list[Any]:
    if by == "month":
        if db.is_sqlite:
            # SQLite stores a date as "YYYY-MM-DD" text; substr is cheaper
            # than strftime over 100,000 rows.
            return [func.substr(sales.c.sold_on, 1, 7)]
        return [extract("year", sales.c.sold_on), extract("month", sales.c.sold_on)]
    if by in ("contact", "category"):
        return [sales.c.contact_uuid]
    if by in GROUP_COLUMNS:
        return [sales.c[by]]
    raise ValueError(f"cannot group sales by {by!r}")


def _live_for_summary(filters: SaleFilters) -> ColumnElement[bool]:
    """Return the live-rows condition in the form that aggregates fastest.

    Without a date filter every live row is read anyway, and a plain table
    scan beats reading rows through the (deleted, sold_on) index: about
    75 ms against 200 ms at 100,000 rows on SQLite 3.40 with 2 cores
    (bench/sales.py). Adding 0 keeps either database from using that index.
    """
    if filters.sold_from or filters.sold_to:
        return _live()
    return (type_coerce(sales.c.deleted, Integer) + 0) == 0


def summarize(db: Database, by: str, filters: SaleFilters) -> Iterable[dict[str, Any]]:
    """Return count, quantity and amount per group value and currency.

    By contact the rows come from a generator, to be read once: holding
    5,700 row dicts at once made CPython's full garbage collections (about
    95 ms in the benchmark's process) run in one summary out of seven.

    Each row has ``key`` (a tuple of the group values: (year, month) for
    "month", the category uuid for "category"), ``currency``, ``count``,
    ``quantity_milli`` and ``amount_minor``. The sums skip blank values and
    are None when every value of the group is blank. Text values are
    grouped exactly as stored, so the caller merges spellings. By
    "contact", each row also has the contact's ``name`` and ``company``,
    both None when no stored contact has the uuid.
    """
    keys = _group_expressions(db, by)
    labelled = [key.label(f"k{i}") for i, key in enumerate(keys)]
    if _is_covered(by, filters):
        covered = _covered_summary(keys, labelled, filters)
        if by == "category":
            covered = _by_category(covered)
        elif by == "contact":
            return _contact_summary(db, covered)
        return _summary_rows(db, covered, by, len(keys))
    # Currency first, so that no index on the other column tempts the
    # planner into an index scan with a table lookup per row.
    statement: Select[Any] = (
        select(
            sales.c.currency,
            *labelled,
            func.count().label("count"),
            func.sum(sales.c.quantity_milli).label("quantity_milli"),
            func.sum(sales.c.amount_minor).label("amount_minor"),
        )
        .where(_live_for_summary(filters), *filter_conditions(filters))
        .group_by(sales.c.currency, *keys)
    )
    if by == "category":
        statement = _by_category(statement)
    elif by == "contact":
        return _contact_summary(db, statement)
    return _summary_rows(db, statement, by, len(keys))


# Groupings that a covering index of schema 3 serves without reading the table.
_COVERED = {"contact", "category", "item"}


def _is_covered(by: str, filters: SaleFilters) -> bool:
    return by in _COVERED and filters == SaleFilters()


def _covered_summary(
    keys: list[Any], labelled: list[Any], filters: SaleFilters
) -> Select[Any]:
    """Group in the column order of ix_sales_sum_contact or ix_sales_sum_item.

    Reading only the index took a summary by contact from 94 ms to about
    30 ms at 100,000 rows on SQLite (bench/sales.py).
    """
    return (
        select(
            sales.c.currency,
            *labelled,
            func.count().label("count"),
            func.sum(sales.c.quantity_milli).label("quantity_milli"),
            func.sum(sales.c.amount_minor).label("amount_minor"),
        )
        .where(_live(), *filter_conditions(filters))
        .group_by(*keys, sales.c.currency)
    )


def _summary_rows(
    db: Database, statement: Select[Any], by: str, width: int
) -> list[dict[str, Any]]:
    rows = []
    for row in db.execute(statement):
        mapping = row._mapping
        key = tuple(mapping[f"k{i}"] for i in range(width))
        if by == "month" and db.is_sqlite:
            year, _, month = str(key[0]).partition("-")
            key = (int(year), int(month))
        rows.append(
            {
                "key": key,
                "currency": mapping["currency"],
                "count": int(mapping["count"]),
                "quantity_milli": _whole(mapping["quantity_milli"]),
                "amount_minor": _whole(mapping["amount_minor"]),
            }
        )
    return rows


def _contact_summary(
    db: Database, per_contact: Select[Any]
) -> Iterator[dict[str, Any]]:
    """Return the summary by contact from one row per contact, with its name.

    The sums of all currencies come in one JSON object per contact,
    {currency: [count, quantity, amount]}, and the contact's name and
    company are joined in the same query. With 100,000 records of
    bench/sales.py that is 2,000 rows instead of 5,700. On MariaDB 10.11,
    whose rows PyMySQL parses in Python, the SQL alone took 38 ms against
    50 ms (median of 15 runs), and on SQLite the whole summary took 60
    against 67 ms (median of 20). Before, a second query looked up the
    names with one bound parameter per contact.
    """
    inner = per_contact.subquery()
    joined = inner.outerjoin(contacts, contacts.c.uuid == inner.c.k0)
    aggregate = func.json_objectagg if db.is_mysql else func.json_group_object
    sums = aggregate(
        inner.c.currency,
        func.json_array(inner.c.count, inner.c.quantity_milli, inner.c.amount_minor),
    )
    statement = (
        select(
            inner.c.k0,
            sums,
            func.max(contacts.c.name),
            func.max(contacts.c.company),
        )
        .select_from(joined)
        .group_by(inner.c.k0)
    )
    for uuid, by_currency, name, company in db.execute(statement):
        key = (uuid,)
        for currency, (count, quantity, amount) in json.loads(by_currency).items():
            yield {
                "key": key,
                "currency": currency,
                "count": int(count),
                "quantity_milli": _whole(quantity),
                "amount_minor": _whole(amount),
                "name": name,
                "company": company,
            }


def _whole(total: Any) -> int | None:
    # SUM skips NULLs and is NULL when every value is; it returns Decimal on
    # MySQL, though the values are whole numbers.
    return None if total is None else int(total)


def _by_category(per_contact: Select[Any]) -> Select[Any]:
    """Regroup per-contact sums by the contacts' category.

    Joining the grouped rows is faster than joining every sale: 90 ms
    against 115 ms at 100,000 rows on the same machine (bench/sales.py).
    """
    inner = per_contact.subquery()
    joined = inner.outerjoin(contacts, contacts.c.uuid == inner.c.k0)
    return (
        select(
            inner.c.currency,
            contacts.c.category_uuid.label("k0"),
            func.sum(inner.c.count).label("count"),
            func.sum(inner.c.quantity_milli).label("quantity_milli"),
            func.sum(inner.c.amount_minor).label("amount_minor"),
        )
        .select_from(joined)
        .group_by(inner.c.currency, contacts.c.category_uuid)
    )


def sum_amounts(db: Database, *, start: date, end: date) -> dict[str, int]:
    """Return live sales' amount per currency for start <= sold_on < end."""
    statement = (
        select(sales.c.currency, func.sum(sales.c.amount_minor))
        .where(
            _live(),
            sales.c.sold_on >= start,
            sales.c.sold_on < end,
            visible_about_contact(sales),
        )
        .group_by(sales.c.currency)
    )
    return {row[0]: int(row[1] or 0) for row in db.execute(statement)}


def find_contact_names(db: Database, uuids: Sequence[str]) -> dict[str, str]:
    """Return contact uuid -> name (or company) for the given uuids."""
    names: dict[str, str] = {}
    wanted = [u for u in uuids if u]
    for start in range(0, len(wanted), INSERT_CHUNK):
        chunk = wanted[start : start + INSERT_CHUNK]
        statement = select(contacts.c.uuid, contacts.c.name, contacts.c.company).where(
            contacts.c.uuid.in_(chunk)
        )
        for row in db.execute(statement):
            names[row.uuid] = row.name or row.company
    return names


def find_contacts_by_name(db: Database, name: str) -> list[dict[str, Any]]:
    """Return live contacts whose name or company is exactly ``name``."""
    statement = (
        select(contacts.c.uuid, contacts.c.name, contacts.c.company)
        .where(
            contacts.c.deleted == false(),
            or_(contacts.c.name == name, contacts.c.company == name),
            visible(contacts),
        )
        .limit(20)
    )
    return as_dicts(db.execute(statement))


def find_contact_keys(db: Database, uuids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Return contact uuid -> (mobile or phone, e-mail) for the given uuids."""
    keys: dict[str, tuple[str, str]] = {}
    for start in range(0, len(uuids), INSERT_CHUNK):
        chunk = list(uuids[start : start + INSERT_CHUNK])
        statement = select(
            contacts.c.uuid, contacts.c.mobile, contacts.c.phone, contacts.c.email
        ).where(contacts.c.uuid.in_(chunk))
        for row in db.execute(statement):
            keys[row.uuid] = (row.mobile or row.phone, row.email)
    return keys


# Columns that identify a sale when a file is imported again.
SALE_KEY_COLUMNS = (
    "sold_on",
    "contact_uuid",
    "item",
    "service_type",
    "quantity_milli",
    "unit_price_micro",
    "amount_minor",
    "currency",
    "status",
    "custom1",
    "custom2",
    "custom3",
    "custom4",
)


def count_sale_keys(db: Database) -> Counter[tuple[Any, ...]]:
    """Return how many live sales share each set of identifying values."""
    columns = [sales.c[name] for name in SALE_KEY_COLUMNS]
    rows = db.execute(select(*columns).where(sales.c.deleted.is_(False)))
    return Counter(tuple(row) for row in rows)
