"""Areas that later releases fill in: each shows a "coming soon" page, not a 404."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import lazy_gettext as _l

bp = Blueprint("areas", __name__)

COMING = {
    "vault": (
        _l("Account vault"),
        _l("Keep account passwords under a second password."),
    ),
}


def _coming(area: str) -> str:
    title, summary = COMING[area]
    return render_template("coming_soon.html", title=title, summary=summary)


@bp.get("/vault/")
def vault() -> str:
    return _coming("vault")

