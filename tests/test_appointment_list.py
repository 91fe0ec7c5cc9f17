"""The "all" and "cancelled" views: one row per appointment, by start, paged from today.

Today is Wednesday 2026-06-17 in Asia/Shanghai. Each title starts with the
local start the view must list it at, so a list of titles in start order
is the expected order.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from crm_web.data.db import Database
from crm_web.services import appointment_list
from crm_web.services import appointments as service
from crm_web.services.appointment_series import Occurrence

ZONE = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 6, 17)


def add(db: Database, title: str, **values: object) -> str:
    starts = datetime.strptime(title[:16], "%Y-%m-%d %H:%M")
    fields = {"title": title, "starts_at_local": starts, **values}
    return service.create_appointment(db, fields, owner="Test", zone=ZONE)


def add_series(db: Database, title: str, first: str, **values: object) -> str:
    starts = datetime.strptime(first, "%Y-%m-%d %H:%M")
    fields = {"title": title, "starts_at_local": starts, **values}
    return service.create_appointment(db, fields, owner="Test", zone=ZONE)


def page(
    db: Database,
    name: str = "all",
    *,
    after: str | None = None,
    before: str | None = None,
) -> appointment_list.ListPage:
    return appointment_list.list_page(
        db, name, today=TODAY, zone=ZONE, after=after, before=before
    )


def titles(found: list[Occurrence]) -> list[str]:
    return [o.appointment["title"] for o in found]


def every_page(db: Database, name: str = "all") -> list[list[str]]:
    """Return the titles of each page, walking back from today, then on."""
    today = page(db, name)
    pages = [titles(today.occurrences)]
    earlier = today.earlier
    while earlier:
        found = page(db, name, before=earlier)
        pages.insert(0, titles(found.occurrences))
        earlier = found.earlier
    later = today.later
    while later:
        found = page(db, name, after=later)
        pages.append(titles(found.occurrences))
        later = found.later
    return pages


def test_all_lists_by_start_from_today(db: Database) -> None:
    for title in (
        "2026-06-18 09:00",
        "2026-06-16 23:59",
        "2026-06-17 00:00",
        "2026-06-17 23:30",
        "2025-01-01 10:00",
        "2027-03-01 00:30",
    ):
        add(db, title)

    first = page(db)
    earlier = page(db, before=first.earlier)

    assert titles(first.occurrences) == [
        "2026-06-17 00:00",
        "2026-06-17 23:30",
        "2026-06-18 09:00",
        "2027-03-01 00:30",
    ]
    assert first.is_from_today
    assert first.later is None
    assert titles(earlier.occurrences) == ["2025-01-01 10:00", "2026-06-16 23:59"]
    assert not earlier.is_from_today
    assert earlier.earlier is None
    assert earlier.later is not None
    assert titles(page(db, after=earlier.later).occurrences) == titles(
        first.occurrences
    )


def test_series_listed_at_next_or_last(db: Database) -> None:
    add_series(db, "2026-06-17 08:00 daily", "2026-06-01 08:00", repeat="daily")
    add_series(
        db,
        "2026-06-12 12:00 ended",
        "2026-06-01 12:00",
        repeat="daily",
        repeat_until=date(2026, 6, 12),
    )
    add_series(db, "2026-07-06 09:00 future", "2026-07-06 09:00", repeat="weekly")
    add_series(db, "2026-06-30 18:00 monthly", "2026-01-30 18:00", repeat="monthly")
    add(db, "2026-06-17 07:59")

    pages = every_page(db)

    assert pages == [
        ["2026-06-12 12:00 ended"],
        [
            "2026-06-17 07:59",
            "2026-06-17 08:00 daily",
            "2026-06-30 18:00 monthly",
            "2026-07-06 09:00 future",
        ],
    ]


def test_series_skips_cancelled_next_occurrence(db: Database) -> None:
    uuid = add_series(db, "weekly", "2026-06-03 09:00", repeat="weekly")
    # 2026-06-17 09:00 Shanghai is 01:00 UTC.
    service.set_occurrence_status(
        db, uuid, datetime(2026, 6, 17, 1, 0), "cancelled", owner="Test"
    )

    (listed,) = page(db).occurrences
    (cancelled,) = page(db, "cancelled").occurrences

    assert listed.starts_at.strftime("%Y-%m-%d %H:%M") == "2026-06-24 09:00"
    assert cancelled.starts_at.strftime("%Y-%m-%d %H:%M") == "2026-06-17 09:00"


def test_all_keeps_done_drops_cancelled(db: Database) -> None:
    add(db, "2026-06-18 09:00 planned")
    service.set_status(db, add(db, "2026-06-18 10:00 cancelled"), "cancelled")
    service.set_status(db, add(db, "2026-06-18 11:00 done"), "done")

    assert every_page(db) == [["2026-06-18 09:00 planned", "2026-06-18 11:00 done"]]
    assert every_page(db, "cancelled") == [["2026-06-18 10:00 cancelled"]]


def test_same_start_ordered_by_creation(db: Database) -> None:
    for suffix in "abc":
        add(db, f"2026-06-18 09:00 {suffix}")

    assert every_page(db) == [
        ["2026-06-18 09:00 a", "2026-06-18 09:00 b", "2026-06-18 09:00 c"]
    ]


def test_empty_view_has_no_neighbours(db: Database) -> None:
    found = page(db)

    assert found.occurrences == []
    assert (found.earlier, found.later) == (None, None)


@pytest.mark.parametrize("cursor", ["", "junk", "20260617T000000Z.x.y", "1.2.3"])
def test_malformed_cursor_starts_at_today(db: Database, cursor: str) -> None:
    add(db, "2026-06-01 09:00")
    add(db, "2026-06-20 09:00")

    after = page(db, after=cursor)
    before = page(db, before=cursor)

    assert titles(after.occurrences) == ["2026-06-20 09:00"]
    assert titles(before.occurrences) == ["2026-06-20 09:00"]
    assert after.is_from_today


def test_cursor_round_trip() -> None:
    key = (datetime(2026, 6, 17, 1, 0), 42, datetime(2026, 6, 16, 1, 0))

    text = appointment_list.format_cursor(key)

    assert text == "20260617T010000Z.42.20260616T010000Z"
    assert appointment_list.parse_cursor(text) == key


@pytest.mark.parametrize("page_size", [1, 4, 7])
def test_pages_match_one_sorted_list(
    db: Database, monkeypatch: pytest.MonkeyPatch, page_size: int
) -> None:
    # Small pages and many rows on both sides of today, mixed with series,
    # so pages start and end inside runs of non-repeating rows and series.
    monkeypatch.setattr(appointment_list, "PAGE_SIZE", page_size)
    rng = random.Random(20260617)
    expected = []
    for _ in range(23):
        minutes = rng.randrange(-30 * 24 * 60, 30 * 24 * 60)
        starts = datetime(2026, 6, 17, 12, 0) + timedelta(minutes=minutes)
        title = starts.strftime("%Y-%m-%d %H:%M") + f" single {len(expected)}"
        add(db, title)
        expected.append(title)
    for day in (10, 17, 18, 25):
        title = f"2026-06-{day} 06:30 series"
        add_series(
            db,
            title,
            f"2026-06-{day} 06:30",
            repeat="daily",
            repeat_until=date(2026, 6, day),
        )
        expected.append(title)
    # A series that goes on: listed at today's 12:00.
    add_series(db, "2026-06-17 12:00 daily", "2026-05-01 12:00", repeat="daily")
    expected.append("2026-06-17 12:00 daily")

    pages = every_page(db)
    default = titles(page(db).occurrences)
    before_today = sum(1 for t in expected if t < "2026-06-17")
    today_index = pages.index(default)

    assert [t for p in pages for t in p] == sorted(expected)
    assert all(len(p) == page_size for p in pages[1:-1])
    assert default[0] >= "2026-06-17"
    assert sum(len(p) for p in pages[:today_index]) == before_today


def test_same_start_split_across_pages(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(appointment_list, "PAGE_SIZE", 2)
    add(db, "2026-06-18 09:00 a")
    add_series(
        db,
        "2026-06-18 09:00 series",
        "2026-06-18 09:00",
        repeat="daily",
        repeat_until=date(2026, 6, 18),
    )
    for suffix in "bcd":
        add(db, f"2026-06-18 09:00 {suffix}")

    assert every_page(db) == [
        ["2026-06-18 09:00 a", "2026-06-18 09:00 series"],
        ["2026-06-18 09:00 b", "2026-06-18 09:00 c"],
        ["2026-06-18 09:00 d"],
    ]
