"""Upload to and download from the shared server, and resolve conflicts.

The buttons and history sit on the Network page (network/_sync.html, also
shown alone at /network/sync). A run goes in a background job whose page
polls for progress. Conflicts are resolved one by one.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response

from crm_web import auth, web
from crm_web.data import visibility
from crm_web.data.db import Database
from crm_web.services import (
    jobs,
    network,
    sync,
    sync_conflicts,
    sync_display,
    sync_runs,
)
from crm_web.services.network_user import NetworkUser
from crm_web.services.sales import CUSTOM_FIELDS
from crm_web.services.sync_display import (
    AREAS,
    DIRECTIONS,
    KIND_EXPLANATIONS,
    KIND_NAMES,
    STATUS_NAMES,
)

bp = Blueprint("sync", __name__, url_prefix="/network")

JOB_KIND = "sync"
# The Network page's endpoint; the sync page links back to it when it exists.
NETWORK_PAGE = "network.index"
CONFLICT_ENDPOINTS = {"sync.conflicts", "sync.conflict", "sync.resolve"}


@bp.app_context_processor
def sync_names() -> dict[str, Any]:
    """Give templates the sync overview and the words for its codes."""
    return {
        "sync_overview": _overview,
        "sync_areas": AREAS,
        "sync_directions": DIRECTIONS,
        "sync_statuses": STATUS_NAMES,
        "conflict_kinds": KIND_NAMES,
        "record_types": sync_conflicts.TABLE_LABELS,
    }


@bp.context_processor
def error_back_link() -> dict[str, Any]:
    """Link the error page back to Conflicts, or to the Network page."""
    if request.endpoint in CONFLICT_ENDPOINTS:
        return {"error_back": {"url": url_for(".conflicts"), "label": _("Conflicts")}}
    network_url = _network_url()
    if network_url is None:
        label = _("Upload and download")
        return {"error_back": {"url": url_for(".index"), "label": label}}
    return {"error_back": {"url": network_url, "label": _("Network")}}


def _overview() -> dict[str, Any]:
    """Return what network/_sync.html shows: state, pending counts, history.

    Working live on the shared server it only names the server.
    """
    database = web.db()
    live = network.live_server(database)
    if live is not None:
        return {"live": live, "network_url": _network_url()}
    status = sync.sync_status(database)
    return {
        "live": None,
        "is_configured": sync_runs.is_configured(database, web.settings().data_dir),
        "pending": status.pending,
        "open_conflicts": status.open_conflicts,
        "history": sync_display.shown_history(status.history),
        "running": jobs.running_job(JOB_KIND),
        "network_url": _network_url(),
    }


def _network_url() -> str | None:
    try:
        return url_for(NETWORK_PAGE)
    except BuildError:
        return None


@bp.get("/sync")
def index() -> str:
    return render_template("sync/index.html")


@bp.post("/sync/<any(upload, download):direction>")
def start(direction: str) -> Response:
    running = jobs.running_job(JOB_KIND)
    if running is not None:
        flash(_("A sync is already running; its progress is shown here."))
        return redirect(url_for(".job", job_id=running.id))
    server_db, user = sync_runs.open_sync(web.db(), web.settings().data_dir, direction)
    job = _start_job(direction, server_db, user)
    return redirect(url_for(".job", job_id=job.id))


def _start_job(direction: str, server_db: Database, user: NetworkUser) -> jobs.Job:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    language = web.current_language()
    database, local_owner = web.db(), web.owner()
    crm_user, viewer = auth.current_user(), visibility.current_viewer()

    def work(job: jobs.Job) -> dict[str, Any]:
        result = sync_runs.run_sync(
            direction,
            database,
            server_db,
            user,
            local_owner=local_owner,
            progress=lambda done, total: _report(job, done, total),
        )
        return result.as_dict()

    def in_context(body: Any) -> None:
        with app.test_request_context():
            session["language"] = language
            # The run acts as the user who started it, like an import.
            g.crm_user, g.crm_viewer = crm_user, viewer
            try:
                body()
            finally:
                database.release()

    return jobs.start_job(
        JOB_KIND, work, wrap=in_context, info={"direction": direction}
    )


def _report(job: jobs.Job, done: int, total: int) -> None:
    job.progress, job.total = done, total


@bp.get("/sync/jobs/<job_id>")
def job(job_id: str) -> str | dict[str, Any]:
    found = jobs.get_job(job_id)
    if found is None or found.kind != JOB_KIND:
        abort(HTTPStatus.NOT_FOUND)
    state = {
        "state": found.state,
        "progress": found.progress,
        "total": found.total,
        "error": _job_error(found),
    }
    if web.wants_json():
        return state
    result = sync_runs.SyncResult(**found.result) if found.state == "done" else None
    return render_template("sync/job.html", job=found, state=state, result=result)


def _job_error(job: jobs.Job) -> str:
    if job.error == "unexpected":
        return _(
            "The sync stopped because of an unexpected error. What was "
            "already exchanged is kept, and the next run goes on from there. "
            "The details are in the log file in %(path)s.",
            path=web.settings().log_dir,
        )
    return job.error


# --- conflicts -------------------------------------------------------------------


@bp.get("/conflicts")
def conflicts() -> str:
    return render_template(
        "sync/conflicts.html", conflicts=sync_conflicts.list_conflicts(web.db())
    )


@bp.get("/conflicts/<int:conflict_id>")
def conflict(conflict_id: int) -> str:
    view = sync_conflicts.get_conflict(web.db(), conflict_id)
    rows = sync_display.conflict_rows(web.db(), view, custom_labels=_custom_labels())
    return render_template(
        "sync/conflict.html",
        conflict=view,
        rows=rows,
        explanation=KIND_EXPLANATIONS.get(view.kind, ""),
    )


def _custom_labels() -> dict[str, str]:
    prefs = web.preferences()
    return {name: prefs.get(f"sales_{name}", "") for name in CUSTOM_FIELDS}


@bp.post("/conflicts/<int:conflict_id>")
def resolve(conflict_id: int) -> Response:
    database = web.db()
    view = sync_conflicts.get_conflict(database, conflict_id)
    keep = request.form.get("keep", "")
    picks = {
        choice.name: request.form.get(f"pick-{choice.name}", "mine")
        for choice in view.fields
    }
    sync_conflicts.resolve_conflict(
        database,
        conflict_id,
        keep=keep,
        picks=picks,
        local_owner=web.owner(),
        region=web.region(),
    )
    flash(_resolved_message(keep, view.label))
    return redirect(url_for(".conflicts"))


def _resolved_message(keep: str, label: str) -> str:
    if keep == "theirs":
        return _(
            "The server's version of “%(name)s” is kept here. Nothing needs "
            "to be sent for it.",
            name=label,
        )
    if keep == "merged":
        return _(
            "Your picks for “%(name)s” are saved here. They will be sent with "
            "the next upload.",
            name=label,
        )
    return _(
        "Your version of “%(name)s” is kept. It will be sent with the next upload.",
        name=label,
    )
