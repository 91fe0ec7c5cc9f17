"""The undated appointment views, "all" and "cancelled", one page at a time.

Both list every matching appointment once, by start. A page starts after,
or ends before, the sort key of a row on its neighbour page (a cursor), so
no page needs a count or an OFFSET however many rows come first. The view
opens on the page that starts with today's first appointment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from crm_web.data import appointments as appointment_data
from crm_web.data.db import Database
from crm_web.services.appointment_series import (
    OCCURRENCE_ID_FORMAT,
    Occurrence,
    Series,
    changed_occurrences,
    last_occurrence,
    load_series,
    local_midnight_utc,
    make_occurrence,
    next_occurrence,
    sort_key,
)

# Rows per page of the "all" and "cancelled" views.
PAGE_SIZE = 100
# The statuses that the undated views list.
LIST_STATUSES = {"all": ("planned", "done"), "cancelled": ("cancelled",)}

SortKey = tuple[datetime, int, datetime]


@dataclass(frozen=True)
class ListPage:
    """One page of the "all" or "cancelled" view, with its neighbours' cursors."""

    occurrences: list[Occurrence]
    earlier: str | None  # the cursor of the page before, None if there is none
    later: str | None
    is_from_today: bool


def list_page(
    db: Database,
    name: str,
    *,
    today: date,
    zone: ZoneInfo,
    after: str | None = None,
    before: str | None = None,
) -> ListPage:
    """Return a page of the "all" or "cancelled" view, by start.

    Each appointment is listed once: a series at its next occurrence from
    today with the view's statuses, or at its last one when none is left.
    An occurrence whose own status differs from its series' is listed on
    its own when the series is not. ``after`` and ``before`` are cursors
    from an earlier ListPage; without them the page starts at today.
    """
    statuses = LIST_STATUSES[name]
    start_of_today = local_midnight_utc(today, zone)
    series = _listed_series(db, statuses, after_utc=start_of_today, zone=zone)
    listing = _Listing(db, statuses, series, zone)
    before_key = parse_cursor(before)
    if before_key is not None:
        found, has_earlier = listing.before(before_key)
        later = format_cursor(sort_key(found[-1])) if found else None
        earlier = format_cursor(sort_key(found[0])) if has_earlier else None
        return ListPage(found, earlier, later, is_from_today=False)

    after_key = parse_cursor(after)
    start_key = after_key or (start_of_today, 0, start_of_today)
    found, has_later = listing.after(start_key)
    first_key = sort_key(found[0]) if found else start_key
    has_earlier = bool(listing.before(first_key, limit=1)[0])
    return ListPage(
        found,
        earlier=format_cursor(first_key) if has_earlier else None,
        later=format_cursor(sort_key(found[-1])) if has_later else None,
        is_from_today=after_key is None,
    )


def format_cursor(key: SortKey) -> str:
    """Return a sort key as URL text: start.id.original, starts in UTC."""
    starts, appointment_id, original = key
    return ".".join(
        (
            starts.strftime(OCCURRENCE_ID_FORMAT),
            str(appointment_id),
            original.strftime(OCCURRENCE_ID_FORMAT),
        )
    )


def parse_cursor(text: str | None) -> SortKey | None:
    """Return the sort key a cursor names, None if it is missing or malformed."""
    parts = (text or "").split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    try:
        starts = datetime.strptime(parts[0], OCCURRENCE_ID_FORMAT)
        original = datetime.strptime(parts[2], OCCURRENCE_ID_FORMAT)
    except ValueError:
        return None
    return starts, int(parts[1]), original


@dataclass(frozen=True)
class _Listing:
    """The rows of one view: non-repeating ones from SQL, series from Python."""

    db: Database
    statuses: tuple[str, ...]
    series: list[Occurrence]  # by sort key
    zone: ZoneInfo

    def after(
        self, key: SortKey, limit: int | None = None
    ) -> tuple[list[Occurrence], bool]:
        """Return the first rows after ``key`` and whether more follow."""
        limit = limit or PAGE_SIZE
        rows = appointment_data.find_single_after(
            self.db,
            statuses=self.statuses,
            starts_at=key[0],
            after_id=key[1],
            limit=limit + 1,
        )
        found = [o for o in self.series if sort_key(o) > key] + self._singles(rows)
        found.sort(key=sort_key)
        return found[:limit], len(found) > limit

    def before(
        self, key: SortKey, limit: int | None = None
    ) -> tuple[list[Occurrence], bool]:
        """Return the last rows before ``key`` and whether more come before."""
        limit = limit or PAGE_SIZE
        rows = appointment_data.find_single_before(
            self.db,
            statuses=self.statuses,
            starts_at=key[0],
            before_id=key[1],
            limit=limit + 1,
        )
        found = [o for o in self.series if sort_key(o) < key] + self._singles(rows)
        found.sort(key=sort_key)
        return found[-limit:], len(found) > limit

    def _singles(self, rows: list[dict[str, Any]]) -> list[Occurrence]:
        return [make_occurrence(row, row["starts_at"], self.zone) for row in rows]


def _listed_series(
    db: Database, statuses: tuple[str, ...], *, after_utc: datetime, zone: ZoneInfo
) -> list[Occurrence]:
    """Return the series' rows of an undated view, by start."""
    found: list[Occurrence] = []
    for series in load_series(db):
        if series.row["status"] in statuses:
            listed = _listed_occurrence(series, after_utc, zone, statuses)
            found.extend([listed] if listed else [])
        else:
            found.extend(
                occurrence
                for occurrence in changed_occurrences(series, zone)
                if occurrence.status in statuses
            )
    found.sort(key=sort_key)
    return found


def _listed_occurrence(
    series: Series, after_utc: datetime, zone: ZoneInfo, statuses: tuple[str, ...]
) -> Occurrence | None:
    return next_occurrence(series, after_utc, zone, statuses) or last_occurrence(
        series, after_utc, zone, statuses
    )
