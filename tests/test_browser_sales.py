"""Sales pages in headless Chromium: add records and summarise them."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect
from test_browser import table_records

from crm_web.data.db import Database
from crm_web.services import contacts as contact_service
from crm_web.services.preferences import save_preferences

# The browser, base_url and page fixtures come from conftest.py.
pytestmark = pytest.mark.browser


def add_sale(page: Page, base_url: str, **fields: str) -> None:
    page.goto(f"{base_url}/sales/new")
    for name, value in fields.items():
        page.fill(f"#sale-{name}", value)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".flash-ok")).to_have_text("Sales record saved.")


def test_add_sale_and_summarise_by_custom_field(
    page: Page, base_url: str, app_db: Database
) -> None:
    save_preferences(app_db, {"sales_custom1": "Payment method"})
    app_db.release()
    add_sale(page, base_url, item="Steel pipe", quantity="2.5",
             unit_price="¥1,234.50", custom1="WeChat Pay")  # fmt: skip
    add_sale(page, base_url, item="Valve", quantity="1", unit_price="99.90",
             custom1="wechat pay\u3000")  # fmt: skip
    add_sale(page, base_url, item="Valve", quantity="3", unit_price="10",
             currency="USD")  # fmt: skip

    row = page.locator("tr.sale").filter(has_text="Steel pipe")
    expect(row.locator("td.amount")).to_have_text("CN¥3,086.25")

    header = page.locator("thead th").filter(has_text="Payment method")
    header.locator("details.column-menu summary").click()
    header.get_by_role("menuitem", name="Summarise by this column").click()

    expect(page.locator("h1")).to_have_text("Summary by Payment method")
    records = table_records(page.locator("table.summary-table"))
    assert records == [
        {"Payment method": "WeChat Pay", "Records": "2", "Quantity": "3.5",
         "Amount (CNY)": "CN¥3,186.15", "Amount (USD)": ""},
        {"Payment method": "(empty)", "Records": "1", "Quantity": "3",
         "Amount (CNY)": "", "Amount (USD)": "$30.00"},
    ]  # fmt: skip
    total = page.locator("tr.total-row")
    expect(total).to_contain_text("CN¥3,186.15")
    expect(total).to_contain_text("$30.00")
    # The chart is in CNY, which the "(empty)" group has none of.
    bars = page.locator(".summary-chart svg g.bar")
    expect(bars).to_have_count(1)
    expect(bars.first).to_contain_text("WeChat Pay")


def add_contact(db: Database, **values: str) -> dict[str, Any]:
    contact = contact_service.parse_form(values)
    contact_id = contact_service.create_contact(
        db, contact, owner="Admin", region="CN", allow_duplicate=True
    )
    row = contact_service.require_contact(db, contact_id)
    db.release()
    return row


def stored_sales(db: Database) -> list[dict[str, Any]]:
    rows = db.query(
        "SELECT contact_uuid, quantity_milli, unit_price_micro, amount_minor "
        "FROM sales ORDER BY id"
    )
    db.release()
    return rows


def test_pick_contact_by_pinyin_with_keyboard(
    page: Page, base_url: str, app_db: Database
) -> None:
    zhang = add_contact(app_db, name="张小明", company="东方贸易")
    other = add_contact(app_db, name="张晓敏", company="西部五金")
    page.goto(f"{base_url}/sales/new")
    field = page.locator("#sale-contact")
    field.press_sequentially("zhangx")
    options = page.locator("#sale-contact-suggestions [role=option]")
    expect(options).to_have_count(2)
    labels = options.all_inner_texts()
    wanted = labels.index("张小明 · 东方贸易")

    for _ in range(wanted + 1):
        field.press("ArrowDown")
    expect(options.nth(wanted)).to_have_attribute("aria-selected", "true")
    field.press("Enter")
    expect(field).to_have_value("张小明")
    expect(page.locator("#sale-contact-suggestions")).to_be_hidden()
    assert page.url.endswith("/sales/new")  # Enter picked; it did not submit

    page.fill("#sale-quantity", "1000")
    page.fill("#sale-unit_price", "0.035")
    page.fill("#sale-currency", "USD")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".flash-ok")).to_have_text("Sales record saved.")

    row = page.locator("tr.sale").first
    expect(row.locator("td.amount")).to_have_text("$35.00")
    expect(row).to_contain_text("$0.035")
    expect(row).to_contain_text("张小明")
    assert stored_sales(app_db) == [
        {"contact_uuid": zhang["uuid"], "quantity_milli": 1_000_000,
         "unit_price_micro": 35_000, "amount_minor": 3500}
    ]  # fmt: skip
    assert other["uuid"] != zhang["uuid"]


def test_blank_quantity_listed_blank(page: Page, base_url: str) -> None:
    add_sale(page, base_url, item="Samples", amount="12")
    cells = page.locator("tr.sale").first.locator("td.num")
    expect(cells).to_have_count(3)
    assert [text.strip() for text in cells.all_inner_texts()] == ["", "", "CN¥12.00"]


def test_autocomplete_waits_for_composition(
    page: Page, base_url: str, app_db: Database
) -> None:
    add_contact(app_db, name="张小明", company="东方贸易")
    page.goto(f"{base_url}/sales/new")
    suggestions = page.locator("#sale-contact-suggestions")
    page.focus("#sale-contact")
    page.evaluate(
        """() => {
          const field = document.getElementById("sale-contact");
          field.dispatchEvent(new CompositionEvent("compositionstart"));
          field.value = "zhang";
          field.dispatchEvent(new InputEvent("input", {isComposing: true}));
        }"""
    )
    page.wait_for_timeout(600)
    expect(suggestions).to_be_hidden()

    page.evaluate(
        """() => {
          const field = document.getElementById("sale-contact");
          field.value = "张";
          field.dispatchEvent(new CompositionEvent("compositionend", {data: "张"}));
        }"""
    )
    expect(suggestions.locator("[role=option]")).to_have_text(["张小明 · 东方贸易"])
    page.keyboard.press("Escape")
    expect(suggestions).to_be_hidden()


def test_pick_contact_with_mouse_in_log_form(
    page: Page, base_url: str, app_db: Database
) -> None:
    li = add_contact(app_db, name="李华", company="南方物流")
    add_contact(app_db, name="李华", company="北方建材")
    page.goto(f"{base_url}/log/new")
    page.locator("#log-contact").press_sequentially("lihua")
    option = page.locator("#log-contact-suggestions [role=option]").filter(
        has_text="南方物流"
    )
    option.click()
    expect(page.locator("#log-contact")).to_have_value("李华")
    page.fill("#log-title", "Price question")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".flash-ok")).to_have_text("Log entry saved.")
    rows = app_db.query("SELECT contact_uuid FROM comm_logs")
    app_db.release()
    assert rows == [{"contact_uuid": li["uuid"]}]
