"""Communication log pages through the Flask test client."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from http import HTTPStatus

import pytest
from flask import Flask, render_template
from flask.testing import FlaskClient

from crm_web.data import comm_logs as log_data
from crm_web.data.db import Database
from crm_web.data.records import new_record
from crm_web.services import clock
from crm_web.services import comm_log as log_service
from crm_web.services import contacts as contact_service
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
    assert re.search(r'name="contact_uuid" value="[0-9a-f-]{36}"', page)


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


def test_list_filters_by_pinyin_initials(client: FlaskClient, contact_id: int) -> None:
    create_entry(client, contact_id, title="Found by initials")
    other = create_contact(client, name="王芳")
    create_entry(client, other, title="Someone else")
    page = client.get("/log/?who=zxm").get_data(as_text=True)
    assert "Found by initials" in page
    assert "Someone else" not in page


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
    assert "1 log entry added, 0 already stored, 0 rejected." in done
    assert "你好" in client.get("/log/").get_data(as_text=True)


def test_import_preview_shows_rejected_cells(
    client: FlaskClient, contact_id: int
) -> None:
    body = "日期\t联系人\t电子邮箱\t标题\n2024-03-01 09:00\t王芳\t\t报价\n"
    response = client.post(
        "/log/import",
        data={"file": (io.BytesIO(body.encode("utf-8")), "log.txt")},
        content_type="multipart/form-data",
    )
    review = client.get(response.headers["Location"]).get_data(as_text=True)
    row = review[review.index('<tr class="problem">') :]
    assert "<td>王芳</td>" in row
    assert "<td>2024-03-01 09:00</td>" in row
    assert "<td>报价</td>" in row


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


# --- follow-up done -----------------------------------------------------------


def due_entry(client: FlaskClient, contact_id: int, title: str) -> int:
    """Create an entry whose follow-up day has passed in every time zone."""
    return create_entry(client, contact_id, title=title, follow_up_on="2024-03-20")


def home_follow_ups(client: FlaskClient, path: str = "/") -> str:
    page = client.get(path).get_data(as_text=True)
    start = page.index('id="home-follow-ups"')
    return page[start : page.index("</section>", start)]


def test_home_marks_follow_up_done(client: FlaskClient, contact_id: int) -> None:
    entry_id = due_entry(client, contact_id, "Send the catalogue")
    response = client.post(
        f"/log/{entry_id}/follow-up", data={"done": "1", "next": f"/?done={entry_id}"}
    )
    assert response.status_code == HTTPStatus.FOUND
    assert response.headers["Location"] == f"/?done={entry_id}"
    panel = home_follow_ups(client, response.headers["Location"])
    assert "No follow-up is due." in panel
    assert 'id="home-follow-up-undo"' in panel
    assert "Follow-up “Send the catalogue” marked done." in panel


def test_home_undo_reopens_follow_up(client: FlaskClient, contact_id: int) -> None:
    entry_id = due_entry(client, contact_id, "Send the catalogue")
    client.post(f"/log/{entry_id}/follow-up", data={"done": "1"})
    response = client.post(
        f"/log/{entry_id}/follow-up", data={"done": "0", "next": "/"}
    )
    assert response.headers["Location"] == "/"
    panel = home_follow_ups(client, f"/?done={entry_id}")
    assert "Send the catalogue" in panel
    assert 'id="home-follow-up-undo"' not in panel


def test_home_lists_done_button(client: FlaskClient, contact_id: int) -> None:
    entry_id = due_entry(client, contact_id, "Call back")
    panel = home_follow_ups(client)
    assert f'action="/log/{entry_id}/follow-up"' in panel
    assert f'name="next" value="/?done={entry_id}"' in panel


def test_follow_up_done_needs_csrf_token(
    app: Flask, client: FlaskClient, contact_id: int
) -> None:
    entry_id = due_entry(client, contact_id, "Call back")
    plain = FlaskClient(app, app.response_class)
    response = plain.post(f"/log/{entry_id}/follow-up", data={"done": "1"})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "Call back" in home_follow_ups(client)


def test_entry_page_toggles_follow_up(client: FlaskClient, contact_id: int) -> None:
    entry_id = create_entry(client, contact_id, follow_up_on="2024-03-20")
    page = client.get(f"/log/{entry_id}").get_data(as_text=True)
    assert '<span class="badge follow-up-open">Open</span>' in page
    assert "Mark follow-up done" in page
    response = client.post(f"/log/{entry_id}/follow-up", data={"done": "1"})
    assert response.headers["Location"] == f"/log/{entry_id}"
    page = client.get(f"/log/{entry_id}").get_data(as_text=True)
    assert '<span class="badge follow-up-done">Done</span>' in page
    assert "Open the follow-up again" in page


def test_follow_up_done_without_date_fails(
    client: FlaskClient, contact_id: int
) -> None:
    entry_id = create_entry(client, contact_id, title="No date")
    response = client.post(f"/log/{entry_id}/follow-up", data={"done": "1"})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "“No date” has no follow-up date" in response.get_data(as_text=True)


def test_follow_up_next_must_be_local(client: FlaskClient, contact_id: int) -> None:
    entry_id = create_entry(client, contact_id, follow_up_on="2024-03-20")
    response = client.post(
        f"/log/{entry_id}/follow-up", data={"done": "1", "next": "//evil.example/"}
    )
    assert response.headers["Location"] == f"/log/{entry_id}"


def test_list_filters_open_follow_ups(client: FlaskClient, contact_id: int) -> None:
    done = create_entry(client, contact_id, title="Done one", follow_up_on="2024-03-20")
    create_entry(client, contact_id, title="Open one", follow_up_on="2024-03-21")
    create_entry(client, contact_id, title="No follow-up")
    client.post(f"/log/{done}/follow-up", data={"done": "1"})
    page = client.get("/log/?follow_up=open").get_data(as_text=True)
    assert "Open one" in page
    assert "Done one" not in page
    assert "No follow-up</a>" not in page
    assert '<option value="open" selected>' in page


# --- counting up to a cap -------------------------------------------------------


def test_list_shows_capped_count(
    client: FlaskClient,
    app_db: Database,
    contact_id: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(log_service, "COUNT_CAP", 1000)
    contact = contact_service.require_contact(app_db, contact_id)
    rows = [
        {
            **new_record("Test"),
            "contact_uuid": contact["uuid"],
            "occurred_at": datetime(2024, 1, 1) + timedelta(minutes=number),
            "channel": "phone",
            "title": f"Call {number}",
            "content": "",
            "search_text": log_service.search_text_of(f"Call {number}", ""),
            "appointment_uuid": None,
            "follow_up_on": None,
        }
        for number in range(1001)
    ]
    app_db.write(lambda db: log_data.insert_logs(db, rows))
    page = client.get("/log/?page=2").get_data(as_text=True)
    assert '<span class="count" id="log-count">1,000+ entries</span>' in page
    assert "Page 2<" in page
    assert 'rel="prev" href="/log/?page=1"' in page
    assert 'rel="next" href="/log/?page=3"' in page


def test_list_counts_last_page_with_separator(
    client: FlaskClient,
    app_db: Database,
    contact_id: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(log_service, "COUNT_CAP", 1000)
    contact = contact_service.require_contact(app_db, contact_id)
    rows = [
        {
            **new_record("Test"),
            "contact_uuid": contact["uuid"],
            "occurred_at": datetime(2024, 1, 1) + timedelta(minutes=number),
            "channel": "phone",
            "title": f"Call {number}",
            "content": "",
            "search_text": log_service.search_text_of(f"Call {number}", ""),
            "appointment_uuid": None,
            "follow_up_on": None,
        }
        for number in range(1001)
    ]
    app_db.write(lambda db: log_data.insert_logs(db, rows))
    page = client.get("/log/?page=21").get_data(as_text=True)
    assert '<span class="count" id="log-count">1,001 entries</span>' in page
    assert "Page 21 of 21<" in page


@pytest.mark.parametrize("typed", ["2026-99-01", "tomorrow"])
def test_list_names_bad_date(client: FlaskClient, typed: str) -> None:
    page = client.get(f"/log/?from={typed}").get_data(as_text=True)
    assert f"“{typed}” is not a valid date" in page


def test_list_swaps_reversed_dates(client: FlaskClient, contact_id: int) -> None:
    create_entry(client, contact_id, occurred_at="2024-03-02T10:00", title="Between")
    page = client.get("/log/?from=2024-03-03&to=2024-03-01").get_data(as_text=True)
    assert "is after the end date" in page
    assert "Between" in page
    assert 'name="from" value="2024-03-01"' in page


def test_long_title_is_shortened_in_lists(client: FlaskClient, contact_id: int) -> None:
    title = "长" * 150 + "END"
    create_entry(client, contact_id, title=title, follow_up_on="2000-01-01")
    shown = "长" * 79 + "…</a>"
    for path in ("/log/", "/", f"/contacts/{contact_id}"):
        page = client.get(path).get_data(as_text=True)
        assert shown in page, path
        assert title + "</a>" not in page, path


def test_long_title_is_rejected_with_limit(
    client: FlaskClient, contact_id: int
) -> None:
    response = client.post(
        "/log/new",
        data={
            "contact_id": str(contact_id),
            "occurred_at": "2024-03-15T10:30",
            "title": "x" * 600,
        },
    )
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert "the limit is 200" in response.get_data(as_text=True)
