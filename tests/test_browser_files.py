"""The file repository in headless Chromium: upload, find, download."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from crm_web.data.db import Database
from crm_web.services.preferences import save_preferences

# The browser, base_url and page fixtures come from conftest.py.
pytestmark = pytest.mark.browser

CHINESE_NAME = "报价单 2026（最终版）.xlsx"


def test_upload_find_and_download(page: Page, base_url: str, tmp_path: Path) -> None:
    content = os.urandom(200_000)
    page.goto(f"{base_url}/files/")
    page.locator("form.file-upload input[type=file]").set_input_files(
        [
            {
                "name": CHINESE_NAME,
                "mimeType": "application/octet-stream",
                "buffer": content,
            },
            {"name": "other.txt", "mimeType": "text/plain", "buffer": b"other"},
        ]
    )
    page.get_by_role("button", name="Add files").click()
    expect(page.locator(".flash-ok")).to_have_text("2 files added.")

    page.fill("#files-query", "最终版")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("td.file-name")).to_have_text([CHINESE_NAME])

    row = page.locator("tr").filter(has_text=CHINESE_NAME)
    with page.expect_download() as download_info:
        row.get_by_role("link", name="Download").click()
    download = download_info.value
    assert download.suggested_filename == CHINESE_NAME
    saved = tmp_path / "downloaded.xlsx"
    download.save_as(saved)
    assert saved.read_bytes() == content


def test_file_over_limit_rejected_before_sending(
    page: Page, base_url: str, app_db: Database
) -> None:
    save_preferences(app_db, {"files_max_mb": "1"})
    app_db.release()
    page.goto(f"{base_url}/files/")
    page.locator("form.file-upload input[type=file]").set_input_files(
        [
            {
                "name": "大视频.mp4",
                "mimeType": "video/mp4",
                "buffer": b"0" * (1024 * 1024 + 1),
            }
        ]
    )
    page.get_by_role("button", name="Add files").click()
    expect(page.locator(".flash-error")).to_contain_text(
        "“大视频.mp4” is larger than 1 MB"
    )
    expect(page.locator("#files-count")).to_have_text("0 files")


def test_drop_files_on_page(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/files/")
    page.evaluate(
        """() => {
          const transfer = new DataTransfer();
          transfer.items.add(new File(["第一"], "拖放一.txt", {type: "text/plain"}));
          transfer.items.add(new File(["second"], "dropped two.txt"));
          const zone = document.querySelector(".drop-zone");
          const drop = new DragEvent("drop", {dataTransfer: transfer, bubbles: true});
          zone.dispatchEvent(drop);
        }"""
    )
    expect(page.locator(".flash-ok")).to_have_text("2 files added.")
    expect(page.locator("td.file-name")).to_have_count(2)
    expect(page.locator("td.file-name").filter(has_text="拖放一.txt")).to_have_count(1)


def test_desktop_dialog_adds_by_path(page: Page, base_url: str, tmp_path: Path) -> None:
    source = tmp_path / "装箱单 №7.pdf"
    source.write_bytes(b"%PDF-1.4 packing list")
    # Stands in for the window's js_api (ui/window.py), which returns paths.
    paths = json.dumps([str(source)])
    page.add_init_script(
        "window.pywebview = {api: {open_files_dialog: function () {"
        f" return Promise.resolve({paths}); }}}}}};"
    )
    page.goto(f"{base_url}/files/")
    page.get_by_role("button", name="Choose files…").click()
    expect(page.locator(".flash-ok")).to_have_text("1 file added.")
    expect(page.locator("td.file-name")).to_have_text(["装箱单 №7.pdf"])
