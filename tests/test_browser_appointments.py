"""Appointment pages in headless Chromium, served by waitress.

The browser runs in a thread of its own. test_browser.py keeps a sync
Playwright open in the main thread for the whole session, and a second
sync_playwright() in that thread fails with "using Playwright Sync API
inside the asyncio loop".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import conftest
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from crm_web.data.db import Database
from crm_web.services import appointments as service
from crm_web.services import clock
from crm_web.services.preferences import save_preferences

pytestmark = pytest.mark.browser

ZONE = ZoneInfo("Asia/Shanghai")


Steps = Callable[[Page], None]


class BrowserThread:
    """Chromium driven from one worker thread; steps run there too."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._pool.submit(self._start).result()

    def _start(self) -> None:
        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(
            executable_path=str(conftest.CHROMIUM),
            args=conftest.CHROMIUM_ARGS,
        )

    def run(self, steps: Steps) -> None:
        """Run ``steps`` on a page in a fresh context; fail on JavaScript errors."""
        self._pool.submit(self._run, steps).result()

    def _run(self, steps: Steps) -> None:
        assert self._browser is not None
        context = self._browser.new_context(
            locale="en-US", viewport=conftest.VIEWPORT
        )
        context.set_default_timeout(conftest.TIMEOUT_MS)
        errors: list[str] = []
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        try:
            steps(page)
        finally:
            context.close()
        assert not errors, f"uncaught JavaScript errors: {errors}"

    def close(self) -> None:
        self._pool.submit(self._stop).result()
        self._pool.shutdown()

    def _stop(self) -> None:
        if self._browser is not None:
            self._browser.close()
        if self._playwright is not None:
            self._playwright.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[BrowserThread]:
    if not conftest.CHROMIUM.exists():
        pytest.fail(f"{conftest.CHROMIUM} is missing: install Debian's chromium")
    browser = BrowserThread()
    yield browser
    browser.close()


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


def test_new_appointment_in_this_week(chromium: BrowserThread, base_url: str) -> None:
    starts = datetime.combine(clock.today(ZONE), time(23, 30))

    def steps(page: Page) -> None:
        fill_new_appointment(page, base_url, "验货 23:30", starts)
        page.get_by_role("link", name="This week").click()
        row = page.locator("tr.appointment", has_text="验货 23:30")

        expect(page.locator(".quick-view.current")).to_have_text("This week")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("23:30–23:50")
        expect(row).to_contain_text("宁波港")

    chromium.run(steps)


def test_calendar_shows_appointment_on_its_day(
    chromium: BrowserThread, base_url: str
) -> None:
    starts = datetime.combine(clock.today(ZONE), time(0, 30))

    def steps(page: Page) -> None:
        fill_new_appointment(page, base_url, "早班电话", starts)
        page.get_by_role("link", name="Month calendar").click()
        cell = page.locator(f'td.day[data-date="{starts.date().isoformat()}"]')

        expect(cell).to_contain_text("早班电话")
        expect(cell).to_contain_text("00:30")
        expect(page.locator("td.day", has_text="早班电话")).to_have_count(1)

    chromium.run(steps)


def test_reminder_notice_stays_dismissed(
    chromium: BrowserThread, base_url: str, app_db: Database
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
    # The test adds the poller itself, so it does not depend on base.html.
    # Where base.html loads it too, both copies show the notice only once.
    script = f"{base_url}/static/js/reminders.js"

    def steps(page: Page) -> None:
        page.goto(f"{base_url}/appointments/")
        page.add_script_tag(url=script)
        notice = page.locator(".reminder", has_text="给王经理回电话")
        expect(notice).to_have_count(1)
        notice.get_by_role("button", name="Dismiss").click()
        page.reload()
        page.add_script_tag(url=script)
        page.wait_for_load_state("networkidle")

        expect(page.locator(".reminder")).to_have_count(0)

    chromium.run(steps)


def test_cancel_one_occurrence_of_series(
    chromium: BrowserThread, base_url: str, app_db: Database
) -> None:
    today = clock.today(ZONE)
    service.create_appointment(
        app_db,
        {
            "title": "每日站会",
            "starts_at_local": datetime.combine(today, time(9, 0)),
            "repeat": "daily",
        },
        owner="Test",
        zone=ZONE,
    )
    app_db.release()

    def steps(page: Page) -> None:
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(f"{base_url}/appointments/?view=today")
        row = page.locator("tr.appointment", has_text="每日站会")
        row.get_by_role("button", name="Cancel this one").click()

        expect(page.locator(".flash")).to_contain_text("This occurrence was cancelled")
        expect(page.locator("tr.appointment")).to_have_count(0)
        page.get_by_role("link", name="Cancelled appointments").click()
        expect(page.locator("tr.appointment", has_text="每日站会")).to_have_count(1)
        page.goto(f"{base_url}/appointments/?view=next_week")
        expect(page.locator("tr.appointment", has_text="每日站会")).to_have_count(7)

    chromium.run(steps)


def test_ics_download_keeps_chinese_name(
    chromium: BrowserThread, base_url: str, app_db: Database
) -> None:
    today = clock.today(ZONE)
    service.create_appointment(
        app_db,
        {"title": "拜访东方贸易", "starts_at_local": datetime.combine(today, time(10))},
        owner="Test",
        zone=ZONE,
    )
    app_db.release()
    names = []

    def steps(page: Page) -> None:
        page.goto(f"{base_url}/appointments/?view=today")
        for link in (
            page.locator("tr.appointment a", has_text=".ics"),
            page.get_by_role("link", name="Export all (.ics)"),
        ):
            with page.expect_download() as download:
                link.click()
            names.append(download.value.suggested_filename)

    chromium.run(steps)

    assert names == [
        f"拜访东方贸易-{today.isoformat()}.ics",
        f"appointments-{today.isoformat()}.ics",
    ]
