"""Signing in and out, and changing one's own password."""

from __future__ import annotations

from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from crm_web import auth, web
from crm_web.errors import UserError
from crm_web.services import accounts, audit

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    target = web.safe_next(request.values.get("next"), url_for("home.index"))
    database = web.db()
    if not accounts.protection_on(database):
        return redirect(target)
    if request.method == "POST":
        name = request.form.get("name", "")
        try:
            user = accounts.sign_in(
                database,
                name,
                request.form.get("password", ""),
                address=auth.client_address(),
            )
        except UserError as error:
            return render_template(
                "auth/login.html", error=error.message, name=name, next=target
            ), error.status
        auth.start_session(user)
        return redirect(target)
    return render_template("auth/login.html", name="", next=target)


@bp.post("/logout")
def logout() -> Response:
    user = auth.current_user()
    if session.get("user"):
        # The cookie could have been copied: it must not work again.
        accounts.end_sessions(web.db(), user.uuid)
        audit.record(web.db(), "logout", user=user.name)
    auth.clear_session()
    flash(_("You are signed out."))
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
def password() -> str | Response | tuple[str, int]:
    user = auth.current_user()
    if request.method == "POST":
        try:
            accounts.change_own_password(
                web.db(),
                user.uuid,
                request.form.get("current", ""),
                request.form.get("new", ""),
                confirm=request.form.get("confirm", ""),
            )
        except UserError as error:
            flash(error.message, "error")
            return render_template("auth/password.html", user=user), error.status
        if session.get("user"):
            auth.start_session(accounts.get_user(web.db(), user.uuid))
        flash(_("Your password is changed."))
        return redirect(url_for("home.index"))
    return render_template("auth/password.html", user=user)
