"""The communication log in headless Chromium: log from a card, find it again."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from test_browser import add_contact

from crm_web.data.db import Database

# The browser, base_url and page fixtures come from conftest.py.
pytestmark = pytest.mark.browser


def test_log_from_card_then_open_from_list(
    page: Page, base_url: str, app_db: Database
) -> None:
    contact_id = add_contact(app_db, name="张小明", company="东方贸易")
    page.goto(f"{base_url}/contacts/{contact_id}")
    page.get_by_role("link", name="Add log entry").click()

    page.fill("#log-occurred", "2026-12-03T15:30")
    page.select_option("#log-channel", "wechat")
    page.fill("#log-title", "报价 FOB 宁波")
    page.fill("#log-content", "第一行：单价 12.5 美元\n第二行：下周确认 😀")
    page.get_by_role("button", name="Save", exact=True).click()

    # Saving returns to the card, whose timeline shows the entry.
    expect(page).to_have_url(f"{base_url}/contacts/{contact_id}")
    expect(page.locator("a.timeline-title")).to_have_text(["报价 FOB 宁波"])

    page.goto(f"{base_url}/log/")
    expect(page.locator("#log-count")).to_have_text("1 entry")
    page.locator("td.log-title a").click()
    expect(page.locator("h2.log-title")).to_have_text("报价 FOB 宁波")
    expect(page.locator(".log-content")).to_have_text(
        "第一行：单价 12.5 美元\n第二行：下周确认 😀"
    )
