"""Communication log pages through the Flask test client."""

from __future__ import annotations

import io
import re
from http import HTTPStatus

import pytest
from flask import Flask, render_template
from flask.testing import FlaskClient

from crm_web.data.db import Database
from crm_web.services import clock
from crm_web.services.timeline import timeline_for_contact


def create_contact(client: FlaskClient, **values: str) -> int:
    response = client.post("/contacts/new", data=values)
    assert response.status_code == HTTPStatus.FOUND, response.data[:500]
    match = re.search(r"/contacts/(\d+)$", response.headers["Location"])
    assert match
    return int(match.group(1))


def create_entry(client: FlaskClient, contact_id: int, **values: str) -> int:
    data = {
        "contact_id": str(contact_id),
        "occurred_at": "2024-03-15T10:30",
        "channel": "wechat",
        "title": "Price question",
        "content": "Asked for FOB price\nand samples",
        **values,
    }
    response = client.post("/log/new", data=data)
    assert response.status_code == HTTPStatus.FOUND, response.data[:800]
    match = re.search(r"/log/(\d+)$", response.headers["Location"])
    assert match
    return int(match.group(1))


@pytest.fixture
def contact_id(client: FlaskClient) -> int:
    return create_contact(client, name="张小明", mobile="13812345678")


@pytest.mark.parametrize(
    "path", ["/log/", "/log/new", "/log/trash", "/log/import", "/log/?q=x&from=bad"]
)
def test_log_page_renders(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code == HTTPStatus.OK


def test_new_form_names_contact_from_card(client: FlaskClient, contact_id: int) -> None:
    page = client.get(f"/log/new?contact={contact_id}").get_data(as_text=True)
    assert 'value="张小明"' in page
    assert f'name="contact_id" value="{contact_id}"' in page


def test_created_entry_shows_content(client: FlaskClient, contact_id: int) -> None:
    entry_id = create_entry(client, contact_id)
    page = client.get(f"/log/{entry_id}").get_data(as_text=True)
    assert "Price question" in page
    assert "Asked for FOB price\nand samples" in page
    assert "张小明" in page


def test_new_entry_returns_to_next(client: FlaskClient, contact_id: int) -> None:
    response = client.post(
        "/log/new",
        data={
            "contact_id": str(contact_id),
            "occurred_at": "2024-03-15T10:30",
            "title": "Call",
            "next": f"/contacts/{contact_id}",
        },
    )
    assert response.headers["Location"].endswith(f"/contacts/{contact_id}")


def test_new_entry_ignores_offsite_next(client: FlaskClient, contact_id: int) -> None:
    response = client.post(
        "/log/new",
        data={
            "contact_id": str(contact_id),
            "occurred_at": "2024-03-15T10:30",
            "title": "Call",
            "next": "//evil.example/",
        },
    )
    assert re.search(r"/log/\d+$", response.headers["Location"])


def test_invalid_entry_names_problem(client: FlaskClient, contact_id: int) -> None:
    response = client.post(
        "/log/new",
        data={"contact_id": str(contact_id), "occurred_at": "soon", "title": "x"},
    )
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert "“soon” is not valid" in response.get_data(as_text=True)


def test_list_filters_by_words(client: FlaskClient, contact_id: int) -> None:
    create_entry(client, contact_id, title="Price question")
    create_entry(client, contact_id, title="Visit", content="factory tour")
    page = client.get("/log/?q=factory").get_data(as_text=True)
    assert "Visit" in page
    assert "Price question" not in page


def test_detail_links_keep_filter(client: FlaskClient, contact_id: int) -> None:
    older = create_entry(client, contact_id, occurred_at="2024-03-01T09:00")
    newer = create_entry(client, contact_id, occurred_at="2024-03-02T09:00")
    page = client.get(f"/log/{newer}?channel=wechat").get_data(as_text=True)
    assert f'href="/log/{older}?channel=wechat"' in page
    assert 'id="log-previous"' not in page


def test_edit_with_old_version_conflicts(client: FlaskClient, contact_id: int) -> None:
    entry_id = create_entry(client, contact_id)
    form = {
        "contact_id": str(contact_id),
        "occurred_at": "2024-03-15T10:30",
        "title": "Edited",
        "version": "1",
    }
    first = client.post(f"/log/{entry_id}/edit", data=form)
    second = client.post(f"/log/{entry_id}/edit", data=form)
    assert first.status_code == HTTPStatus.FOUND
    assert second.status_code == HTTPStatus.CONFLICT
    assert "changed by someone else" in second.get_data(as_text=True)


def test_delete_and_restore(client: FlaskClient, contact_id: int) -> None:
    entry_id = create_entry(client, contact_id, title="Temporary")
    client.post(f"/log/{entry_id}/delete")
    assert "Temporary" not in client.get("/log/").get_data(as_text=True)
    assert "Temporary" in client.get("/log/trash").get_data(as_text=True)
    client.post(f"/log/{entry_id}/restore")
    assert "Temporary" in client.get("/log/").get_data(as_text=True)


def test_delete_without_csrf_token_fails(
    app: Flask, client: FlaskClient, contact_id: int
) -> None:
    entry_id = create_entry(client, contact_id, title="Kept")
    plain = FlaskClient(app, app.response_class)
    response = plain.post(f"/log/{entry_id}/delete", data={})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "Kept" in client.get("/log/").get_data(as_text=True)


def test_missing_entry_is_404(client: FlaskClient) -> None:
    assert client.get("/log/999").status_code == HTTPStatus.NOT_FOUND


@pytest.mark.parametrize(
    ("kind", "mimetype"),
    [
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("txt", "text/plain"),
    ],
)
def test_export_downloads_file(
    client: FlaskClient, contact_id: int, kind: str, mimetype: str
) -> None:
    create_entry(client, contact_id)
    response = client.get(f"/log/export?format={kind}")
    assert response.status_code == HTTPStatus.OK
    assert response.mimetype == mimetype
    assert f".{kind}" in response.headers["Content-Disposition"]


def test_import_wizard_imports_rows(client: FlaskClient, contact_id: int) -> None:
    body = "日期\t手机\t方式\t标题\n2024-03-01 09:00\t13812345678\t微信\t你好\n"
    response = client.post(
        "/log/import",
        data={"file": (io.BytesIO(body.encode("utf-8")), "log.txt")},
        content_type="multipart/form-data",
    )
    review_url = response.headers["Location"]
    review = client.get(review_url).get_data(as_text=True)
    assert "张小明" in review
    done = client.post(review_url).get_data(as_text=True)
    assert "1 log entries added" in done
    assert "你好" in client.get("/log/").get_data(as_text=True)


def test_import_rejects_file_without_columns(client: FlaskClient) -> None:
    response = client.post(
        "/log/import",
        data={"file": (io.BytesIO(b"a\tb\n1\t2\n"), "x.txt")},
        content_type="multipart/form-data",
    )
    review = client.get(response.headers["Location"])
    assert review.status_code == HTTPStatus.BAD_REQUEST
    assert "has no column for the date and time" in review.get_data(as_text=True)


def test_import_token_must_be_hex(client: FlaskClient) -> None:
    assert client.get("/log/import/..%2f..").status_code == HTTPStatus.NOT_FOUND


def test_timeline_lists_entries_with_links(
    app: Flask, client: FlaskClient, app_db: Database, contact_id: int
) -> None:
    entry_id = create_entry(client, contact_id, title="Call about samples")
    with app.test_request_context():
        from crm_web.services import contacts as contact_service

        contact = contact_service.require_contact(app_db, contact_id)
        timeline = timeline_for_contact(
            app_db, contact["uuid"], zone=clock.user_zone("Asia/Shanghai")
        )
        html = render_template(
            "contacts/_timeline.html", contact=contact, timeline=timeline
        )
    assert f'href="/log/{entry_id}"' in html
    assert "Call about samples" in html
    assert f"/log/new?contact={contact_id}" in html
