"""Appointments: validation, writes, quick views and reminders.

Start and end are stored as naive UTC with the IANA zone the user typed them
in. appointment_series computes a repeating appointment's occurrences and
applies the changes made to one of them. Every view range runs from its
first day 00:00 to the day after its last day 00:00 in the viewer's zone.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm_web.data import appointments as appointment_data
from crm_web.data.db import Database
from crm_web.data.records import new_record
from crm_web.errors import NotFoundError, UserError, VersionConflictError
from crm_web.services import appointment_list, clock
from crm_web.services.appointment_series import (
    STATUSES,
    Occurrence,
    is_occurrence,
    load_series,
    local_midnight_utc,
    make_occurrence,
    rekey_changes,
    series_occurrences,
    series_zone,
    sort_key,
)

log = logging.getLogger(__name__)

REPEATS = ("none", *appointment_data.REPEATS)
QUICK_VIEWS = (
    "today",
    "this_week",
    "next_week",
    "this_month",
    "next_month",
    "all",
    "cancelled",
)
QUICK_VIEW_LABELS = {
    "today": _l("Today"),
    "this_week": _l("This week"),
    "next_week": _l("Next week"),
    "this_month": _l("This month"),
    "next_month": _l("Next month"),
    "all": _l("All appointments"),
    "cancelled": _l("Cancelled appointments"),
}
STATUS_LABELS = {
    "planned": _l("Planned"),
    "done": _l("Done"),
    "cancelled": _l("Cancelled"),
}
REPEAT_LABELS = {
    "none": _l("Does not repeat"),
    "daily": _l("Daily"),
    "weekly": _l("Weekly"),
    "monthly": _l("Monthly"),
}

TITLE_MAX = 200
LOCATION_MAX = 200
# A week: reminders further ahead are of no use while the app is open.
REMINDER_MAX_MINUTES = 7 * 24 * 60
DEFAULT_DURATION = timedelta(hours=1)


class AppointmentInvalidError(UserError):
    """One or more fields of an appointment are invalid."""

    def __init__(
        self, errors: dict[str, str], candidates: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(" ".join(errors.values()))
        self.errors = errors
        # Contacts the typed contact text matched, for the user to pick one.
        self.candidates = candidates or []


class OccurrenceNotFoundError(UserError):
    """The occurrence a request names is not (or no longer) in its series."""

    status = NotFoundError.status

    def __init__(self, title: str, when: str) -> None:
        super().__init__(
            _(
                "“%(title)s” has no occurrence at %(when)s. The appointment "
                "may have been changed; go back to the list and try again.",
                title=title,
                when=when,
            )
        )


# --- validation and writes ----------------------------------------------


def create_appointment(
    db: Database, values: Mapping[str, Any], *, owner: str, zone: ZoneInfo
) -> str:
    """Validate and store a new planned appointment and return its uuid.

    ``values`` contains contact_uuid (optional), title, starts_at_local,
    ends_at_local, location, notes, reminder_minutes, repeat and
    repeat_until. Start and end are naive wall-clock times in ``zone``, and
    a missing end means one hour after the start. reminder_minutes is None
    for no reminder. repeat is none, daily, weekly or monthly, and
    repeat_until is an inclusive date in ``zone`` or None for no end.
    """
    row = {**new_record(owner), **validate(values, zone=zone), "status": "planned"}
    db.write(lambda db: appointment_data.insert_appointment(db, row))
    log.info("Appointment %s created", row["uuid"])
    return str(row["uuid"])


def update_appointment(
    db: Database,
    uuid: str,
    values: Mapping[str, Any],
    *,
    version: int,
    zone: ZoneInfo,
) -> None:
    """Store edited values, unless someone saved the appointment meanwhile.

    Changes to single occurrences follow their occurrences (see
    appointment_series.rekey_changes).
    """
    current = require_appointment(db, uuid)
    row = validate(values, zone=zone)

    def work(db: Database) -> bool:
        if not appointment_data.update_appointment(
            db, uuid, row, expected_version=version
        ):
            return False
        _rekey_occurrence_changes(db, current, {**current, **row})
        return True

    if not db.write(work):
        raise VersionConflictError(current["title"])
    log.info("Appointment %s updated", uuid)


def _rekey_occurrence_changes(
    db: Database, old_row: dict[str, Any], new_row: dict[str, Any]
) -> None:
    changes = appointment_data.find_occurrence_changes(db, [old_row["uuid"]])
    new_keys = rekey_changes(old_row, new_row, changes)
    if not new_keys:
        return
    # Deleted and inserted again, because updating the keys one by one
    # could give two rows the same key for a moment.
    appointment_data.delete_occurrence_changes(db, old_row["uuid"])
    for change in changes:
        original = new_keys.get(change["uuid"], change["original_starts_at"])
        row = {k: v for k, v in change.items() if k != "id"}
        appointment_data.insert_occurrence_change(
            db, {**row, "original_starts_at": original}
        )


def set_status(db: Database, uuid: str, status: str) -> None:
    """Mark an appointment planned, done or cancelled.

    For a series this is the status of every occurrence that has no status
    of its own.
    """
    if status not in STATUSES:
        raise ValueError(f"unknown appointment status {status!r}")
    require_appointment(db, uuid)
    db.write(
        lambda db: appointment_data.update_appointment(db, uuid, {"status": status})
    )
    log.info("Appointment %s marked %s", uuid, status)


def require_appointment(db: Database, uuid: str) -> dict[str, Any]:
    row = appointment_data.get_appointment(db, uuid)
    if row is None:
        raise NotFoundError(_("Appointment"), uuid)
    return row


def set_occurrence_status(
    db: Database, uuid: str, original_utc: datetime, status: str, *, owner: str
) -> None:
    """Mark one occurrence of a series planned, done or cancelled.

    Only a status that differs from the series' is stored, so an occurrence
    set back to the series' status follows the series again.
    """
    if status not in STATUSES:
        raise ValueError(f"unknown appointment status {status!r}")

    def work(db: Database) -> None:
        row = require_occurrence(db, uuid, original_utc)
        stored = None if status == row["status"] else status
        _save_occurrence_change(db, row, original_utc, {"status": stored}, owner)

    db.write(work)
    log.info("Appointment %s occurrence %s marked %s", uuid, original_utc, status)


def move_occurrence(
    db: Database,
    uuid: str,
    original_utc: datetime,
    values: Mapping[str, Any],
    *,
    version: int,
    owner: str,
) -> None:
    """Give one occurrence of a series its own start and end.

    ``values`` contains starts_at_local and ends_at_local, wall-clock times
    in the series' zone; a missing end keeps the series' duration. Moving
    it back to the series' times drops the move.
    """
    row = require_occurrence(db, uuid, original_utc)
    zone = series_zone(row)
    duration = row["ends_at"] - row["starts_at"]
    starts, ends = _validate_times(values, default_duration=duration)
    starts_utc, ends_utc = clock.to_utc(starts, zone), clock.to_utc(ends, zone)
    moved: dict[str, Any] = {"starts_at": starts_utc, "ends_at": ends_utc}
    if starts_utc == original_utc and ends_utc - starts_utc == duration:
        moved = {"starts_at": None, "ends_at": None}

    def work(db: Database) -> bool:
        current = require_occurrence(db, uuid, original_utc)
        if current["version"] != version:
            return False
        _save_occurrence_change(db, current, original_utc, moved, owner)
        return True

    if not db.write(work):
        raise VersionConflictError(row["title"])
    log.info("Appointment %s occurrence %s moved", uuid, original_utc)


def require_occurrence(
    db: Database, uuid: str, original_utc: datetime
) -> dict[str, Any]:
    """Return the series, or raise if it has no occurrence at ``original_utc``."""
    row = require_appointment(db, uuid)
    if row["repeat"] == "none" or not is_occurrence(row, original_utc):
        local = clock.to_local(original_utc, series_zone(row))
        raise OccurrenceNotFoundError(row["title"], local.strftime("%Y-%m-%d %H:%M"))
    return row


def _save_occurrence_change(
    db: Database,
    row: dict[str, Any],
    original_utc: datetime,
    values: dict[str, Any],
    owner: str,
) -> None:
    existing = appointment_data.get_occurrence_change(db, row["uuid"], original_utc)
    if existing is None:
        change = {
            **new_record(owner),
            "appointment_uuid": row["uuid"],
            "original_starts_at": original_utc,
            "status": None,
            "starts_at": None,
            "ends_at": None,
            **values,
        }
        appointment_data.insert_occurrence_change(db, change)
    else:
        appointment_data.update_occurrence_change(db, existing["uuid"], values)
    # A new version of the series lets calendars that imported its .ics take
    # the changed one (SEQUENCE), and lets an open edit form see the change.
    appointment_data.update_appointment(db, row["uuid"], {})


def validate(values: Mapping[str, Any], *, zone: ZoneInfo) -> dict[str, Any]:
    """Return the columns to store, or raise AppointmentInvalidError."""
    errors: dict[str, str] = {}
    title = " ".join(str(values.get("title") or "").split())
    location = " ".join(str(values.get("location") or "").split())
    starts = values.get("starts_at_local")
    repeat = values.get("repeat") or "none"
    until = values.get("repeat_until") if repeat != "none" else None
    reminder = values.get("reminder_minutes")

    if not title:
        errors["title"] = _("Enter a title, such as “Visit the factory”.")
    elif len(title) > TITLE_MAX:
        errors["title"] = _too_long(_("Title"), title, TITLE_MAX)
    if len(location) > LOCATION_MAX:
        errors["location"] = _too_long(_("Location"), location, LOCATION_MAX)
    errors.update(_time_errors(values))
    if repeat not in REPEATS:
        errors["repeat"] = _("Choose how the appointment repeats.")
    if isinstance(starts, datetime) and until is not None and until < starts.date():
        errors["repeat_until"] = _(
            "The repeat end %(date)s is before the first day. Choose a later date.",
            date=until.isoformat(),
        )
    if reminder is not None and not 0 <= reminder <= REMINDER_MAX_MINUTES:
        errors["reminder_minutes"] = _(
            "The reminder must be from 0 to %(max)s minutes before the start.",
            max=REMINDER_MAX_MINUTES,
        )
    if errors:
        raise AppointmentInvalidError(errors)

    starts, ends = _validate_times(values, default_duration=DEFAULT_DURATION)
    return {
        "contact_uuid": values.get("contact_uuid") or None,
        "title": title,
        "starts_at": clock.to_utc(starts, zone),
        "ends_at": clock.to_utc(ends, zone),
        "time_zone": zone.key,
        "location": location,
        "notes": str(values.get("notes") or "").strip(),
        "reminder_minutes": reminder,
        "repeat": repeat,
        "repeat_until": until,
    }


def _time_errors(values: Mapping[str, Any]) -> dict[str, str]:
    starts = values.get("starts_at_local")
    ends = values.get("ends_at_local")
    if not isinstance(starts, datetime):
        return {"starts_at_local": _("Enter the start date and time.")}
    if isinstance(ends, datetime) and ends < starts:
        return {"ends_at_local": _("The end is before the start. Enter a later end.")}
    return {}


def _validate_times(
    values: Mapping[str, Any], *, default_duration: timedelta
) -> tuple[datetime, datetime]:
    """Return the local start and end, or raise AppointmentInvalidError."""
    errors = _time_errors(values)
    if errors:
        raise AppointmentInvalidError(errors)
    starts: datetime = values["starts_at_local"]
    ends: datetime = values.get("ends_at_local") or starts + default_duration
    return starts, ends


def _too_long(field: str, value: str, limit: int) -> str:
    return _(
        "%(field)s is %(length)s characters long; the limit is %(max)s. "
        "Shorten it or move the rest into Notes.",
        field=field,
        length=len(value),
        max=limit,
    )


# --- occurrences --------------------------------------------------------


def occurrences_between(
    db: Database,
    start_utc: datetime,
    end_utc: datetime,
    *,
    zone: ZoneInfo,
    statuses: tuple[str, ...] = appointment_data.LIVE_STATUSES,
) -> list[Occurrence]:
    """Return occurrences starting in [start_utc, end_utc), by start.

    ``statuses`` filters on each occurrence's own status. Non-repeating
    appointments come from an indexed range query; the few repeating series
    are read whole and expanded here.
    """
    found = [
        make_occurrence(row, row["starts_at"], zone)
        for row in appointment_data.find_single_between(
            db, start_utc, end_utc, statuses=statuses
        )
    ]
    for series in load_series(db):
        if series.may_have(statuses):
            found.extend(
                occurrence
                for occurrence in series_occurrences(series, start_utc, end_utc, zone)
                if occurrence.status in statuses
            )
    found.sort(key=sort_key)
    return found


# --- quick views --------------------------------------------------------


def view_days(name: str, *, today: date, week_start: str) -> tuple[date, date]:
    """Return the first day of a dated view and the day after its last day."""
    if name == "today":
        return today, today + timedelta(days=1)
    if name in ("this_week", "next_week"):
        first_weekday = 6 if week_start == "sunday" else 0
        start = today - timedelta(days=(today.weekday() - first_weekday) % 7)
        if name == "next_week":
            start += timedelta(days=7)
        return start, start + timedelta(days=7)
    if name in ("this_month", "next_month"):
        start = today.replace(day=1)
        if name == "next_month":
            start = _add_month(start)
        return start, _add_month(start)
    raise ValueError(f"{name!r} is not a dated view")


def view_for_day(day: date, *, today: date, week_start: str) -> str:
    """Return the first dated quick view that contains ``day``, else "all"."""
    for name in ("today", "this_week", "next_week", "this_month", "next_month"):
        first, after_last = view_days(name, today=today, week_start=week_start)
        if first <= day < after_last:
            return name
    return "all"


def _add_month(first_day: date) -> date:
    if first_day.month == 12:
        return first_day.replace(year=first_day.year + 1, month=1)
    return first_day.replace(month=first_day.month + 1)


def quick_view(
    db: Database, name: str, *, today: date, zone: ZoneInfo, week_start: str
) -> list[Occurrence]:
    """Return the occurrences one of QUICK_VIEWS lists.

    Dated views list every occurrence in their range, by start. "all" and
    "cancelled" list the page of appointment_list.list_page from today.
    """
    if name not in QUICK_VIEWS:
        raise ValueError(f"unknown quick view {name!r}")
    if name in appointment_list.LIST_STATUSES:
        return appointment_list.list_page(db, name, today=today, zone=zone).occurrences
    first, after_last = view_days(name, today=today, week_start=week_start)
    return occurrences_between(
        db,
        local_midnight_utc(first, zone),
        local_midnight_utc(after_last, zone),
        zone=zone,
    )


def appointments_for_contact(db: Database, contact_uuid: str) -> list[dict[str, Any]]:
    """Return a contact's appointments, latest start first, for the card."""
    return appointment_data.find_for_contact(db, contact_uuid)


# --- month calendar -----------------------------------------------------


def month_weeks(year: int, month: int, *, week_start: str) -> list[list[date]]:
    """Return the weeks (lists of seven days) covering a month's grid."""
    first_weekday = calendar.SUNDAY if week_start == "sunday" else calendar.MONDAY
    return calendar.Calendar(first_weekday).monthdatescalendar(year, month)


def month_calendar(
    db: Database, year: int, month: int, *, zone: ZoneInfo, week_start: str
) -> list[list[tuple[date, list[Occurrence]]]]:
    """Return a month's grid: weeks of (day, occurrences on that local day)."""
    weeks = month_weeks(year, month, week_start=week_start)
    first, last = weeks[0][0], weeks[-1][-1]
    found = occurrences_between(
        db,
        local_midnight_utc(first, zone),
        local_midnight_utc(last + timedelta(days=1), zone),
        zone=zone,
    )
    by_day: dict[date, list[Occurrence]] = {}
    for occurrence in found:
        by_day.setdefault(occurrence.local_date, []).append(occurrence)
    return [[(day, by_day.get(day, [])) for day in week] for week in weeks]


# --- reminders ----------------------------------------------------------

# Reminders of occurrences that started this long ago are still shown
# while the appointment lasts. NOTE: an appointment longer than this stops
# reminding a day after its start.
REMINDER_LOOKBACK = timedelta(days=1)


def due_reminders(
    db: Database, *, now_utc: datetime, zone: ZoneInfo
) -> list[Occurrence]:
    """Return planned occurrences whose reminder is due and that have not ended."""
    window_end = now_utc + timedelta(minutes=REMINDER_MAX_MINUTES + 1)
    candidates = occurrences_between(
        db,
        now_utc - REMINDER_LOOKBACK,
        window_end,
        zone=zone,
        statuses=("planned",),
    )
    due = []
    for occurrence in candidates:
        minutes = occurrence.appointment["reminder_minutes"]
        if minutes is None:
            continue
        remind_at = occurrence.starts_at_utc - timedelta(minutes=minutes)
        ends_utc = occurrence.ends_at.astimezone(UTC).replace(tzinfo=None)
        if (
            remind_at
            <= now_utc
            < max(ends_utc, occurrence.starts_at_utc + timedelta(minutes=1))
        ):
            due.append(occurrence)
    return due


def all_appointments(db: Database) -> list[dict[str, Any]]:
    """Return every appointment, cancelled ones too, by start (for export)."""
    return appointment_data.find_all(db)
