"""Import and export of sales records, on SQLite and on MariaDB."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from builders import make_text, make_xlsx

from crm_web.data.db import Database
from crm_web.services import contacts as contact_service
from crm_web.services import sales as sale_service
from crm_web.services import sales_io
from crm_web.services.sales import SaleFilters

LABELS = {"custom1": "快递单号", "custom2": "", "custom3": "", "custom4": ""}


def add_contact(db: Database, **values: str) -> str:
    contact = contact_service.parse_form(values)
    contact_id = contact_service.create_contact(
        db, contact, owner="T", region="CN", allow_duplicate=True
    )
    return str(contact_service.require_contact(db, contact_id)["uuid"])


def run_import(db: Database, path: Path, work: Path) -> sales_io.SalesImportSummary:
    plan = sales_io.plan_import(path, filename=path.name, custom_labels=LABELS)
    return sales_io.import_sales(
        db, plan, owner="T", region="CN", default_currency="CNY", work_dir=work
    )


def all_sales(db: Database) -> list[dict[str, Any]]:
    rows, _ = sale_service.list_sales(
        db, SaleFilters(), sort="sold_on", descending=False, page=1, page_size=100
    )
    return rows


HEADERS = [
    "日期",
    "客户",
    "手机",
    "商品",
    "数量",
    "单价",
    "金额",
    "币种",
    "状态",
    "快递单号",
]


def test_xlsx_rows_stored(db: Database, tmp_path: Path) -> None:
    zhang = add_contact(db, name="张小明", mobile="13812345678")
    path = make_xlsx(tmp_path / "sales.xlsx", [
        HEADERS,
        [datetime.date(2026, 3, 1), "", 13812345678, "钢管", 2.5, 19.99, None,
         "CNY", "已付款", "SF0001"],
        [datetime.date(2026, 3, 2), "张小明", None, "阀门", 1, 1234567.89, None,
         "", "ordered", ""],
    ])  # fmt: skip
    summary = run_import(db, path, tmp_path)
    assert summary.inserted == 2
    assert summary.rejected == 0
    rows = all_sales(db)
    assert [r["contact_uuid"] for r in rows] == [zhang, zhang]
    assert rows[0]["amount_minor"] == 4998
    assert rows[0]["status"] == "paid"
    assert rows[0]["custom1"] == "SF0001"
    assert rows[1]["unit_price_micro"] == 1_234_567_890_000
    assert rows[1]["currency"] == "CNY"


def test_bad_rows_go_to_rejected_file(db: Database, tmp_path: Path) -> None:
    path = make_text(tmp_path / "sales.txt", [
        ["日期", "客户", "商品", "单价"],
        ["2026-03-01", "", "钢管", "12.3456789"],
        ["2026-03-02", "无此人", "钢管", "10"],
        ["2026-03-03", "", "阀门", "10"],
    ])  # fmt: skip
    summary = run_import(db, path, tmp_path)
    assert summary.inserted == 1
    assert summary.rejected == 2
    assert summary.rejected_file is not None
    text = summary.rejected_file.read_text(encoding="utf-8-sig")
    assert "“12.3456789”" in text
    assert "“无此人”" in text


def test_failed_import_stores_nothing(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_text(tmp_path / "s.txt", [["日期", "商品"], ["2026-03-01", "A"],
                                          ["2026-03-02", "B"]])  # fmt: skip
    calls = {"count": 0}
    original = sales_io.convert

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls["count"] += 1
        if calls["count"] == 2:
            raise RuntimeError("disk full")
        return original(*args, **kwargs)

    monkeypatch.setattr(sales_io, "convert", failing)
    with pytest.raises(RuntimeError):
        run_import(db, path, tmp_path)
    assert all_sales(db) == []
    assert sale_service.pick_values(db, "item") == []


def test_file_without_date_column_rejected(db: Database, tmp_path: Path) -> None:
    path = make_text(tmp_path / "x.txt", [["商品", "数量"], ["A", "1"]])
    with pytest.raises(sales_io.NoSalesHeaderError):
        sales_io.plan_import(path, filename="x.txt", custom_labels=LABELS)


def test_export_then_import_restores(db: Database, tmp_path: Path) -> None:
    uuid = add_contact(db, name="李华", email="li@example.com")
    form = {"sold_on": "2026-04-01", "item": "钢管", "quantity": "2.5",
            "unit_price": "19.99", "amount": "50", "currency": "USD",
            "status": "shipped", "custom1": "SF0002", "contact_uuid": uuid}  # fmt: skip
    sale_service.create_sale(db, sale_service.parse_form(form), owner="T")
    path = tmp_path / "out.xlsx"
    assert sales_io.export_sales(db, path, SaleFilters(), custom_labels=LABELS) == 1
    sheet = openpyxl.load_workbook(path).active
    header = [cell.value for cell in next(sheet.iter_rows())]
    assert "快递单号" in header
    before = all_sales(db)[0]
    sale_service.set_deleted(db, before["id"], deleted=True)
    summary = run_import(db, path, tmp_path)
    assert summary.inserted == 1
    after = all_sales(db)[0]
    kept = ("sold_on", "item", "quantity_milli", "unit_price_micro", "amount_minor",
            "currency", "status", "custom1", "contact_uuid")  # fmt: skip
    for key in kept:
        assert after[key] == before[key], key


def test_export_txt_keeps_exact_amounts(db: Database, tmp_path: Path) -> None:
    form = {"sold_on": "2026-04-01", "quantity": "1", "unit_price": "1234567.89"}
    sale_service.create_sale(db, sale_service.parse_form(form), owner="T")
    path = tmp_path / "out.txt"
    sales_io.export_sales(db, path, SaleFilters(), custom_labels=LABELS)
    assert "\t1234567.89\t1234567.89\tCNY\t" in path.read_text(encoding="utf-8-sig")


def test_same_file_twice_adds_nothing(db: Database, tmp_path: Path) -> None:
    path = make_xlsx(tmp_path / "sales.xlsx", [
        HEADERS,
        [datetime.date(2026, 3, 1), "", "", "钢管", 2, 10, None, "CNY", "已付款", ""],
        [datetime.date(2026, 3, 1), "", "", "钢管", 2, 10, None, "CNY", "已付款", ""],
    ])  # fmt: skip
    first = run_import(db, path, tmp_path)
    again = run_import(db, path, tmp_path)
    assert (first.inserted, first.skipped) == (2, 0)
    assert (again.inserted, again.skipped) == (0, 2)
    assert len(all_sales(db)) == 2


def test_unmatched_columns_kept_in_notes(db: Database, tmp_path: Path) -> None:
    path = make_text(tmp_path / "s.txt", [
        ["日期", "商品", "金额", "付款方式"],
        ["2026-03-01", "阀门", "15", "T/T"],
    ])  # fmt: skip
    run_import(db, path, tmp_path)
    assert all_sales(db)[0]["notes"] == "付款方式: T/T"


def add_blank_sales(db: Database) -> None:
    """Store one record with every number blank and one with a fine price."""
    for form in (
        {"sold_on": "2026-04-01", "item": "样品"},
        {"sold_on": "2026-04-02", "item": "螺丝", "quantity": "1000",
         "unit_price": "0.035", "currency": "USD"},
    ):  # fmt: skip
        sale_service.create_sale(db, sale_service.parse_form(form), owner="T")


def test_export_xlsx_leaves_blank_numbers_empty(db: Database, tmp_path: Path) -> None:
    add_blank_sales(db)
    path = tmp_path / "out.xlsx"
    sales_io.export_sales(db, path, SaleFilters(), custom_labels=LABELS)
    sheet = openpyxl.load_workbook(path).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    columns = {
        name: rows[0].index(name) for name in ("Quantity", "Unit price", "Amount")
    }
    blank, fine = rows[1], rows[2]
    assert [blank[i] for i in columns.values()] == [None, None, None]
    assert [fine[i] for i in columns.values()] == [1000, 0.035, 35]


def test_export_txt_leaves_blank_numbers_empty(db: Database, tmp_path: Path) -> None:
    add_blank_sales(db)
    path = tmp_path / "out.txt"
    sales_io.export_sales(db, path, SaleFilters(), custom_labels=LABELS)
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    header = lines[0].split("\t")
    blank = dict(zip(header, lines[1].split("\t"), strict=True))
    fine = dict(zip(header, lines[2].split("\t"), strict=True))
    numbers = ("Quantity", "Unit price", "Amount")
    assert [blank[name] for name in numbers] == ["", "", ""]
    assert [fine[name] for name in numbers] == ["1000", "0.035", "35.00"]


@pytest.mark.parametrize("kind", ["xlsx", "txt"])
def test_blank_numbers_survive_round_trip(
    db: Database, tmp_path: Path, kind: str
) -> None:
    add_blank_sales(db)
    before = all_sales(db)
    path = tmp_path / f"out.{kind}"
    sales_io.export_sales(db, path, SaleFilters(), custom_labels=LABELS)
    for row in before:
        sale_service.set_deleted(db, row["id"], deleted=True)
    summary = run_import(db, path, tmp_path)
    after = all_sales(db)
    assert summary.inserted == 2
    keys = ("item", "quantity_milli", "unit_price_micro", "amount_minor", "currency")
    assert [[r[k] for k in keys] for r in after] == [
        ["样品", None, None, None, "CNY"],
        ["螺丝", 1_000_000, 35_000, 3500, "USD"],
    ]


def test_reimport_skips_records_with_blanks(db: Database, tmp_path: Path) -> None:
    add_blank_sales(db)
    path = tmp_path / "out.xlsx"
    sales_io.export_sales(db, path, SaleFilters(), custom_labels=LABELS)
    summary = run_import(db, path, tmp_path)
    assert (summary.inserted, summary.skipped) == (0, 2)


def test_import_reads_fine_prices_as_typed(db: Database, tmp_path: Path) -> None:
    path = make_text(tmp_path / "s.txt", [
        ["日期", "商品", "数量", "单价", "币种"],
        ["2026-03-01", "螺丝", "1,000", "$0.035", "USD"],
        ["2026-03-02", "垫片", "800", "￥０.０１２５", "CNY"],
        ["2026-03-03", "样品", "", "", "CNY"],
    ])  # fmt: skip
    summary = run_import(db, path, tmp_path)
    rows = all_sales(db)
    assert summary.rejected == 0
    assert [r["unit_price_micro"] for r in rows] == [35_000, 12_500, None]
    assert [r["amount_minor"] for r in rows] == [3500, 1000, None]
    assert rows[2]["quantity_milli"] is None
