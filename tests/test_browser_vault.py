"""The account vault in headless Chromium: set up, add, reveal, copy, clear."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Dialog, Page, expect

# The browser, base_url and page fixtures come from conftest.py.
pytestmark = pytest.mark.browser

MASTER = "马到成功 horse battery"
PASSWORD = "Pw-测试-9f3Kq!"


def set_up_vault(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/vault/")
    expect(page.locator(".vault-warning").first).to_contain_text("cannot be recovered")
    page.fill("#vault-password", "short")
    expect(page.locator("#vault-strength")).to_contain_text("Weak")
    page.fill("#vault-password", MASTER)
    page.fill("#vault-repeat", MASTER)
    page.get_by_role("button", name="Create the vault").click()
    expect(page.locator(".flash-ok")).to_have_text(
        "Your account vault is ready and unlocked."
    )


def add_entry(page: Page, *, title: str, password: str) -> None:
    page.get_by_role("link", name="+ New entry").click()
    page.select_option("#vault-kind", "alipay")
    page.fill("#vault-title", title)
    page.fill("#vault-account", "zhang@example.com")
    page.fill("#vault-secret", password)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".flash-ok")).to_contain_text("saved")


def clipboard(page: Page) -> str:
    text: str = page.evaluate("navigator.clipboard.readText()")
    return text


@pytest.fixture
def vault_page(page: Page, base_url: str) -> Page:
    page.context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=base_url
    )
    set_up_vault(page, base_url)
    return page


def test_add_reveal_copy_and_clear(vault_page: Page) -> None:
    page = vault_page
    add_entry(page, title="Alipay shop", password=PASSWORD)
    row = page.locator("tr.vault-entry").filter(has_text="Alipay shop")
    secret = row.locator("[data-secret=password]")
    expect(secret).to_have_text("••••••••")

    row.locator("button[data-reveal=password]").click()
    expect(secret).to_have_text(PASSWORD)
    expect(row.locator("button[data-reveal=password]")).to_have_text("Hide")
    row.locator("button[data-reveal=password]").click()
    expect(secret).to_have_text("••••••••")

    # The page reads the clearing delay from this attribute: 4 s, not 30 s,
    # which leaves a busy machine time to read the clipboard first.
    page.locator("#vault").evaluate("el => { el.dataset.clipboardSeconds = '4'; }")
    row.locator("button[data-copy=password]").click()
    expect(page.locator(".flash-ok")).to_have_text(
        "Copied. The clipboard will be cleared in 4 seconds."
    )
    assert clipboard(page) == PASSWORD
    expect(page.locator(".flash-ok")).to_have_text(
        "The clipboard was cleared.", timeout=15_000
    )
    assert clipboard(page) == ""


def test_clipboard_left_alone_after_other_copy(vault_page: Page) -> None:
    page = vault_page
    add_entry(page, title="Alipay shop", password=PASSWORD)
    page.locator("#vault").evaluate("el => { el.dataset.clipboardSeconds = '4'; }")
    page.locator("button[data-copy=password]").click()
    expect(page.locator(".flash-ok")).to_contain_text("Copied.")
    page.evaluate("navigator.clipboard.writeText('the user copied this')")
    expect(page.locator(".flash-ok")).to_contain_text(
        "holds something else now", timeout=15_000
    )
    assert clipboard(page) == "the user copied this"


def test_generator_fills_the_password(vault_page: Page) -> None:
    page = vault_page
    page.get_by_role("link", name="+ New entry").click()
    page.locator("#vault-generator summary").click()
    page.fill("#gen-length", "32")
    page.uncheck("#gen-symbols")
    page.click("#gen-run")
    field = page.locator("#vault-secret")
    expect(field).to_have_attribute("type", "text")
    expect(field).to_have_value(re.compile(r"^[A-Za-z2-9]{32}$"))


def test_revealed_markup_stays_text(vault_page: Page) -> None:
    page = vault_page
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    payload = "<img src=x onerror=alert(1)>"
    add_entry(page, title=payload, password=payload)
    row = page.locator("tr.vault-entry")
    expect(row.locator(".vault-title")).to_have_text(payload)
    row.locator("button[data-reveal=password]").click()
    expect(row.locator("[data-secret=password]")).to_have_text(payload)
    assert row.locator("img").count() == 0
    assert dialogs == []


def test_lock_asks_for_master_password(vault_page: Page, base_url: str) -> None:
    page = vault_page
    add_entry(page, title="Alipay shop", password=PASSWORD)
    page.get_by_role("button", name="Lock the vault").click()
    expect(page.locator("#vault-unlock")).to_be_visible()
    page.fill("#vault-master", "not the password")
    page.get_by_role("button", name="Unlock").click()
    expect(page.locator(".flash-error")).to_contain_text("The master password is wrong")
    page.fill("#vault-master", MASTER)
    page.get_by_role("button", name="Unlock").click()
    expect(page.locator("tr.vault-entry")).to_have_count(1)
