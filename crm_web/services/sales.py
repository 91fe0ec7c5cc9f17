"""Sales and service records: validation, money rules, trash and pick lists."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm_web.data import pick_lists as pick_data
from crm_web.data import sales as sale_data
from crm_web.data import visibility
from crm_web.data.db import Database
from crm_web.data.records import new_record
from crm_web.data.sales import AmountBound, SaleFilters
from crm_web.data.schema import utcnow
from crm_web.errors import (
    InvalidValueError,
    NotFoundError,
    UserError,
    VersionConflictError,
)
from crm_web.services import money, sharing, text
from crm_web.services.clock import CURRENCIES
from crm_web.services.importing.values import parse_date
from crm_web.services.search import search_contacts

log = logging.getLogger(__name__)

STATUSES = {
    "quoted": _l("Quoted"),
    "ordered": _l("Ordered"),
    "paid": _l("Paid"),
    "shipped": _l("Shipped"),
    "after_sales": _l("After-sales"),
    "closed": _l("Closed"),
}
CUSTOM_FIELDS = ("custom1", "custom2", "custom3", "custom4")
PICK_KINDS = {"item": _l("Sales items"), "service_type": _l("Service types")}
# Column lengths in the schema.
MAX_LENGTHS = {
    "item": 200,
    "service_type": 100,
    **dict.fromkeys(CUSTOM_FIELDS, 200),
    "notes": 20_000,
}
FIELD_LABELS = {
    "contact": _l("Contact"),
    "phone": _l("Phone"),
    "email": _l("E-mail"),
    "sold_on": _l("Date"),
    "item": _l("Sales item"),
    "service_type": _l("Service type"),
    "quantity": _l("Quantity"),
    "unit_price": _l("Unit price"),
    "amount": _l("Amount"),
    "currency": _l("Currency"),
    "status": _l("Status"),
    "notes": _l("Notes"),
}
# A list of at most this many matching records is sorted after filtering
# rather than read in index order (sale_data.find_sales).
FEW_ROWS = 5000
# More contacts than any database holds: the contact filter takes every match.
CONTACTS_MAX = 10**9
# Decimal places a typed filter bound may have; it is rounded per currency.
FILTER_DIGITS = 6
# Currencies whose minor unit is not the usual hundredth, by decimal digits.
_OTHER_PRECISIONS: dict[int, tuple[str, ...]] = {}
for _code in sorted(CURRENCIES):
    _digits = money.precision(_code)
    if _digits != 2:
        _OTHER_PRECISIONS[_digits] = (*_OTHER_PRECISIONS.get(_digits, ()), _code)


def currency_digits() -> dict[str, int]:
    """Return currency -> decimal digits for the currencies without two."""
    return {
        code: digits for digits, codes in _OTHER_PRECISIONS.items() for code in codes
    }


class SaleInvalidError(UserError):
    """One or more fields of a sales record are invalid."""

    def __init__(
        self, errors: dict[str, str], candidates: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(" ".join(errors.values()))
        self.errors = errors
        # Contacts the typed contact text matched, for the user to pick one.
        self.candidates = candidates or []


def clean_value(raw: object) -> str:
    """Return a one-line value trimmed, with full-width spaces folded.

    Chinese input methods type U+3000, which neither SQLite nor MySQL
    treats as a space, so "钢材\u3000" would group apart from "钢材".
    """
    value = text.clean(raw).replace("\u3000", " ")
    return " ".join(value.split())


def group_key(value: str) -> str:
    """Return the case-folded key that summaries group a text value by."""
    return clean_value(value).casefold()


@dataclass
class SaleInput:
    """Validated values of a sales record, ready to store."""

    values: dict[str, Any]


def parse_form(raw: Mapping[str, Any], *, default_currency: str = "CNY") -> SaleInput:
    """Validate typed values; raise SaleInvalidError naming each bad one.

    A blank quantity, unit price or amount is stored as None, never as 0.
    A submitted amount is stored as submitted, on a new record and on an
    edit alike. A blank amount is quantity × unit price rounded half up
    to the currency's minor unit, or blank when either of them is blank.
    """
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    currency = _parse_currency(raw, default_currency, errors)
    values["currency"] = currency
    values["sold_on"] = _parse_sold_on(raw.get("sold_on"), errors)
    values["status"] = _parse_status(raw.get("status"), errors)
    for name in ("item", "service_type", *CUSTOM_FIELDS, "notes"):
        values[name] = _parse_text(name, raw.get(name), errors)
    values["contact_uuid"] = clean_value(raw.get("contact_uuid")) or None
    values["quantity_milli"] = _parse_number(raw, "quantity", errors, currency)
    values["unit_price_micro"] = _parse_number(raw, "unit_price", errors, currency)
    typed = _parse_number(raw, "amount", errors, currency)
    if errors:
        raise SaleInvalidError(errors)
    values["amount_minor"] = typed if typed is not None else _computed_amount(values)
    return SaleInput(values)


def _parse_currency(raw: Mapping[str, Any], default: str, errors: dict) -> str:
    try:
        return money.check_currency(str(raw.get("currency") or default))
    except InvalidValueError as error:
        errors["currency"] = error.message
        return default


def _parse_sold_on(raw: Any, errors: dict[str, str]) -> date | None:
    if isinstance(raw, date):
        return raw
    value = text.clean(raw)
    parsed = parse_date(value) if value else None
    if parsed is None:
        errors["sold_on"] = _(
            "%(field)s “%(value)s” is not a date. Type it as 2026-03-15.",
            field=FIELD_LABELS["sold_on"],
            value=value,
        )
    return parsed


def _parse_status(raw: Any, errors: dict[str, str]) -> str:
    value = clean_value(raw) or "quoted"
    if value not in STATUSES:
        errors["status"] = _(
            "%(field)s “%(value)s” is not valid: choose one from the list.",
            field=FIELD_LABELS["status"],
            value=value,
        )
    return value


def _parse_text(name: str, raw: Any, errors: dict[str, str]) -> str:
    value = text.clean(raw) if name == "notes" else clean_value(raw)
    limit = MAX_LENGTHS[name]
    if len(value) > limit:
        errors[name] = _(
            "%(field)s is %(length)s characters long; the limit is %(max)s. "
            "Shorten it or move the rest into Notes.",
            field=FIELD_LABELS.get(name, name),
            length=len(value),
            max=limit,
        )
    return value


def _parse_number(
    raw: Mapping[str, Any], name: str, errors: dict[str, str], currency: str
) -> int | None:
    value = text.clean(raw.get(name))
    if not value:
        return None
    label = str(FIELD_LABELS[name])
    try:
        if name == "quantity":
            return money.parse_quantity(value, field=label)
        if name == "unit_price":
            return money.parse_unit_price(value, field=label, currency=currency)
        return money.parse_money(value, currency, field=label)
    except InvalidValueError as error:
        errors[name] = error.message
        return None


def _computed_amount(values: dict[str, Any]) -> int | None:
    quantity, price = values["quantity_milli"], values["unit_price_micro"]
    if quantity is None or price is None:
        return None
    amount = money.line_amount(quantity, price, values["currency"])
    if abs(amount) >= money.MAX_MINOR:
        total = money.to_decimal(amount, values["currency"])
        raise SaleInvalidError(
            {
                "amount": InvalidValueError(
                    str(FIELD_LABELS["amount"]),
                    f"{total:f}",
                    _("quantity × unit price is too large; check both."),
                ).message
            }
        )
    return amount


# --- records -----------------------------------------------------------------


def create_sale(db: Database, sale: SaleInput, *, owner: str) -> int:
    """Store a new record and add a new item or service type to its list.

    The record is shared as the share_default setting chooses.
    """
    shares = sharing.default_shares(db)

    def work(db: Database) -> int:
        remember_pick_values(db, sale.values, owner=owner)
        row = {**new_record(owner), **sale.values}
        sale_id = sale_data.insert_sale(db, row)
        sharing.share_new_records(db, [row["uuid"]], shares)
        return sale_id

    sale_id = db.write(work)
    log.info("Sale %s created", sale_id)
    return sale_id


def update_sale(
    db: Database, sale_id: int, sale: SaleInput, *, version: int, owner: str
) -> None:
    """Save an edited record, rejecting it if someone saved it meanwhile.

    On a version conflict the transaction rolls back whole, so no new
    item or service type reaches the pick lists either.
    """
    current = require_sale(db, sale_id)
    visibility.require_may_edit(current, current["item"] or str(current["sold_on"]))

    def work(db: Database) -> None:
        remember_pick_values(db, sale.values, owner=owner)
        row = {**sale.values, "updated_at": utcnow()}
        if not sale_data.update_sale(db, sale_id, row, expected_version=version):
            raise VersionConflictError(current["item"] or str(current["sold_on"]))

    db.write(work)
    log.info("Sale %s updated", sale_id)


def require_sale(db: Database, sale_id: int) -> dict[str, Any]:
    """Return a sales record or raise NotFoundError."""
    row = sale_data.get_sale(db, sale_id)
    if row is None:
        raise NotFoundError(_("Sales record"), sale_id)
    return row


def set_deleted(db: Database, sale_id: int, *, deleted: bool) -> None:
    """Move a record to the trash, or restore it from there."""
    current = require_sale(db, sale_id)
    visibility.require_may_edit(current, current["item"] or str(current["sold_on"]))
    now = utcnow()
    values = {"deleted": deleted, "deleted_at": now if deleted else None}
    db.write(
        lambda db: sale_data.update_sale(db, sale_id, {**values, "updated_at": now})
    )
    log.info("Sale %s %s", sale_id, "deleted" if deleted else "restored")


def sales_for_contact(db: Database, contact_uuid: str) -> list[dict[str, Any]]:
    """Return a contact's live records for the card's timeline, newest first.

    Each dict has id (for ``url_for('sales.edit', sale_id=...)``), uuid,
    sold_on, item, service_type, amount_minor, currency, status, its
    translated status_label, and notes.
    """
    keys = (
        "id",
        "uuid",
        "sold_on",
        "item",
        "service_type",
        "amount_minor",
        "currency",
        "status",
        "notes",
    )
    rows = sale_data.find_for_contact(db, contact_uuid)
    return [
        {
            **{key: row[key] for key in keys},
            "status_label": str(STATUSES.get(row["status"], row["status"])),
        }
        for row in rows
    ]


def month_totals(db: Database, *, year: int, month: int) -> dict[str, int]:
    """Return currency -> amount in minor units of a month's live records.

    Every status counts, quotes included.
    """
    start = date(year, month, 1)
    end = date(year + month // 12, month % 12 + 1, 1)
    return sale_data.sum_amounts(db, start=start, end=end)


# --- list filters ------------------------------------------------------------


def parse_filters(args: Mapping[str, Any]) -> tuple[SaleFilters, list[str]]:
    """Read list filters from request arguments; return them and any errors.

    A filter value that cannot be read is left out and its error returned,
    so the page still lists records.
    """
    errors: list[str] = []
    values: dict[str, Any] = {}
    for name in ("contact", "item", "service_type", "notes", *CUSTOM_FIELDS):
        values[name] = clean_value(args.get(name))
    for name in ("category", "contact_uuid"):
        values[name] = clean_value(args.get(name))
    status = clean_value(args.get("status"))
    values["status"] = status if status in STATUSES else ""
    currency = clean_value(args.get("currency")).upper()
    values["currency"] = currency if currency in CURRENCIES else ""
    for name in ("sold_from", "sold_to"):
        raw = clean_value(args.get(name))
        values[name] = parse_date(raw) if raw else None
        if raw and values[name] is None:
            errors.append(_("“%(value)s” is not a date.", value=raw))
    for name in ("quantity_min", "quantity_max"):
        values[name] = _filter_number(args.get(name), errors, quantity=True)
    for name in ("amount_min", "amount_max"):
        values[name] = _filter_number(
            args.get(name), errors, quantity=False, upper=name.endswith("max")
        )
    return SaleFilters(**values), errors


def match_contact_filter(db: Database, filters: SaleFilters) -> SaleFilters:
    """Return ``filters`` with the contacts the contact filter's text finds.

    The text is matched by the contacts' smart query (name, company, pinyin,
    initials, phone digits, unaccented spellings), which keeps only the
    contacts the request's user may see. Contacts in the trash are not
    searched, so their records are not found by name.
    """
    if not filters.contact:
        return filters
    found = search_contacts(db, filters.contact, limit=CONTACTS_MAX)
    return replace(filters, contact_uuids=tuple(found.uuids))


def _filter_number(
    raw: Any, errors: list[str], *, quantity: bool, upper: bool = False
) -> Any:
    value = text.clean(raw)
    if not value:
        return None
    label = str(FIELD_LABELS["quantity" if quantity else "amount"])
    try:
        number = money.parse_decimal(value, field=label, digits=FILTER_DIGITS)
    except InvalidValueError as error:
        errors.append(error.message)
        return None
    if quantity:
        return _scaled(number, money.QUANTITY_DIGITS, upper)
    exceptions = tuple(
        (codes, _scaled(number, digits, upper))
        for digits, codes in _OTHER_PRECISIONS.items()
    )
    return AmountBound(_scaled(number, 2, upper), exceptions)


def _scaled(number: Decimal, digits: int, upper: bool) -> int:
    # A lower bound rounds up and an upper bound down, so 12.5 yen as a
    # minimum never admits 12.
    rounding = ROUND_FLOOR if upper else ROUND_CEILING
    return int(number.scaleb(digits).quantize(Decimal(1), rounding=rounding))


def list_sales(
    db: Database,
    filters: SaleFilters,
    *,
    sort: str,
    descending: bool,
    page: int,
    page_size: int,
    deleted: bool = False,
) -> tuple[list[dict[str, Any]], int]:
    """Return one page of records and the number matching the filters."""
    total = sale_data.count_sales(db, filters, deleted=deleted)
    if total <= (page - 1) * page_size:
        return [], total
    rows = sale_data.find_sales(
        db,
        filters,
        sort=sort,
        descending=descending,
        limit=page_size,
        offset=(page - 1) * page_size,
        deleted=deleted,
        is_few=total <= FEW_ROWS,
    )
    return rows, total


# --- pick lists --------------------------------------------------------------


def pick_values(db: Database, kind: str) -> list[dict[str, Any]]:
    """Return the entries of one pick list ("item" or "service_type")."""
    _check_kind(kind)
    return pick_data.find_values(db, kind)


def _check_kind(kind: str) -> None:
    if kind not in PICK_KINDS:
        raise NotFoundError(_("List"), kind)


def remember_pick_values(
    db: Database, values: Mapping[str, Any], *, owner: str
) -> None:
    for kind in PICK_KINDS:
        if values.get(kind):
            _ensure_pick_value(db, kind, values[kind], owner=owner)


def _ensure_pick_value(db: Database, kind: str, value: str, *, owner: str) -> bool:
    key = group_key(value)
    if any(group_key(row["value"]) == key for row in pick_data.find_values(db, kind)):
        return False
    row = {**new_record(owner), "kind": kind, "value": value}
    row["sort_order"] = pick_data.max_sort_order(db, kind) + 1
    pick_data.insert_value(db, row)
    return True


def add_pick_value(db: Database, kind: str, raw: str, *, owner: str) -> None:
    """Add a value to a pick list; raise if it is empty or listed already."""
    _check_kind(kind)
    value = _checked_pick_value(kind, raw)
    if not db.write(lambda db: _ensure_pick_value(db, kind, value, owner=owner)):
        raise InvalidValueError(
            str(PICK_KINDS[kind]), value, _("it is in the list already.")
        )
    log.info("Pick list %s: value added", kind)


def _checked_pick_value(kind: str, raw: str) -> str:
    value = clean_value(raw)
    if not value:
        raise InvalidValueError(str(PICK_KINDS[kind]), raw, _("type a value."))
    if len(value) > MAX_LENGTHS[kind]:
        raise InvalidValueError(
            str(PICK_KINDS[kind]),
            value,
            _("use at most %(max)s characters.", max=MAX_LENGTHS[kind]),
        )
    return value


def rename_pick_value(
    db: Database, value_uuid: str, raw: str, *, update_records: bool = True
) -> int:
    """Rename a list entry and, with ``update_records``, the records that use it.

    Return the number of records changed.
    """
    entry = _require_pick_value(db, value_uuid)
    kind = entry["kind"]
    value = _checked_pick_value(kind, raw)

    def work(db: Database) -> int:
        pick_data.update_value(db, value_uuid, {"value": value})
        if not update_records or value == entry["value"]:
            return 0
        return sale_data.rename_value(db, kind, entry["value"], value)

    changed = db.write(work)
    log.info("Pick list %s: value renamed, %s records changed", kind, changed)
    return changed


def remove_pick_value(db: Database, value_uuid: str) -> None:
    """Take an entry off its list; records keep the value they have."""
    entry = _require_pick_value(db, value_uuid)
    now = utcnow()
    db.write(
        lambda db: pick_data.update_value(
            db, value_uuid, {"deleted": True, "deleted_at": now}
        )
    )
    log.info("Pick list %s: value removed", entry["kind"])


def _require_pick_value(db: Database, value_uuid: str) -> dict[str, Any]:
    entry = pick_data.get_value(db, value_uuid)
    if entry is None or entry["deleted"]:
        raise NotFoundError(_("List entry"), value_uuid)
    return entry
