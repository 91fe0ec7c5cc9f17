"""The sharing control of a sales record in Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from crm_web.data import visibility
from crm_web.data.db import Database
from crm_web.services import accounts
from crm_web.services import sales as sale_service

pytestmark = pytest.mark.browser


@pytest.fixture
def sale_id(app_db: Database) -> int:
    """A sales record of Admin, with Lily and Tom as other users."""
    for name in ("Lily", "Tom"):
        accounts.create_user(app_db, name, "a good password", "user", by="test")
    sale = sale_service.parse_form({"sold_on": "2026-03-15", "item": "钢管"})
    new_id = sale_service.create_sale(app_db, sale, owner="Admin")
    app_db.release()
    return new_id


def shares(db: Database, sale_id: int) -> list[str]:
    uuid = sale_service.require_sale(db, sale_id)["uuid"]
    found = visibility.shares_of(db, [uuid]).get(uuid, [])
    db.release()
    return found


def test_ticking_user_chooses_users(page: Page, base_url: str, sale_id: int) -> None:
    page.goto(f"{base_url}/sales/{sale_id}/edit")
    panel = page.locator("#sharing")
    panel.get_by_label("Tom").check()
    expect(panel.get_by_label("Only these users")).to_be_checked()


def test_choosing_everyone_clears_users(
    page: Page, base_url: str, sale_id: int
) -> None:
    page.goto(f"{base_url}/sales/{sale_id}/edit")
    panel = page.locator("#sharing")
    panel.get_by_label("Tom").check()
    panel.get_by_label("Everyone").check()
    expect(panel.get_by_label("Tom")).not_to_be_checked()


def test_saved_user_share_is_stored(
    page: Page, base_url: str, sale_id: int, app_db: Database
) -> None:
    page.goto(f"{base_url}/sales/{sale_id}/edit")
    panel = page.locator("#sharing")
    panel.get_by_label("Tom").check()
    panel.get_by_role("button", name="Save sharing").click()

    expect(page.locator(".flash-ok")).to_have_text("Sharing saved.")
    expect(page.locator("#sharing").get_by_label("Tom")).to_be_checked()
    assert shares(app_db, sale_id) == ["Tom"]
