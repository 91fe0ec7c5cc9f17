"""The communication log in headless Chromium: log from a card, find it again."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from test_browser import add_contact

from crm_web.data.db import Database
from crm_web.services import clock
from crm_web.services import comm_log as log_service

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


def test_follow_up_done_from_home_and_undo(
    page: Page, base_url: str, app_db: Database
) -> None:
    contact_id = add_contact(app_db, name="李华", company="南方物流")
    zone = clock.user_zone("Asia/Shanghai")
    raw = {
        "contact_id": str(contact_id),
        "occurred_at": "2024-03-15T10:30",
        "channel": "email",
        "title": "寄样品",
        "follow_up_on": "2024-03-20",
    }
    entry = log_service.parse_entry(app_db, raw, zone=zone)
    entry_id = log_service.create_entry(app_db, entry, owner="Test", zone=zone)
    app_db.release()

    page.goto(f"{base_url}/")
    follow_ups = page.locator("#home-follow-ups")
    expect(follow_ups.locator("li")).to_have_count(1)
    follow_ups.get_by_role("button", name="Mark done").click()

    expect(page).to_have_url(f"{base_url}/?done={entry_id}")
    expect(follow_ups.locator("li")).to_have_count(0)
    expect(page.locator("#home-follow-up-undo")).to_contain_text("寄样品")
    page.locator("#home-follow-up-undo").get_by_role("button", name="Undo").click()

    expect(page).to_have_url(f"{base_url}/")
    expect(follow_ups.locator("li a")).to_have_text(["寄样品"])
    expect(page.locator("#home-follow-up-undo")).to_have_count(0)
