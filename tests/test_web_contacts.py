"""Contact pages through the Flask test client."""

from __future__ import annotations

import re
from http import HTTPStatus

import pytest
from conftest import CsrfClient
from flask import Flask
from flask.testing import FlaskClient

FETCH = {"X-Requested-With": "fetch", "Accept": "application/json"}


def create(client: FlaskClient, **values: str) -> int:
    response = client.post("/contacts/new", data=values)
    assert response.status_code == HTTPStatus.FOUND, response.data[:500]
    match = re.search(r"/contacts/(\d+)$", response.headers["Location"])
    assert match
    return int(match.group(1))


@pytest.mark.parametrize(
    "path",
    [
        "/contacts/",
        "/contacts/new",
        "/contacts/trash",
        "/categories/",
        "/imports/",
        "/exports/",
        "/settings/",
        "/log/",
        "/sales/",
        "/appointments/",
        "/vault/",
        "/files/",
    ],
)
def test_page_renders(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code == HTTPStatus.OK


def test_root_is_home_page(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    for section in (
        "home-appointments",
        "home-follow-ups",
        "home-recent",
        "home-sales",
    ):
        assert f'id="{section}"' in page


def test_unknown_page_is_404_with_message(client: FlaskClient) -> None:
    response = client.get("/nowhere")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert "This page does not exist" in response.get_data(as_text=True)


def test_search_finds_by_pinyin_initials(client: FlaskClient) -> None:
    create(client, name="张小明", company="东方贸易")
    create(client, name="李华")
    page = client.get("/contacts/?q=zxm").get_data(as_text=True)
    assert "张小明" in page
    assert "李华" not in page


def test_new_contact_with_bad_email_names_value(client: FlaskClient) -> None:
    response = client.post("/contacts/new", data={"name": "A", "email": "a@b"})
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert "“a@b” is not a valid e-mail address" in response.get_data(as_text=True)


def test_duplicate_phone_offers_open_and_merge(client: FlaskClient) -> None:
    first = create(client, name="张小明", mobile="155 5550 0102")
    response = client.post(
        "/contacts/new", data={"name": "Zhang", "mobile": "+86 15555500102"}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert f"/contacts/{first}" in page
    assert 'name="merge_into"' in page
    assert 'name="allow_duplicate"' in page


def test_merge_new_card_into_existing(client: FlaskClient) -> None:
    first = create(client, name="张小明", mobile="15555500102")
    response = client.post(
        "/contacts/new",
        data={
            "name": "Zhang",
            "mobile": "15555500102",
            "email": "z@example.com",
            "merge_into": str(first),
        },
    )
    assert response.status_code == HTTPStatus.FOUND
    page = client.get(f"/contacts/{first}").get_data(as_text=True)
    assert "z@example.com" in page


def test_inline_edit_returns_row_html(client: FlaskClient) -> None:
    contact_id = create(client, name="张小明")
    response = client.post(
        f"/contacts/{contact_id}/edit",
        headers=FETCH,
        data={"name": "张小明", "city": "宁波", "version": "1"},
    )
    assert response.status_code == HTTPStatus.OK
    assert "宁波" in response.json["html"]
    assert f'id="contact-{contact_id}"' in response.json["html"]


def test_inline_edit_stale_version_conflicts(client: FlaskClient) -> None:
    contact_id = create(client, name="A")
    client.post(
        f"/contacts/{contact_id}/edit",
        headers=FETCH,
        data={"name": "B", "version": "1"},
    )
    response = client.post(
        f"/contacts/{contact_id}/edit",
        headers=FETCH,
        data={"name": "C", "version": "1"},
    )
    assert response.status_code == HTTPStatus.CONFLICT
    assert "changed by someone else" in response.json["error"]


def test_inline_edit_invalid_returns_field_errors(client: FlaskClient) -> None:
    contact_id = create(client, name="A")
    response = client.post(
        f"/contacts/{contact_id}/edit",
        headers=FETCH,
        data={"name": "", "company": "", "version": "1"},
    )
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert "name" in response.json["errors"]


def test_delete_then_restore_from_trash(client: FlaskClient) -> None:
    contact_id = create(client, name="独一无二")
    client.post(f"/contacts/{contact_id}/delete")
    assert "独一无二" not in client.get("/contacts/").get_data(as_text=True)
    assert "独一无二" in client.get("/contacts/trash").get_data(as_text=True)
    client.post(f"/contacts/{contact_id}/restore")
    assert "独一无二" in client.get("/contacts/").get_data(as_text=True)


def test_saved_view_lists_and_applies(client: FlaskClient) -> None:
    create(client, name="张小明", city="宁波")
    response = client.post("/contacts/views", data={"name": "宁波客户", "city": "宁波"})
    assert response.status_code == HTTPStatus.FOUND
    page = client.get("/contacts/").get_data(as_text=True)
    assert "宁波客户" in page
    assert "city=%E5%AE%81%E6%B3%A2" in page


@pytest.mark.parametrize(
    "payload",
    [
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(1)>',
    ],
)
def test_field_values_render_as_text(client: FlaskClient, payload: str) -> None:
    contact_id = create(client, name=payload, notes=payload)
    page = client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    assert payload not in page
    assert "&lt;" in page


def test_sorting_by_name_uses_pinyin(client: FlaskClient) -> None:
    for name in ("张三", "Alice", "李四"):
        create(client, name=name)
    page = client.get("/contacts/?sort=name").get_data(as_text=True)
    assert page.index("Alice") < page.index("李四") < page.index("张三")
    page = client.get("/contacts/?sort=name&dir=desc").get_data(as_text=True)
    assert page.index("张三") < page.index("李四") < page.index("Alice")


def test_language_switch_to_chinese(client: FlaskClient) -> None:
    client.post("/settings/language", data={"language": "zh_CN", "next": "/contacts/"})
    page = client.get("/contacts/").get_data(as_text=True)
    assert 'lang="zh-CN"' in page


def test_category_crud_pages(client: FlaskClient) -> None:
    client.post("/categories/new", data={"name": "展会客户"})
    page = client.get("/categories/").get_data(as_text=True)
    assert "展会客户" in page
    response = client.post("/categories/new", data={"name": "展会客户"})
    assert response.status_code == HTTPStatus.FOUND
    assert "already exists" in client.get("/categories/").get_data(as_text=True)


def test_post_without_csrf_token_is_rejected(app: Flask) -> None:
    plain = FlaskClient(app)
    response = plain.post("/contacts/new", data={"name": "跨站写入"})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "came from another web page" in response.get_data(as_text=True)
    assert "跨站写入" not in CsrfClient(app).get("/contacts/").get_data(as_text=True)


def test_foreign_host_header_is_rejected(client: FlaskClient) -> None:
    response = client.get("/contacts/", headers={"Host": "attacker.example"})
    assert response.status_code == HTTPStatus.BAD_REQUEST


@pytest.mark.parametrize(
    "target",
    [
        "//example.com/x",
        "https://example.com/",
        "/\\example.com",
        "javascript:x",
    ],
)
def test_language_switch_rejects_foreign_next(client: FlaskClient, target: str) -> None:
    response = client.post(
        "/settings/language", data={"language": "en", "next": target}
    )
    assert response.headers["Location"] == "/contacts/"


def test_delete_rejects_foreign_next(client: FlaskClient) -> None:
    contact_id = create(client, name="A")
    response = client.post(
        f"/contacts/{contact_id}/delete", data={"next": "https://example.com/"}
    )
    assert response.headers["Location"] == "/contacts/"


def test_inline_form_loads_on_demand(client: FlaskClient) -> None:
    contact_id = create(client, name="张小明", city="宁波")
    page = client.get("/contacts/").get_data(as_text=True)
    form = client.get(f"/contacts/{contact_id}/inline-form").get_data(as_text=True)
    assert 'class="card-edit"' not in page
    assert f'id="e{contact_id}-city"' in form
    assert 'value="宁波"' in form
    assert 'name="csrf_token"' in form


def test_inline_duplicate_lists_details(client: FlaskClient) -> None:
    create(client, name="甲", company="东方", mobile="13700137004")
    other = create(client, name="乙")
    response = client.post(
        f"/contacts/{other}/edit",
        headers=FETCH,
        data={"name": "乙", "mobile": "13700137004", "version": "1"},
    )
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json["duplicates"][0]["detail"] == "东方 13700137004"
    response = client.post(
        f"/contacts/{other}/edit",
        headers=FETCH,
        data={
            "name": "乙",
            "mobile": "13700137004",
            "version": "1",
            "allow_duplicate": "1",
        },
    )
    assert response.status_code == HTTPStatus.OK


def test_merged_card_links_to_kept_card(client: FlaskClient) -> None:
    kept = create(client, name="王强", mobile="13700000001")
    gone = create(client, name="王强(重复)")
    client.post(f"/contacts/{kept}/merge", data={"source": str(gone)})
    page = client.get(f"/contacts/{gone}").get_data(as_text=True)
    assert f'href="/contacts/{kept}"' in page
    assert "/restore" not in page
