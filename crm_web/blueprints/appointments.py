"""Appointment pages: quick views, form, status changes, calendar, .ics."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from http import HTTPStatus
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton
from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_date, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from crm_web import web
from crm_web.errors import VersionConflictError
from crm_web.services import (
    appointment_form,
    appointment_list,
    audit,
    calendar_ics,
    clock,
    conflicts,
)
from crm_web.services import appointments as service
from crm_web.services.appointment_series import (
    format_occurrence_id,
    parse_occurrence_id,
)
from crm_web.services.appointments import (
    AppointmentInvalidError,
    OccurrenceNotFoundError,
)
from crm_web.services.download_names import content_disposition

bp = Blueprint("appointments", __name__, url_prefix="/appointments")

DEFAULT_VIEW = "this_week"
ICS_TYPE = "text/calendar; charset=utf-8"


def _zone() -> ZoneInfo:
    return clock.user_zone(web.preferences()["time_zone"])


def _week_start() -> str:
    return web.preferences()["week_start"]


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {
        "status_labels": service.STATUS_LABELS,
        "repeat_labels": service.REPEAT_LABELS,
        "weekday": lambda day: format_date(day, "EEE"),
        "month_title": lambda day: format_skeleton("yMMMM", day, locale=get_locale()),
        "ics_name": calendar_ics.appointment_file_name,
    }


@bp.get("/")
def index() -> str:
    view = request.args.get("view", DEFAULT_VIEW)
    if view not in service.QUICK_VIEWS:
        view = DEFAULT_VIEW
    zone = _zone()
    today = clock.today(zone)
    listing, days = None, None
    if view in appointment_list.LIST_STATUSES:
        listing = appointment_list.list_page(
            web.db(),
            view,
            today=today,
            zone=zone,
            after=request.args.get("after"),
            before=request.args.get("before"),
        )
        found = listing.occurrences
    else:
        found = service.quick_view(
            web.db(), view, today=today, zone=zone, week_start=_week_start()
        )
        first, after_last = service.view_days(
            view, today=today, week_start=_week_start()
        )
        days = (first, after_last - timedelta(days=1))
    return render_template(
        "appointments/index.html",
        view=view,
        views=service.QUICK_VIEW_LABELS,
        occurrences=found,
        contacts=appointment_form.contact_names(web.db(), found),
        days=days,
        listing=listing,
        today=today,
        all_ics_name=calendar_ics.calendar_file_name(today),
    )


@bp.route("/new", methods=["GET", "POST"])
def new() -> Any:
    if request.method == "GET":
        return _render_form(None, _new_values())
    try:
        values = appointment_form.parse_form(web.db(), request.form)
        service.create_appointment(web.db(), values, owner=web.owner(), zone=_zone())
    except AppointmentInvalidError as error:
        return _render_form(None, request.form, error=error)
    flash(_("Appointment saved."))
    return redirect(_after_save(values["starts_at_local"]))


def _new_values() -> dict[str, Any]:
    """Return the blank form: the next full hour, one hour long."""
    now = clock.to_local(clock.now_utc(), _zone()).replace(tzinfo=None)
    starts = now.replace(minute=0, second=0) + timedelta(hours=1)
    contact_uuid = request.args.get("contact", "")
    return {
        "starts_at_local": starts.strftime("%Y-%m-%dT%H:%M"),
        "ends_at_local": (starts + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "repeat": "none",
        "contact_uuid": contact_uuid,
        "contact": appointment_form.contact_name(web.db(), contact_uuid),
    }


@bp.route("/<uuid>/edit", methods=["GET", "POST"])
def edit(uuid: str) -> Any:
    row = service.require_appointment(web.db(), uuid)
    if request.method == "GET":
        values = appointment_form.form_values(row)
        values["contact"] = appointment_form.contact_name(web.db(), row["contact_uuid"])
        return _render_form(row, values)
    try:
        values = appointment_form.parse_form(web.db(), request.form)
        version = request.form.get("version", type=int) or row["version"]
        service.update_appointment(
            web.db(), uuid, values, version=version, zone=service.series_zone(row)
        )
    except AppointmentInvalidError as error:
        return _render_form(row, request.form, error=error)
    except VersionConflictError:
        return _render_conflict(uuid, values)
    flash(_("Appointment saved."))
    return redirect(_after_save(values["starts_at_local"]))


def _render_conflict(uuid: str, values: dict[str, Any]) -> tuple[str, int]:
    """Return the form with the user's values and the version now saved."""
    saved = service.require_appointment(web.db(), uuid)
    conflict = conflicts.compare_appointment(
        web.db(), saved, values, zone=service.series_zone(saved)
    )
    html = render_template(
        "appointments/form.html",
        appointment=saved,
        values={**request.form.to_dict(), "version": conflict.version},
        errors={},
        candidates=[],
        message="",
        conflict=conflict,
        reminder_choices=appointment_form.REMINDER_CHOICES,
        zone=service.series_zone(saved),
    )
    return html, HTTPStatus.CONFLICT


def _after_save(starts: datetime | None = None) -> str:
    """Return the page to show: ``next``, or the first view holding ``starts``."""
    view = DEFAULT_VIEW
    if starts is not None:
        today = clock.today(_zone())
        view = service.view_for_day(
            starts.date(), today=today, week_start=_week_start()
        )
    return web.safe_next(request.form.get("next"), url_for(".index", view=view))


def _render_form(
    row: dict[str, Any] | None,
    values: Any,
    error: AppointmentInvalidError | None = None,
) -> tuple[str, int] | str:
    html = render_template(
        "appointments/form.html",
        appointment=row,
        values=values,
        errors=error.errors if error else {},
        candidates=error.candidates if error else [],
        message=error.message if error else "",
        reminder_choices=appointment_form.REMINDER_CHOICES,
        zone=service.series_zone(row) if row else _zone(),
    )
    return (html, HTTPStatus.UNPROCESSABLE_ENTITY) if error else html


@bp.post("/<uuid>/cancel")
def cancel(uuid: str) -> Response:
    service.set_status(web.db(), uuid, "cancelled")
    flash(
        _("The appointment was cancelled. You can restore it from the cancelled list.")
    )
    return _back()


@bp.post("/<uuid>/restore")
def restore(uuid: str) -> Response:
    service.set_status(web.db(), uuid, "planned")
    flash(_("The appointment is planned again."))
    return _back()


@bp.post("/<uuid>/done")
def done(uuid: str) -> Response:
    service.set_status(web.db(), uuid, "done")
    flash(_("The appointment was marked done."))
    return _back()


def _back() -> Response:
    return redirect(web.safe_next(request.form.get("next"), url_for(".index")))


OCCURRENCE_ACTIONS = {"cancel": "cancelled", "restore": "planned", "done": "done"}


@bp.post("/<uuid>/occurrences/<occurrence_id>/<action>")
def occurrence_status(uuid: str, occurrence_id: str, action: str) -> Response:
    if action not in OCCURRENCE_ACTIONS:
        abort(HTTPStatus.NOT_FOUND)
    original = _original_start(uuid, occurrence_id)
    service.set_occurrence_status(
        web.db(), uuid, original, OCCURRENCE_ACTIONS[action], owner=web.owner()
    )
    flash(str(_OCCURRENCE_MESSAGES[action]))
    return _back()


_OCCURRENCE_MESSAGES = {
    "cancel": _l(
        "This occurrence was cancelled; the others are unchanged. You can "
        "restore it from the cancelled list."
    ),
    "restore": _l("This occurrence is planned again."),
    "done": _l("This occurrence was marked done."),
}


@bp.route("/<uuid>/occurrences/<occurrence_id>/move", methods=["GET", "POST"])
def move_occurrence(uuid: str, occurrence_id: str) -> Any:
    original = _original_start(uuid, occurrence_id)
    row = service.require_occurrence(web.db(), uuid, original)
    if request.method == "GET":
        values = appointment_form.occurrence_form_values(web.db(), row, original)
        return _render_occurrence_form(row, original, values)
    try:
        values = appointment_form.parse_occurrence_form(request.form)
        version = request.form.get("version", type=int) or row["version"]
        service.move_occurrence(
            web.db(), uuid, original, values, version=version, owner=web.owner()
        )
    except AppointmentInvalidError as error:
        return _render_occurrence_form(row, original, request.form, error=error)
    flash(_("This occurrence was moved; the others are unchanged."))
    return redirect(_after_save())


def _original_start(uuid: str, occurrence_id: str) -> datetime:
    original = parse_occurrence_id(occurrence_id)
    if original is None:
        row = service.require_appointment(web.db(), uuid)
        raise OccurrenceNotFoundError(row["title"], occurrence_id)
    return original


def _render_occurrence_form(
    row: dict[str, Any],
    original: datetime,
    values: Any,
    error: AppointmentInvalidError | None = None,
) -> tuple[str, int] | str:
    zone = service.series_zone(row)
    html = render_template(
        "appointments/occurrence.html",
        appointment=row,
        original=clock.to_local(original, zone),
        occurrence_id=format_occurrence_id(original),
        values=values,
        errors=error.errors if error else {},
        message=error.message if error else "",
        zone=zone,
    )
    return (html, HTTPStatus.UNPROCESSABLE_ENTITY) if error else html


@bp.get("/calendar")
def month() -> str:
    zone = _zone()
    today = clock.today(zone)
    first = _month_arg(request.args.get("month"), today)
    weeks = service.month_calendar(
        web.db(), first.year, first.month, zone=zone, week_start=_week_start()
    )
    return render_template(
        "appointments/calendar.html",
        first=first,
        weeks=weeks,
        today=today,
        previous=(first - timedelta(days=1)).strftime("%Y-%m"),
        following=(first + timedelta(days=31)).strftime("%Y-%m"),
        contacts=appointment_form.contact_names(
            web.db(), [o for week in weeks for _, day in week for o in day]
        ),
    )


def _month_arg(raw: str | None, today: date) -> date:
    try:
        return date.fromisoformat(f"{raw}-01") if raw else today.replace(day=1)
    except ValueError:
        return today.replace(day=1)


@bp.get("/<uuid>.ics")
def export_one(uuid: str) -> Response:
    row = service.require_appointment(web.db(), uuid)
    body = calendar_ics.calendar_file(web.db(), [row])
    return _ics_response(body, calendar_ics.appointment_file_name(row), "appointment")


@bp.get("/export.ics")
def export_all() -> Response:
    appointments = service.all_appointments(web.db())
    body = calendar_ics.calendar_file(web.db(), appointments)
    name = calendar_ics.calendar_file_name(clock.today(_zone()))
    audit.record(
        web.db(), "export", user=web.owner(), detail=f"{len(appointments)} appointments"
    )
    return _ics_response(body, name, "appointments")


def _ics_response(body: bytes, name: str, ascii_stem: str) -> Response:
    disposition = content_disposition(name, ascii_stem=ascii_stem)
    return Response(
        body, content_type=ICS_TYPE, headers={"Content-Disposition": disposition}
    )


@bp.get("/reminders.json")
def reminders() -> dict[str, Any]:
    zone = _zone()
    due = service.due_reminders(web.db(), now_utc=clock.now_utc(), zone=zone)
    return {
        "reminders": [
            {
                "key": o.key,
                "title": o.appointment["title"],
                "when": format_date(o.local_date, "medium")
                + " "
                + o.starts_at.strftime("%H:%M"),
                "location": o.appointment["location"],
                "url": url_for(".edit", uuid=o.uuid),
            }
            for o in due
        ],
        "texts": {"reminder": _("Reminder"), "dismiss": _("Dismiss")},
    }
