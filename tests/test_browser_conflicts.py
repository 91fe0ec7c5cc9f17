"""An edit form in Chromium when someone else saved the record first."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from crm_web.data.db import Database
from crm_web.services import contacts as contact_service

pytestmark = pytest.mark.browser


def add_contact(db: Database, **values: str) -> int:
    contact = contact_service.parse_form(values)
    contact_id = contact_service.create_contact(db, contact, owner="Admin", region="CN")
    db.release()
    return contact_id


def stored_city(db: Database, contact_id: int) -> str:
    city = str(contact_service.require_contact(db, contact_id)["city"])
    db.release()
    return city


def lose_race(page: Page, base_url: str, contact_id: int) -> None:
    """Type 宁波 into the open form; someone else saves 温州; then save."""
    page.goto(f"{base_url}/contacts/{contact_id}/edit")
    page.locator("#f-city").fill("宁波")
    token = page.locator("meta[name=csrf-token]").get_attribute("content")
    response = page.request.post(
        f"{base_url}/contacts/{contact_id}/edit",
        form={
            "name": "张小明",
            "city": "温州",
            "version": "1",
            "csrf_token": token or "",
        },
    )
    assert response.ok
    page.get_by_role("button", name="Save", exact=True).click()


def test_conflict_panel_shows_both_versions(
    page: Page, base_url: str, app_db: Database
) -> None:
    contact_id = add_contact(app_db, name="张小明", city="杭州")
    lose_race(page, base_url, contact_id)

    panel = page.locator(".version-conflict")
    expect(panel).to_be_visible()
    expect(panel.locator(".conflict-message")).to_contain_text(
        "“张小明” was changed by someone else"
    )
    row = panel.locator("tr.differs")
    expect(row).to_have_count(1)
    expect(row.locator("th")).to_contain_text("City")
    expect(row.locator("td.saved")).to_have_text("温州")
    expect(row.locator("td.mine")).to_have_text("宁波")
    expect(page.locator("#f-city")).to_have_value("宁波")
    assert stored_city(app_db, contact_id) == "温州"


def test_save_mine_anyway_stores_mine(
    page: Page, base_url: str, app_db: Database
) -> None:
    contact_id = add_contact(app_db, name="张小明", city="杭州")
    lose_race(page, base_url, contact_id)

    page.get_by_role("button", name="Save mine anyway").click()

    page.wait_for_url(re.compile(rf"/contacts/{contact_id}$"))
    expect(page.locator(".flash-ok")).to_have_text("Contact saved.")
    assert stored_city(app_db, contact_id) == "宁波"


def test_discard_mine_opens_saved_version(
    page: Page, base_url: str, app_db: Database
) -> None:
    contact_id = add_contact(app_db, name="张小明", city="杭州")
    lose_race(page, base_url, contact_id)

    page.get_by_role("link", name="Discard mine and open the saved version").click()

    expect(page.locator(".version-conflict")).to_have_count(0)
    expect(page.locator("#f-city")).to_have_value("温州")
    assert stored_city(app_db, contact_id) == "温州"
