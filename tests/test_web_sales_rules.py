"""Sales pages through the Flask test client: import preview, dates, filters."""

from __future__ import annotations

import io
import re
from http import HTTPStatus
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from builders import make_text
from flask.testing import FlaskClient

from crm_web.data.db import Database
from crm_web.services import clock
from crm_web.services import contacts as contact_service
from crm_web.services.preferences import save_preferences


def create(client: FlaskClient, **values: str) -> None:
    form = {"sold_on": "2026-03-15", "currency": "CNY", "status": "ordered", **values}
    response = client.post("/sales/new", data=form)
    assert response.status_code == HTTPStatus.FOUND, response.data[:800]


def preview_results(client: FlaskClient, path: Path) -> list[str]:
    with path.open("rb") as file:
        response = client.post("/sales/import", data={"file": (file, path.name)})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    return re.findall(r"<tr class=\"[^\"]*\">\s*<td>\d+</td>\s*<td>(.*?)</td>", page)


def test_preview_says_already_stored(client: FlaskClient, tmp_path: Path) -> None:
    create(client, item="Valve", quantity="2", unit_price="10")
    export = client.get("/sales/export?format=txt")
    path = tmp_path / "sales.txt"
    path.write_bytes(export.data)
    assert preview_results(client, path) == ["already stored"]
    other = make_text(tmp_path / "new.txt", [["Date", "Sales item"],
                                            ["2026-03-16", "Pipe"]])  # fmt: skip
    assert preview_results(client, other) == ["new"]


def test_form_rejects_sign_of_other_currency(client: FlaskClient) -> None:
    form = {"sold_on": "2026-03-15", "currency": "CNY", "unit_price": "$1",
            "quantity": "1"}  # fmt: skip
    response = client.post("/sales/new", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert "Unit price “$1” is not valid" in page
    assert "currency CNY" in page
    assert "No sales records yet." in client.get("/sales/").get_data(as_text=True)


# At any moment one of these zones has another date than UTC.
ZONES = ("Pacific/Kiritimati", "Pacific/Pago_Pago")


@pytest.mark.parametrize("zone", ZONES)
def test_new_record_dated_in_user_zone(
    client: FlaskClient, app_db: Database, zone: str
) -> None:
    save_preferences(app_db, {"time_zone": zone})
    page = client.get("/sales/new").get_data(as_text=True)
    today = clock.today(ZoneInfo(zone)).isoformat()
    assert f'name="sold_on" type="date" value="{today}"' in page


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("url", ["/sales/export?format=txt", "/sales/summary.xlsx"])
def test_file_named_with_user_date(
    client: FlaskClient, app_db: Database, zone: str, url: str
) -> None:
    save_preferences(app_db, {"time_zone": zone})
    response = client.get(url)
    today = clock.today(ZoneInfo(zone)).isoformat()
    assert today in response.headers["Content-Disposition"]


def test_list_filters_contact_by_pinyin(client: FlaskClient, app_db: Database) -> None:
    contact = contact_service.parse_form({"name": "张小明"})
    contact_id = contact_service.create_contact(app_db, contact, owner="T", region="CN")
    uuid = contact_service.require_contact(app_db, contact_id)["uuid"]
    create(client, item="Valve", contact_uuid=uuid, contact="张小明")
    create(client, item="Pipe")
    page = client.get("/sales/?contact=zxm").get_data(as_text=True)
    rows = re.findall(r'<tr class="sale".*?</tr>', page, re.S)
    assert len(rows) == 1
    assert "Valve" in rows[0]
    export = client.get("/sales/export?format=txt&contact=zhangxiaoming")
    assert "Valve" in export.get_data(as_text=True)
    assert "Pipe" not in export.get_data(as_text=True)


def test_rejected_file_named_in_chinese(
    client: FlaskClient, app_db: Database, tmp_path: Path
) -> None:
    save_preferences(app_db, {"language": "zh_CN"})
    path = make_text(tmp_path / "s.txt", [["日期", "商品", "单价"],
                                          ["2026-03-01", "钢管", "x"]])  # fmt: skip
    with path.open("rb") as file:
        response = client.post("/sales/import", data={"file": (file, path.name)})
    done = client.post(response.headers["Location"]).get_data(as_text=True)
    match = re.search(r'href="(/sales/import/rejected/[^"]+)"', done)
    assert match
    disposition = client.get(match.group(1)).headers["Content-Disposition"]
    assert "rejected" not in disposition.split("filename*=")[-1]
    assert "%E6%9C%89%E8%AF%AF%E7%9A%84%E8%A1%8C.txt" in disposition  # 有误的行


def test_summary_xlsx_number_formats(client: FlaskClient) -> None:
    create(client, item="Valve", quantity="1234.5", unit_price="1000")
    create(client, item="Pipe", quantity="2", amount="500", currency="JPY")
    response = client.get("/sales/summary.xlsx?by=item")
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    header = [cell.value for cell in sheet[1]]
    assert header == ["Sales item", "Records", "Quantity", "Amount (CNY)",
                      "Amount (JPY)"]  # fmt: skip
    formats = {
        row[0].value: [c.number_format for c in row[1:]]
        for row in sheet.iter_rows(min_row=2)
    }
    assert formats["Valve"] == ["#,##0", "#,##0.###", "#,##0.00", "#,##0"]
    assert formats["Pipe"] == ["#,##0", "#,##0", "#,##0.00", "#,##0"]
    values = {row[0].value: row[3].value for row in sheet.iter_rows(min_row=2)}
    assert values["Valve"] == 1234500


def test_timeline_shows_sale_amount(client: FlaskClient, app_db: Database) -> None:
    contact = contact_service.parse_form({"name": "李华"})
    contact_id = contact_service.create_contact(app_db, contact, owner="T", region="CN")
    uuid = contact_service.require_contact(app_db, contact_id)["uuid"]
    create(client, item="Bolts", quantity="1000", unit_price="0.035", currency="USD",
           contact_uuid=uuid, contact="李华")  # fmt: skip
    page = client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    item = re.search(r'<li class="timeline-item timeline-sale">.*?</li>', page, re.S)
    assert item
    assert "$35.00" in item.group(0)
    assert "¥" not in item.group(0)


def test_timeline_with_log_entry_renders(client: FlaskClient, app_db: Database) -> None:
    contact = contact_service.parse_form({"name": "李华"})
    contact_id = contact_service.create_contact(app_db, contact, owner="T", region="CN")
    entry = {"contact_id": str(contact_id), "occurred_at": "2024-03-15T10:30",
             "channel": "wechat", "title": "Price question"}  # fmt: skip
    assert client.post("/log/new", data=entry).status_code == HTTPStatus.FOUND
    page = client.get(f"/contacts/{contact_id}")
    assert page.status_code == HTTPStatus.OK
    assert "Price question" in page.get_data(as_text=True)
