"""Appointments as an iCalendar (.ics) file for phone and desktop calendars.

Each appointment is one VEVENT whose UID is the appointment's uuid. Start and
end carry the TZID of the zone the appointment was entered in, with that
zone's VTIMEZONE in the file, so calendars show the same local day as R9 CRM.
A repeating appointment gets an RRULE whose UNTIL is the end of its last day
in that zone, given in UTC as RFC 5545 requires when DTSTART has a TZID.

Changes to one occurrence of a series follow RFC 5545 too. A cancelled
occurrence is an EXDATE of the series, so calendars hide it. A moved one,
or one planned again in a cancelled series, is a VEVENT of its own with
the same UID and a RECURRENCE-ID naming the original start.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask_babel import gettext as _
from icalendar import Alarm, Calendar, Event

from crm_web.data import appointments as appointment_data
from crm_web.data.db import Database
from crm_web.services import clock
from crm_web.services.appointment_series import (
    is_occurrence,
    make_occurrence,
    series_zone,
)
from crm_web.services.download_names import safe_file_name

PRODUCT_ID = "-//R9//R9 CRM//EN"
ICS_STATUS = {"planned": "CONFIRMED", "done": "CONFIRMED", "cancelled": "CANCELLED"}


def calendar_file(db: Database, rows: Sequence[Mapping[str, Any]]) -> bytes:
    """Return an .ics file of the appointments with their occurrence changes."""
    series = [str(row["uuid"]) for row in rows if row["repeat"] != "none"]
    changes: dict[str, list[dict[str, Any]]] = {}
    for change in appointment_data.find_occurrence_changes(db, series):
        changes.setdefault(str(change["appointment_uuid"]), []).append(change)
    return calendar_bytes(rows, changes)


def calendar_bytes(
    rows: Iterable[Mapping[str, Any]],
    changes: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> bytes:
    """Return an .ics file with the VEVENTs of each appointment.

    ``changes`` lists each series' occurrence changes by appointment uuid.
    """
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    for row in rows:
        row_changes = (changes or {}).get(str(row["uuid"]), ())
        for event in appointment_events(row, row_changes):
            calendar.add_component(event)
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical())


def appointment_events(
    row: Mapping[str, Any], changes: Sequence[Mapping[str, Any]] = ()
) -> list[Event]:
    """Return an appointment's VEVENT and one for each occurrence of its own."""
    event = appointment_event(row)
    if row["repeat"] == "none":
        return [event]
    zone = series_zone(row)
    cancelled = []
    own_events = []
    for change in sorted(changes, key=lambda c: c["original_starts_at"]):
        original = change["original_starts_at"]
        if not is_occurrence(row, original):
            continue
        occurrence = make_occurrence(dict(row), original, zone, change)
        if occurrence.status == "cancelled":
            if row["status"] != "cancelled":
                cancelled.append(clock.to_local(original, zone))
        elif occurrence.is_moved or row["status"] == "cancelled":
            own_events.append(_occurrence_event(row, change))
    if cancelled:
        event.add("exdate", cancelled)
    return [event, *own_events]


def appointment_event(row: Mapping[str, Any]) -> Event:
    """Return one appointment as a VEVENT."""
    zone = series_zone(row)
    event = _event_head(row)
    event.add("created", _aware_utc(row["created_at"]))
    event.add("last-modified", _aware_utc(row["updated_at"]))
    event.add("dtstart", clock.to_local(row["starts_at"], zone))
    event.add("dtend", clock.to_local(row["ends_at"], zone))
    _add_details(event, row, str(row["status"]))
    if row["repeat"] != "none":
        event.add("rrule", _rrule(row))
    return event


def _occurrence_event(row: Mapping[str, Any], change: Mapping[str, Any]) -> Event:
    zone = series_zone(row)
    original = change["original_starts_at"]
    starts = change["starts_at"] or original
    ends = change["ends_at"] or original + (row["ends_at"] - row["starts_at"])
    event = _event_head(row)
    event.add("recurrence-id", clock.to_local(original, zone))
    event.add("dtstart", clock.to_local(starts, zone))
    event.add("dtend", clock.to_local(ends, zone))
    _add_details(event, row, str(change["status"] or row["status"]))
    return event


def _event_head(row: Mapping[str, Any]) -> Event:
    event = Event()
    event.add("uid", row["uuid"])
    event.add("dtstamp", _aware_utc(row["updated_at"]))
    # SEQUENCE lets a calendar that imported an earlier copy take this one.
    event.add("sequence", max(0, int(row["version"]) - 1))
    return event


def _add_details(event: Event, row: Mapping[str, Any], status: str) -> None:
    event.add("summary", row["title"])
    if row["location"]:
        event.add("location", row["location"])
    if row["notes"]:
        event.add("description", row["notes"])
    event.add("status", ICS_STATUS.get(status, "CONFIRMED"))
    if row["reminder_minutes"] is not None:
        event.add_component(_alarm(row))


def _rrule(row: Mapping[str, Any]) -> dict[str, Any]:
    rule: dict[str, Any] = {"freq": str(row["repeat"]).upper()}
    until = row["repeat_until"]
    if until is not None:
        last_moment = datetime.combine(until + timedelta(days=1), time())
        local_end = clock.to_utc(last_moment, series_zone(row))
        rule["until"] = _aware_utc(local_end - timedelta(seconds=1))
    return rule


def _alarm(row: Mapping[str, Any]) -> Alarm:
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", row["title"])
    alarm.add("trigger", -timedelta(minutes=int(row["reminder_minutes"])))
    return alarm


def _aware_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC)


# --- file names -----------------------------------------------------------


def appointment_file_name(row: Mapping[str, Any]) -> str:
    """Return the .ics file name of one appointment: its title and first day."""
    day = clock.to_local(row["starts_at"], series_zone(row)).date()
    return safe_file_name(str(row["title"]), f"-{day.isoformat()}.ics")


def calendar_file_name(today: date) -> str:
    """Return the .ics file name of every appointment, in the user's language."""
    return safe_file_name(_("appointments"), f"-{today.isoformat()}.ics")
