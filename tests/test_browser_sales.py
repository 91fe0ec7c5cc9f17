"""Sales pages in headless Chromium: add records and summarise them."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from test_browser import table_records

from crm_web.data.db import Database
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
    expect(page.locator(".summary-chart svg rect")).to_have_count(2)
