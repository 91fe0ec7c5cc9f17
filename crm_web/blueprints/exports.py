"""Exports pages."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("exports", __name__, url_prefix="/exports")


@bp.get("/")
def index() -> str:
    return render_template("coming_soon.html", title="exports", summary="")
