"""Sales pages in headless Chromium: add records and summarise them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from test_browser import CHROMIUM, CHROMIUM_ARGS, base_url, page, table_records

from crm_web.data.db import Database
from crm_web.services.preferences import save_preferences

pytestmark = pytest.mark.browser

# The fixtures come from test_browser; naming them here registers them.
__all__ = ["base_url", "page"]


@pytest.fixture(scope="session")
def browser(request: pytest.FixtureRequest) -> Iterator[Browser]:
    """Yield test_browser's Chromium when it runs, else launch one.

    The sync API allows one running Playwright per thread, so a second
    session fixture would fail while test_browser's is alive.
    """
    running = _running_browser(request)
    if running is not None:
        yield running
        return
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


def _running_browser(request: pytest.FixtureRequest) -> Browser | None:
    # NOTE: reads pytest 9's private fixture registry; when that changes,
    # this finds nothing and the fixture launches its own browser, which
    # works when this file runs without test_browser.py.
    registry: Any = getattr(request._fixturemanager, "_arg2node2fixturedefs", {})
    for definitions in registry.get("browser", {}).values():
        for definition in definitions:
            cached = getattr(definition, "cached_result", None)
            if cached and isinstance(cached[0], Browser) and cached[0].is_connected():
                return cached[0]
    return None


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
