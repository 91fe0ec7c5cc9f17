"""Users, login protection, sign-in throttling and the audit log."""

from __future__ import annotations

import re
from datetime import timedelta
from http import HTTPStatus

import pytest
from flask import Flask
from flask.testing import FlaskClient

from crm_web.data import users as user_data
from crm_web.data.db import Database
from crm_web.data.schema import utcnow
from crm_web.errors import InvalidValueError
from crm_web.services import accounts

GOOD = "correct horse 1"


def admin_uuid(db: Database) -> str:
    user = user_data.get_user(db, "Admin")
    assert user is not None
    return str(user["uuid"])


def protect(db: Database) -> None:
    accounts.set_password(db, admin_uuid(db), GOOD, by="test")
    accounts.set_protection(db, True, by="test")


def sign_in(client: FlaskClient, name: str, password: str) -> object:
    return client.post("/login", data={"name": name, "password": password})


def audit_actions(db: Database) -> list[str]:
    rows, _ = user_data.find_audit(db, limit=1000)
    return [row["action"] for row in rows]


# --- service ----------------------------------------------------------------


def test_install_state_admin_without_password(
    db: Database,
) -> None:
    users = accounts.list_users(db)
    assert [(u["name"], u["role"], u["password_hash"]) for u in users] == [
        ("Admin", "admin", "")
    ]
    assert accounts.protection_on(db) is False
    assert accounts.default_admin(db).name == "Admin"


def test_protection_needs_a_password_for_every_enabled_user(db: Database) -> None:
    accounts.create_user(db, "Lily", "", "user", by="test")
    with pytest.raises(accounts.ProtectionBlockedError) as raised:
        accounts.set_protection(db, True, by="test")
    assert "“Admin”" in raised.value.message
    assert "“Lily”" in raised.value.message
    assert accounts.protection_on(db) is False
    accounts.set_password(db, admin_uuid(db), GOOD, by="test")
    lily = user_data.get_user(db, "Lily")
    assert lily is not None
    accounts.set_disabled(db, lily["uuid"], True, by="test")
    accounts.set_protection(db, True, by="test")
    assert accounts.protection_on(db) is True


@pytest.mark.parametrize(
    ("password", "accepted"),
    [
        ("密" * 24, True),  # 72 bytes
        ("密" * 24 + "a", False),  # 73 bytes
        ("a" * 72, True),
        ("a" * 73, False),
        ("密码" * 12 + "😀", False),  # 72 + 4 bytes
        ("short", False),
        ("        ", False),
    ],
)
def test_password_length_is_checked_in_bytes(password: str, accepted: bool) -> None:
    if accepted:
        assert accounts.check_new_password(password) == password.encode("utf-8")
    else:
        with pytest.raises(InvalidValueError):
            accounts.check_new_password(password)


def test_sign_in_72_byte_chinese_password(
    db: Database,
) -> None:
    password = "我的密码" * 6  # 24 characters, 72 bytes
    accounts.set_password(db, admin_uuid(db), password, by="test")
    assert accounts.sign_in(db, "Admin", password, address="")["name"] == "Admin"
    with pytest.raises(accounts.SignInError):
        accounts.sign_in(db, "Admin", password + "我", address="")


def test_too_long_password_message_names_the_limit(app: Flask) -> None:
    with (
        app.test_request_context(headers={"Accept-Language": "en"}),
        pytest.raises(InvalidValueError) as raised,
    ):
        accounts.check_new_password("密" * 25)
    assert "75 bytes" in raised.value.message
    assert "24 Chinese characters" in raised.value.message
    assert "密" not in raised.value.message


def test_failures_slow_down_then_lock(db: Database) -> None:
    protect(db)
    start = utcnow()
    for _attempt in range(accounts.FREE_ATTEMPTS):
        with pytest.raises(accounts.SignInError):
            accounts.sign_in(db, "Admin", "wrong", address="", now=start)
    # The fourth attempt right away must wait 5 seconds, even with the
    # right password.
    with pytest.raises(accounts.SignInWaitError) as waiting:
        accounts.sign_in(db, "Admin", GOOD, address="", now=start)
    assert "5 seconds" in waiting.value.message
    moment = start
    for failures in range(accounts.FREE_ATTEMPTS, accounts.LOCK_AFTER):
        moment += timedelta(seconds=accounts.retry_wait(failures))
        with pytest.raises(accounts.SignInError):
            accounts.sign_in(db, "Admin", "wrong", address="", now=moment)
    with pytest.raises(accounts.AccountLockedError) as locked:
        accounts.sign_in(db, "Admin", GOOD, address="", now=moment)
    assert "15 minutes" in locked.value.message
    later = moment + timedelta(minutes=accounts.LOCK_MINUTES, seconds=1)
    assert accounts.sign_in(db, "Admin", GOOD, address="", now=later)["name"] == "Admin"
    actions = audit_actions(db)
    assert actions.count("login_failed") == accounts.LOCK_AFTER - 1
    assert actions.count("locked") == 1
    assert actions[0] == "login"


def test_wait_grows_and_stops_at_a_minute() -> None:
    assert [accounts.retry_wait(n) for n in range(10)] == [
        0, 0, 0, 5, 10, 20, 40, 60, 60, 60
    ]  # fmt: skip


def test_last_admin_cannot_be_disabled_or_demoted(db: Database) -> None:
    with pytest.raises(accounts.LastAdminError):
        accounts.set_disabled(db, admin_uuid(db), True, by="test")
    with pytest.raises(accounts.LastAdminError):
        accounts.set_role(db, admin_uuid(db), "user", by="test")
    assert user_data.count_admins(db) == 1


def test_user_names_are_unique_ignoring_case(db: Database) -> None:
    accounts.create_user(db, "Lily", GOOD, "user", by="test")
    with pytest.raises(Exception, match="already exists"):
        accounts.create_user(db, "lily", GOOD, "user", by="test")
    with pytest.raises(InvalidValueError):
        accounts.create_user(db, "*", GOOD, "user", by="test")


# --- pages ------------------------------------------------------------------


def test_without_protection_every_page_acts_as_admin(client: FlaskClient) -> None:
    page = client.get("/users/").get_data(as_text=True)
    assert "Admin" in page
    assert "No password" in page
    assert client.get("/login").status_code == HTTPStatus.FOUND


def test_turn_on_protection_sign_out_and_back_in(
    client: FlaskClient, app_db: Database
) -> None:
    refused = client.post("/users/protection", data={"on": "1"}, follow_redirects=True)
    assert "cannot be turned on" in refused.get_data(as_text=True)
    client.post(f"/users/{admin_uuid(app_db)}/password", data={"password": GOOD})
    client.post("/users/protection", data={"on": "1"})
    # The admin who turned it on stays signed in.
    assert client.get("/contacts/").status_code == HTTPStatus.OK
    client.post("/logout")
    response = client.get("/contacts/?q=x")
    assert response.status_code == HTTPStatus.FOUND
    assert response.headers["Location"].startswith("/login?next=")
    wrong = sign_in(client, "Admin", "nope")
    assert wrong.status_code == HTTPStatus.UNAUTHORIZED  # type: ignore[attr-defined]
    right = sign_in(client, "admin", GOOD)
    assert right.status_code == HTTPStatus.FOUND  # type: ignore[attr-defined]
    assert client.get("/contacts/").status_code == HTTPStatus.OK
    assert audit_actions(app_db)[:3] == ["login", "login_failed", "logout"]


def test_user_role_cannot_open_users_settings_or_audit(
    client: FlaskClient, app_db: Database
) -> None:
    accounts.create_user(app_db, "Lily", GOOD, "user", by="test")
    protect(app_db)
    sign_in(client, "Lily", GOOD)
    for path in ("/users/", "/users/audit", "/settings/"):
        assert client.get(path).status_code == HTTPStatus.FORBIDDEN, path
    lily = user_data.get_user(app_db, "Lily")
    assert lily is not None
    forged = client.post(f"/users/{lily['uuid']}/role", data={"role": "admin"})
    assert forged.status_code == HTTPStatus.FORBIDDEN
    assert user_data.get_user(app_db, "Lily")["role"] == "user"  # type: ignore[index]
    assert client.get("/contacts/").status_code == HTTPStatus.OK
    page = client.get("/contacts/").get_data(as_text=True)
    assert "Signed in as Lily" in page
    assert 'href="/users/"' not in page


def test_language_switch_works_before_signing_in(
    client: FlaskClient, app_db: Database
) -> None:
    protect(app_db)
    client.post("/settings/language", data={"language": "zh_CN", "next": "/login"})
    assert "登录" in client.get("/login").get_data(as_text=True)


def test_idle_session_is_signed_out(client: FlaskClient, app_db: Database) -> None:
    protect(app_db)
    sign_in(client, "Admin", GOOD)
    with client.session_transaction() as session:
        session["seen"] -= 31 * 60
    response = client.get("/contacts/", follow_redirects=True)
    assert "signed out after a while without activity" in response.get_data(
        as_text=True
    )


def test_password_reset_signs_the_user_out_elsewhere(
    app: Flask, client: FlaskClient, app_db: Database
) -> None:
    accounts.create_user(app_db, "Lily", GOOD, "user", by="test")
    protect(app_db)
    sign_in(client, "Lily", GOOD)
    assert client.get("/contacts/").status_code == HTTPStatus.OK
    lily = user_data.get_user(app_db, "Lily")
    assert lily is not None
    accounts.set_password(app_db, lily["uuid"], "another pass", by="Admin")
    assert client.get("/contacts/").status_code == HTTPStatus.FOUND
    accounts.set_disabled(app_db, lily["uuid"], True, by="Admin")
    refused = sign_in(client, "Lily", "another pass")
    assert refused.status_code == HTTPStatus.FORBIDDEN  # type: ignore[attr-defined]


def test_change_own_password(client: FlaskClient, app_db: Database) -> None:
    protect(app_db)
    sign_in(client, "Admin", GOOD)
    wrong = client.post(
        "/account/password",
        data={"current": "nope", "new": "new secret 2", "confirm": "new secret 2"},
    )
    assert "current password is wrong" in wrong.get_data(as_text=True)
    client.post(
        "/account/password",
        data={"current": GOOD, "new": "new secret 2", "confirm": "new secret 2"},
    )
    # Still signed in on this browser, with the new stamp.
    assert client.get("/contacts/").status_code == HTTPStatus.OK
    client.post("/logout")
    assert sign_in(client, "Admin", "new secret 2").status_code == HTTPStatus.FOUND  # type: ignore[attr-defined]


def test_sign_in_without_csrf_token_is_refused(app: Flask, app_db: Database) -> None:
    protect(app_db)
    plain = FlaskClient(app)
    response = plain.post("/login", data={"name": "Admin", "password": GOOD})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "login" not in audit_actions(app_db)


def test_session_cookie_is_httponly_and_samesite(
    client: FlaskClient, app_db: Database
) -> None:
    protect(app_db)
    response = sign_in(client, "Admin", GOOD)
    cookie = response.headers["Set-Cookie"]  # type: ignore[attr-defined]
    assert "HttpOnly" in cookie
    assert re.search(r"SameSite=Lax", cookie)


def test_audit_page_filters_by_user_and_action(
    client: FlaskClient, app_db: Database
) -> None:
    accounts.create_user(app_db, "Lily", GOOD, "user", by="Admin")
    accounts.sign_in(app_db, "Lily", GOOD, address="127.0.0.1")
    page = client.get("/users/audit?user=Lily&action=login").get_data(as_text=True)
    assert page.count('data-action="login"') == 1
    assert 'data-action="user_created"' not in page
    everything = client.get("/users/audit").get_data(as_text=True)
    assert 'data-action="user_created"' in everything


def test_attempts_sent_at_once_are_each_counted(db: Database) -> None:
    import threading

    protect(db)
    results: list[str] = []

    def attempt() -> None:
        try:
            accounts.sign_in(db, "Admin", "wrong", address="")
        except Exception as error:  # noqa: BLE001 - the kind is the result
            results.append(type(error).__name__)
        finally:
            db.release()

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Three are checked; the rest must wait, whatever order they ran in.
    assert results.count("SignInError") == accounts.FREE_ATTEMPTS
    assert results.count("SignInWaitError") == 12 - accounts.FREE_ATTEMPTS


def test_reminder_checks_do_not_keep_a_session_alive(
    client: FlaskClient, app_db: Database
) -> None:
    protect(app_db)
    sign_in(client, "Admin", GOOD)
    with client.session_transaction() as session:
        session["seen"] -= 29 * 60
    client.get("/appointments/reminders.json")
    with client.session_transaction() as session:
        session["seen"] -= 2 * 60
    assert client.get("/contacts/").status_code == HTTPStatus.FOUND


def test_sign_out_ends_copied_cookie(
    app: Flask, client: FlaskClient, app_db: Database
) -> None:
    protect(app_db)
    sign_in(client, "Admin", GOOD)
    with client.session_transaction() as session:
        copied = dict(session)
    client.post("/logout")
    thief = app.test_client()
    with thief.session_transaction() as session:
        session.update(copied)
    assert thief.get("/contacts/").status_code == HTTPStatus.FOUND


def test_reenabled_user_old_cookie_rejected(
    app: Flask, client: FlaskClient, app_db: Database
) -> None:
    accounts.create_user(app_db, "Lily", GOOD, "user", by="test")
    protect(app_db)
    sign_in(client, "Lily", GOOD)
    lily = user_data.get_user(app_db, "Lily")
    assert lily is not None
    accounts.set_disabled(app_db, lily["uuid"], True, by="Admin")
    accounts.set_disabled(app_db, lily["uuid"], False, by="Admin")
    assert client.get("/contacts/").status_code == HTTPStatus.FOUND
