"""File repository pages through the Flask test client."""

from __future__ import annotations

import hashlib
import io
import re
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
from flask import Flask
from flask.testing import FlaskClient

from crm_web.config import Settings
from crm_web.data.db import Database
from crm_web.services import files as file_service
from crm_web.services.file_store import MB, BlobStore
from crm_web.services.preferences import save_preferences

CHINESE_NAME = "报价单 2026（最终版）.xlsx"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def upload(client: FlaskClient, *files: tuple[str, bytes], **fields: str) -> Any:
    data: dict[str, Any] = {
        "file": [(io.BytesIO(content), name) for name, content in files],
        **fields,
    }
    return client.post("/files/upload", data=data, content_type="multipart/form-data")


def add_file(client: FlaskClient, name: str, content: bytes) -> int:
    response = upload(client, (name, content))
    assert response.status_code == HTTPStatus.FOUND, response.data[:500]
    page = client.get("/files/").get_data(as_text=True)
    ids = [int(i) for i in re.findall(r'href="/files/(\d+)"', page)]
    return max(ids)


def create_contact(client: FlaskClient, **values: str) -> int:
    response = client.post("/contacts/new", data=values)
    assert response.status_code == HTTPStatus.FOUND, response.data[:500]
    match = re.search(r"/contacts/(\d+)$", response.headers["Location"])
    assert match
    return int(match.group(1))


def listed(client: FlaskClient, path: str) -> list[str]:
    """Return the file names in the table of a list page."""
    page = client.get(path).get_data(as_text=True)
    return re.findall(r'class="file-name"><a [^>]*>([^<]*)</a>', page)


def blobs(settings: Settings) -> list[Path]:
    return [p for p in (settings.files_dir / "blobs").rglob("*") if p.is_file()]


@pytest.mark.parametrize("path", ["/files/", "/files/trash", "/files/?q=x&category=y"])
def test_files_page_renders(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code == HTTPStatus.OK


def test_files_area_is_not_coming_soon(client: FlaskClient) -> None:
    page = client.get("/files/").get_data(as_text=True)
    assert "coming in a later version" not in page
    assert 'class="file-upload"' in page


def test_upload_several_and_list(client: FlaskClient, settings: Settings) -> None:
    response = upload(client, (CHINESE_NAME, b"xlsx"), ("photo.png", PNG))
    assert response.status_code == HTTPStatus.FOUND
    page = client.get("/files/").get_data(as_text=True)
    assert CHINESE_NAME in page
    assert "photo.png" in page
    assert "2 files added." in page
    assert len(blobs(settings)) == 2


def test_upload_json_returns_next(client: FlaskClient) -> None:
    response = client.post(
        "/files/upload",
        data={"file": [(io.BytesIO(b"a"), "a.txt")], "next": "/contacts/"},
        content_type="multipart/form-data",
        headers={"X-Requested-With": "fetch", "Accept": "application/json"},
    )
    assert response.status_code == HTTPStatus.OK
    assert response.get_json()["next"] == "/contacts/"


def test_upload_without_file_explains(client: FlaskClient) -> None:
    response = client.post("/files/upload", data={}, content_type="multipart/form-data")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Choose one or more files first." in page


def test_upload_without_csrf_token_stores_nothing(
    app: Flask, settings: Settings
) -> None:
    plain = app.test_client()
    response = plain.post(
        "/files/upload",
        data={"file": [(io.BytesIO(b"a"), "a.txt")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert blobs(settings) == []


def test_download_headers_keep_chinese_name(client: FlaskClient) -> None:
    file_id = add_file(client, CHINESE_NAME, b"xlsx bytes")
    response = client.get(f"/files/{file_id}/download")
    disposition = response.headers["Content-Disposition"]
    assert response.status_code == HTTPStatus.OK
    assert disposition.startswith("attachment;")
    assert f"filename*=UTF-8''{quote(CHINESE_NAME, safe='')}" in disposition
    assert unquote(disposition.split("UTF-8''")[1]) == CHINESE_NAME
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.data == b"xlsx bytes"


@pytest.mark.parametrize(
    ("name", "content", "disposition", "content_type"),
    [
        ("photo.png", PNG, "inline", "image/png"),
        ("说明.pdf", b"%PDF-1.4\n", "inline", "application/pdf"),
        ("readme.txt", "中文".encode(), "inline", "text/plain; charset=utf-8"),
        ("gbk.txt", "中文".encode("gb18030"), "inline", "text/plain; charset=gb18030"),
        ("page.xml", b"<a/>", "inline", "text/plain; charset=utf-8"),
        ("page.html", b"<script>alert(1)</script>", "attachment", "text/html"),
        ("icon.svg", b"<svg onload='alert(1)'/>", "attachment", "image/svg+xml"),
        ("sheet.xlsx", b"PK", "attachment", "application/vnd.openxmlformats"),
    ],
)
def test_open_inline_only_when_safe(
    client: FlaskClient, name: str, content: bytes, disposition: str, content_type: str
) -> None:
    file_id = add_file(client, name, content)
    response = client.get(f"/files/{file_id}/open")
    assert response.headers["Content-Disposition"].split(";")[0] == disposition
    assert response.headers["Content-Type"].startswith(content_type)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.data == content


def test_download_of_missing_content_explains(
    client: FlaskClient, settings: Settings
) -> None:
    file_id = add_file(client, "gone.txt", b"gone")
    for path in blobs(settings):
        path.unlink()
    response = client.get(f"/files/{file_id}/download")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert "gone.txt" in response.get_data(as_text=True)


def test_file_over_limit_names_file_and_limit(
    client: FlaskClient, app_db: Database, settings: Settings
) -> None:
    save_preferences(app_db, {"files_max_mb": "1"})
    response = upload(client, ("样品视频.mp4", b"0" * (MB + 1)))
    text = response.get_data(as_text=True)
    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert "样品视频.mp4" in text
    assert "1 MB" in text
    assert blobs(settings) == []
    assert list((settings.files_dir / "incoming").iterdir()) == []


def test_file_over_limit_in_chinese(client: FlaskClient, app_db: Database) -> None:
    save_preferences(app_db, {"files_max_mb": "1"})
    client.post("/settings/language", data={"language": "zh_CN"})
    response = upload(client, ("样品视频.mp4", b"0" * (MB + 1)))
    text = response.get_data(as_text=True)
    assert '<html lang="zh-CN">' in text
    assert "样品视频.mp4" in text


def test_request_over_limit_gives_message(
    app: Flask, client: FlaskClient, app_db: Database, settings: Settings
) -> None:
    save_preferences(app_db, {"files_max_mb": "1"})
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = client.post(
        "/files/upload",
        data={"file": [(io.BytesIO(b"0" * (3 * MB)), "a.bin")]},
        content_type="multipart/form-data",
        headers={"X-Requested-With": "fetch", "Accept": "application/json"},
    )
    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    message = response.get_json()["error"]
    assert "2 MB" in message
    assert "up to 1 MB" in message
    assert blobs(settings) == []


def test_upload_limit_follows_setting(
    app: Flask, client: FlaskClient, app_db: Database
) -> None:
    save_preferences(app_db, {"files_max_mb": "3"})
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = upload(client, ("a.bin", b"0" * (2 * MB)))
    assert response.status_code == HTTPStatus.FOUND


@pytest.mark.parametrize("value", ["0", "1001", "abc", "-5", "2.5"])
def test_files_max_mb_setting_rejects(app_db: Database, value: str) -> None:
    with pytest.raises(file_service.InvalidValueError):
        save_preferences(app_db, {"files_max_mb": value})


def test_crafted_names_shown_sanely(client: FlaskClient, settings: Settings) -> None:
    # The test client, like Werkzeug's parser, reads a backslash in the
    # quoted name as an escape, so folders are given with slashes here.
    crafted = ["../../evil.txt", "C:/x/CON.txt", "a\x00b\u202etxt.exe"]
    response = upload(client, *[(name, name.encode()) for name in crafted])
    assert response.status_code == HTTPStatus.FOUND
    shown = listed(client, "/files/")
    assert sorted(shown) == ["_CON.txt", "abtxt.exe", "evil.txt"]
    for path in settings.data_dir.rglob("*"):
        assert ".." not in path.parts
    for path in blobs(settings):
        assert path.name == hashlib.sha256(path.read_bytes()).hexdigest()


def test_metadata_is_escaped(client: FlaskClient) -> None:
    file_id = add_file(client, "a.txt", b"a")
    script = "<script>alert(1)</script>"
    client.post(
        f"/files/{file_id}",
        data={"name": "a.txt", "category": script, "tags": script, "notes": script},
    )
    for path in (f"/files/{file_id}", "/files/"):
        page = client.get(path).get_data(as_text=True)
        assert script not in page
        assert "&lt;script&gt;" in page


def test_rename_then_search_by_new_name(client: FlaskClient) -> None:
    file_id = add_file(client, "draft.docx", b"a")
    response = client.post(
        f"/files/{file_id}",
        data={"name": CHINESE_NAME, "category": "报价", "tags": "FOB", "notes": ""},
    )
    assert response.status_code == HTTPStatus.FOUND
    assert listed(client, "/files/?q=最终版") == [CHINESE_NAME]
    assert listed(client, "/files/?q=draft") == []


def test_rename_bad_name_keeps_form(client: FlaskClient) -> None:
    file_id = add_file(client, "draft.docx", b"a")
    response = client.post(
        f"/files/{file_id}",
        data={"name": "a/b.docx", "category": "", "tags": "", "notes": "kept"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert "a/b.docx" in page
    assert ">kept</textarea>" in page


def test_trash_restore_purge_pages(client: FlaskClient, settings: Settings) -> None:
    first = add_file(client, "a.pdf", b"shared")
    second = add_file(client, "b.pdf", b"shared")
    client.post(f"/files/{first}/delete")
    assert listed(client, "/files/") == ["b.pdf"]
    assert listed(client, "/files/trash") == ["a.pdf"]
    client.post(f"/files/{first}/restore")
    assert sorted(listed(client, "/files/")) == ["a.pdf", "b.pdf"]

    assert client.post(f"/files/{first}/purge").status_code == HTTPStatus.CONFLICT
    client.post(f"/files/{first}/delete")
    client.post(f"/files/{first}/purge")
    assert len(blobs(settings)) == 1
    client.post(f"/files/{second}/delete")
    client.post("/files/trash/empty")
    assert blobs(settings) == []
    assert "The file trash is empty." in client.get("/files/trash").get_data(
        as_text=True
    )


def test_card_upload_attaches(client: FlaskClient) -> None:
    contact_id = create_contact(client, name="张小明", mobile="13812345678")
    card = client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    match = re.search(r'name="to" value="([0-9a-f-]{36})"', card)
    assert match
    response = upload(
        client,
        ("合同.pdf", b"%PDF"),
        kind="contact",
        to=match.group(1),
        next=f"/contacts/{contact_id}",
    )
    assert response.headers["Location"] == f"/contacts/{contact_id}"
    card = client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    assert 'class="attached-name"' in card
    assert "合同.pdf" in card
    assert listed(client, "/files/?q=张小明") == ["合同.pdf"]


def test_attach_from_repository_then_detach(client: FlaskClient) -> None:
    contact_id = create_contact(client, name="李四")
    file_id = add_file(client, "catalogue.pdf", b"%PDF")
    card = client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    match = re.search(r'href="(/files/\?kind=contact[^"]*)"', card)
    assert match
    chooser = client.get(match.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "李四" in chooser
    to = re.search(r'name="to" value="([0-9a-f-]{36})"', chooser)
    assert to
    client.post(f"/files/{file_id}/attach", data={"kind": "contact", "to": to.group(1)})
    card = client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    assert "catalogue.pdf" in card
    client.post(f"/files/{file_id}/detach", data={"kind": "contact", "to": to.group(1)})
    card = client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    assert "catalogue.pdf" not in card
    assert listed(client, "/files/") == ["catalogue.pdf"]


def test_attach_from_file_page_by_contact_search(client: FlaskClient) -> None:
    create_contact(client, name="王五", company="南方外贸")
    file_id = add_file(client, "price.xlsx", b"PK")
    page = client.get(f"/files/{file_id}?contact_q=南方").get_data(as_text=True)
    to = re.search(r'name="to" value="([0-9a-f-]{36})"', page)
    assert to
    client.post(f"/files/{file_id}/attach", data={"kind": "contact", "to": to.group(1)})
    page = client.get(f"/files/{file_id}").get_data(as_text=True)
    assert "王五" in page


def test_log_entry_page_lists_attached(client: FlaskClient) -> None:
    contact_id = create_contact(client, name="赵六")
    response = client.post(
        "/log/new",
        data={
            "contact_id": str(contact_id),
            "occurred_at": "2024-03-15T10:30",
            "channel": "wechat",
            "title": "Sample request",
        },
    )
    entry_path = response.headers["Location"]
    page = client.get(entry_path).get_data(as_text=True)
    to = re.search(
        r'name="kind" value="log">\s*<input type="hidden" name="to" '
        r'value="([0-9a-f-]{36})"',
        page,
    )
    assert to
    upload(client, ("样品.jpg", b"\xff\xd8"), kind="log", to=to.group(1))
    page = client.get(entry_path).get_data(as_text=True)
    assert "样品.jpg" in page
    assert listed(client, "/files/?q=赵六") == ["样品.jpg"]


def test_local_paths_added(client: FlaskClient, tmp_path: Path) -> None:
    source = tmp_path / "装箱单.pdf"
    source.write_bytes(b"%PDF local")
    response = client.post(
        "/files/add-local",
        data={"path": [str(source)]},
        headers={"X-Requested-With": "fetch", "Accept": "application/json"},
    )
    assert response.status_code == HTTPStatus.OK
    assert listed(client, "/files/") == ["装箱单.pdf"]


def test_local_directory_rejected(client: FlaskClient, tmp_path: Path) -> None:
    response = client.post(
        "/files/add-local",
        data={"path": [str(tmp_path)]},
        headers={"X-Requested-With": "fetch", "Accept": "application/json"},
    )
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert str(tmp_path) in response.get_json()["error"]


def test_attach_done_link_stays_on_server(client: FlaskClient) -> None:
    contact_id = create_contact(client, name="李四")
    card = client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    to = re.search(r'name="to" value="([0-9a-f-]{36})"', card)
    assert to
    page = client.get(
        f"/files/?kind=contact&to={to.group(1)}&next=javascript:alert(1)"
    ).get_data(as_text=True)
    assert 'href="javascript:' not in page
    assert 'id="attach-done" href="/files/"' in page


def test_unknown_file_is_404(client: FlaskClient) -> None:
    for path in ("/files/999", "/files/999/open", "/files/999/download"):
        assert client.get(path).status_code == HTTPStatus.NOT_FOUND


def test_store_lives_in_files_dir(settings: Settings, app: Flask) -> None:
    with app.test_request_context():
        from crm_web.blueprints.files import store

        assert store().root == settings.files_dir
        assert isinstance(store(), BlobStore)


def test_local_paths_refused_from_another_computer(
    client: FlaskClient, tmp_path: Path, app_db: Database
) -> None:
    from crm_web.services import accounts

    admin = accounts.list_users(app_db)[0]
    accounts.set_password(app_db, admin["uuid"], "a good password", by="test")
    accounts.set_protection(app_db, True, by="test")
    remote = {"REMOTE_ADDR": "192.168.1.20"}
    client.post(
        "/login",
        data={"name": "Admin", "password": "a good password"},
        environ_base=remote,
    )
    assert client.get("/files/", environ_base=remote).status_code == HTTPStatus.OK
    source = tmp_path / "secret.txt"
    source.write_bytes(b"not for the network")
    response = client.post(
        "/files/add-local",
        data={"path": [str(source)]},
        environ_base={"REMOTE_ADDR": "192.168.1.20"},
    )
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert listed(client, "/files/") == []
