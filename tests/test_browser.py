"""The real pages in headless Chromium, served by waitress, with real files.

Each test gets its own app over tmp_path on a free port of 127.0.0.1 and a
fresh browser context. The browser is Debian's /usr/bin/chromium, not one
downloaded by Playwright.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from builders import make_xls, make_xlsx

# The browser, base_url and page fixtures are in conftest.py, shared by every
# browser test module (one Playwright per session).
from conftest import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, VIEWPORT  # noqa: F401
from playwright.sync_api import Locator, Page, expect

from crm_web.data.db import Database
from crm_web.services import contacts as contact_service
from crm_web.services.fields import FIELD_NAMES

pytestmark = pytest.mark.browser

# The export's header row, which is the English labels of CONTACT_FIELDS.
FIELD_LABELS = [
    "Name", "Company", "Job title", "Category", "Mobile", "Phone", "E-mail",
    "WeChat", "QQ", "WhatsApp", "Skype", "Country", "Province/State", "City",
    "Address", "Postcode", "Website", "Source", "Level", "Birthday", "Notes",
    "Tags",
]  # fmt: skip

# A customer list as Excel users keep it: phones typed as numbers, the ID
# number and the customer code typed as text, and one impossible birthday.
IMPORT_TITLE = "2026年客户名单"
IMPORT_HEADERS = ["姓名", "公司", "手机", "邮箱", "生日", "身份证号", "客户编号"]
IMPORT_ROWS: list[list[Any]] = [
    ["张小明", "东方贸易", 13812345678, "zxm@example.com",
     datetime.date(1990, 3, 15), "110101199003151234", "00123"],
    ["李华", "南方物流", 13987654321, "lihua@example.com",
     datetime.date(1985, 12, 1), "310101198512010027", "00124"],
    ["王芳", "北方建材", 13700001111, "wangfang@example.com",
     datetime.date(1990, 2, 28), 440101199002280044, "00125"],
]  # fmt: skip
IMPORT_FILE_NAME = "客户名单.xlsx"
# The title is line 1 and the header line 2, so 王芳 is on line 5.
REJECTED_LINE = 5
# The ID was typed as a number, so Excel kept only 15 significant digits.
REJECTED_REASON = "身份证号 “440101199002280000” is a long number that Excel"


# ---------------------------------------------------------------- fixtures


# ---------------------------------------------------------------- helpers


def add_contact(db: Database, **values: str) -> int:
    """Store a contact through the service layer and return its id."""
    contact = contact_service.parse_form(values)
    contact_id = contact_service.create_contact(
        db, contact, owner="Test", region="CN", allow_duplicate=True
    )
    db.release()
    return contact_id


def stored(db: Database, contact_id: int) -> dict[str, Any]:
    row = contact_service.require_contact(db, contact_id)
    db.release()
    return row


# JavaScript that reads a table row's cells keyed by header text without the
# sort arrow, and a cell holding a select as its chosen option.
_ROW_RECORD_JS = """
function rowRecord(table, row) {
  const heads = [...table.tHead.rows[0].cells]
    .map(c => c.innerText.replace(/[▲▼]/g, "").trim());
  return Object.fromEntries([...row.cells].map((cell, i) => {
    const select = cell.querySelector("select");
    const text = select ? select.selectedOptions[0].textContent : cell.innerText;
    return [heads[i], text.trim()];
  }));
}
"""


def table_records(table: Locator) -> list[dict[str, str]]:
    """Return a table's visible body rows as dicts keyed by header text."""
    records: list[dict[str, str]] = table.evaluate(
        f"""table => {{
          {_ROW_RECORD_JS}
          const width = table.tHead.rows[0].cells.length;
          return [...table.tBodies].flatMap(body => [...body.rows])
            .filter(row => !row.hidden && row.cells.length === width)
            .map(row => rowRecord(table, row));
        }}"""
    )
    return records


def listed_names(page: Page) -> list[str]:
    return page.locator("tbody.contact td.name").all_inner_texts()


def upload(page: Page, base_url: str, path: Path) -> None:
    """Open the import wizard, choose ``path`` and wait for the review page."""
    page.goto(f"{base_url}/imports/")
    page.set_input_files("#import-file", path)
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.locator("#start-import")).to_be_visible()


def start_import(page: Page) -> None:
    """Click "Import all rows" and wait until the progress page is done."""
    page.locator("#start-import").click()
    expect(page.locator("#import-job .done")).to_be_visible()


def customer_list(folder: Path) -> Path:
    return make_xlsx(
        folder / IMPORT_FILE_NAME, [IMPORT_HEADERS, *IMPORT_ROWS], title=IMPORT_TITLE
    )


def open_card_editor(page: Page, contact_id: int) -> Locator:
    """Expand a contact's card if needed, open its editor, return the form."""
    body = page.locator(f"#contact-{contact_id}")
    if body.locator("button.toggle").get_attribute("aria-expanded") != "true":
        body.locator("button.toggle").click()
    body.locator(".edit-inline").click()
    form = body.locator("form.card-edit")
    expect(form).to_be_visible()
    return form


def summary_of(page: Page, contact_id: int) -> dict[str, str]:
    """Return the list row of one contact keyed by the column headers."""
    record: dict[str, str] = page.locator(".contacts-table").evaluate(
        f"""(table, id) => {{
          {_ROW_RECORD_JS}
          return rowRecord(table, table.querySelector(`#contact-${{id}} tr.summary`));
        }}""",
        contact_id,
    )
    return record


# ---------------------------------------------------------------- import


def test_import_review_shows_stored_values(
    page: Page, base_url: str, tmp_path: Path
) -> None:
    upload(page, base_url, customer_list(tmp_path))

    assert page.locator("input[name=header_row]").input_value() == "2"
    mapping = {
        row["Column in the file"]: row["Goes to"]
        for row in table_records(page.locator(".mapping-table"))
    }
    assert mapping["姓名"] == "Name"
    assert mapping["手机"] == "Mobile"
    assert mapping["生日"] == "Birthday"
    assert mapping["身份证号"] == "Keep as extra field"

    preview = table_records(page.locator(".preview-table"))
    first, rejected = preview[0], preview[2]
    assert first["Name"] == "张小明"
    assert first["Mobile"] == "13812345678"
    assert first["Birthday"] == "1990-03-15"
    assert "身份证号: 110101199003151234" in first["Extra fields"]
    assert "客户编号: 00123" in first["Extra fields"]
    assert first["Result"] == "new"
    assert rejected["Row"] == str(REJECTED_LINE)
    assert rejected["Result"] == "rejected"
    assert REJECTED_REASON in rejected["Problems"]
    expect(page.locator(".preview-table tbody tr").nth(2)).to_have_class("problem")


def test_import_runs_and_returns_rejected_rows(
    page: Page, base_url: str, tmp_path: Path
) -> None:
    upload(page, base_url, customer_list(tmp_path))
    start_import(page)

    expect(page.locator("#job-message")).to_have_text(
        f"Imported {IMPORT_FILE_NAME}: 2 inserted, 0 updated, 0 skipped, 1 rejected."
    )
    reasons = page.locator("#job-reasons li").all_inner_texts()
    assert len(reasons) == 1
    assert reasons[0].startswith(f"Row {REJECTED_LINE}: {REJECTED_REASON}")

    with page.expect_download() as download_info:
        page.locator("#job-rejected").click()
    download = download_info.value
    assert download.suggested_filename == "客户名单-rejected.xlsx"
    saved = tmp_path / "rejected.xlsx"
    download.save_as(saved)
    sheet = openpyxl.load_workbook(saved).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0] == [*IMPORT_HEADERS, "Reason rejected"]
    assert len(rows) == 2
    assert rows[1][:-1] == [
        "王芳", "北方建材", "13700001111", "wangfang@example.com",
        datetime.datetime(1990, 2, 28), "440101199002280000", "00125",
    ]  # fmt: skip
    assert rows[1][-1].startswith(REJECTED_REASON)

    page.goto(f"{base_url}/contacts/")
    assert listed_names(page) == ["李华", "张小明"]
    phones = {
        record["Name"]: record["Mobile / phone"]
        for record in table_records(page.locator(".contacts-table"))
    }
    assert phones == {"张小明": "13812345678", "李华": "13987654321"}


# ---------------------------------------------------------------- search


@pytest.fixture
def search_people(app_db: Database) -> None:
    add_contact(app_db, name="张小明", company="东方贸易", mobile="138 1234 5678")
    add_contact(app_db, name="赵雪梅", company="西湖茶叶", mobile="139 0000 1111")
    # 1381234 is in both phone numbers, but 12345678 only in 张小明's.
    add_contact(app_db, name="李华", company="南方物流", mobile="138 1234 0000")
    add_contact(app_db, name="王芳", company="北方建材", email="wf@example.com")


@pytest.mark.parametrize(
    ("query", "names", "count"),
    [
        ("zxm", ["张小明", "赵雪梅"], "2 contacts"),
        ("1234 5678", ["张小明"], "1 contact"),
        ("138-1234", ["李华", "张小明"], "2 contacts"),
        ("wangfang", ["王芳"], "1 contact"),
    ],
)
@pytest.mark.usefixtures("search_people")
def test_smart_query_lists_matches(
    page: Page, base_url: str, query: str, names: list[str], count: str
) -> None:
    page.goto(f"{base_url}/contacts/")
    expect(page.locator("#result-count")).to_have_text("4 contacts")

    page.locator("#smart-query").fill(query)
    page.locator("#smart-query").press("Enter")
    page.wait_for_url("**/contacts/?q=*")

    assert listed_names(page) == names
    expect(page.locator("#result-count")).to_have_text(count)
    expect(page.locator("#smart-query")).to_have_value(query)


def test_new_contact_form_saves_card(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/contacts/new")
    page.locator("#f-name").fill("张小明")
    page.locator("#f-mobile").fill("138 1234 5678")
    page.locator("#f-birthday").fill("1990-03-15")
    page.get_by_role("button", name="Save", exact=True).click()

    page.wait_for_url(re.compile(r"/contacts/\d+$"))
    expect(page.locator(".flash-ok")).to_have_text("Contact saved.")
    page.goto(f"{base_url}/contacts/?q=zxm")
    assert listed_names(page) == ["张小明"]


# ---------------------------------------------------------------- cards


def test_card_edit_in_place(page: Page, base_url: str, app_db: Database) -> None:
    contact_id = add_contact(app_db, name="张小明", city="杭州")
    page.goto(f"{base_url}/contacts/")
    body = page.locator(f"#contact-{contact_id}")
    toggle = body.locator("button.toggle")

    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page.locator(f"#card-{contact_id}")).to_be_visible()

    body.locator(".edit-inline").click()
    page.locator(f"#e{contact_id}-city").fill("宁波")
    url = page.url
    page.evaluate("window.pageMarker = 'not reloaded'")
    body.locator("form.card-edit").get_by_role("button", name="Save").click()

    expect(page.locator(".flashes .flash-ok")).to_have_text("Contact saved.")
    assert page.url == url
    assert page.evaluate("window.pageMarker") == "not reloaded"
    assert summary_of(page, contact_id)["City"] == "宁波"
    expect(body.locator(".card-city dd")).to_have_text("宁波")
    assert stored(app_db, contact_id)["city"] == "宁波"

    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(page.locator(f"#card-{contact_id}")).to_be_hidden()


def test_card_edit_twice_in_place(page: Page, base_url: str, app_db: Database) -> None:
    contact_id = add_contact(app_db, name="张小明", city="杭州")
    page.goto(f"{base_url}/contacts/")

    for city in ("宁波", "温州"):
        form = open_card_editor(page, contact_id)
        form.locator(f"#e{contact_id}-city").fill(city)
        form.get_by_role("button", name="Save").click()
        expect(page.locator(f"#contact-{contact_id} .card-city dd")).to_have_text(city)

    expect(page.locator(".flashes .flash-ok")).to_have_text("Contact saved.")
    assert stored(app_db, contact_id)["city"] == "温州"


def test_card_edit_conflict_opens_both_versions(
    page: Page, base_url: str, app_db: Database
) -> None:
    contact_id = add_contact(app_db, name="张小明", city="杭州")
    page.goto(f"{base_url}/contacts/")
    form = open_card_editor(page, contact_id)
    form.locator(f"#e{contact_id}-city").fill("宁波")

    # Someone else saves the card after this page was opened.
    token = page.locator("meta[name=csrf-token]").get_attribute("content")
    response = page.request.post(
        f"{base_url}/contacts/{contact_id}/edit",
        form={"name": "张小明", "city": "温州", "version": "1",
              "csrf_token": token or ""},
    )
    assert response.ok
    form.get_by_role("button", name="Save").click()

    page.wait_for_url(re.compile(rf"/contacts/{contact_id}/edit$"))
    city = page.locator(".conflict-fields tr.differs")
    expect(city.locator("td.saved")).to_have_text("温州")
    expect(city.locator("td.mine")).to_have_text("宁波")
    assert stored(app_db, contact_id)["city"] == "温州"


# ---------------------------------------------------------------- export

# Values a spreadsheet would change: leading zeros, a phone number with its
# "+", cells a spreadsheet would run as formulas, and a guard-like prefix.
RISKY_CONTACT = {
    "name": "张小明",
    "company": "东方贸易",
    "job_title": "@boss",
    "mobile": "+86 155 5550 0102",
    "wechat": "'=already quoted",
    "address": "+ north gate",
    "postcode": "010020",
    "birthday": "1990-03-15",
    "notes": "=1+1",
}


def export_from_list(page: Page, base_url: str, kind: str, folder: Path) -> Path:
    """Query the list for 张小明, follow "Export these", export as ``kind``."""
    page.goto(f"{base_url}/contacts/")
    page.locator("#smart-query").fill("张小明")
    page.locator("#smart-query").press("Enter")
    page.get_by_role("link", name="Export these").click()
    page.wait_for_url("**/exports/?*")
    expect(page.locator("#export-form")).to_contain_text(
        "1 contact matches the current query."
    )
    page.locator(f"input[name=format][value={kind}]").check()
    boxes = page.locator("#export-form input[name=field]")
    assert boxes.count() == len(FIELD_LABELS)
    assert all(box.is_checked() for box in boxes.all())

    with page.expect_download() as download_info:
        page.locator("#export-button").click()
    download = download_info.value
    assert download.suggested_filename.endswith(f".{kind}")
    target = folder / download.suggested_filename
    download.save_as(target)
    return target


@pytest.fixture
def risky_contact(app_db: Database) -> int:
    contact_id = add_contact(app_db, **RISKY_CONTACT)
    add_contact(app_db, name="李华", postcode="100000")
    return contact_id


def test_export_xlsx_keeps_text_and_dates(
    page: Page, base_url: str, tmp_path: Path, risky_contact: int
) -> None:
    path = export_from_list(page, base_url, "xlsx", tmp_path)

    sheet = openpyxl.load_workbook(path).active
    header = [cell.value for cell in sheet[1]]
    assert header == FIELD_LABELS
    assert sheet.max_row == 2
    cells = dict(zip(header, sheet[2], strict=True))
    for label, expected in [
        ("Postcode", "010020"),
        ("Mobile", "+86 155 5550 0102"),
        ("Notes", "=1+1"),
        ("Job title", "@boss"),
    ]:
        assert cells[label].value == expected, label
        assert cells[label].data_type == "s", label
        letter = cells[label].column_letter
        assert sheet.column_dimensions[letter].number_format == "@", label
    assert cells["Birthday"].is_date
    assert cells["Birthday"].value == datetime.datetime(1990, 3, 15)
    with zipfile.ZipFile(path) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml


def test_export_csv_round_trips_through_import(
    page: Page, base_url: str, tmp_path: Path, app_db: Database, risky_contact: int
) -> None:
    path = export_from_list(page, base_url, "csv", tmp_path)

    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(rows) == 1
    exported = rows[0]
    assert exported["Notes"] == "'=1+1"
    assert exported["Job title"] == "'@boss"
    assert exported["WeChat"] == "''=already quoted"
    assert exported["Address"] == "'+ north gate"
    assert exported["Mobile"] == "+86 155 5550 0102"
    assert exported["Postcode"] == "010020"
    assert exported["Birthday"] == "1990-03-15"

    upload(page, base_url, path)
    page.locator("input[name=policy][value=create]").check()
    start_import(page)
    expect(page.locator("#job-message")).to_contain_text("1 inserted")

    original = stored(app_db, risky_contact)
    imported_ids = app_db.query(
        "SELECT id FROM contacts WHERE import_uuid IS NOT NULL AND name = :name",
        name=RISKY_CONTACT["name"],
    )
    app_db.release()
    assert len(imported_ids) == 1
    copy = stored(app_db, imported_ids[0]["id"])
    fields = [name for name in FIELD_NAMES if name != "category"] + ["extra"]
    assert {f: copy[f] for f in fields} == {f: original[f] for f in fields}


# ---------------------------------------------------------------- language


def test_language_switch_shows_chinese(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/contacts/")
    expect(page.locator("h1")).to_contain_text("Contacts")

    page.locator("#language-select").select_option(label="简体中文")

    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    assert page.url == f"{base_url}/contacts/"
    sidebar = page.locator("nav.sidebar ul a").all_inner_texts()
    assert sidebar == [
        "首页", "联系人", "沟通记录", "销售与服务", "预约", "账号保险箱",
        "文件", "导入", "导出", "设置", "用户", "备份", "网络",
    ]  # fmt: skip
    expect(page.locator("#result-count")).to_have_text("0 个联系人")
    expect(page.locator("#smart-query")).to_have_attribute(
        "placeholder",
        "智能查询：姓名、拼音首字母（zxm）、电话号码、公司、邮箱或任意文字…",
    )
    expect(page.get_by_role("button", name="查询")).to_be_visible()

    page.goto(f"{base_url}/imports/")
    expect(page.locator("h1")).to_have_text("导入联系人")


# ---------------------------------------------------------------- screenshots


def test_screenshots_of_list_and_review(
    page: Page, base_url: str, tmp_path: Path, app_db: Database
) -> None:
    expanded = add_contact(
        app_db,
        name="欧阳娜娜",
        company="上海东方国际贸易有限公司华东区销售服务中心",
        job_title="华东区销售总监",
        mobile="+86 155 5550 0102",
        email="ouyang.nana.sales-director@dongfang-trading.example.com",
        city="上海",
        address="上海市浦东新区世纪大道100号环球金融中心58楼5801室",
        notes="每年春节前拜访，喜欢普洱茶。\n第二行备注。",
        tags="VIP, 展会, 老客户",
    )
    add_contact(app_db, name="张小明", company="东方贸易", mobile="138 1234 5678")
    add_contact(app_db, name="Alexander Montgomery-Smith", email="alex@example.com")
    add_contact(app_db, name="李华", city="杭州", phone="0571 8888 6666")

    page.goto(f"{base_url}/contacts/")
    page.locator(f"#contact-{expanded} button.toggle").click()
    contacts_png = tmp_path / "contacts.png"
    page.screenshot(path=contacts_png, full_page=True, animations="disabled")

    upload(page, base_url, customer_list(tmp_path))
    review_png = tmp_path / "import-review.png"
    page.screenshot(path=review_png, full_page=True, animations="disabled")

    for path in (contacts_png, review_png):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path


def line_count(cell: Locator) -> int:
    """Return how many lines the text of ``cell`` is laid out on."""
    count: int = cell.evaluate(
        """cell => {
          const range = document.createRange();
          range.selectNodeContents(cell);
          return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
        }"""
    )
    return count


def test_list_keeps_short_city_on_one_line(
    page: Page, base_url: str, app_db: Database
) -> None:
    # The long company and e-mail squeeze the City column in a 1280 px window.
    add_contact(
        app_db,
        name="欧阳娜娜",
        company="上海东方国际贸易有限公司华东区销售服务中心",
        mobile="+86 155 5550 0102",
        email="ouyang.nana.sales-director@dongfang-trading.example.com",
        city="上海",
    )
    contact_id = add_contact(app_db, name="李华", city="杭州")
    page.goto(f"{base_url}/contacts/")

    assert line_count(page.locator(f"#contact-{contact_id} td.city")) == 1


def test_import_steps_do_not_overlap(page: Page, base_url: str, tmp_path: Path) -> None:
    upload(page, base_url, customer_list(tmp_path))

    steps = page.locator("ol.steps li")
    assert steps.all_inner_texts() == [
        "Choose a file",
        "Check columns and preview",
        "Import",
    ]
    # A list marker is drawn outside its item, over the step before it.
    for step in steps.all():
        assert step.evaluate("li => getComputedStyle(li).listStyleType") == "none"
    boxes = [step.bounding_box() for step in steps.all()]
    for before, after in zip(boxes, boxes[1:], strict=False):
        assert before is not None and after is not None
        assert before["x"] + before["width"] <= after["x"]


# ---------------------------------------------------------------- known bugs

# A stand-in for the desktop window's save_download that records each call.
FAKE_WINDOW_API = """
window.savedDownloads = [];
window.pywebview = {api: {save_download: function (url, name) {
  window.savedDownloads.push([url, name]);
  return Promise.resolve("");
}}};
"""


def test_window_names_rejected_file_by_its_format(
    page: Page, base_url: str, tmp_path: Path
) -> None:
    path = make_xls(tmp_path / "客户名单.xls", [IMPORT_HEADERS, *IMPORT_ROWS])
    upload(page, base_url, path)
    start_import(page)
    page.add_init_script(FAKE_WINDOW_API)
    page.reload()

    page.locator("#job-rejected").click()

    saved = page.evaluate("window.savedDownloads")
    assert len(saved) == 1
    assert saved[0][1] == "客户名单-rejected.xlsx"


def test_cross_site_form_cannot_delete_contact(
    page: Page, base_url: str, app_db: Database
) -> None:
    contact_id = add_contact(app_db, name="张小明")
    # localhost is another site than 127.0.0.1. The route serves the page
    # from this test, so nothing is sent over the network.
    attacker = base_url.replace("127.0.0.1", "localhost") + "/attack.html"
    page.route(
        attacker,
        lambda route: route.fulfill(
            content_type="text/html",
            body=f"""<form method="post"
              action="{base_url}/contacts/{contact_id}/delete">
              <button id="go">Win a prize</button></form>""",
        ),
    )
    page.goto(attacker)
    page.locator("#go").click()
    page.wait_for_url(f"{base_url}/**")

    assert not stored(app_db, contact_id)["deleted"]
