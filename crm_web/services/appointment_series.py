"""Repeating appointments: their occurrences, and changes to one occurrence.

A series' occurrences are computed on the wall clock of the zone it was
entered in, so a weekly 09:00 meeting in Europe/Berlin stays at 09:00 local
across daylight-saving changes.

The user can cancel, restore, mark done or move one occurrence on its own.
That change is a row of appointment_occurrences keyed by the series' uuid
and the occurrence's original start (naive UTC, as the series computes it),
so the key stays the same when the occurrence moves. A change's status wins
over the series' status, and a NULL status follows the series.
"""

from __future__ import annotations

import calendar
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crm_web.data import appointments as appointment_data
from crm_web.data.db import Database
from crm_web.services import clock

STATUSES = ("planned", "done", "cancelled")
# How many days an occurrence change may follow its occurrence when the
# series is edited: half the period.
FOLLOW_DAYS = {"daily": 0, "weekly": 3, "monthly": 15}
# How far ahead of today a series' next occurrence is looked for.
NEXT_OCCURRENCE_HORIZON = timedelta(days=366 * 2)
# An occurrence's original start in URLs, in UTC like iCalendar's
# RECURRENCE-ID: 20260330T010000Z.
OCCURRENCE_ID_FORMAT = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class Occurrence:
    """One occurrence of an appointment, in the viewer's zone."""

    appointment: dict[str, Any]
    starts_at: datetime  # aware, in the viewer's zone
    ends_at: datetime
    starts_at_utc: datetime  # naive UTC, where the occurrence is now
    original_starts_at_utc: datetime  # naive UTC, where the series puts it
    status: str  # the occurrence's own status, else the appointment's
    is_moved: bool = False

    @property
    def uuid(self) -> str:
        return str(self.appointment["uuid"])

    @property
    def key(self) -> str:
        """Identify this occurrence at its start, such as for a dismissed reminder."""
        return f"{self.uuid}@{self.starts_at_utc.isoformat()}"

    @property
    def occurrence_id(self) -> str:
        """Return the original start in the form that URLs use."""
        return format_occurrence_id(self.original_starts_at_utc)

    @property
    def local_date(self) -> date:
        return self.starts_at.date()

    @property
    def is_repeating(self) -> bool:
        return self.appointment["repeat"] != "none"


@dataclass(frozen=True)
class Series:
    """A repeating appointment with its occurrence changes, by original start."""

    row: dict[str, Any]
    changes: dict[datetime, dict[str, Any]]

    def may_have(self, statuses: Collection[str]) -> bool:
        """Return whether any occurrence can have one of ``statuses``."""
        return self.row["status"] in statuses or any(
            change["status"] in statuses for change in self.changes.values()
        )


def sort_key(occurrence: Occurrence) -> tuple[datetime, int, datetime]:
    """Order occurrences by start, then as the database orders appointments."""
    return (
        occurrence.starts_at_utc,
        int(occurrence.appointment["id"]),
        occurrence.original_starts_at_utc,
    )


def format_occurrence_id(original_utc: datetime) -> str:
    return original_utc.strftime(OCCURRENCE_ID_FORMAT)


def parse_occurrence_id(text: str) -> datetime | None:
    """Return the original start an occurrence id names, None if it is malformed."""
    try:
        return datetime.strptime(text, OCCURRENCE_ID_FORMAT)
    except ValueError:
        return None


def series_zone(row: Mapping[str, Any]) -> ZoneInfo:
    """Return the zone an appointment was entered in (UTC if unknown)."""
    try:
        return ZoneInfo(str(row["time_zone"]))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_midnight_utc(day: date, zone: ZoneInfo) -> datetime:
    """Return 00:00 of ``day`` in ``zone`` as naive UTC."""
    return clock.to_utc(datetime.combine(day, time()), zone)


# --- the series' own occurrences -------------------------------------------


def _first_local_start(row: Mapping[str, Any]) -> datetime:
    return clock.to_local(row["starts_at"], series_zone(row)).replace(tzinfo=None)


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
    first = _first_local_start(row)
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


def is_occurrence(row: Mapping[str, Any], original_utc: datetime) -> bool:
    """Return whether the series has an occurrence starting at ``original_utc``."""
    end = original_utc + timedelta(seconds=1)
    return next(expand_series(row, original_utc, end), None) == original_utc


# --- occurrences with their changes ----------------------------------------


def make_occurrence(
    row: dict[str, Any],
    original_utc: datetime,
    zone: ZoneInfo,
    change: Mapping[str, Any] | None = None,
) -> Occurrence:
    """Return the occurrence that the series puts at ``original_utc``, as changed."""
    starts = original_utc
    ends = original_utc + (row["ends_at"] - row["starts_at"])
    status = str(row["status"])
    is_moved = False
    if change is not None:
        status = str(change["status"] or status)
        if change["starts_at"] is not None:
            starts, ends, is_moved = change["starts_at"], change["ends_at"], True
    return Occurrence(
        appointment=row,
        starts_at=clock.to_local(starts, zone),
        ends_at=clock.to_local(ends, zone),
        starts_at_utc=starts,
        original_starts_at_utc=original_utc,
        status=status,
        is_moved=is_moved,
    )


def load_series(db: Database) -> list[Series]:
    """Return every repeating appointment with its occurrence changes."""
    rows = appointment_data.find_series(db, statuses=STATUSES)
    changes = appointment_data.find_occurrence_changes(db, [r["uuid"] for r in rows])
    by_uuid: dict[str, dict[datetime, dict[str, Any]]] = {}
    for change in changes:
        by_original = by_uuid.setdefault(change["appointment_uuid"], {})
        by_original[change["original_starts_at"]] = change
    return [Series(row, by_uuid.get(row["uuid"], {})) for row in rows]


def series_occurrences(
    series: Series, start_utc: datetime, end_utc: datetime, zone: ZoneInfo
) -> list[Occurrence]:
    """Return the occurrences that now start in [start_utc, end_utc), unsorted."""
    found = []
    for original in expand_series(series.row, start_utc, end_utc):
        change = series.changes.get(original)
        if change is None or change["starts_at"] is None:
            found.append(make_occurrence(series.row, original, zone, change))
    for occurrence in moved_occurrences(series, zone):
        if start_utc <= occurrence.starts_at_utc < end_utc:
            found.append(occurrence)
    return found


def moved_occurrences(series: Series, zone: ZoneInfo) -> list[Occurrence]:
    """Return the moved occurrences that the series still has."""
    return [
        make_occurrence(series.row, original, zone, change)
        for original, change in series.changes.items()
        if change["starts_at"] is not None and is_occurrence(series.row, original)
    ]


def changed_occurrences(series: Series, zone: ZoneInfo) -> list[Occurrence]:
    """Return the occurrences whose status differs from the series', unsorted."""
    return [
        make_occurrence(series.row, original, zone, change)
        for original, change in series.changes.items()
        if change["status"] not in (None, series.row["status"])
        and is_occurrence(series.row, original)
    ]


def next_occurrence(
    series: Series, after_utc: datetime, zone: ZoneInfo, statuses: Collection[str]
) -> Occurrence | None:
    """Return the first occurrence from ``after_utc`` with one of ``statuses``."""
    found = None
    horizon = after_utc + NEXT_OCCURRENCE_HORIZON
    for original in expand_series(series.row, after_utc, horizon):
        change = series.changes.get(original)
        if change is not None and change["starts_at"] is not None:
            continue
        occurrence = make_occurrence(series.row, original, zone, change)
        if occurrence.status in statuses:
            found = occurrence
            break
    for occurrence in moved_occurrences(series, zone):
        if (
            occurrence.starts_at_utc >= after_utc
            and occurrence.status in statuses
            and (found is None or sort_key(occurrence) < sort_key(found))
        ):
            found = occurrence
    return found


def last_occurrence(
    series: Series, before_utc: datetime, zone: ZoneInfo, statuses: Collection[str]
) -> Occurrence | None:
    """Return the last occurrence before ``before_utc`` with one of ``statuses``."""
    candidates = [
        occurrence
        for occurrence in series_occurrences(
            series, series.row["starts_at"], before_utc, zone
        )
        if occurrence.status in statuses
    ]
    # Moved occurrences that start before the series itself.
    candidates.extend(
        occurrence
        for occurrence in moved_occurrences(series, zone)
        if occurrence.starts_at_utc < series.row["starts_at"]
        and occurrence.status in statuses
    )
    return max(candidates, key=sort_key, default=None)


def rekey_changes(
    old_row: Mapping[str, Any],
    new_row: Mapping[str, Any],
    changes: list[dict[str, Any]],
) -> dict[str, datetime]:
    """Return new original starts for occurrence changes after a series edit.

    Each change follows its occurrence to the edited series' occurrence
    nearest to the same local day: on that day for a daily series, within
    three days for a weekly and fifteen for a monthly one, and only on that
    day when the frequency changed. So a cancelled call stays cancelled
    when the series moves from 09:00 to 10:00 or from Monday to Tuesday.
    The result maps change uuids to new keys, for the keys that change.

    NOTE: a change with no such occurrence keeps its old key and is
    ignored, but not deleted: it applies again if a later edit brings its
    occurrence back, such as when a series stops repeating and repeats
    again.
    """
    if new_row["repeat"] == "none":
        return {}
    same_repeat = old_row["repeat"] == new_row["repeat"]
    days = FOLLOW_DAYS[str(new_row["repeat"])] if same_repeat else 0
    moved: dict[str, datetime] = {}
    for change in changes:
        original = change["original_starts_at"]
        if not is_occurrence(old_row, original):
            continue
        day = clock.to_local(original, series_zone(old_row)).date()
        new_original = _nearest_start(new_row, day, days)
        if new_original is not None and new_original != original:
            moved[str(change["uuid"])] = new_original
    # A change whose new key another change has, or keeps, stays where it
    # is, so no two changes ever share a key.
    while True:
        kept = [c["original_starts_at"] for c in changes if c["uuid"] not in moved]
        taken = kept + list(moved.values())
        clashes = [uuid for uuid, key in moved.items() if taken.count(key) > 1]
        if not clashes:
            return moved
        for uuid in clashes:
            del moved[uuid]


def _nearest_start(row: Mapping[str, Any], day: date, days: int) -> datetime | None:
    """Return the series' start nearest to local ``day``, at most ``days`` away."""
    zone = series_zone(row)
    first = datetime.combine(day - timedelta(days=days), time())
    after_last = datetime.combine(day + timedelta(days=days + 1), time())
    starts = expand_series(
        row, clock.to_utc(first, zone), clock.to_utc(after_last, zone)
    )
    return min(
        starts,
        key=lambda s: (abs((clock.to_local(s, zone).date() - day).days), s),
        default=None,
    )
