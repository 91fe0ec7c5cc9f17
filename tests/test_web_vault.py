"""Account vault pages through the Flask test client."""

from __future__ import annotations

import base64
import io
import logging
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import pytest
from conftest import CsrfClient
from flask import Flask
from flask.testing import FlaskClient
from test_vault import SECRETS, FakeClock, all_text, sqlite_bytes

from crm_web import create_app
from crm_web.blueprints import vault as vault_blueprint
from crm_web.config import Settings
from crm_web.data import vault as vault_data
from crm_web.data.db import Database, connect
from crm_web.errors import InvalidValueError
from crm_web.logs import FORMAT
from crm_web.services import audit, search, vault_crypto
from crm_web.services.preferences import save_preferences
from crm_web.services.vault_crypto import KdfParams
from crm_web.services.vault_keys import KeyRing

MASTER = "correct horse battery"
FETCH = {"X-Requested-With": "fetch", "Accept": "application/json"}
XSS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']


@pytest.fixture(autouse=True)
def fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vault_crypto, "DEFAULT_KDF", KdfParams(n=2**14))


@pytest.fixture
def any_client(settings: Settings, database_url: str) -> Iterator[FlaskClient]:
    """Return a client of the app on each backend: SQLite, then MariaDB."""
    database = connect(database_url)
    application = create_app(settings, db=database)
    application.test_client_class = CsrfClient
    yield application.test_client()
    search.index_for(database).forget()
    database.close()


def database_of(client: FlaskClient) -> Database:
    database: Database = client.application.extensions["crm_db"]
    return database


def set_up(client: FlaskClient, password: str = MASTER) -> None:
    response = client.post(
        "/vault/setup", data={"password": password, "repeat": password}
    )
    assert response.status_code == HTTPStatus.FOUND, response.data[:600]


def add(client: FlaskClient, **values: str) -> None:
    form = {"kind": "qq", "title": "Shop QQ", **values}
    response = client.post("/vault/new", data=form)
    assert response.status_code == HTTPStatus.FOUND, response.data[:1500]


def entry_uuids(client: FlaskClient) -> list[str]:
    page = client.get("/vault/").get_data(as_text=True)
    return re.findall(r"/vault/([0-9a-f-]{36})/reveal", page)


def lock(client: FlaskClient) -> None:
    client.post("/vault/lock")


def unlock(client: FlaskClient, password: str = MASTER) -> int:
    return client.post("/vault/unlock", data={"password": password}).status_code


def reveal(client: FlaskClient, entry_uuid: str, field: str) -> str:
    response = client.post(
        f"/vault/{entry_uuid}/reveal", data={"field": field}, headers=FETCH
    )
    assert response.status_code == HTTPStatus.OK, response.data
    value: str = response.get_json()["value"]
    return value


# --- first use, unlock, lock -------------------------------------------------


def test_first_visit_asks_for_a_master_password(client: FlaskClient) -> None:
    page = client.get("/vault/").get_data(as_text=True)
    assert 'action="/vault/setup"' in page
    assert 'name="repeat"' in page
    assert "cannot be recovered" in page


def test_sidebar_links_to_the_vault(client: FlaskClient) -> None:
    page = client.get("/contacts/").get_data(as_text=True)
    assert 'href="/vault/"' in page


def test_setup_unlocks_the_vault(client: FlaskClient) -> None:
    set_up(client)
    page = client.get("/vault/").get_data(as_text=True)
    assert "New entry" in page
    assert "The vault is empty" in page


@pytest.mark.parametrize(
    ("password", "repeat", "message"),
    [
        ("short", "short", "has 5 characters; use at least 8"),
        ("long enough 1", "long enough 2", "are not the same"),
    ],
)
def test_setup_rejects_bad_password(
    client: FlaskClient, password: str, repeat: str, message: str
) -> None:
    response = client.post(
        "/vault/setup", data={"password": password, "repeat": repeat}
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert message in response.get_data(as_text=True)
    assert 'action="/vault/setup"' in client.get("/vault/").get_data(as_text=True)


def test_pages_store_no_plain_secret(any_client: FlaskClient) -> None:
    set_up(any_client)
    add(any_client, **SECRETS)
    database = database_of(any_client)
    rows = all_text(database)
    assert "Shop QQ" in rows
    for name, value in SECRETS.items():
        assert value not in rows, name
    assert MASTER not in rows
    if database.is_sqlite:
        raw = sqlite_bytes(database)
        for value in [*SECRETS.values(), MASTER]:
            assert value.encode("utf-8") not in raw, value


def test_lock_then_unlock(client: FlaskClient) -> None:
    set_up(client)
    add(client, password=SECRETS["password"])
    lock(client)
    page = client.get("/vault/").get_data(as_text=True)
    assert 'action="/vault/unlock"' in page
    assert 'class="vault-entry"' not in page
    assert unlock(client) == HTTPStatus.FOUND
    assert "Shop QQ" in client.get("/vault/").get_data(as_text=True)


def test_wrong_master_password_message(any_client: FlaskClient) -> None:
    set_up(any_client)
    add(any_client, **SECRETS)
    lock(any_client)
    response = any_client.post(
        "/vault/unlock", data={"password": "correct horse batter"}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "The master password is wrong" in page
    assert "correct horse batter" not in page
    assert unlock(any_client) == HTTPStatus.FOUND
    assert (
        reveal(any_client, entry_uuids(any_client)[0], "password")
        == SECRETS["password"]
    )


@pytest.mark.parametrize(
    "path", ["/vault/new", "/vault/trash", "/vault/password", "/vault/transfer"]
)
def test_locked_pages_lead_to_unlock(client: FlaskClient, path: str) -> None:
    set_up(client)
    lock(client)
    response = client.get(path)
    assert response.status_code == HTTPStatus.FOUND
    assert response.headers["Location"].endswith("/vault/")
    page = client.get("/vault/").get_data(as_text=True)
    assert "The account vault is locked" in page


def test_locked_reveal_answers_json(client: FlaskClient) -> None:
    set_up(client)
    add(client, password="pw-1")
    entry_uuid = entry_uuids(client)[0]
    lock(client)
    response = client.post(
        f"/vault/{entry_uuid}/reveal", data={"field": "password"}, headers=FETCH
    )
    assert response.status_code == HTTPStatus.LOCKED
    assert response.get_json()["locked"] is True
    assert "pw-1" not in response.get_data(as_text=True)


def test_other_user_gets_no_unlocked_vault(
    client: FlaskClient, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_up(client)
    monkeypatch.setattr(vault_blueprint, "vault_owner", lambda: "Li Lei")
    page = client.get("/vault/").get_data(as_text=True)
    assert 'action="/vault/setup"' in page
    assert len(app.extensions["crm_vault_keys"]) == 0


def test_pages_are_not_cached(client: FlaskClient) -> None:
    set_up(client)
    assert client.get("/vault/").headers["Cache-Control"] == "no-store"


# --- idle lock and exit ------------------------------------------------------


def test_idle_time_locks_the_vault(
    client: FlaskClient, app: Flask, app_db: Database
) -> None:
    save_preferences(app_db, {"vault_idle_minutes": "2"})
    app_db.release()
    clock = FakeClock()
    app.extensions["crm_vault_keys"] = KeyRing(clock=clock)
    set_up(client)
    clock.now += 119
    assert "New entry" in client.get("/vault/").get_data(as_text=True)
    clock.now += 119
    assert client.post("/vault/touch", headers=FETCH).get_json() == {"locked": False}
    clock.now += 120
    page = client.get("/vault/").get_data(as_text=True)
    assert 'action="/vault/unlock"' in page
    assert len(app.extensions["crm_vault_keys"]) == 0
    assert client.post("/vault/touch", headers=FETCH).get_json() == {"locked": True}


def test_idle_setting_on_the_page(client: FlaskClient, app_db: Database) -> None:
    save_preferences(app_db, {"vault_idle_minutes": "7"})
    app_db.release()
    set_up(client)
    page = client.get("/vault/").get_data(as_text=True)
    assert 'data-idle-seconds="420"' in page
    assert 'data-clipboard-seconds="30"' in page


@pytest.mark.parametrize("value", ["0", "241", "five", "-1", ""])
def test_idle_setting_rejects(app_db: Database, value: str) -> None:
    with pytest.raises(InvalidValueError, match="Vault idle time"):
        save_preferences(app_db, {"vault_idle_minutes": value})


def test_idle_setting_reads_full_width_digits(app_db: Database) -> None:
    save_preferences(app_db, {"vault_idle_minutes": "１５"})
    rows = app_db.query(
        "SELECT value FROM preferences WHERE name = 'vault_idle_minutes'"
    )
    app_db.release()
    assert rows == [{"value": "15"}]


def test_key_stays_out_of_the_cookie(
    client: FlaskClient, app: Flask, app_db: Database
) -> None:
    set_up(client)
    row = vault_data.get_vault(app_db, "Admin")
    app_db.release()
    assert row is not None
    key = vault_crypto.Scrypt(
        salt=base64.b64decode(row["salt"]), length=32, n=2**14, r=8, p=1
    ).derive(MASTER.encode())
    cookie = client.get_cookie("session")
    assert cookie is not None
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    session = serializer.loads(cookie.value)
    assert set(session) <= {"vault_token", "csrf_token", "_flashes", "language"}
    assert len(session["vault_token"]) >= 40
    for form in (key, base64.urlsafe_b64encode(key), base64.b64encode(key)):
        assert form.decode("latin-1") not in cookie.value
        assert form.decode("latin-1") not in str(session)


def test_app_exit_locks_every_vault(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import logging, sys
        from crm_web import create_app
        from crm_web.config import load_settings
        from crm_web.services import vault_crypto
        vault_crypto.DEFAULT_KDF = vault_crypto.KdfParams(n=2**14)
        logging.basicConfig(filename={str(tmp_path / "exit.log")!r}, level=logging.INFO)
        app = create_app(load_settings(data_dir={str(tmp_path / "data")!r}))
        app.config["WTF_CSRF_ENABLED"] = False
        client = app.test_client()
        password = "exit test password"
        client.post("/vault/setup", data={{"password": password, "repeat": password}})
        print(len(app.extensions["crm_vault_keys"]))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"
    log_text = (tmp_path / "exit.log").read_text(encoding="utf-8")
    assert "Vault of Admin created" in log_text
    assert "Vault of Admin locked (app closed)" in log_text


# --- entries -----------------------------------------------------------------


def test_add_reveal_edit(client: FlaskClient) -> None:
    set_up(client)
    add(client, **SECRETS)
    page = client.get("/vault/").get_data(as_text=True)
    assert SECRETS["account"] in page
    assert SECRETS["password"] not in page
    assert SECRETS["card_number"] not in page
    assert "•••• 7890" in page
    entry_uuid = entry_uuids(client)[0]
    assert reveal(client, entry_uuid, "password") == SECRETS["password"]
    assert reveal(client, entry_uuid, "card_number") == SECRETS["card_number"]

    form = client.get(f"/vault/{entry_uuid}/edit").get_data(as_text=True)
    assert "小黄狗" in form
    response = client.post(
        f"/vault/{entry_uuid}/edit",
        data={
            "kind": "wechat",
            "title": "Shop WeChat",
            "password": "new-pw",
            "version": "1",
        },
    )
    assert response.status_code == HTTPStatus.FOUND
    assert reveal(client, entry_uuid, "password") == "new-pw"
    assert "Shop WeChat" in client.get("/vault/").get_data(as_text=True)


def test_invalid_entry_shows_field_errors(client: FlaskClient) -> None:
    set_up(client)
    response = client.post(
        "/vault/new", data={"kind": "bank_card", "title": "", "expiry": "13/27"}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert "The title is missing" in page
    assert "Expiry “13/27” is not valid" in page
    assert entry_uuids(client) == []


def test_delete_restore_purge(client: FlaskClient) -> None:
    set_up(client)
    add(client, title="Old mailbox")
    entry_uuid = entry_uuids(client)[0]
    client.post(f"/vault/{entry_uuid}/delete")
    assert entry_uuids(client) == []
    assert "Old mailbox" in client.get("/vault/trash").get_data(as_text=True)
    client.post(f"/vault/{entry_uuid}/restore")
    assert entry_uuids(client) == [entry_uuid]
    client.post(f"/vault/{entry_uuid}/delete")
    client.post(f"/vault/{entry_uuid}/purge")
    assert "The trash is empty." in client.get("/vault/trash").get_data(as_text=True)


def test_generate_answers_json(client: FlaskClient) -> None:
    set_up(client)
    response = client.post(
        "/vault/generate",
        data={"length": "24", "digits": "1", "avoid_look_alike": "1"},
        headers=FETCH,
    )
    password = response.get_json()["password"]
    assert re.fullmatch(r"[2-9]{24}", password)
    response = client.post("/vault/generate", data={"length": "3"}, headers=FETCH)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "Length “3” is not valid" in response.get_json()["error"]


def test_contact_suggestions(client: FlaskClient) -> None:
    client.post("/contacts/new", data={"name": "王芳", "mobile": "13900139000"})
    response = client.get("/vault/contacts?q=wangfang", headers=FETCH)
    labels = [c["label"] for c in response.get_json()["contacts"]]
    assert labels and labels[0].startswith("王芳")


# --- master password, export, import -----------------------------------------


def test_change_master_password_page(any_client: FlaskClient) -> None:
    set_up(any_client)
    add(any_client, password="kept-pw")
    new = "a brand new password"
    response = any_client.post(
        "/vault/password", data={"current": MASTER, "password": new, "repeat": new}
    )
    assert response.status_code == HTTPStatus.FOUND
    entry_uuid = entry_uuids(any_client)[0]
    assert reveal(any_client, entry_uuid, "password") == "kept-pw"
    lock(any_client)
    assert unlock(any_client, MASTER) == HTTPStatus.FORBIDDEN
    assert unlock(any_client, new) == HTTPStatus.FOUND


def test_change_with_wrong_current_password(client: FlaskClient) -> None:
    set_up(client)
    response = client.post(
        "/vault/password",
        data={"current": "nope nope", "password": "x" * 9, "repeat": "x" * 9},
    )
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "The master password is wrong" in response.get_data(as_text=True)


def test_other_session_locked_after_change(app: Flask) -> None:
    first = CsrfClient(app)
    second = CsrfClient(app)
    set_up(first)
    assert unlock(second) == HTTPStatus.FOUND
    new = "a brand new password"
    first.post(
        "/vault/password", data={"current": MASTER, "password": new, "repeat": new}
    )
    page = second.get("/vault/").get_data(as_text=True)
    assert 'action="/vault/unlock"' in page


def test_export_import_through_pages(any_client: FlaskClient) -> None:
    set_up(any_client)
    add(any_client, **SECRETS)
    response = any_client.post(
        "/vault/export", data={"password": "file password", "repeat": "file password"}
    )
    assert response.status_code == HTTPStatus.OK
    assert ".r9vault" in response.headers["Content-Disposition"]
    exported = response.data
    for entry_uuid in entry_uuids(any_client):
        any_client.post(f"/vault/{entry_uuid}/delete")
        any_client.post(f"/vault/{entry_uuid}/purge")
    assert entry_uuids(any_client) == []

    response = any_client.post(
        "/vault/import",
        data={
            "password": "file password",
            "file": (io.BytesIO(exported), "备份.r9vault"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == HTTPStatus.FOUND
    page = any_client.get("/vault/").get_data(as_text=True)
    assert "1 entry imported from “备份.r9vault”; 0 were already" in page
    assert (
        reveal(any_client, entry_uuids(any_client)[0], "password")
        == SECRETS["password"]
    )


def test_export_and_import_are_audited(client: FlaskClient, app_db: Database) -> None:
    set_up(client)
    add(client)
    exported = client.post(
        "/vault/export", data={"password": "file password", "repeat": "file password"}
    ).data
    client.post(
        "/vault/import",
        data={"password": "file password", "file": (io.BytesIO(exported), "b.r9vault")},
        content_type="multipart/form-data",
    )
    rows, _total = audit.entries(app_db)
    app_db.release()
    found = {(r["action"], r["detail"]) for r in rows}
    assert ("export", "vault entries: 1") in found
    assert ("import", "vault entries added: 0, skipped: 1") in found


def test_import_wrong_password_page(client: FlaskClient) -> None:
    set_up(client)
    add(client)
    exported = client.post(
        "/vault/export", data={"password": "file password", "repeat": "file password"}
    ).data
    response = client.post(
        "/vault/import",
        data={"password": "guess", "file": (io.BytesIO(exported), "backup.r9vault")},
        content_type="multipart/form-data",
    )
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert "The password for “backup.r9vault” is wrong" in response.get_data(
        as_text=True
    )


def test_import_damaged_file_page(client: FlaskClient) -> None:
    set_up(client)
    response = client.post(
        "/vault/import",
        data={"password": "x", "file": (io.BytesIO(b"name,phone\n"), "contacts.csv")},
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert "“contacts.csv” is not a vault file exported by R9 CRM" in page


# --- CSRF and escaping -------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/vault/setup", {"password": MASTER, "repeat": MASTER}),
        ("/vault/unlock", {"password": MASTER}),
        ("/vault/new", {"kind": "qq", "title": "Forged"}),
        ("/vault/lock", {}),
        ("/vault/generate", {"length": "20", "lower": "1"}),
    ],
)
def test_post_without_csrf_token_is_rejected(
    app: Flask, client: FlaskClient, path: str, data: dict[str, str]
) -> None:
    set_up(client)
    plain = FlaskClient(app, use_cookies=True)
    plain.set_cookie("session", client.get_cookie("session").value)  # type: ignore[union-attr]
    response = plain.post(path, data=data)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "came from another web page" in response.get_data(as_text=True)
    assert "Forged" not in client.get("/vault/").get_data(as_text=True)


def test_reveal_without_csrf_token_is_rejected(app: Flask, client: FlaskClient) -> None:
    set_up(client)
    add(client, password="pw-secret-1")
    entry_uuid = entry_uuids(client)[0]
    plain = FlaskClient(app, use_cookies=True)
    plain.set_cookie("session", client.get_cookie("session").value)  # type: ignore[union-attr]
    response = plain.post(f"/vault/{entry_uuid}/reveal", data={"field": "password"})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "pw-secret-1" not in response.get_data(as_text=True)


@pytest.mark.parametrize("payload", XSS)
def test_every_field_renders_as_text(client: FlaskClient, payload: str) -> None:
    set_up(client)
    add(
        client,
        title=payload,
        account=payload,
        password=payload,
        card_number=payload,
        notes=payload,
    )
    entry_uuid = entry_uuids(client)[0]
    for path in ("/vault/", f"/vault/{entry_uuid}/edit"):
        page = client.get(path).get_data(as_text=True)
        assert payload not in page, path
        assert "&lt;" in page, path
    client.post(f"/vault/{entry_uuid}/delete")
    page = client.get("/vault/trash").get_data(as_text=True)
    assert payload not in page
    assert "&lt;" in page


@pytest.mark.parametrize("payload", XSS)
def test_rejected_values_render_as_text(client: FlaskClient, payload: str) -> None:
    set_up(client)
    response = client.post(
        "/vault/new",
        data={"kind": payload, "title": payload, "expiry": payload, "contact": payload},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert payload not in page
    assert "&lt;" in page


def test_file_name_renders_as_text(client: FlaskClient) -> None:
    set_up(client)
    name = "<img src=x onerror=alert(1)>.r9vault"
    response = client.post(
        "/vault/import",
        data={"password": "x", "file": (io.BytesIO(b"junk"), name)},
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert "<img src=x" not in page
    assert "&lt;img src=x" in page


# --- nothing secret in the log -----------------------------------------------


@pytest.fixture
def app_log(tmp_path: Path) -> Iterator[Path]:
    """Write everything logged, at every level, to a file as the app does."""
    path = tmp_path / "r9crm.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield path
    root.removeHandler(handler)
    root.setLevel(level)
    handler.close()


def test_log_holds_no_secret(any_client: FlaskClient, app_log: Path) -> None:
    set_up(any_client)
    add(any_client, **SECRETS)
    entry_uuid = entry_uuids(any_client)[0]
    for field in ("account", "password", "card_number"):
        reveal(any_client, entry_uuid, field)
    any_client.post("/vault/new", data={"kind": "qq", "title": "x", "expiry": "99/99"})

    lock(any_client)
    any_client.post("/vault/unlock", data={"password": "wrong-master-guess"})
    unlock(any_client)

    new = "second master password"
    any_client.post(
        "/vault/password", data={"current": MASTER, "password": new, "repeat": new}
    )

    exported = any_client.post(
        "/vault/export", data={"password": "export-file-pw", "repeat": "export-file-pw"}
    ).data
    any_client.post(
        "/vault/import",
        data={
            "password": "export-file-pw",
            "file": (io.BytesIO(exported), "b.r9vault"),
        },
        content_type="multipart/form-data",
    )
    any_client.post(
        "/vault/import",
        data={"password": "wrong-file-pw", "file": (io.BytesIO(exported), "b.r9vault")},
        content_type="multipart/form-data",
    )

    logged = app_log.read_text(encoding="utf-8")
    assert "Vault of Admin unlocked" in logged
    assert "Wrong master password for the vault of Admin" in logged
    assert "Master password of the vault of Admin changed" in logged
    for value in [
        *SECRETS.values(),
        "6222021234567890",
        MASTER,
        new,
        "wrong-master-guess",
        "export-file-pw",
        "wrong-file-pw",
    ]:
        assert value not in logged, value
