"""The sales form's amount box in headless Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from crm_web.data.db import Database

# The browser, base_url and page fixtures come from conftest.py.
pytestmark = pytest.mark.browser


def save(page: Page) -> None:
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".flash-ok")).to_have_text("Sales record saved.")


def amounts(db: Database) -> list[int | None]:
    rows = db.query("SELECT amount_minor FROM sales ORDER BY id")
    db.release()
    return [row["amount_minor"] for row in rows]


def open_edit(page: Page, base_url: str) -> None:
    page.locator("tr.sale").first.get_by_role("link", name="Edit").click()
    expect(page.locator("h1")).to_have_text("Edit sales record")


def test_amount_follows_quantity_and_price(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/sales/new")
    page.fill("#sale-quantity", "1000")
    page.fill("#sale-unit_price", "０.０３５５")
    expect(page.locator("#sale-amount")).to_have_value("35.50")
    page.fill("#sale-currency", "JPY")
    expect(page.locator("#sale-amount")).to_have_value("36")
    page.fill("#sale-currency", "KWD")
    expect(page.locator("#sale-amount")).to_have_value("35.500")
    page.fill("#sale-quantity", "")
    expect(page.locator("#sale-amount")).to_have_value("")


def test_typed_amount_kept_on_edit(page: Page, base_url: str, app_db: Database) -> None:
    page.goto(f"{base_url}/sales/new")
    page.fill("#sale-quantity", "2")
    page.fill("#sale-unit_price", "100")
    page.fill("#sale-amount", "150")
    save(page)
    open_edit(page, base_url)
    page.fill("#sale-quantity", "4")
    expect(page.locator("#sale-amount")).to_have_value("150.00")
    save(page)
    assert amounts(app_db) == [15000]


def test_computed_amount_follows_on_edit(
    page: Page, base_url: str, app_db: Database
) -> None:
    page.goto(f"{base_url}/sales/new")
    page.fill("#sale-quantity", "2")
    page.fill("#sale-unit_price", "100")
    expect(page.locator("#sale-amount")).to_have_value("200.00")
    save(page)
    open_edit(page, base_url)
    page.fill("#sale-quantity", "4")
    expect(page.locator("#sale-amount")).to_have_value("400.00")
    page.fill("#sale-amount", "380")
    page.fill("#sale-unit_price", "99")
    expect(page.locator("#sale-amount")).to_have_value("380")
    save(page)
    assert amounts(app_db) == [38000]
