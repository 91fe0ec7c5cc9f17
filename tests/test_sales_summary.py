"""Summaries of sales by column, with totals worked out by hand.

The same records give the same groups and the same integer totals on
SQLite and on MariaDB, whatever the case or spacing of the typed values.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from crm_web.data.db import Database
from crm_web.errors import InvalidValueError
from crm_web.services import categories as category_service
from crm_web.services import contacts as contact_service
from crm_web.services import sales as sale_service
from crm_web.services import sales_summary
from crm_web.services.sales import SaleFilters

LABELS = {"custom1": "Payment method", "custom2": "", "custom3": "", "custom4": ""}


def add_sale(db: Database, **values: Any) -> int:
    form = {"sold_on": "2026-03-15", "currency": "CNY", "status": "ordered", **values}
    sale = sale_service.parse_form(form)
    return sale_service.create_sale(db, sale, owner="Test")


def add_contact(db: Database, name: str, category: str | None = None) -> str:
    contact = contact_service.parse_form({"name": name, "category_uuid": category})
    contact_id = contact_service.create_contact(
        db, contact, owner="T", region="CN", allow_duplicate=True
    )
    return str(contact_service.require_contact(db, contact_id)["uuid"])


def summarize(db: Database, by: str, **filters: Any) -> sales_summary.Summary:
    return sales_summary.summarize_sales(
        db, by, SaleFilters(**filters), custom_labels=LABELS
    )


def table(summary: sales_summary.Summary) -> dict[str, tuple[int, int, dict[str, int]]]:
    return {r.label: (r.count, r.quantity_milli, r.amounts) for r in summary.rows}


@pytest.fixture
def mixed(db: Database) -> Database:
    """Seven records: mixed currencies, spellings and empty custom fields."""
    # 2 × 10.00 CNY = 20.00
    add_sale(db, item="Steel pipe", quantity="2", unit_price="10", custom1="WeChat Pay")
    # 1.5 × 3.33 CNY = 4.995, rounded half up to 5.00
    add_sale(
        db, item="steel PIPE ", quantity="1.5", unit_price="3.33", custom1="wechat pay"
    )
    # 1 × 7.25 USD, another spelling with a full-width space
    add_sale(
        db, item="\u3000Steel pipe", quantity="1", unit_price="7.25", currency="USD"
    )
    # 3 × 1,500 JPY = 4,500
    add_sale(db, item="Valve", quantity="3", unit_price="1500", currency="JPY",
             custom1="Bank transfer", sold_on="2026-04-02")  # fmt: skip
    # typed amount 99.90 CNY instead of 100.00
    add_sale(db, item="Valve", quantity="1", unit_price="100", amount="99.90",
             custom1="Bank transfer", status="paid", sold_on="2026-04-30")  # fmt: skip
    # no item, no custom field: 0.5 × 0.01 = 0.005, rounded to 0.01
    add_sale(db, quantity="0.5", unit_price="0.01", status="paid")
    # deleted records never count
    gone = add_sale(db, item="Valve", quantity="1", unit_price="1000")
    sale_service.set_deleted(db, gone, deleted=True)
    return db


def test_item_groups_merge_spellings(mixed: Database) -> None:
    groups = table(summarize(mixed, "item"))
    assert groups == {
        # 2 + 1.5 + 1 = 4.5 units; CNY 2000 + 500 fen; USD 725 cents
        "Steel pipe": (3, 4500, {"CNY": 2500, "USD": 725}),
        # 3 + 1 = 4 units; JPY 4500; CNY 9990
        "Valve": (2, 4000, {"JPY": 4500, "CNY": 9990}),
        "(empty)": (1, 500, {"CNY": 1}),
    }


def test_total_row_sums_all_groups(mixed: Database) -> None:
    total = summarize(mixed, "item").total
    assert total.count == 6
    assert total.quantity_milli == 2000 + 1500 + 1000 + 3000 + 1000 + 500
    assert total.amounts == {"CNY": 2000 + 500 + 9990 + 1, "USD": 725, "JPY": 4500}


def test_currencies_ordered_by_total(mixed: Database) -> None:
    assert summarize(mixed, "item").currencies == ["CNY", "JPY", "USD"]


def test_custom_field_groups_with_empty(mixed: Database) -> None:
    groups = table(summarize(mixed, "custom1"))
    assert groups == {
        "WeChat Pay": (2, 3500, {"CNY": 2500}),
        "Bank transfer": (2, 4000, {"JPY": 4500, "CNY": 9990}),
        "(empty)": (2, 1500, {"USD": 725, "CNY": 1}),
    }


def test_most_common_spelling_shown(db: Database) -> None:
    add_sale(db, item="VALVE")
    add_sale(db, item="valve")
    add_sale(db, item="valve ")
    assert [r.label for r in summarize(db, "item").rows] == ["valve"]


def test_month_groups_in_order(mixed: Database) -> None:
    groups = table(summarize(mixed, "month"))
    assert list(groups) == ["2026-03", "2026-04"]
    assert groups["2026-03"] == (4, 5000, {"CNY": 2501, "USD": 725})
    assert groups["2026-04"] == (2, 4000, {"JPY": 4500, "CNY": 9990})


def test_status_labels(mixed: Database) -> None:
    groups = table(summarize(mixed, "status"))
    assert groups == {
        "Ordered": (4, 7500, {"CNY": 2500, "USD": 725, "JPY": 4500}),
        "Paid": (2, 1500, {"CNY": 9991}),
    }


def test_contact_and_category_groups(db: Database) -> None:
    vip = category_service.create_category(db, "VIP", owner="Test")
    zhang = add_contact(db, "张三", vip)
    li = add_contact(db, "李四")
    add_sale(db, contact_uuid=zhang, quantity="1", unit_price="10")
    add_sale(db, contact_uuid=zhang, quantity="1", unit_price="5", currency="USD")
    add_sale(db, contact_uuid=li, quantity="2", unit_price="1")
    add_sale(db, quantity="1", unit_price="3")
    assert table(summarize(db, "contact")) == {
        "张三": (2, 2000, {"CNY": 1000, "USD": 500}),
        "李四": (1, 2000, {"CNY": 200}),
        "(no contact)": (1, 1000, {"CNY": 300}),
    }
    assert table(summarize(db, "category")) == {
        "VIP": (2, 2000, {"CNY": 1000, "USD": 500}),
        "(no category)": (2, 3000, {"CNY": 500}),
    }


def test_filters_narrow_summary(mixed: Database) -> None:
    groups = table(summarize(mixed, "item", currency="CNY"))
    assert groups == {
        "Steel pipe": (2, 3500, {"CNY": 2500}),
        "Valve": (1, 1000, {"CNY": 9990}),
        "(empty)": (1, 500, {"CNY": 1}),
    }


def test_hidden_custom_field_rejected(db: Database) -> None:
    with pytest.raises(InvalidValueError):
        summarize(db, "custom2")


def test_unknown_column_rejected(db: Database) -> None:
    with pytest.raises(InvalidValueError):
        summarize(db, "notes")


def test_chart_bars_scale_to_largest(mixed: Database) -> None:
    bars = sales_summary.chart_bars(summarize(mixed, "item"), "CNY")
    widths = {bar["label"]: bar["width"] for bar in bars}
    assert widths["Valve"] == sales_summary.CHART_BAR_WIDTH
    assert widths["Steel pipe"] == round(sales_summary.CHART_BAR_WIDTH * 2500 / 9990)


def test_export_xlsx_has_total_row(mixed: Database, tmp_path: Path) -> None:
    path = tmp_path / "summary.xlsx"
    sales_summary.export_summary(summarize(mixed, "item"), path)
    sheet = openpyxl.load_workbook(path).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0] == ["Sales item", "Records", "Quantity",
                       "Amount (CNY)", "Amount (JPY)", "Amount (USD)"]  # fmt: skip
    assert rows[1] == ["Steel pipe", 3, 4.5, 25, None, 7.25]
    assert rows[2] == ["Valve", 2, 4, 99.9, 4500, None]
    assert rows[3] == ["(empty)", 1, 0.5, 0.01, None, None]
    assert rows[-1] == ["Total", 6, 9, 124.91, 4500, 7.25]


@pytest.fixture
def with_blanks(db: Database) -> Database:
    """Records whose quantity, unit price or amount was left blank."""
    add_sale(db, item="Samples")
    add_sale(db, item="Samples", quantity="5")
    add_sale(db, item="Bolts", quantity="1000", unit_price="0.035", currency="USD")
    add_sale(db, item="Bolts", unit_price="0.04", amount="12", currency="USD")
    add_sale(db, item="Nuts", quantity="2", unit_price="10")
    return db


def test_sums_skip_blank_numbers(with_blanks: Database) -> None:
    groups = table(summarize(with_blanks, "item"))
    assert groups == {
        "Samples": (2, 5000, {}),
        "Bolts": (2, 1_000_000, {"USD": 3500 + 1200}),
        "Nuts": (1, 2000, {"CNY": 2000}),
    }


def test_all_blank_quantities_sum_to_blank(with_blanks: Database) -> None:
    summary = summarize(with_blanks, "currency")
    rows = {row.label: row for row in summary.rows}
    assert rows["CNY"].count == 3
    assert rows["CNY"].quantity_milli == 5000 + 2000
    assert summarize(with_blanks, "item", status="ordered").total.count == 5


def test_group_without_quantity_has_none(db: Database) -> None:
    add_sale(db, item="Samples")
    row = summarize(db, "item").rows[0]
    assert row.count == 1
    assert row.quantity_milli is None
    assert row.amounts == {}


def test_chart_leaves_out_groups_without_amount(with_blanks: Database) -> None:
    summary = summarize(with_blanks, "item")
    assert [bar["label"] for bar in sales_summary.chart_bars(summary, "CNY")] == [
        "Nuts"
    ]
    usd = sales_summary.chart_bars(summary, "USD")
    assert [bar["label"] for bar in usd] == ["Bolts"]
    assert [bar["y"] for bar in usd] == [0]


def test_chart_keeps_negative_and_zero_amounts(db: Database) -> None:
    add_sale(db, item="Refund", quantity="-1", unit_price="10")
    add_sale(db, item="Free sample", quantity="1", unit_price="0")
    summary = summarize(db, "item")
    bars = {bar["label"]: bar for bar in sales_summary.chart_bars(summary, "CNY")}
    assert set(bars) == {"Refund", "Free sample"}
    assert bars["Free sample"]["width"] == 0


def test_export_leaves_blank_sums_empty(db: Database, tmp_path: Path) -> None:
    add_sale(db, item="Samples")
    add_sale(db, item="Nuts", quantity="2", unit_price="10")
    path = tmp_path / "summary.xlsx"
    sales_summary.export_summary(summarize(db, "item"), path)
    rows = [
        [c.value for c in row]
        for row in openpyxl.load_workbook(path).active.iter_rows()
    ]
    assert rows[1:] == [
        [
            "Nuts",
            1,
            2,
            20,
        ],
        ["Samples", 1, None, None],
        ["Total", 2, 2, 20],
    ]


def test_contact_summary_with_blanks(db: Database) -> None:
    zhang = add_contact(db, "张三")
    li = add_contact(db, "李四")
    usd = {"currency": "USD", "quantity": "1000", "unit_price": "0.035"}
    add_sale(db, contact_uuid=zhang, **usd)
    add_sale(db, contact_uuid=zhang, item="Samples")
    add_sale(db, contact_uuid=zhang, amount="12", currency="JPY")
    add_sale(db, contact_uuid=li)
    add_sale(db, contact_uuid="no-such-contact", quantity="2", unit_price="1")
    groups = table(summarize(db, "contact"))
    assert groups["张三"] == (3, 1_000_000, {"USD": 3500, "JPY": 12})
    assert groups["(no contact)"] == (1, 2000, {"CNY": 200})
    assert groups["李四"] == (1, None, {})


def test_contact_summary_filtered_by_date(db: Database) -> None:
    zhang = add_contact(db, "张三")
    add_sale(db, contact_uuid=zhang, sold_on="2026-01-05", quantity="1", unit_price="7")
    add_sale(db, contact_uuid=zhang, sold_on="2026-02-05", quantity="1", unit_price="9")
    groups = table(summarize(db, "contact", sold_from=date(2026, 2, 1)))
    assert groups == {"张三": (1, 1000, {"CNY": 900})}
