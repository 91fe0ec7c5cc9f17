"""Appointment pages in headless Chromium, served by waitress."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import test_browser
from playwright.sync_api import Page, expect

from crm_web.data.db import Database
from crm_web.services import appointments as service
from crm_web.services import clock
from crm_web.services.preferences import save_preferences

pytestmark = pytest.mark.browser

ZONE = ZoneInfo("Asia/Shanghai")

# The Chromium, server and page fixtures of the contact browser tests.
browser = test_browser.browser
base_url = test_browser.base_url
page = test_browser.page


@pytest.fixture(autouse=True)
def shanghai(app_db: Database) -> None:
    save_preferences(app_db, {"time_zone": "Asia/Shanghai"})
    app_db.release()


def fill_new_appointment(
    page: Page, base_url: str, title: str, starts: datetime
) -> None:
    page.goto(f"{base_url}/appointments/new")
    page.fill("#a-title", title)
    page.fill("#a-starts", starts.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#a-ends", (starts + timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#a-location", "宁波港")
    page.get_by_role("button", name="Save").click()


def test_new_appointment_in_this_week(page: Page, base_url: str) -> None:
    starts = datetime.combine(clock.today(ZONE), time(23, 30))

    fill_new_appointment(page, base_url, "验货 23:30", starts)
    page.get_by_role("link", name="This week").click()
    row = page.locator("tr.appointment", has_text="验货 23:30")

    expect(page.locator(".quick-view.current")).to_have_text("This week")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("23:30–23:50")
    expect(row).to_contain_text("宁波港")


def test_calendar_shows_appointment_on_its_day(
    page: Page,
    base_url: str,
) -> None:
    starts = datetime.combine(clock.today(ZONE), time(0, 30))
    fill_new_appointment(page, base_url, "早班电话", starts)

    page.get_by_role("link", name="Month calendar").click()
    cell = page.locator(f'td.day[data-date="{starts.date().isoformat()}"]')

    expect(cell).to_contain_text("早班电话")
    expect(cell).to_contain_text("00:30")
    expect(page.locator("td.day", has_text="早班电话")).to_have_count(1)


def test_reminder_notice_stays_dismissed(
    page: Page,
    base_url: str,
    app_db: Database,
) -> None:
    soon = clock.to_local(clock.now_utc(), ZONE).replace(tzinfo=None)
    service.create_appointment(
        app_db,
        {
            "title": "给王经理回电话",
            "starts_at_local": soon + timedelta(minutes=5),
            "reminder_minutes": 10,
        },
        owner="Test",
        zone=ZONE,
    )
    app_db.release()
    script = "/static/js/reminders.js"

    page.goto(f"{base_url}/appointments/")
    page.add_script_tag(url=f"{base_url}{script}")
    notice = page.locator(".reminder", has_text="给王经理回电话")
    expect(notice).to_have_count(1)
    notice.get_by_role("button", name="Dismiss").click()
    page.reload()
    page.add_script_tag(url=f"{base_url}{script}")
    page.wait_for_load_state("networkidle")

    expect(page.locator(".reminder")).to_have_count(0)
