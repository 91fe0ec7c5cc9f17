"""A new user locks the app, signs in, keeps a password and a file."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

# The browser, base_url and page fixtures come from conftest.py.
pytestmark = pytest.mark.browser

ADMIN_PASSWORD = "管理员密码 2026"
MASTER = "马到成功 horse battery"
SHOP_PASSWORD = "Pw-淘宝-7x!"
FILE_NAME = "报价单 2026（最终版）.xlsx"


def turn_on_protection(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/users/")
    page.get_by_role("button", name="Turn on").click()
    expect(page.locator(".flash-error")).to_contain_text("“Admin”")
    row = page.locator("tr[data-user=Admin]")
    row.get_by_label("New password for Admin").fill(ADMIN_PASSWORD)
    row.get_by_role("button", name="Set").click()
    expect(page.locator(".flash-ok")).to_contain_text("The password of “Admin”")
    page.get_by_role("button", name="Turn on").click()
    expect(page.locator(".flash-ok")).to_contain_text("Login protection is on")


def sign_in(page: Page, password: str) -> None:
    page.fill("#login-name", "Admin")
    page.fill("#login-password", password)
    page.get_by_role("button", name="Sign in").click()


def test_protection_vault_and_files(page: Page, base_url: str) -> None:
    page.context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=base_url
    )
    turn_on_protection(page, base_url)
    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{base_url}/vault/")
    expect(page).to_have_url(f"{base_url}/login?next=/vault/?")

    sign_in(page, "wrong password")
    expect(page.locator(".flash-error")).to_contain_text("wrong")
    sign_in(page, ADMIN_PASSWORD)
    expect(page).to_have_url(f"{base_url}/vault/")
    expect(page.locator(".signed-in")).to_contain_text("Signed in as Admin")

    page.fill("#vault-password", MASTER)
    page.fill("#vault-repeat", MASTER)
    page.get_by_role("button", name="Create the vault").click()
    page.get_by_role("link", name="+ New entry").click()
    page.select_option("#vault-kind", "website")
    page.fill("#vault-title", "淘宝店铺")
    page.fill("#vault-secret", SHOP_PASSWORD)
    page.get_by_role("button", name="Save", exact=True).click()
    row = page.locator("tr.vault-entry").filter(has_text="淘宝店铺")
    # The page reads the clearing delay from this attribute: 4 s, not 30 s,
    # which leaves a busy machine time to read the clipboard first.
    page.locator("#vault").evaluate("el => { el.dataset.clipboardSeconds = '4'; }")
    row.locator("button[data-copy=password]").click()
    expect(page.locator(".flash-ok")).to_contain_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == SHOP_PASSWORD
    expect(page.locator(".flash-ok")).to_have_text(
        "The clipboard was cleared.", timeout=15_000
    )
    assert page.evaluate("navigator.clipboard.readText()") == ""

    page.goto(f"{base_url}/files/")
    page.locator("form.file-upload input[type=file]").set_input_files(
        [{"name": FILE_NAME, "mimeType": "application/octet-stream", "buffer": b"PK"}]
    )
    page.get_by_role("button", name="Add files").click()
    page.fill("#files-query", "报价")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("td.file-name")).to_have_text([FILE_NAME])
