"""Settings page and the language switcher."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from crm_web import web
from crm_web.errors import UserError
from crm_web.i18n import LANGUAGES
from crm_web.services.preferences import CHOICE_LABELS, SETTINGS, save_preferences

bp = Blueprint("settings", __name__, url_prefix="/settings")


@bp.route("/", methods=["GET", "POST"])
def index() -> str | Response:
    if request.method == "POST":
        values = {s.name: request.form.get(s.name, s.default) for s in SETTINGS}
        try:
            save_preferences(web.db(), values)
        except UserError as error:
            flash(error.message, "error")
            return render_template(
                "settings/index.html",
                settings=SETTINGS,
                values=values,
                choice_labels=CHOICE_LABELS,
            )
        # The saved language becomes the one in use; "follow the system"
        # drops the sidebar's choice so that the system language applies.
        if values["language"]:
            session["language"] = values["language"]
        else:
            session.pop("language", None)
        flash(_("Settings saved."))
        return redirect(url_for(".index"))
    # The language chosen in the sidebar is the one in use, so the form
    # shows it rather than the stored default.
    values = {**web.preferences()}
    values["language"] = session.get("language") or values["language"]
    return render_template(
        "settings/index.html",
        settings=SETTINGS,
        values=values,
        choice_labels=CHOICE_LABELS,
        data=web.settings(),
    )


@bp.post("/language")
def language() -> Response:
    chosen = request.form.get("language", "")
    if chosen in LANGUAGES:
        session["language"] = chosen
    return redirect(web.safe_next(request.form.get("next"), url_for("contacts.index")))
