"""Appointments as an iCalendar (.ics) file for phone and desktop calendars.

Each appointment is one VEVENT whose UID is the appointment's uuid. Start and
end carry the TZID of the zone the appointment was entered in, with that
zone's VTIMEZONE in the file, so calendars show the same local day as R9 CRM.
A repeating appointment gets an RRULE whose UNTIL is the end of its last day
in that zone, given in UTC as RFC 5545 requires when DTSTART has a TZID.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any

from icalendar import Alarm, Calendar, Event

from crm_web.services import clock
from crm_web.services.appointments import series_zone

PRODUCT_ID = "-//R9//R9 CRM//EN"
ICS_STATUS = {"planned": "CONFIRMED", "done": "CONFIRMED", "cancelled": "CANCELLED"}


def calendar_bytes(rows: Iterable[Mapping[str, Any]]) -> bytes:
    """Return an .ics file with one VEVENT per appointment."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    for row in rows:
        calendar.add_component(appointment_event(row))
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical())


def appointment_event(row: Mapping[str, Any]) -> Event:
    """Return one appointment as a VEVENT."""
    zone = series_zone(row)
    event = Event()
    event.add("uid", row["uuid"])
    event.add("dtstamp", _aware_utc(row["updated_at"]))
    event.add("created", _aware_utc(row["created_at"]))
    event.add("last-modified", _aware_utc(row["updated_at"]))
    # SEQUENCE lets a calendar that imported an earlier copy take this one.
    event.add("sequence", max(0, int(row["version"]) - 1))
    event.add("dtstart", clock.to_local(row["starts_at"], zone))
    event.add("dtend", clock.to_local(row["ends_at"], zone))
    event.add("summary", row["title"])
    if row["location"]:
        event.add("location", row["location"])
    if row["notes"]:
        event.add("description", row["notes"])
    event.add("status", ICS_STATUS.get(row["status"], "CONFIRMED"))
    if row["repeat"] != "none":
        event.add("rrule", _rrule(row))
    if row["reminder_minutes"] is not None:
        event.add_component(_alarm(row))
    return event


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
