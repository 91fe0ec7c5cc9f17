"""Areas that later releases fill in: each shows a "coming soon" page, not a 404.

Every area in the sidebar has been built, so COMING is empty; an area
planned later gets its entry and route here until it is built.
"""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("areas", __name__)

# Area name -> (title, one-line summary), both lazy_gettext strings.
COMING: dict[str, tuple[object, object]] = {}


def _coming(area: str) -> str:
    title, summary = COMING[area]
    return render_template("coming_soon.html", title=title, summary=summary)
