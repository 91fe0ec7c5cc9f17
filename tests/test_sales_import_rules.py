"""Sales import: header spellings, contact matching, preview and currency signs."""

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

LABELS = {"custom1": "", "custom2": "", "custom3": "", "custom4": ""}


def add_contact(db: Database, **values: str) -> str:
    contact = contact_service.parse_form(values)
    contact_id = contact_service.create_contact(
        db, contact, owner="T", region="CN", allow_duplicate=True
    )
    return str(contact_service.require_contact(db, contact_id)["uuid"])


def plan(path: Path) -> sales_io.SalesImportPlan:
    return sales_io.plan_import(path, filename=path.name, custom_labels=LABELS)


def run_import(db: Database, path: Path, work: Path) -> sales_io.SalesImportSummary:
    return sales_io.import_sales(
        db, plan(path), owner="T", region="CN", default_currency="CNY", work_dir=work
    )


def all_sales(db: Database) -> list[dict[str, Any]]:
    rows, _ = sale_service.list_sales(
        db, SaleFilters(), sort="sold_on", descending=False, page=1, page_size=100
    )
    return rows


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("手机号码", "phone"),
        ("联系手机", "phone"),
        ("固定电话", "phone"),
        ("电子邮箱", "email"),
        ("邮箱地址", "email"),
        ("客户姓名", "contact"),
        ("公司名称", "contact"),
        ("收货人", "contact"),
        ("产品", "item"),
        ("产品名称", "item"),
        ("商品名称", "item"),
        ("品名", "item"),
        ("货品", "item"),
        ("服务类型", "service_type"),
        ("数量", "quantity"),
        ("单价", "unit_price"),
        ("金额", "amount"),
        ("总价", "amount"),
        ("总金额", "amount"),
        ("币种", "currency"),
        ("货币", "currency"),
        ("状态", "status"),
        ("销售日期", "sold_on"),
        ("下单日期", "sold_on"),
        ("手机号码（必填）", "phone"),
    ],
)
def test_header_spelling_mapped(header: str, field: str) -> None:
    assert sales_io.map_columns([header], LABELS) == [field]


def test_unit_header_not_contact() -> None:
    # In a sales sheet "单位" is the unit of measure, not the organisation.
    assert sales_io.map_columns(["单位"], LABELS) == [""]


def wps_file(tmp_path: Path, rows: list[list[Any]]) -> Path:
    header = ["下单日期", "客户姓名", "手机号码", "电子邮箱", "产品名称", "数量",
              "单价", "总金额"]  # fmt: skip
    return make_xlsx(tmp_path / "wps.xlsx", [header, *rows])


def test_wps_headers_find_contact(db: Database, tmp_path: Path) -> None:
    zhang = add_contact(db, name="张小明", mobile="13812345678")
    li = add_contact(db, name="李华", email="li@example.com")
    path = wps_file(tmp_path, [
        [datetime.date(2026, 3, 1), "", "13812345678", "", "钢管", 2, 10, None],
        [datetime.date(2026, 3, 2), "", "", "LI@example.com", "阀门", 1, 5, None],
        [datetime.date(2026, 3, 3), "张小明", "", "", "螺丝", 1, 1, None],
    ])  # fmt: skip
    summary = run_import(db, path, tmp_path)
    rows = all_sales(db)
    assert summary.rejected == 0
    assert [r["contact_uuid"] for r in rows] == [zhang, li, zhang]
    assert [r["item"] for r in rows] == ["钢管", "阀门", "螺丝"]
    assert rows[0]["amount_minor"] == 2000


@pytest.mark.parametrize(
    ("cells", "typed"),
    [
        (["王五", "", ""], "“王五”"),
        (["", "13900000000", ""], "“13900000000”"),
        (["", "", "nobody@example.com"], "“nobody@example.com”"),
    ],
)
def test_unknown_contact_row_rejected(
    db: Database, tmp_path: Path, cells: list[str], typed: str
) -> None:
    add_contact(db, name="张小明", mobile="13812345678")
    path = wps_file(tmp_path, [[datetime.date(2026, 3, 1), *cells, "钢管", 1, 1, None]])
    summary = run_import(db, path, tmp_path)
    assert summary.inserted == 0
    assert summary.rejected == 1
    assert all_sales(db) == []
    assert summary.rejected_file is not None
    text = rejected_text(summary.rejected_file)
    assert typed in text
    assert "“”" not in text


def test_blank_contact_cells_stored_without_contact(
    db: Database, tmp_path: Path
) -> None:
    path = wps_file(
        tmp_path, [[datetime.date(2026, 3, 1), "", "", "", "钢管", 1, 1, None]]
    )
    summary = run_import(db, path, tmp_path)
    assert summary.inserted == 1
    assert all_sales(db)[0]["contact_uuid"] is None


def rejected_text(path: Path) -> str:
    sheet = openpyxl.load_workbook(path).active
    return "\n".join(
        str(cell.value) for row in sheet.iter_rows() for cell in row if cell.value
    )


def result_words(rows: list[sales_io.ConvertedSale]) -> list[str]:
    words = []
    for row in rows:
        if row.problems:
            words.append("rejected")
        elif row.is_stored:
            words.append("stored")
        else:
            words.append("new")
    return words


def test_preview_marks_stored_rows(db: Database, tmp_path: Path) -> None:
    form = {"sold_on": "2026-04-01", "item": "钢管", "quantity": "2",
            "unit_price": "10"}  # fmt: skip
    sale_service.create_sale(db, sale_service.parse_form(form), owner="T")
    path = tmp_path / "out.xlsx"
    sales_io.export_sales(db, path, SaleFilters(), custom_labels=LABELS)
    rows = sales_io.preview(db, plan(path), region="CN", default_currency="CNY")
    assert result_words(rows) == ["stored"]
    summary = run_import(db, path, tmp_path)
    assert (summary.inserted, summary.skipped) == (0, 1)


def test_preview_counts_stored_once(db: Database, tmp_path: Path) -> None:
    # One stored sale and the same row twice in the file: the import skips
    # the first row and stores the second, and the preview shows the same.
    form = {"sold_on": "2026-04-01", "item": "钢管", "unit_price": "10"}
    sale_service.create_sale(db, sale_service.parse_form(form), owner="T")
    path = make_text(tmp_path / "s.txt", [
        ["日期", "商品", "单价"],
        ["2026-04-01", "钢管", "10"],
        ["2026-04-01", "钢管", "10"],
        ["2026-04-01", "钢管", "x"],
    ])  # fmt: skip
    rows = sales_io.preview(db, plan(path), region="CN", default_currency="CNY")
    assert result_words(rows) == ["stored", "new", "rejected"]
    summary = run_import(db, path, tmp_path)
    assert (summary.inserted, summary.skipped, summary.rejected) == (1, 1, 1)


def test_import_rejects_sign_of_other_currency(db: Database, tmp_path: Path) -> None:
    path = make_text(tmp_path / "s.txt", [
        ["日期", "商品", "数量", "单价", "金额", "币种"],
        ["2026-03-01", "螺丝", "1000", "$0.035", "", "EUR"],
        ["2026-03-02", "垫片", "1", "1", "$1", "CNY"],
        ["2026-03-03", "阀门", "1", "$0.035", "", "USD"],
    ])  # fmt: skip
    summary = run_import(db, path, tmp_path)
    assert (summary.inserted, summary.rejected) == (1, 2)
    assert [r["item"] for r in all_sales(db)] == ["阀门"]
    assert summary.rejected_file is not None
    text = summary.rejected_file.read_text(encoding="utf-8-sig")
    assert "“$0.035”" in text
    assert "currency EUR" in text
    assert "“$1”" in text
    assert "currency CNY" in text
