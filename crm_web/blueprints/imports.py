"""Imports pages."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("imports", __name__, url_prefix="/imports")


@bp.get("/")
def index() -> str:
    return render_template("coming_soon.html", title="imports", summary="")
