"""Appointments pages."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import gettext as _

bp = Blueprint("appointments", __name__, url_prefix="/appointments")


@bp.get("/")
def index() -> str:
    return render_template("coming_soon.html", title=_("Appointments"), summary="")
