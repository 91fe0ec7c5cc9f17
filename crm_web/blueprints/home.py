"""The home page."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from crm_web import web
from crm_web.services import clock
from crm_web.services.home import summarize_day

bp = Blueprint("home", __name__)


@bp.get("/")
def index() -> str:
    prefs = web.preferences()
    zone = clock.user_zone(prefs["time_zone"])
    summary = summarize_day(
        web.db(),
        zone=zone,
        week_start=prefs["week_start"],
        done_id=request.args.get("done", type=int),
    )
    return render_template("home/index.html", day=summary, zone=zone)
