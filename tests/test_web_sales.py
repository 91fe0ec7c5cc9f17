"""Sales pages through the Flask test client."""

from __future__ import annotations

import io
import re
from http import HTTPStatus
from pathlib import Path

import openpyxl
import pytest
from builders import make_text
from flask.testing import FlaskClient

from crm_web.data.db import Database
from crm_web.services import contacts as contact_service
from crm_web.services import sales as sale_service
from crm_web.services.preferences import save_preferences


def create(client: FlaskClient, **values: str) -> None:
    form = {"sold_on": "2026-03-15", "currency": "CNY", "status": "ordered", **values}
    response = client.post("/sales/new", data=form)
    assert response.status_code == HTTPStatus.FOUND, response.data[:800]


def only_id(app_db: Database) -> int:
    rows, _ = sale_service.list_sales(
        app_db,
        sale_service.SaleFilters(),
        sort="sold_on",
        descending=True,
        page=1,
        page_size=10,
    )
    assert len(rows) == 1
    return int(rows[0]["id"])


@pytest.mark.parametrize(
    "path",
    [
        "/sales/",
        "/sales/new",
        "/sales/trash",
        "/sales/lists",
        "/sales/import",
        "/sales/summary",
        "/sales/summary?by=month",
        "/sales/summary?by=contact",
        "/sales/summary?by=category",
    ],
)
def test_sales_page_renders(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code == HTTPStatus.OK


def test_new_record_listed_with_money(client: FlaskClient) -> None:
    create(client, item="Steel pipe", quantity="2.5", unit_price="¥1,234.50")
    page = client.get("/sales/").get_data(as_text=True)
    assert "Steel pipe" in page
    assert "CN¥3,086.25" in page  # 2.5 × 1,234.50


def test_invalid_price_names_value(client: FlaskClient) -> None:
    form = {"sold_on": "2026-03-15", "quantity": "1", "unit_price": "0.0350001"}
    response = client.post("/sales/new", data=form)
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    page = response.get_data(as_text=True)
    assert "“0.0350001”" in page
    assert "at most 6 decimal places" in page
    assert 'value="0.0350001"' in page


def test_form_links_contact_by_phone(client: FlaskClient, app_db: Database) -> None:
    contact = contact_service.parse_form({"name": "张小明", "mobile": "13812345678"})
    contact_service.create_contact(app_db, contact, owner="T", region="CN")
    create(client, contact="138 1234 5678", item="Valve")
    page = client.get("/sales/").get_data(as_text=True)
    assert "张小明" in page


def test_edit_saves_and_conflicts(client: FlaskClient, app_db: Database) -> None:
    create(client, item="A", quantity="1", unit_price="10")
    sale_id = only_id(app_db)
    form = {"sold_on": "2026-03-15", "item": "B", "version": "1", "currency": "CNY"}
    first = client.post(f"/sales/{sale_id}/edit", data=form)
    assert first.status_code == HTTPStatus.FOUND
    second = client.post(f"/sales/{sale_id}/edit", data=form)
    assert second.status_code == HTTPStatus.CONFLICT


def test_edit_form_shows_plain_amounts(client: FlaskClient, app_db: Database) -> None:
    create(client, item="A", quantity="2.5", unit_price="1234.5")
    page = client.get(f"/sales/{only_id(app_db)}/edit").get_data(as_text=True)
    assert 'value="2.5"' in page
    assert 'value="1234.50"' in page
    assert 'value="3086.25"' in page


def test_delete_and_restore(client: FlaskClient, app_db: Database) -> None:
    create(client, item="Gone soon")
    sale_id = only_id(app_db)
    client.post(f"/sales/{sale_id}/delete")
    assert "<td>Gone soon</td>" not in client.get("/sales/").get_data(as_text=True)
    assert "<td>Gone soon</td>" in client.get("/sales/trash").get_data(as_text=True)
    client.post(f"/sales/{sale_id}/restore")
    assert "<td>Gone soon</td>" in client.get("/sales/").get_data(as_text=True)


def test_list_filters_by_item(client: FlaskClient) -> None:
    create(client, item="Steel pipe")
    create(client, item="Valve")
    page = client.get("/sales/?item=valve").get_data(as_text=True)
    assert "Valve" in page
    assert "Steel pipe</td>" not in page


def test_header_menu_links_summary(client: FlaskClient) -> None:
    create(client, item="Valve")
    page = client.get("/sales/?status=ordered").get_data(as_text=True)
    assert "/sales/summary?by=item&amp;status=ordered" in page
    assert "/sales/summary?by=month&amp;status=ordered" in page


def test_summary_has_total_and_chart(client: FlaskClient) -> None:
    create(client, item="Valve", quantity="1", unit_price="10")
    create(client, item="valve", quantity="1", unit_price="5", currency="USD")
    page = client.get("/sales/summary?by=item").get_data(as_text=True)
    assert re.search(r'class="total-row">\s*<th scope="row">Total</th>', page)
    assert "<svg" in page
    assert "US$5.00" in page or "$5.00" in page


def test_summary_custom_field_label(client: FlaskClient, app_db: Database) -> None:
    save_preferences(app_db, {"sales_custom1": "Payment method"})
    create(client, item="Valve", custom1="WeChat Pay")
    listing = client.get("/sales/").get_data(as_text=True)
    assert "Payment method" in listing
    page = client.get("/sales/summary?by=custom1").get_data(as_text=True)
    assert "Summary by Payment method" in page
    assert "WeChat Pay" in page


def test_summary_xlsx_download(client: FlaskClient) -> None:
    create(client, item="Valve", quantity="2", unit_price="10")
    response = client.get("/sales/summary.xlsx?by=item")
    assert response.status_code == HTTPStatus.OK
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[1] == ["Valve", 1, 2, 20]
    assert rows[-1] == ["Total", 1, 2, 20]


def test_unknown_summary_column_is_400(client: FlaskClient) -> None:
    response = client.get("/sales/summary?by=notes")
    assert response.status_code == HTTPStatus.BAD_REQUEST


def test_pick_list_add_rename_remove(client: FlaskClient, app_db: Database) -> None:
    client.post("/sales/lists/item", data={"value": "Stel pipe"})
    entry = sale_service.pick_values(app_db, "item")[0]
    client.post(
        f"/sales/lists/values/{entry['uuid']}/rename",
        data={"value": "Steel pipe", "update_records": "1"},
    )
    assert "Steel pipe" in client.get("/sales/lists").get_data(as_text=True)
    client.post(f"/sales/lists/values/{entry['uuid']}/remove")
    assert sale_service.pick_values(app_db, "item") == []


def test_typed_item_offered_in_form(client: FlaskClient) -> None:
    create(client, item="New gadget")
    page = client.get("/sales/new").get_data(as_text=True)
    assert '<option value="New gadget">' in page


def test_contact_suggestions_json(client: FlaskClient, app_db: Database) -> None:
    contact = contact_service.parse_form({"name": "李华", "company": "南方物流"})
    contact_service.create_contact(app_db, contact, owner="T", region="CN")
    data = client.get("/contacts/suggest?q=lihua").get_json()
    assert data["contacts"][0]["label"] == "李华 · 南方物流"
    assert data["contacts"][0]["name"] == "李华"


def test_import_preview_then_run(client: FlaskClient, tmp_path: Path) -> None:
    rows = [["日期", "商品", "单价"], ["2026-03-01", "钢管", "10"]]
    rows.append(["2026-03-02", "阀门", "1.2345678"])
    path = make_text(tmp_path / "s.txt", rows)
    with path.open("rb") as file:
        response = client.post("/sales/import", data={"file": (file, "销售.txt")})
    assert response.status_code == HTTPStatus.FOUND
    review = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "“1.2345678”" in review
    done = client.post(response.headers["Location"]).get_data(as_text=True)
    assert (
        "1 sales records inserted, 0 skipped because they are already stored, "
        "1 rejected" in done
    )
    match = re.search(r'href="(/sales/import/rejected/[^"]+)"', done)
    assert match
    rejected = client.get(match.group(1))
    assert rejected.status_code == HTTPStatus.OK
    assert "“1.2345678”" in rejected.get_data(as_text=True)


def test_rejected_file_name_checked(client: FlaskClient) -> None:
    response = client.get("/sales/import/rejected/..%2Fr9crm.sqlite3")
    assert response.status_code == HTTPStatus.NOT_FOUND


def test_export_filtered_xlsx(client: FlaskClient) -> None:
    create(client, item="Valve", quantity="2", unit_price="10")
    create(client, item="Pipe", quantity="1", unit_price="1")
    response = client.get("/sales/export?format=xlsx&item=valve")
    assert response.status_code == HTTPStatus.OK
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert len(rows) == 2
    assert rows[1][4] == "Valve"
    assert rows[1][8] == 20


def test_blank_numbers_listed_blank(client: FlaskClient) -> None:
    create(client, item="Samples", quantity="", unit_price="")
    page = client.get("/sales/").get_data(as_text=True)
    row = re.search(r'<tr class="sale".*?</tr>', page, re.S)
    assert row
    cells = re.findall(r'<td class="num[^"]*">(.*?)</td>', row.group(0), re.S)
    assert [cell.strip() for cell in cells] == ["", "", ""]


def test_fine_price_listed_with_its_digits(client: FlaskClient) -> None:
    create(client, item="Bolts", quantity="1000", unit_price="0.035", currency="USD")
    page = client.get("/sales/").get_data(as_text=True)
    assert "US$0.035" in page or "$0.035" in page
    assert "$35.00" in page


def test_edit_form_shows_blanks(client: FlaskClient, app_db: Database) -> None:
    create(client, item="Samples", amount="")
    page = client.get(f"/sales/{only_id(app_db)}/edit").get_data(as_text=True)
    for name in ("quantity", "unit_price", "amount"):
        assert f'id="sale-{name}" name="{name}" value=""' in page


def test_edit_form_shows_fine_price(client: FlaskClient, app_db: Database) -> None:
    create(client, quantity="1000", unit_price="0.035", currency="USD")
    page = client.get(f"/sales/{only_id(app_db)}/edit").get_data(as_text=True)
    assert 'name="unit_price" value="0.035"' in page
    assert 'name="amount" value="35.00"' in page
    assert 'name="quantity" value="1000"' in page


def test_sort_by_unit_price(client: FlaskClient) -> None:
    create(client, item="Dear", quantity="1", unit_price="2")
    create(client, item="Cheap", quantity="1", unit_price="0.035")
    page = client.get("/sales/?sort=unit_price_micro&dir=asc").get_data(as_text=True)
    assert page.index("Cheap") < page.index("Dear")


def test_picked_contact_kept_after_error(client: FlaskClient, app_db: Database) -> None:
    for company in ("南方物流", "西部五金"):
        contact = contact_service.parse_form({"name": "王芳", "company": company})
        contact_service.create_contact(
            app_db, contact, owner="T", region="CN", allow_duplicate=True
        )
    chosen = app_db.query("SELECT uuid FROM contacts ORDER BY id")[1]["uuid"]
    form = {"sold_on": "soon", "contact": "王芳", "contact_pick": chosen}
    response = client.post("/sales/new", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert f'name="contact_uuid" value="{chosen}"' in page
    assert 'name="contact_pick"' not in page
