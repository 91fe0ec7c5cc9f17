"""Sales records to and from .xlsx and text files.

Import reads any file the contact importer reads (the same format,
encoding and delimiter detection), finds the header row, maps columns by
their titles in Chinese or English, and stores every valid row in one
transaction. Each row's contact is matched by phone, e-mail or exact name.
Rows that cannot be stored come back as a file in the same layout with a
reason column.
"""

from __future__ import annotations

import datetime
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from flask_babel import gettext as _

from crm_web.data import contacts as contact_data
from crm_web.data import sales as sale_data
from crm_web.data.db import Database
from crm_web.data.records import new_record
from crm_web.errors import EmptyFileError, ImportFileError
from crm_web.services import money, sharing, text
from crm_web.services.cells import unguard_formula
from crm_web.services.exporting import kind_for_filename, write_table
from crm_web.services.importing.detect import SourceInfo, detect
from crm_web.services.importing.headers import SYNONYMS as CONTACT_SYNONYMS
from crm_web.services.importing.headers import normalize_header
from crm_web.services.importing.readers import iter_rows, sample_rows
from crm_web.services.importing.rejected import write_rejected_rows
from crm_web.services.importing.values import number_to_text
from crm_web.services.sales import (
    CUSTOM_FIELDS,
    FIELD_LABELS,
    STATUSES,
    SaleFilters,
    SaleInvalidError,
    clean_value,
    parse_form,
    remember_pick_values,
)

log = logging.getLogger(__name__)

TEXT_KINDS = ("csv", "txt")
HEADER_SCAN_ROWS = 30
PREVIEW_ROWS = 20

# Header spellings of each column, besides its label in either language.
# The contact columns also take every spelling the contact importer maps
# (see _CONTACT_HEADERS).
# fmt: off
SYNONYMS: dict[str, tuple[str, ...]] = {
    "contact": ("contact", "客户", "客户名称", "联系人", "姓名", "名称", "Customer",
                "Name", "Client"),
    "phone": ("phone", "手机", "电话", "手机号", "联系电话", "Mobile", "Tel"),
    "email": ("email", "邮箱", "电子邮件", "E-mail", "Mail"),
    "sold_on": ("sold_on", "日期", "销售日期", "成交日期", "下单日期", "订单日期",
                "交易日期", "Date", "Order date", "Sale date"),
    "item": ("item", "销售项目", "商品", "商品名称", "产品", "产品名称", "品名",
             "货品", "货品名称", "项目", "Product", "Product name", "Sales item",
             "Item"),
    "service_type": ("service_type", "服务类型", "服务", "服务项目", "Service",
                     "Service type"),
    "quantity": ("quantity", "数量", "Qty", "Quantity"),
    "unit_price": ("unit_price", "单价", "Unit price", "Price"),
    "amount": ("amount", "金额", "总价", "总金额", "合计", "销售金额", "订单金额",
               "成交金额", "Amount", "Total"),
    "currency": ("currency", "币种", "货币", "币别", "Currency"),
    "status": ("status", "状态", "订单状态", "Status"),
    "notes": ("notes", "备注", "说明", "Notes", "Remarks"),
}
# Status words people type, besides the codes and their labels.
STATUS_WORDS = {
    "报价": "quoted", "已报价": "quoted", "下单": "ordered", "已下单": "ordered",
    "订单": "ordered", "已付款": "paid", "付款": "paid", "已付": "paid",
    "已发货": "shipped", "发货": "shipped", "售后": "after_sales",
    "after-sales": "after_sales", "已关闭": "closed", "关闭": "closed",
    "完成": "closed", "已完成": "closed",
}
# fmt: on


@dataclass
class SalesImportPlan:
    """The file to read, its header row, and the field of each column."""

    path: Path
    filename: str
    info: SourceInfo
    header_row: int
    headers: list[str]
    # Field name per column, or "" for a column that is not imported.
    mapping: list[str]


@dataclass
class ConvertedSale:
    line: int
    cells: list[Any]
    values: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)
    # True when the import skips the row because an equal sale is stored.
    is_stored: bool = False


@dataclass
class SalesImportSummary:
    filename: str
    inserted: int = 0
    rejected: int = 0
    skipped: int = 0  # rows identical to a stored sale
    rejected_file: Path | None = None

    def describe(self) -> str:
        return _(
            "Imported %(file)s: %(inserted)s sales records inserted, "
            "%(skipped)s skipped because they are already stored, "
            "%(rejected)s rejected.",
            file=self.filename,
            inserted=self.inserted,
            skipped=self.skipped,
            rejected=self.rejected,
        )


# Sales column -> contact importer fields whose header spellings it takes.
_CONTACT_HEADERS = {
    "contact": ("name", "company"),
    "phone": ("mobile", "phone"),
    "email": ("email",),
}
# Contact headers that name something else in a sales sheet: "单位" there is
# the unit of measure (piece, box), not the customer's organisation.
_NOT_CONTACT_HEADERS = frozenset({"单位"})


def _spellings(name: str) -> list[str]:
    label = FIELD_LABELS.get(name)
    spellings = [*SYNONYMS.get(name, ()), *([str(label)] if label else [])]
    for field_name in _CONTACT_HEADERS.get(name, ()):
        spellings.extend(
            spelling
            for spelling in CONTACT_SYNONYMS[field_name]
            if spelling not in _NOT_CONTACT_HEADERS
        )
    return spellings


def _lookup(custom_labels: Mapping[str, str]) -> dict[str, str]:
    lookup: dict[str, str] = {}
    for name in SYNONYMS:
        for spelling in _spellings(name):
            lookup.setdefault(normalize_header(spelling), name)
    for name in CUSTOM_FIELDS:
        lookup.setdefault(normalize_header(name), name)
        if custom_labels.get(name):
            lookup.setdefault(normalize_header(custom_labels[name]), name)
    return lookup


def map_columns(headers: list[str], custom_labels: Mapping[str, str]) -> list[str]:
    """Return the field of each header, "" where none matches or it repeats."""
    lookup = _lookup(custom_labels)
    mapping: list[str] = []
    for header in headers:
        name = lookup.get(normalize_header(header), "") if header else ""
        mapping.append("" if name in mapping else name)
    return mapping


def plan_import(
    path: Path, *, filename: str, custom_labels: Mapping[str, str]
) -> SalesImportPlan:
    """Detect the file's format and header row, and map its columns."""
    info = detect(path, filename=filename)
    sample = sample_rows(path, info, limit=HEADER_SCAN_ROWS)
    if not any(any(_filled(c) for c in row) for row in sample):
        raise EmptyFileError(filename)
    best, best_count = 0, 0
    for index, row in enumerate(sample):
        headers = [_cell_text(c) for c in row]
        count = sum(1 for name in map_columns(headers, custom_labels) if name)
        if count > best_count:
            best, best_count = index, count
    if best_count < 2 or "sold_on" not in map_columns(
        [_cell_text(c) for c in sample[best]], custom_labels
    ):
        raise NoSalesHeaderError(filename)
    headers = [_cell_text(c) for c in sample[best]]
    return SalesImportPlan(
        path, filename, info, best, headers, map_columns(headers, custom_labels)
    )


class NoSalesHeaderError(ImportFileError):
    def __init__(self, filename: str) -> None:
        super().__init__(
            _(
                "No header row in “%(file)s” names a date column and another "
                "sales field such as Sales item, Quantity or Amount. Add a "
                "header row like the one an export of sales records has, and "
                "import the file again.",
                file=filename,
            )
        )


def _filled(cell: Any) -> bool:
    return cell not in ("", None) and not (isinstance(cell, str) and not cell.strip())


def _cell_text(cell: Any) -> str:
    if cell is None:
        return ""
    if isinstance(cell, datetime.datetime | datetime.date):
        return cell.isoformat()
    if isinstance(cell, bool):
        return str(cell)
    if isinstance(cell, int | float):
        return number_to_text(cell)
    return text.clean(cell)


# --- rows --------------------------------------------------------------------


class ContactIndex:
    """Stored contacts keyed by normalised phone, e-mail and folded name."""

    def __init__(self, db: Database, *, region: str) -> None:
        self.region = region
        self.phones: dict[str, str] = {}
        self.emails: dict[str, str] = {}
        self.names: dict[str, set[str]] = {}
        for row in contact_data.find_match_keys(db):
            for phone in (row["mobile_norm"], row["phone_norm"]):
                if phone:
                    self.phones.setdefault(phone, row["uuid"])
            if row["email_norm"]:
                self.emails.setdefault(row["email_norm"], row["uuid"])
            for name in (row["name"], row["company"]):
                if name:
                    self.names.setdefault(text.fold(name), set()).add(row["uuid"])

    def find(self, *, name: str, phone: str, email: str) -> tuple[str | None, str]:
        """Return (uuid, "") for a match, or (None, reason) for none."""
        norm = text.normalize_phone(phone, self.region) if phone else ""
        if norm in self.phones:
            return self.phones[norm], ""
        mail = text.normalize_email(email) if email else ""
        if mail in self.emails:
            return self.emails[mail], ""
        found = self.names.get(text.fold(name), set()) if name else set()
        if len(found) == 1:
            return next(iter(found)), ""
        typed = " / ".join(v for v in (name, phone, email) if v)
        if found:
            return None, _(
                "Several contacts are named “%(name)s”; add their phone or e-mail.",
                name=name,
            )
        return None, _(
            "No contact matches “%(contact)s” by phone, e-mail or name; import "
            "or create the contact first.",
            contact=typed,
        )


def convert(
    plan: SalesImportPlan,
    line: int,
    cells: list[Any],
    *,
    contacts: ContactIndex,
    default_currency: str,
) -> ConvertedSale:
    """Map a row's cells onto sales fields and validate them."""
    row = ConvertedSale(line, cells)
    raw: dict[str, Any] = {}
    kept: list[str] = []
    for index, name in enumerate(plan.mapping):
        if not name and index < len(cells) and _filled(cells[index]):
            # A column with no sales field (a custom field whose label differs
            # on this computer) is kept in the notes, never dropped.
            header = plan.headers[index] if index < len(plan.headers) else ""
            kept.append(f"{header or index + 1}: {_cell_text(cells[index])}")
        if name and index < len(cells):
            cell = cells[index]
            raw[name] = cell if isinstance(cell, datetime.date) else _cell_text(cell)
            if plan.info.kind in TEXT_KINDS and isinstance(raw[name], str):
                raw[name] = unguard_formula(raw[name])
    if kept:
        raw["notes"] = "\n".join(filter(None, [raw.get("notes", ""), *kept]))
    raw["status"] = _status_code(raw.get("status", ""))
    try:
        values = parse_form(raw, default_currency=default_currency).values
    except SaleInvalidError as error:
        row.problems.extend(error.errors.values())
        return row
    contact = {k: clean_value(raw.get(k)) for k in ("contact", "phone", "email")}
    if any(contact.values()):
        uuid, reason = contacts.find(
            name=contact["contact"], phone=contact["phone"], email=contact["email"]
        )
        if reason:
            row.problems.append(reason)
            return row
        values["contact_uuid"] = uuid
    row.values = values
    return row


def _status_code(raw: str) -> str:
    value = clean_value(raw)
    if not value:
        return ""
    folded = value.casefold()
    for code, label in STATUSES.items():
        if folded in (code, str(label).casefold()):
            return code
    return STATUS_WORDS.get(folded, value)


def data_rows(plan: SalesImportPlan) -> Iterator[tuple[int, list[Any]]]:
    """Yield (line number, cells) for each non-empty row below the header."""
    for index, cells in enumerate(iter_rows(plan.path, plan.info)):
        if index > plan.header_row and any(_filled(c) for c in cells):
            yield index + 1, cells


def preview(
    db: Database, plan: SalesImportPlan, *, region: str, default_currency: str
) -> list[ConvertedSale]:
    """Convert the first rows exactly as the import would, without saving."""
    contacts = ContactIndex(db, region=region)
    stored = sale_data.count_sale_keys(db)
    rows = []
    for line, cells in data_rows(plan):
        row = convert(
            plan, line, cells, contacts=contacts, default_currency=default_currency
        )
        _use_stored(row, stored)
        rows.append(row)
        if len(rows) >= PREVIEW_ROWS:
            break
    return rows


def _use_stored(row: ConvertedSale, stored: Counter[tuple[Any, ...]]) -> None:
    """Mark a valid row already stored when an unused equal sale is left.

    Importing the same file (or an export) again adds nothing: each row
    uses up one stored sale with the same values. Two equal rows in one
    file are two sales (the same order placed twice).
    """
    if row.values is None:
        return
    key = tuple(row.values.get(k) for k in sale_data.SALE_KEY_COLUMNS)
    if stored[key] > 0:
        stored[key] -= 1
        row.is_stored = True


def _insert(db: Database, rows: list[dict[str, Any]], shares: list[str]) -> None:
    sale_data.insert_sales(db, rows)
    sharing.share_new_records(db, [row["uuid"] for row in rows], shares)


def import_sales(
    db: Database,
    plan: SalesImportPlan,
    *,
    owner: str,
    region: str,
    default_currency: str,
    work_dir: Path,
) -> SalesImportSummary:
    """Store every valid row in one transaction; write rejected rows to a file.

    New records are shared as the share_default setting chooses.
    """
    summary = SalesImportSummary(plan.filename)
    rejected: list[ConvertedSale] = []
    shares = sharing.default_shares(db)

    def work(db: Database) -> None:
        # db.write may run this again after a deadlock: start afresh.
        summary.inserted = summary.skipped = 0
        rejected.clear()
        contacts = ContactIndex(db, region=region)
        stored = sale_data.count_sale_keys(db)
        pending: list[dict[str, Any]] = []
        for line, cells in data_rows(plan):
            row = convert(
                plan, line, cells, contacts=contacts, default_currency=default_currency
            )
            if row.values is None:
                rejected.append(row)
                continue
            _use_stored(row, stored)
            if row.is_stored:
                summary.skipped += 1
                continue
            remember_pick_values(db, row.values, owner=owner)
            pending.append({**new_record(owner), **row.values})
            if len(pending) >= sale_data.INSERT_CHUNK:
                _insert(db, pending, shares)
                summary.inserted += len(pending)
                pending = []
        _insert(db, pending, shares)
        summary.inserted += len(pending)

    db.write(work)
    summary.rejected = len(rejected)
    if rejected:
        summary.rejected_file = _write_rejected(plan, rejected, work_dir)
    log.info("%s", summary.describe())
    return summary


def _write_rejected(
    plan: SalesImportPlan, rows: list[ConvertedSale], work_dir: Path
) -> Path:
    kind = plan.info.kind if plan.info.kind in TEXT_KINDS else "xlsx"
    target = work_dir / f"rejected-sales-{new_record('')['uuid']}.{kind}"
    return write_rejected_rows(
        target, kind, plan.headers, rows, sheet_title=_("Rejected rows")
    )


# --- export ------------------------------------------------------------------


EXPORT_FIELDS = (
    "sold_on",
    "contact",
    "phone",
    "email",
    "item",
    "service_type",
    "quantity",
    "unit_price",
    "amount",
    "currency",
    "status",
    "notes",
)


def export_columns(custom_labels: Mapping[str, str]) -> list[tuple[str, str]]:
    """Return (key, header) pairs of an export; hidden custom fields are left out."""
    columns = [(name, str(FIELD_LABELS[name])) for name in EXPORT_FIELDS]
    columns.extend(
        (name, custom_labels[name]) for name in CUSTOM_FIELDS if custom_labels.get(name)
    )
    return columns


def export_rows(db: Database, filters: SaleFilters) -> Iterator[dict[str, Any]]:
    """Yield matching live records as export rows, oldest first."""
    rows = sale_data.iter_sales(db, filters)
    uuids = sorted({row["contact_uuid"] for row in rows if row["contact_uuid"]})
    keys = sale_data.find_contact_keys(db, uuids)
    for row in rows:
        currency = row["currency"]
        phone, email = keys.get(row["contact_uuid"] or "", ("", ""))
        yield {
            **row,
            "contact": row["contact_name"] or row["contact_company"] or "",
            "phone": phone,
            "email": email,
            "quantity": _optional(money.quantity_decimal, row["quantity_milli"]),
            "unit_price": _optional(money.price_decimal, row["unit_price_micro"]),
            "amount": _optional(
                partial(money.to_decimal, currency=currency), row["amount_minor"]
            ),
            "status": str(STATUSES.get(row["status"], row["status"])),
        }


def _optional(convert: Callable[[int], Any], value: int | None) -> Any:
    # A blank number is written as an empty cell, which imports as blank.
    return None if value is None else convert(value)


def export_sales(
    db: Database,
    target: Path,
    filters: SaleFilters,
    *,
    custom_labels: Mapping[str, str],
) -> int:
    """Write matching records to ``target``; the format follows its extension."""
    kind = kind_for_filename(target.name)
    count = write_table(
        target,
        kind,
        export_columns(custom_labels),
        export_rows(db, filters),
        sheet_title=_("Sales records"),
    )
    log.info("Exported %s sales records to %s", count, target.name)
    return count
