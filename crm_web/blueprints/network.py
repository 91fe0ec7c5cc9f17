"""The Network page: the shared server, the network sign-in, network users."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from crm_web import auth, web
from crm_web.data.db import Database
from crm_web.errors import UserError
from crm_web.services import accounts, network, network_users
from crm_web.services.network_config import DEFAULT_PORT, ServerAddress
from crm_web.services.network_server import ServerInfo
from crm_web.services.network_user import NetworkUser

bp = Blueprint("network", __name__, url_prefix="/network")

SERVER_FIELDS = ("host", "port", "database", "user")
# The forms that save or use this computer's own server settings.
SETTINGS_ENDPOINTS = {
    "network.test",
    "network.save",
    "network.forget",
    "network.prepare",
    "network.sign_in",
}


@bp.context_processor
def error_back_link() -> dict[str, Any]:
    """Give the error page of these pages a link back to the Network page."""
    return {"error_back": {"url": url_for(".index"), "label": _("Network")}}


def _data_dir() -> Path:
    return web.settings().data_dir


def _typed_address() -> ServerAddress:
    form = request.form
    return network.clean_address(
        host=form.get("host", ""),
        port=form.get("port", ""),
        database=form.get("database", ""),
        user=form.get("user", ""),
        password=form.get("password", ""),
    )


def _page(
    *,
    typed: dict[str, str] | None = None,
    info: ServerInfo | None = None,
    tested_saved: bool = False,
) -> str:
    live = network.live_server(web.db())
    if live is not None:
        return render_template("network/index.html", live=live, saved=None)
    saved = network.load_network_config(web.db(), _data_dir())
    if typed is None and saved is not None:
        server = saved.server
        typed = {"host": server.host, "port": str(server.port)}
        typed |= {"database": server.database, "user": server.user}
    return render_template(
        "network/index.html",
        saved=saved,
        values=typed or {"port": str(DEFAULT_PORT)},
        info=info,
        tested_saved=tested_saved,
        min_password=accounts.MIN_PASSWORD_CHARS,
    )


def _back(message: str, category: str = "message", to: str = ".index") -> Response:
    flash(message, category)
    return redirect(url_for(to))


@bp.before_request
def refuse_settings_when_live() -> Response | None:
    """Keep server settings out of the shared server's own database."""
    if request.endpoint not in SETTINGS_ENDPOINTS:
        return None
    try:
        network.check_not_live(web.db())
    except UserError as error:
        return _back(error.message, "error")
    return None


@bp.get("/")
def index() -> str:
    return _page()


@bp.post("/test")
def test() -> str:
    typed = {name: request.form.get(name, "").strip() for name in SERVER_FIELDS}
    try:
        address = network.with_saved_password(web.db(), _data_dir(), _typed_address())
        info = network.check_server(address)
    except UserError as error:
        flash(error.message, "error")
        return _page(typed=typed)
    is_saved = network.is_saved_server(web.db(), _data_dir(), address)
    return _page(typed=typed, info=info, tested_saved=is_saved)


@bp.post("/save")
def save() -> Response:
    try:
        address = _typed_address()
        network.save_server(web.db(), _data_dir(), address)
    except UserError as error:
        return _back(error.message, "error")
    return _back(_("Server %(host)s saved.", host=address.host))


@bp.post("/forget")
def forget() -> Response:
    network.forget_network(web.db())
    return _back(_("This computer no longer uses a shared server."))


@bp.post("/prepare")
def prepare() -> Response:
    form = request.form
    try:
        user = network.prepare_saved_server(
            web.db(), _data_dir(), form.get("name", ""), form.get("password", "")
        )
    except UserError as error:
        return _back(error.message, "error")
    return _back(
        _(
            "The server is prepared, and this computer is signed in as its "
            "administrator %(name)s.",
            name=user.name,
        )
    )


@bp.post("/sign-in")
def sign_in() -> Response:
    form = request.form
    try:
        user = network.sign_in(
            web.db(), _data_dir(), form.get("name", ""), form.get("password", "")
        )
    except UserError as error:
        return _back(error.message, "error")
    return _back(_("Signed in to the shared server as %(name)s.", name=user.name))


# --- network users ---------------------------------------------------------------


def _managed_network() -> AbstractContextManager[tuple[Database, NetworkUser, str]]:
    return network.managed_network(web.db(), _data_dir(), auth.current_user().name)


@bp.get("/users")
def users() -> str | Response:
    try:
        with _managed_network() as (server_db, me, host):
            rows = network_users.list_network_users(server_db, me)
            categories = network_users.list_server_categories(server_db)
    except UserError as error:
        return _back(error.message, "error")
    return render_template(
        "network/users.html",
        users=rows,
        categories=categories,
        me=me,
        host=host,
        roles=accounts.ROLES,
        min_password=accounts.MIN_PASSWORD_CHARS,
    )


def _rights() -> network_users.Rights:
    form = request.form
    return network_users.Rights(
        may_upload=form.get("may_upload") == "1",
        may_download=form.get("may_download") == "1",
        may_edit_shared=form.get("may_edit_shared") == "1",
        categories=tuple(form.getlist("categories")),
    )


def _on_server(
    change: Callable[[Database, NetworkUser], Any], done: Callable[[Any], str]
) -> Response:
    """Run one change as the signed-in network user, then flash and go back."""
    try:
        with _managed_network() as (server_db, me, _host):
            result = change(server_db, me)
    except UserError as error:
        return _back(error.message, "error", ".users")
    return _back(done(result), to=".users")


@bp.post("/users/new")
def create_user() -> Response:
    form = request.form
    return _on_server(
        lambda db, me: network_users.create_network_user(
            db,
            me,
            name=form.get("name", ""),
            password=form.get("password", ""),
            role=form.get("role", "user"),
            rights=_rights(),
        ),
        lambda _uuid: _("Network user “%(name)s” created.", name=form["name"].strip()),
    )


@bp.post("/users/<user_uuid>/rights")
def rights(user_uuid: str) -> Response:
    return _on_server(
        lambda db, me: network_users.set_network_rights(db, me, user_uuid, _rights()),
        lambda name: _("The rights of “%(name)s” are saved.", name=name),
    )


@bp.post("/users/<user_uuid>/role")
def role(user_uuid: str) -> Response:
    chosen = request.form.get("role", "")
    return _on_server(
        lambda db, me: network_users.set_network_role(db, me, user_uuid, chosen),
        lambda name: _(
            "“%(name)s” is now: %(role)s.", name=name, role=accounts.ROLES[chosen]
        ),
    )


@bp.post("/users/<user_uuid>/disable")
def disable(user_uuid: str) -> Response:
    disabled = request.form.get("disabled") == "1"
    return _on_server(
        lambda db, me: network_users.set_network_user_disabled(
            db, me, user_uuid, disabled
        ),
        lambda name: (
            _("Network user “%(name)s” is disabled.", name=name)
            if disabled
            else _("Network user “%(name)s” is enabled.", name=name)
        ),
    )


@bp.post("/users/<user_uuid>/password")
def password(user_uuid: str) -> Response:
    new = request.form.get("password", "")
    return _on_server(
        lambda db, me: network_users.set_network_password(db, me, user_uuid, new),
        lambda name: _("The password of “%(name)s” is set.", name=name),
    )
