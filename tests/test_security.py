"""CSRF on every form, escaped output everywhere, nothing readable signed out."""

from __future__ import annotations

import re
from http import HTTPStatus

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import AnyConverter

from crm_web.data.db import Database
from crm_web.services import accounts
from crm_web.services.fields import CONTACT_FIELDS

DUMMY_ARGUMENTS: dict[str, object] = {
    "IntegerConverter": 1,
    "UUIDConverter": "0b6a4c8e-3f0e-4f3a-9a57-8d1c2f3e4a5b",
}
TEXT_KINDS = ("text", "longtext", "url", "tags")
PAYLOADS = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(2)>',
    "javascript:alert(3)",
    "{{ 7*7 }}",
)


def _post_routes(app: Flask) -> list[str]:
    """Return a URL for every route that accepts POST, with dummy arguments."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "POST" not in (rule.methods or ()):
            continue
        values = {}
        for name in rule.arguments:
            converter = rule._converters[name]  # noqa: SLF001 - reading only
            if isinstance(converter, AnyConverter):
                values[name] = sorted(converter.items)[0]
            else:
                values[name] = DUMMY_ARGUMENTS.get(type(converter).__name__, "x")
        urls.append(rule.build(values, append_unknown=False)[1])
    return urls


def test_post_routes_need_csrf_token(app: Flask) -> None:
    plain = app.test_client()
    urls = _post_routes(app)
    assert len(urls) > 30
    for url in urls:
        response = plain.post(url, data={"name": "x"})
        assert response.status_code == HTTPStatus.BAD_REQUEST, url
        assert "came from another web page" in response.get_data(as_text=True), url


@pytest.mark.parametrize("payload", PAYLOADS)
def test_contact_fields_render_as_text(client: FlaskClient, payload: str) -> None:
    values = {f.name: payload for f in CONTACT_FIELDS if f.kind in TEXT_KINDS}
    response = client.post("/contacts/new", data=values)
    assert response.status_code == HTTPStatus.FOUND, response.get_data(as_text=True)
    card = response.headers["Location"]
    for url in (card, "/contacts/", f"{card}/edit", f"/contacts/?q={payload}"):
        page = client.get(url).get_data(as_text=True)
        assert "<script>alert(1)" not in page, url
        assert "<img src=x" not in page, url
        assert not re.search(r"(href|src)=.?javascript:", page, re.I), url
        assert ">49<" not in page, url
        assert " 49 " not in page, url


def test_signed_out_visitor_reads_nothing(
    app: Flask, client: FlaskClient, app_db: Database
) -> None:
    client.post("/contacts/new", data={"name": "秘密客户", "mobile": "13900000000"})
    admin = accounts.list_users(app_db)[0]
    accounts.set_password(app_db, admin["uuid"], "a good password", by="test")
    accounts.set_protection(app_db, True, by="test")
    stranger = app.test_client()
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.arguments:
            continue
        if rule.endpoint in ("static", "auth.login"):
            continue
        response = stranger.get(rule.rule)
        body = response.get_data(as_text=True)
        assert response.status_code in (HTTPStatus.FOUND, HTTPStatus.UNAUTHORIZED), (
            rule.rule
        )
        assert "秘密客户" not in body, rule.rule
        assert "13900000000" not in body, rule.rule
    fetch = stranger.get("/contacts/?q=秘密", headers={"X-Requested-With": "fetch"})
    assert fetch.status_code == HTTPStatus.UNAUTHORIZED
    assert re.search("Sign in", fetch.get_data(as_text=True))
