"""Communication log pages: the list with filters, entries, trash."""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    after_this_request,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response

from crm_web import auth, uploads, web
from crm_web.errors import UserError, VersionConflictError
from crm_web.services import audit, clock, conflicts, contact_picker
from crm_web.services import categories as category_service
from crm_web.services import comm_log as log_service
from crm_web.services import comm_log_files as log_files
from crm_web.services import contacts as contact_service
from crm_web.services import sharing as sharing_service
from crm_web.services.comm_log import (
    CHANNELS,
    FOLLOW_UP_STATES,
    NO_CATEGORY,
    AppointmentsUnavailableError,
    LogEntryInvalidError,
    LogFilters,
)
from crm_web.services.exporting import content_type

bp = Blueprint("log", __name__, url_prefix="/log")

# Query arguments of the list's filters, carried to the detail page so that
# its previous/next links follow the same list.
FILTER_ARGS = (
    "from",
    "to",
    "contact",
    "who",
    "category",
    "channel",
    "q",
    "follow_up",
)
UPLOAD_AREA = "log-uploads"


@bp.app_template_filter("local_moment")
def local_moment(value: datetime | None) -> str:
    """Format a datetime already in the user's zone, without converting it."""
    if value is None:
        return ""
    return web.format_moment(value.replace(tzinfo=None))


# Titles longer than this are cut with an ellipsis in lists; the entry's
# own page shows them whole.
TITLE_SHOWN = 80


@bp.app_template_filter("shorten_title")
def shorten_title(value: str | None, limit: int = TITLE_SHOWN) -> str:
    """Cut a title to ``limit`` characters, ending it with an ellipsis."""
    value = value or ""
    if len(value) <= limit:
        return value
    return value[: limit - 1].rstrip() + "…"


@bp.app_template_filter("user_datetime")
def user_datetime(value: datetime | None) -> str:
    """Format a stored UTC datetime in the zone of the time_zone setting."""
    return web.format_local_datetime(value)


@bp.app_template_global()
def appointment_url(appointment_uuid: str) -> str:
    """Return an appointment's page, or the appointments list."""
    try:
        return url_for("appointments.edit", uuid=appointment_uuid)
    except BuildError:
        return url_for("appointments.index")


@bp.app_template_global()
def timeline_url(item: dict[str, Any]) -> str:
    """Return the page of a timeline item, or its area's list."""
    if item["kind"] == "log":
        return url_for("log.show", entry_id=item["id"])
    if item["kind"] == "appointment":
        return appointment_url(item["uuid"])
    try:
        return url_for("sales.edit", sale_id=item["id"])
    except BuildError:
        return url_for("sales.index")


def user_zone() -> ZoneInfo:
    return clock.user_zone(web.preferences()["time_zone"])


def filters_from(args: Any) -> LogFilters:
    """Read the list filters from request arguments, leaving out bad dates."""
    return log_service.parse_filters(args)[0]


def filter_args() -> dict[str, str]:
    """Return the request's non-empty filter arguments."""
    return {k: request.args[k] for k in FILTER_ARGS if request.args.get(k)}


@bp.get("/")
def index() -> str:
    filters, errors = log_service.parse_filters(request.args)
    for error in errors:
        flash(error, "error")
    page = web.int_arg("page", 1, low=1)
    size = int(web.preferences()["page_size"])
    found = log_service.list_entries(
        web.db(), filters, zone=user_zone(), offset=(page - 1) * size, limit=size
    )
    contact = None
    if filters.contact_id is not None:
        contact = contact_service.require_contact(web.db(), filters.contact_id)
    return render_template(
        "log/index.html",
        filters=filters,
        found=found,
        page=page,
        pages=max(1, -(-found.total // size)),
        contact=contact,
        channels=CHANNELS,
        follow_up_states=FOLLOW_UP_STATES,
        categories=category_service.list_categories(web.db()),
        no_category=NO_CATEGORY,
        list_args=filter_args(),
    )


@bp.route("/new", methods=["GET", "POST"])
def new() -> Any:
    if request.method == "GET":
        return _render_form(None, _new_values())
    try:
        entry = log_service.parse_entry(web.db(), request.form, zone=user_zone())
        entry_id = log_service.create_entry(
            web.db(), entry, owner=web.owner(), zone=user_zone()
        )
    except (LogEntryInvalidError, AppointmentsUnavailableError) as error:
        return _render_form(None, request.form, error=error)
    flash(_("Log entry saved."))
    default = url_for(".show", entry_id=entry_id)
    return redirect(web.safe_next(request.form.get("next"), default))


def _new_values() -> dict[str, Any]:
    now = clock.to_local(clock.now_utc(), user_zone())
    values: dict[str, Any] = {
        "occurred_at": now.strftime("%Y-%m-%dT%H:%M"),
        "channel": "phone",
        "next": request.args.get("next", ""),
    }
    contact_id = request.args.get("contact", "")
    if contact_id.isdigit():
        contact = contact_service.require_contact(web.db(), int(contact_id))
        values.update(contact_picker.field_values(web.db(), contact["uuid"]))
    return values


@bp.get("/<int:entry_id>")
def show(entry_id: int) -> str:
    row = log_service.require_entry(web.db(), entry_id)
    zone = user_zone()
    previous_id, next_id = log_service.neighbours(
        web.db(), filters_from(request.args), row, zone=zone
    )
    return render_template(
        "log/show.html",
        entry=log_service.entry_view(row, zone),
        previous_id=previous_id,
        next_id=next_id,
        list_args=filter_args(),
        sharing=sharing_service.sharing_of(web.db(), row["uuid"], row["owner"]),
        share_choices=sharing_service.known_share_users(web.db()),
        me=auth.current_user(),
    )


@bp.post("/<int:entry_id>/sharing")
def sharing(entry_id: int) -> Response:
    sharing_service.set_entry_sharing(
        web.db(),
        entry_id,
        by=auth.current_user(),
        choice=sharing_service.choice_of(request.form),
    )
    flash(_("Sharing saved."))
    return redirect(url_for(".show", entry_id=entry_id))


@bp.route("/<int:entry_id>/edit", methods=["GET", "POST"])
def edit(entry_id: int) -> Any:
    row = log_service.require_entry(web.db(), entry_id)
    if request.method == "GET":
        return _render_form(row, _edit_values(row))
    try:
        entry = log_service.parse_entry(web.db(), request.form, zone=user_zone())
        log_service.update_entry(
            web.db(),
            entry_id,
            entry,
            version=request.form.get("version", type=int) or row["version"],
            owner=web.owner(),
            zone=user_zone(),
        )
    except (LogEntryInvalidError, AppointmentsUnavailableError) as error:
        return _render_form(row, request.form, error=error)
    except VersionConflictError:
        return _render_conflict(entry_id, entry)
    flash(_("Log entry saved."))
    return redirect(url_for(".show", entry_id=entry_id))


def _render_conflict(entry_id: int, entry: log_service.EntryInput) -> tuple[str, int]:
    """Return the form with the user's values and the version now saved."""
    saved = log_service.require_entry(web.db(), entry_id)
    conflict = conflicts.compare_entry(saved, entry, zone=user_zone())
    html = render_template(
        "log/form.html",
        entry=saved,
        values={**request.form.to_dict(), "version": conflict.version},
        channels=CHANNELS,
        errors={},
        choices=[],
        message="",
        conflict=conflict,
        can_make_appointment=log_service.appointments_available(),
        cancel_url=url_for(".show", entry_id=entry_id),
    )
    return html, HTTPStatus.CONFLICT


def _edit_values(row: dict[str, Any]) -> dict[str, Any]:
    local = clock.to_local(row["occurred_at"], user_zone())
    follow_up = row["follow_up_on"]
    return {
        **row,
        **contact_picker.field_values(web.db(), row["contact_uuid"]),
        "occurred_at": local.strftime("%Y-%m-%dT%H:%M"),
        "follow_up_on": follow_up.isoformat() if follow_up else "",
    }


def _render_form(
    row: dict[str, Any] | None, values: Any, error: Exception | None = None
) -> tuple[str, int] | str:
    html = render_template(
        "log/form.html",
        entry=row,
        values=values,
        channels=CHANNELS,
        errors=getattr(error, "errors", {}),
        choices=getattr(error, "choices", []),
        message=error.message if error else "",  # type: ignore[attr-defined]
        can_make_appointment=log_service.appointments_available(),
        cancel_url=_cancel_url(row, values),
    )
    return (html, HTTPStatus.UNPROCESSABLE_ENTITY) if error else html


def _cancel_url(row: dict[str, Any] | None, values: Any) -> str:
    if row is not None:
        return url_for(".show", entry_id=row["id"])
    return web.safe_next(values.get("next"), url_for(".index"))


@bp.post("/<int:entry_id>/delete")
def delete(entry_id: int) -> Response:
    entry = log_service.require_entry(web.db(), entry_id)
    log_service.set_deleted(web.db(), entry_id, deleted=True)
    audit.record(
        web.db(), "delete", user=web.owner(), target=log_service.entry_label(entry)
    )
    flash(_("The log entry was moved to the trash. You can restore it from there."))
    return redirect(web.safe_next(request.form.get("next"), url_for(".index")))


@bp.post("/<int:entry_id>/follow-up")
def follow_up(entry_id: int) -> Response:
    """Mark the follow-up done (done=1) or open again, then return to ``next``."""
    done = request.form.get("done") == "1"
    log_service.set_follow_up_done(web.db(), entry_id, done=done)
    default = url_for(".show", entry_id=entry_id)
    return redirect(web.safe_next(request.form.get("next"), default))


@bp.post("/<int:entry_id>/restore")
def restore(entry_id: int) -> Response:
    log_service.set_deleted(web.db(), entry_id, deleted=False)
    flash(_("The log entry was restored."))
    return redirect(url_for(".show", entry_id=entry_id))


@bp.get("/trash")
def trash() -> str:
    page = web.int_arg("page", 1, low=1)
    found = log_service.list_entries(
        web.db(),
        LogFilters(),
        zone=user_zone(),
        offset=(page - 1) * 100,
        limit=100,
        deleted=True,
    )
    return render_template(
        "log/trash.html",
        found=found,
        page=page,
        pages=max(1, -(-found.total // 100)),
    )


# --- export and import --------------------------------------------------------


@bp.get("/export")
def export() -> Response:
    kind = request.args.get("format", "xlsx")
    if kind not in ("xlsx", "txt"):
        kind = "xlsx"
    folder = Path(tempfile.mkdtemp(dir=web.settings().work_dir))
    path = folder / f"log.{kind}"
    count = log_files.export_log(
        web.db(), path, kind, filters_from(request.args), zone=user_zone()
    )
    audit.record(
        web.db(),
        "export",
        user=web.owner(),
        target=path.name,
        detail=f"log entries: {count}",
    )

    @after_this_request
    def remove(response: Response) -> Response:
        response.call_on_close(lambda: shutil.rmtree(folder, ignore_errors=True))
        return response

    name = f"{_('communication-log')}-{clock.today(user_zone()).isoformat()}.{kind}"
    return send_file(
        path, as_attachment=True, download_name=name, mimetype=content_type(kind)
    )


def _upload_dir(token: str) -> Path:
    return uploads.upload_dir(UPLOAD_AREA, token)


def _import_plan(token: str) -> log_files.LogImportPlan:
    path, filename = uploads.uploaded_file(UPLOAD_AREA, token)
    return log_files.plan_log_import(path, filename=filename)


@bp.get("/import")
def import_start() -> str:
    return render_template("log/import.html", step="upload")


@bp.post("/import")
def import_upload() -> Response:
    token = uploads.save_upload(UPLOAD_AREA)
    if token is None:
        flash(_("Choose a file to import first."), "error")
        return redirect(url_for(".import_start"))
    return redirect(url_for(".import_review", token=token))


@bp.get("/import/<token>")
def import_review(token: str) -> Any:
    try:
        plan = _import_plan(token)
    except UserError as error:
        return render_template(
            "log/import.html", step="failed", message=error.message
        ), error.status
    rows = log_files.preview_log_import(
        web.db(), plan, region=web.region(), zone=user_zone()
    )
    return render_template(
        "log/import.html",
        step="review",
        token=token,
        plan=plan,
        rows=rows,
        labels=dict(log_files.COLUMNS),
    )


@bp.post("/import/<token>")
def import_run(token: str) -> Any:
    plan = _import_plan(token)
    summary = log_files.import_log_file(
        web.db(),
        plan,
        owner=web.owner(),
        region=web.region(),
        zone=user_zone(),
        work_dir=_upload_dir(token),
        name=Path(plan.filename).stem,
    )
    audit.record(
        web.db(),
        "import",
        user=web.owner(),
        target=plan.filename,
        detail=f"log entries: inserted={summary.inserted} skipped={summary.skipped} "
        f"rejected={summary.rejected}",
    )
    return render_template("log/import.html", step="done", token=token, summary=summary)


@bp.get("/import/<token>/rejected")
def import_rejected(token: str) -> Response:
    found = sorted(_upload_dir(token).glob("rejected-*"))
    if not found:
        abort(HTTPStatus.NOT_FOUND)
    path = found[0]
    return send_file(
        path, as_attachment=True, download_name=path.name.removeprefix("rejected-")
    )
