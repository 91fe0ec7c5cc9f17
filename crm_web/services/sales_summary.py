"""Summaries of sales records by one column: counts, quantities, amounts.

The database groups by the stored value, which SQLite and MySQL (with the
utf8mb4_bin collation of every table) compare byte for byte. Groups are
then merged here by ``group_key`` (trimmed, full-width spaces folded,
case-folded), so both backends give the same groups, and each merged group
shows its most common spelling. Sums are integers of minor units.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm_web.data import categories as category_data
from crm_web.data import sales as sale_data
from crm_web.data.db import Database
from crm_web.data.sales import SaleFilters
from crm_web.errors import InvalidValueError
from crm_web.services import money
from crm_web.services.exporting import write_table
from crm_web.services.sales import CUSTOM_FIELDS, STATUSES, group_key

# Columns a summary can group by, in menu order, with their labels; the
# custom fields take the labels the user set.
GROUPINGS = {
    "item": _l("Sales item"),
    "service_type": _l("Service type"),
    "status": _l("Status"),
    "month": _l("Month"),
    "contact": _l("Contact"),
    "category": _l("Category"),
    "currency": _l("Currency"),
}


def grouping_labels(custom_labels: Mapping[str, str]) -> dict[str, str]:
    """Return every column a summary may group by, with its label.

    A custom field whose label is empty is hidden, so it is left out.
    """
    labels = {name: str(label) for name, label in GROUPINGS.items()}
    labels.update(
        {name: custom_labels[name] for name in CUSTOM_FIELDS if custom_labels.get(name)}
    )
    return labels


@dataclass
class SummaryRow:
    """One group of a summary: its record count and sums.

    Blank quantities and amounts are left out of the sums. A row whose
    quantities are all blank has ``quantity_milli`` None, and ``amounts``
    has only the currencies in which the row has at least one amount.
    """

    label: str
    count: int = 0
    quantity_milli: int | None = None
    amounts: dict[str, int] = field(default_factory=dict)
    # The stored values merged into this row, for a link to the records.
    values: list[Any] = field(default_factory=list)

    def add(self, row: Mapping[str, Any]) -> None:
        self.count += row["count"]
        if row["quantity_milli"] is not None:
            self.quantity_milli = (self.quantity_milli or 0) + row["quantity_milli"]
        amount = row["amount_minor"]
        if amount is not None:
            currency = row["currency"]
            self.amounts[currency] = self.amounts.get(currency, 0) + amount

    def merge(self, other: SummaryRow) -> None:
        """Add another row's count and sums to this one."""
        self.count += other.count
        if other.quantity_milli is not None:
            self.quantity_milli = (self.quantity_milli or 0) + other.quantity_milli
        for currency, amount in other.amounts.items():
            self.amounts[currency] = self.amounts.get(currency, 0) + amount


@dataclass
class Summary:
    by: str
    label: str
    rows: list[SummaryRow]
    total: SummaryRow
    currencies: list[str]


def summarize_sales(
    db: Database,
    by: str,
    filters: SaleFilters,
    *,
    custom_labels: Mapping[str, str],
) -> Summary:
    """Summarise live records matching ``filters`` by column ``by``."""
    labels = grouping_labels(custom_labels)
    if by not in labels:
        raise InvalidValueError(
            _("Summary column"), by, _("choose a column from the menu.")
        )
    raw = sale_data.summarize(db, by, filters)
    rows = _merge(db, by, raw)
    total = SummaryRow(_("Total"))
    # Each stored row is in exactly one group, so the groups add up to the
    # total, with fewer additions than the stored rows.
    for row in rows:
        total.merge(row)
    currencies = sorted(total.amounts, key=lambda c: (-abs(total.amounts[c]), c))
    return Summary(by, labels[by], rows, total, currencies)


def _merge(db: Database, by: str, raw: Iterable[dict[str, Any]]) -> list[SummaryRow]:
    if by == "month":
        return _by_month(raw)
    if by in ("contact", "category"):
        return _by_reference(db, by, raw)
    groups: dict[str, SummaryRow] = {}
    spellings: dict[str, Counter[str]] = {}
    for row in raw:
        value = row["key"][0] or ""
        key = group_key(value)
        group = groups.setdefault(key, SummaryRow(""))
        group.add(row)
        if value not in group.values:
            group.values.append(value)
        spellings.setdefault(key, Counter())[value] += row["count"]
    for key, group in groups.items():
        # The most common spelling; ties go to the first in code-point order.
        best = min(spellings[key].items(), key=lambda item: (-item[1], item[0]))[0]
        group.label = _value_label(by, best)
    return sorted(groups.values(), key=lambda g: (-g.count, g.label))


def _value_label(by: str, value: str) -> str:
    if not value:
        return _("(empty)")
    if by == "status" and value in STATUSES:
        return str(STATUSES[value])
    return value


def _by_month(raw: Iterable[dict[str, Any]]) -> list[SummaryRow]:
    groups: dict[tuple[int, int], SummaryRow] = {}
    for row in raw:
        year, month = (int(part) for part in row["key"])
        group = groups.setdefault((year, month), SummaryRow(f"{year:04d}-{month:02d}"))
        group.add(row)
        group.values = [f"{year:04d}-{month:02d}"]
    return [groups[key] for key in sorted(groups)]


def _by_reference(
    db: Database, by: str, raw: Iterable[dict[str, Any]]
) -> list[SummaryRow]:
    """Group by contact or category; ``raw`` is read once, as it may be a generator."""
    names: dict[str, str] = {}
    if by == "category":
        names = {c["uuid"]: c["name"] for c in category_data.find_categories(db)}
    missing = _("(no contact)") if by == "contact" else _("(no category)")
    groups: dict[str, SummaryRow] = {}
    for row in raw:
        uuid = row["key"][0] or ""
        group = groups.get(uuid)
        if group is None:
            label = _reference_label(row, uuid, names, missing)
            group = groups[uuid] = SummaryRow(label, values=[uuid])
        group.add(row)
    return sorted(groups.values(), key=lambda g: (-g.count, g.label))


def _reference_label(
    row: Mapping[str, Any], uuid: str, names: Mapping[str, str], missing: str
) -> str:
    if not uuid:
        return missing
    if "name" in row:
        # The summary by contact joins the contact's name, or None for none.
        if row["name"] is None:
            return missing
        return str(row["name"] or row["company"])
    return names.get(uuid, missing)


# --- chart -------------------------------------------------------------------

CHART_BAR_HEIGHT = 22
CHART_LABEL_WIDTH = 180
CHART_BAR_WIDTH = 420


def chart_bars(summary: Summary, currency: str) -> list[dict[str, Any]]:
    """Return one bar per row with an amount in ``currency``.

    Each bar has its label, amount, width and top in pixels. Amounts in
    different currencies cannot be added, so a chart shows one currency,
    and a row with no amount in it is left out of the chart (the table
    still lists it).
    """
    charted = [row for row in summary.rows if currency in row.amounts]
    largest = max((abs(row.amounts[currency]) for row in charted), default=0)
    bars = []
    for index, row in enumerate(charted):
        amount = row.amounts[currency]
        width = round(CHART_BAR_WIDTH * abs(amount) / largest) if largest else 0
        bars.append(
            {
                "label": row.label,
                "amount_minor": amount,
                "width": width,
                "y": index * CHART_BAR_HEIGHT,
            }
        )
    return bars


# --- export ------------------------------------------------------------------


def export_summary(summary: Summary, target: Path, *, kind: str = "xlsx") -> int:
    """Write a summary table with its total row; return the rows written."""
    columns = [
        ("label", summary.label),
        ("count", _("Records")),
        ("quantity", _("Quantity")),
    ]
    columns.extend(
        (f"amount:{c}", _("Amount (%(currency)s)", currency=c))
        for c in summary.currencies
    )
    rows = [
        _export_row(row, summary.currencies) for row in (*summary.rows, summary.total)
    ]
    count = write_table(target, kind, columns, rows, sheet_title=_("Summary"))
    if kind == "xlsx":
        _format_numbers(target, summary.currencies)
    return count


def _format_numbers(target: Path, currencies: list[str]) -> None:
    """Give counts, quantities and each currency's amounts a number format.

    The table writer leaves numbers in the General format, which shows
    99.9 for ¥99.90 and no thousands separators. A summary has one row per
    group, so reading the file back to set the formats costs little.
    """
    book = openpyxl.load_workbook(target)
    sheet = book.active
    amount_formats = [_decimal_format(money.precision(c)) for c in currencies]
    for row in sheet.iter_rows(min_row=2):
        row[1].number_format = _decimal_format(0)
        quantity = row[2].value
        is_whole = quantity is None or float(quantity).is_integer()
        row[2].number_format = _decimal_format(0 if is_whole else 3, exact=False)
        for cell, number_format in zip(row[3:], amount_formats, strict=True):
            cell.number_format = number_format
    book.save(target)


def _decimal_format(digits: int, *, exact: bool = True) -> str:
    """Return an Excel format with thousands separators and ``digits`` decimals.

    With ``exact`` False the decimals are shown only as far as they are used.
    """
    if digits == 0:
        return "#,##0"
    return "#,##0." + ("0" if exact else "#") * digits


def _export_row(row: SummaryRow, currencies: list[str]) -> dict[str, Any]:
    record: dict[str, Any] = {
        "label": row.label,
        "count": row.count,
        "quantity": (
            None
            if row.quantity_milli is None
            else money.quantity_decimal(row.quantity_milli)
        ),
    }
    for currency in currencies:
        amount = row.amounts.get(currency)
        if amount is not None:
            record[f"amount:{currency}"] = money.to_decimal(amount, currency)
    return record
