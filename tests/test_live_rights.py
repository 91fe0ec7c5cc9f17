"""Network users' rights on a database several people use live.

The same ``users`` rows serve terminals that sync and browsers of a LAN
server: a user who may only read shared records cannot change them in the
pages, and a category limit narrows the shared contacts they see.
"""

from __future__ import annotations

import json
from http import HTTPStatus

import test_sharing
from flask.testing import FlaskClient
from test_sharing import add_contact, listed

from crm_web.data import contacts as contact_data
from crm_web.data import users as user_data
from crm_web.data import visibility
from crm_web.data.db import Database
from crm_web.data.schema import contacts
from crm_web.services import categories as category_service

# The signed-in Admin, Lily and Tom of the sharing tests.
team = test_sharing.team


def share_with_everyone(db: Database, contact_id: int) -> str:
    row = contact_data.get_contact(db, contact_id)
    assert row is not None
    db.write(
        lambda db: visibility.share_records(
            db, contacts, [row["uuid"]], [visibility.EVERYONE]
        )
    )
    return str(row["uuid"])


def set_rights(db: Database, name: str, **values: object) -> None:
    row = user_data.get_user(db, name)
    assert row is not None
    db.write(lambda db: user_data.update_user(db, row["uuid"], **values))


def stored_name(db: Database, contact_id: int) -> str:
    row = contact_data.get_contact(db, contact_id)
    assert row is not None
    return str(row["name"])


def test_read_only_user_cannot_save_shared(
    team: dict[str, FlaskClient],
    app_db: Database,
) -> None:
    shared = add_contact(team["Lily"], name="莉莉的客户")
    share_with_everyone(app_db, shared)
    set_rights(app_db, "Tom", may_edit_shared=False)
    response = team["Tom"].post(
        f"/contacts/{shared}/edit", data={"name": "汤姆改的", "version": "1"}
    )
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "read only" in response.get_data(as_text=True)
    assert stored_name(app_db, shared) == "莉莉的客户"


def test_read_only_user_cannot_delete_shared(
    team: dict[str, FlaskClient],
    app_db: Database,
) -> None:
    shared = add_contact(team["Lily"], name="莉莉的客户")
    share_with_everyone(app_db, shared)
    set_rights(app_db, "Tom", may_edit_shared=False)
    response = team["Tom"].post(f"/contacts/{shared}/delete")
    row = contact_data.get_contact(app_db, shared)
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert row is not None
    assert row["deleted"] is False


def test_read_only_user_edits_own(
    team: dict[str, FlaskClient],
    app_db: Database,
) -> None:
    own = add_contact(team["Tom"], name="汤姆的客户")
    set_rights(app_db, "Tom", may_edit_shared=False)
    response = team["Tom"].post(
        f"/contacts/{own}/edit", data={"name": "汤姆的新客户", "version": "1"}
    )
    assert response.status_code == HTTPStatus.FOUND
    assert stored_name(app_db, own) == "汤姆的新客户"


def test_editing_user_saves_shared(
    team: dict[str, FlaskClient],
    app_db: Database,
) -> None:
    shared = add_contact(team["Lily"], name="莉莉的客户")
    share_with_everyone(app_db, shared)
    response = team["Tom"].post(
        f"/contacts/{shared}/edit", data={"name": "汤姆改的", "version": "1"}
    )
    assert response.status_code == HTTPStatus.FOUND
    assert stored_name(app_db, shared) == "汤姆改的"


def test_category_limit_hides_other_shared(
    team: dict[str, FlaskClient],
    app_db: Database,
) -> None:
    vip = category_service.create_category(app_db, "VIP", owner="Admin")
    inside = add_contact(team["Lily"], name="贵宾客户", category_uuid=vip)
    outside = add_contact(team["Lily"], name="普通客户")
    share_with_everyone(app_db, inside)
    share_with_everyone(app_db, outside)
    set_rights(app_db, "Tom", categories=json.dumps([vip]))
    assert listed(team["Tom"]) == {"贵宾客户"}


def test_category_limit_keeps_own(
    team: dict[str, FlaskClient],
    app_db: Database,
) -> None:
    vip = category_service.create_category(app_db, "VIP", owner="Admin")
    add_contact(team["Tom"], name="汤姆的客户")
    set_rights(app_db, "Tom", categories=json.dumps([vip]))
    assert listed(team["Tom"]) == {"汤姆的客户"}


def test_category_limit_hides_card(
    team: dict[str, FlaskClient],
    app_db: Database,
) -> None:
    vip = category_service.create_category(app_db, "VIP", owner="Admin")
    outside = add_contact(team["Lily"], name="普通客户")
    share_with_everyone(app_db, outside)
    set_rights(app_db, "Tom", categories=json.dumps([vip]))
    response = team["Tom"].get(f"/contacts/{outside}")
    assert response.status_code == HTTPStatus.NOT_FOUND
