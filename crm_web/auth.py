"""Request identity: the user a request acts as, and the pages it may open.

While login protection is off every request acts as the first enabled
administrator (Admin after installing). Once it is on, a request needs a
signed-in session that is not idle for longer than the session_idle_minutes
setting, whose user is still enabled and has not changed password since.
Administrators manage users, settings and the audit log; users work with
their own records and those shared with them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from http import HTTPStatus
from typing import Any, TypeVar

from flask import abort, flash, g, jsonify, redirect, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from crm_web import web
from crm_web.data.visibility import Viewer
from crm_web.services import accounts
from crm_web.services.accounts import CurrentUser

# Pages anyone may open, signed in or not.
PUBLIC_ENDPOINTS = {"auth.login", "static", "settings.language"}
# Blueprints only administrators may open.
ADMIN_BLUEPRINTS = {"users", "settings", "backup", "network", "sync"}
ADMIN_EXEMPT = {"settings.language"}
KEPT_SESSION_KEYS = ("language", "csrf_token")
# Requests a page makes on its own, on a timer: they are not the user's
# activity, so they never keep an idle session alive.
BACKGROUND_ENDPOINTS = {"appointments.reminders"}

F = TypeVar("F", bound=Callable[..., Any])


def current_user() -> CurrentUser:
    """Return the user this request acts as."""
    user: CurrentUser | None = g.get("crm_user")
    if user is None:
        user = accounts.default_admin(web.db())
        g.crm_user = user
    return user


def protection_on() -> bool:
    """Return whether login protection is on, read once per request."""
    if "crm_protection" not in g:
        g.crm_protection = accounts.protection_on(web.db())
    on: bool = g.crm_protection
    return on


def guard() -> Response | None:
    """Before each request: find the user, send strangers to sign in."""
    endpoint = request.endpoint or ""
    database = web.db()
    if not protection_on():
        if not _from_this_computer():
            # Protection was turned off while serving the network.
            abort(HTTPStatus.FORBIDDEN)
        g.crm_user = accounts.default_admin(database)
        return None
    if endpoint in PUBLIC_ENDPOINTS:
        return None
    user = _session_user()
    if user is None:
        return _to_sign_in()
    g.crm_user = user
    if not user.is_admin:
        g.crm_viewer = Viewer(
            user.name,
            categories=user.categories,
            may_edit_shared=user.may_edit_shared,
        )
    blueprint = endpoint.split(".", 1)[0]
    admin_only = blueprint in ADMIN_BLUEPRINTS and endpoint not in ADMIN_EXEMPT
    if admin_only and not user.is_admin:
        abort(HTTPStatus.FORBIDDEN)
    return None


def _from_this_computer() -> bool:
    from crm_web.server import is_loopback

    return is_loopback(request.remote_addr or "127.0.0.1")


def _session_user() -> CurrentUser | None:
    user_uuid = session.get("user")
    if not user_uuid:
        return None
    now = int(time.time())
    idle_limit = int(web.preferences()["session_idle_minutes"]) * 60
    if now - int(session.get("seen", 0)) > idle_limit:
        clear_session()
        g.crm_signed_out_idle = True
        return None
    user = accounts.current_user_for(web.db(), user_uuid, session.get("stamp", ""))
    if user is None:
        clear_session()
        return None
    # Writing the cookie on every request would race between the page's
    # parallel requests; once a minute is enough for an idle limit in minutes.
    background = request.endpoint in BACKGROUND_ENDPOINTS
    if not background and now - int(session.get("seen", 0)) >= 60:
        session["seen"] = now
    return user


def _to_sign_in() -> Response:
    message = (
        _("You were signed out after a while without activity. Sign in again.")
        if g.get("crm_signed_out_idle")
        else _("Sign in to continue.")
    )
    if web.wants_json():
        response = jsonify(error=message)
        response.status_code = HTTPStatus.UNAUTHORIZED
        return response
    flash(message)
    target = request.full_path if request.method == "GET" else "/"
    return redirect(url_for("auth.login", next=web.safe_next(target, "/")))


def start_session(user: dict[str, Any]) -> None:
    """Sign ``user`` in on a fresh session, so no earlier value carries over."""
    clear_session()
    session["user"] = user["uuid"]
    session["stamp"] = accounts.session_stamp(user)
    session["seen"] = int(time.time())


def clear_session() -> None:
    """Forget who is signed in, keeping the language and the CSRF token.

    The token stays so that forms already open in other windows of the app
    still post; it was never sent to another site. The account vault locks.
    """
    from crm_web.blueprints.vault import lock_session

    lock_session("signed out")
    kept = {key: session[key] for key in KEPT_SESSION_KEYS if key in session}
    session.clear()
    session.update(kept)


def admin_required(view: F) -> F:
    """Refuse a view to users who are not administrators."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user().is_admin:
            abort(HTTPStatus.FORBIDDEN)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def client_address() -> str:
    return request.remote_addr or ""
