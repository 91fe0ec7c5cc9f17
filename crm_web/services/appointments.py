"""Appointments: validation, quick views, repeating series and reminders.

Start and end are stored as naive UTC with the IANA zone the user typed them
in. A repeating appointment's occurrences are computed on the wall clock of
that zone, so a weekly 09:00 meeting in Europe/Berlin stays at 09:00 local
across daylight-saving changes. Every view range runs from its first day
00:00 to the day after its last day 00:00 in the viewer's zone.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm_web.data import appointments as appointment_data
from crm_web.data.db import Database
from crm_web.data.records import new_record
from crm_web.errors import NotFoundError, UserError, VersionConflictError
from crm_web.services import clock

log = logging.getLogger(__name__)

STATUSES = ("planned", "done", "cancelled")
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
# Rows per page of the "all" and "cancelled" views.
PAGE_SIZE = 100


class AppointmentInvalidError(UserError):
    """One or more fields of an appointment are invalid."""

    def __init__(
        self, errors: dict[str, str], candidates: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(" ".join(errors.values()))
        self.errors = errors
        # Contacts the typed contact text matched, for the user to pick one.
        self.candidates = candidates or []


@dataclass(frozen=True)
class Occurrence:
    """One occurrence of an appointment, in the viewer's zone."""

    appointment: dict[str, Any]
    starts_at: datetime  # aware, in the viewer's zone
    ends_at: datetime
    starts_at_utc: datetime  # naive UTC, as stored

    @property
    def uuid(self) -> str:
        return str(self.appointment["uuid"])

    @property
    def key(self) -> str:
        """Identify this occurrence, such as for a dismissed reminder."""
        return f"{self.uuid}@{self.starts_at_utc.isoformat()}"

    @property
    def local_date(self) -> date:
        return self.starts_at.date()


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
    """Store edited values, unless someone saved the appointment meanwhile."""
    current = require_appointment(db, uuid)
    row = validate(values, zone=zone)

    def work(db: Database) -> bool:
        return appointment_data.update_appointment(
            db, uuid, row, expected_version=version
        )

    if not db.write(work):
        raise VersionConflictError(current["title"])
    log.info("Appointment %s updated", uuid)


def set_status(db: Database, uuid: str, status: str) -> None:
    """Mark an appointment (all occurrences of a series) planned, done or cancelled."""
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


def validate(values: Mapping[str, Any], *, zone: ZoneInfo) -> dict[str, Any]:
    """Return the columns to store, or raise AppointmentInvalidError."""
    errors: dict[str, str] = {}
    title = " ".join(str(values.get("title") or "").split())
    location = " ".join(str(values.get("location") or "").split())
    starts = values.get("starts_at_local")
    ends = values.get("ends_at_local") or (
        starts + DEFAULT_DURATION if isinstance(starts, datetime) else None
    )
    repeat = values.get("repeat") or "none"
    until = values.get("repeat_until") if repeat != "none" else None
    reminder = values.get("reminder_minutes")

    if not title:
        errors["title"] = _("Enter a title, such as “Visit the factory”.")
    elif len(title) > TITLE_MAX:
        errors["title"] = _too_long(_("Title"), title, TITLE_MAX)
    if len(location) > LOCATION_MAX:
        errors["location"] = _too_long(_("Location"), location, LOCATION_MAX)
    if not isinstance(starts, datetime):
        errors["starts_at_local"] = _("Enter the start date and time.")
    elif isinstance(ends, datetime) and ends < starts:
        errors["ends_at_local"] = _("The end is before the start. Enter a later end.")
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

    assert isinstance(starts, datetime) and isinstance(ends, datetime)
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


def _too_long(field: str, value: str, limit: int) -> str:
    return _(
        "%(field)s is %(length)s characters long; the limit is %(max)s. "
        "Shorten it or move the rest into Notes.",
        field=field,
        length=len(value),
        max=limit,
    )


# --- occurrences --------------------------------------------------------


def series_zone(row: Mapping[str, Any]) -> ZoneInfo:
    """Return the zone an appointment was entered in (UTC if unknown)."""
    try:
        return ZoneInfo(str(row["time_zone"]))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _nth_local_start(first: datetime, repeat: str, n: int) -> datetime | None:
    """Return the n-th wall-clock start of a series, None for a skipped month."""
    if repeat == "daily":
        return first + timedelta(days=n)
    if repeat == "weekly":
        return first + timedelta(weeks=n)
    years, month = divmod(first.month - 1 + n, 12)
    year = first.year + years
    if first.day > calendar.monthrange(year, month + 1)[1]:
        # Like RFC 5545: the 31st repeats only in months that have a 31st.
        return None
    return first.replace(year=year, month=month + 1)


def _index_before(first: datetime, repeat: str, day: date) -> int:
    """Return an occurrence number at or before the first one on ``day``."""
    days = (day - first.date()).days
    if repeat == "daily":
        estimate = days
    elif repeat == "weekly":
        estimate = days // 7
    else:
        estimate = (day.year - first.year) * 12 + day.month - first.month
    return max(0, estimate - 1)


def expand_series(
    row: Mapping[str, Any], start_utc: datetime, end_utc: datetime
) -> Iterator[datetime]:
    """Yield the naive UTC starts of a series' occurrences in [start, end)."""
    zone = series_zone(row)
    first = clock.to_local(row["starts_at"], zone).replace(tzinfo=None)
    repeat = row["repeat"]
    until: date | None = row["repeat_until"]
    start_day = clock.to_local(start_utc, zone).date()
    n = _index_before(first, repeat, start_day)
    while True:
        local = _nth_local_start(first, repeat, n)
        n += 1
        if local is None:
            continue
        if until is not None and local.date() > until:
            return
        # NOTE: a wall-clock time that a DST change skips or repeats is
        # resolved by zoneinfo's fold=0 rule (the offset before the change).
        starts = clock.to_utc(local, zone)
        if starts >= end_utc:
            return
        if starts >= start_utc:
            yield starts


def _occurrence(
    row: dict[str, Any], starts_utc: datetime, zone: ZoneInfo
) -> Occurrence:
    duration = row["ends_at"] - row["starts_at"]
    return Occurrence(
        appointment=row,
        starts_at=clock.to_local(starts_utc, zone),
        ends_at=clock.to_local(starts_utc + duration, zone),
        starts_at_utc=starts_utc,
    )


def occurrences_between(
    db: Database,
    start_utc: datetime,
    end_utc: datetime,
    *,
    zone: ZoneInfo,
    statuses: tuple[str, ...] = appointment_data.LIVE_STATUSES,
) -> list[Occurrence]:
    """Return occurrences starting in [start_utc, end_utc), by start.

    Non-repeating appointments come from an indexed range query; the few
    repeating series are read whole and expanded here.
    """
    found = [
        _occurrence(row, row["starts_at"], zone)
        for row in appointment_data.find_single_between(
            db, start_utc, end_utc, statuses=statuses
        )
    ]
    series = appointment_data.find_series(
        db, statuses=statuses, starting_before=end_utc
    )
    for row in series:
        for starts in expand_series(row, start_utc, end_utc):
            found.append(_occurrence(row, starts, zone))
    found.sort(key=lambda o: (o.starts_at_utc, o.appointment["id"]))
    return found


def next_occurrence(
    row: dict[str, Any], after_utc: datetime, *, zone: ZoneInfo
) -> Occurrence:
    """Return a series' first occurrence at or after ``after_utc``.

    A series that has ended returns its first occurrence instead.
    """
    far = after_utc + timedelta(days=366 * 2)
    for starts in expand_series(row, after_utc, far):
        return _occurrence(row, starts, zone)
    return _occurrence(row, row["starts_at"], zone)


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


def _add_month(first_day: date) -> date:
    if first_day.month == 12:
        return first_day.replace(year=first_day.year + 1, month=1)
    return first_day.replace(month=first_day.month + 1)


def local_midnight_utc(day: date, zone: ZoneInfo) -> datetime:
    """Return 00:00 of ``day`` in ``zone`` as naive UTC."""
    return clock.to_utc(datetime.combine(day, time()), zone)


def quick_view(
    db: Database,
    name: str,
    *,
    today: date,
    zone: ZoneInfo,
    week_start: str,
    page: int = 1,
) -> list[Occurrence]:
    """Return the occurrences one of QUICK_VIEWS lists.

    Dated views list every occurrence in their range, by start. "all" and
    "cancelled" list each series once (with its next occurrence from today)
    and then the non-repeating appointments latest first, PAGE_SIZE of them
    per ``page``.
    """
    if name not in QUICK_VIEWS:
        raise ValueError(f"unknown quick view {name!r}")
    if name in ("all", "cancelled"):
        statuses = ("cancelled",) if name == "cancelled" else ("planned", "done")
        return _undated_view(db, statuses, today=today, zone=zone, page=page)
    first, after_last = view_days(name, today=today, week_start=week_start)
    return occurrences_between(
        db,
        local_midnight_utc(first, zone),
        local_midnight_utc(after_last, zone),
        zone=zone,
    )


def _undated_view(
    db: Database,
    statuses: tuple[str, ...],
    *,
    today: date,
    zone: ZoneInfo,
    page: int,
) -> list[Occurrence]:
    found: list[Occurrence] = []
    if page == 1:
        start_of_today = local_midnight_utc(today, zone)
        series = appointment_data.find_series(db, statuses=statuses)
        found = sorted(
            (next_occurrence(row, start_of_today, zone=zone) for row in series),
            key=lambda o: o.starts_at_utc,
        )
    singles = appointment_data.find_single(
        db, statuses=statuses, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    found.extend(_occurrence(row, row["starts_at"], zone) for row in singles)
    return found


def count_pages(db: Database, name: str) -> int:
    """Return how many pages the "all" or "cancelled" view has."""
    statuses = ("cancelled",) if name == "cancelled" else ("planned", "done")
    rows = appointment_data.count_single(db, statuses=statuses)
    return max(1, -(-rows // PAGE_SIZE))


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
