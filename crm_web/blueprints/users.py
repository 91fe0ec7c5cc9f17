"""Users, login protection and the audit log, for administrators."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from crm_web import auth, web
from crm_web.errors import UserError
from crm_web.services import accounts, audit, clock
from crm_web.services.importing.values import parse_date

bp = Blueprint("users", __name__, url_prefix="/users")

AUDIT_PAGE = 100


@bp.get("/")
def index() -> str:
    database = web.db()
    return render_template(
        "users/index.html",
        users=accounts.list_users(database),
        protection=accounts.protection_on(database),
        roles=accounts.ROLES,
        me=auth.current_user(),
        min_password=accounts.MIN_PASSWORD_CHARS,
    )


def _done(message: str) -> Response:
    flash(message)
    return redirect(url_for(".index"))


def _failed(error: UserError) -> Response:
    flash(error.message, "error")
    return redirect(url_for(".index"))


@bp.post("/new")
def create() -> Response:
    by = auth.current_user().name
    try:
        accounts.create_user(
            web.db(),
            request.form.get("name", ""),
            request.form.get("password", ""),
            request.form.get("role", "user"),
            by=by,
        )
    except UserError as error:
        return _failed(error)
    return _done(
        _("User “%(name)s” created.", name=request.form.get("name", "").strip())
    )


@bp.post("/<user_uuid>/password")
def reset_password(user_uuid: str) -> Response:
    try:
        accounts.set_password(
            web.db(),
            user_uuid,
            request.form.get("password", ""),
            by=auth.current_user().name,
        )
        user = accounts.get_user(web.db(), user_uuid)
    except UserError as error:
        return _failed(error)
    return _done(_("The password of “%(name)s” is set.", name=user["name"]))


@bp.post("/<user_uuid>/role")
def change_role(user_uuid: str) -> Response:
    try:
        accounts.set_role(
            web.db(),
            user_uuid,
            request.form.get("role", ""),
            by=auth.current_user().name,
        )
        user = accounts.get_user(web.db(), user_uuid)
    except UserError as error:
        return _failed(error)
    return _done(
        _(
            "“%(name)s” is now: %(role)s.",
            name=user["name"],
            role=accounts.ROLES[user["role"]],
        )
    )


@bp.post("/<user_uuid>/disable")
def disable(user_uuid: str) -> Response:
    disabled = request.form.get("disabled") == "1"
    try:
        accounts.set_disabled(
            web.db(), user_uuid, disabled, by=auth.current_user().name
        )
        user = accounts.get_user(web.db(), user_uuid)
    except UserError as error:
        return _failed(error)
    if disabled:
        return _done(_("User “%(name)s” is disabled.", name=user["name"]))
    return _done(_("User “%(name)s” is enabled.", name=user["name"]))


@bp.post("/protection")
def protection() -> Response:
    on = request.form.get("on") == "1"
    me = auth.current_user()
    try:
        accounts.set_protection(web.db(), on, by=me.name)
    except UserError as error:
        return _failed(error)
    if on:
        # The administrator who turned it on stays signed in.
        auth.start_session(accounts.get_user(web.db(), me.uuid))
        return _done(_("Login protection is on. Everyone now signs in."))
    return _done(_("Login protection is off. Anyone at this computer acts as Admin."))


@bp.get("/audit")
def audit_log() -> str:
    database = web.db()
    zone = clock.user_zone(web.preferences()["time_zone"])
    since = _day_arg("from", zone)
    until = _day_arg("to", zone)
    if until is not None:
        until += timedelta(days=1)
    page = web.int_arg("page", 1, low=1)
    rows, total = audit.entries(
        database,
        user=request.args.get("user", "").strip(),
        action=request.args.get("action", ""),
        since=since,
        until=until,
        page=page,
        per_page=AUDIT_PAGE,
    )
    return render_template(
        "users/audit.html",
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // AUDIT_PAGE)),
        actions=audit.ACTIONS,
        action_label=audit.action_label,
        users=accounts.list_users(database),
        args=request.args,
        filters={k: v for k, v in request.args.items() if k != "page" and v},
    )


def _day_arg(name: str, zone: ZoneInfo) -> datetime | None:
    """Return the UTC start of the local day given in ``name``, if valid."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    day = parse_date(raw)
    if day is None:
        flash(
            _("“%(value)s” is not a date; type it as 2026-12-31.", value=raw), "error"
        )
        return None
    return clock.to_utc(datetime.combine(day, time()), zone)
