"""Communication log pages."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import gettext as _

bp = Blueprint("log", __name__, url_prefix="/log")


@bp.get("/")
def index() -> str:
    return render_template("coming_soon.html", title=_("Communication log"), summary="")
