"""Every quick view at fixed days, with series and single-occurrence changes.

The appointments start at 00:00, 00:30, 23:30 and 23:59, the times where a
wrong day boundary or time zone shows first. The days are a Sunday on
which Berlin moves to summer time (2026-03-29), the Monday after, 31
December, 31 January and 29 February. The expected lists come from a plain
model below that counts in local wall-clock time only, while the service
works in UTC, so the two compute each view in different ways.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from crm_web.data.db import Database
from crm_web.services import appointment_list, clock
from crm_web.services import appointments as service
from crm_web.services.appointment_series import Occurrence

ZONES = ["Asia/Shanghai", "Europe/Berlin"]
TODAYS = ["2026-03-29", "2026-03-30", "2026-12-31", "2027-01-31", "2028-02-29"]
DATED_VIEWS = ["today", "this_week", "next_week", "this_month", "next_month"]
# The model lists occurrences up to here; every view ends before it.
HORIZON = date(2028, 6, 1)


@dataclass
class Model:
    """An appointment in the model: local starts and their statuses."""

    title: str
    first: datetime
    repeat: str = "none"
    until: date | None = None
    status: str = "planned"
    # Local start -> status of that one occurrence.
    changes: dict[datetime, str] = field(default_factory=dict)

    def starts(self) -> list[datetime]:
        if self.repeat == "none":
            return [self.first]
        found = []
        for n in range(3000):
            local = self._nth(n)
            if local is None:
                continue
            if local.date() >= HORIZON or (self.until and local.date() > self.until):
                break
            found.append(local)
        return found

    def _nth(self, n: int) -> datetime | None:
        if self.repeat == "daily":
            return self.first + timedelta(days=n)
        if self.repeat == "weekly":
            return self.first + timedelta(days=7 * n)
        month = self.first.month - 1 + n
        year, month = self.first.year + month // 12, month % 12 + 1
        if self.first.day > calendar.monthrange(year, month)[1]:
            return None
        return self.first.replace(year=year, month=month)

    def status_at(self, local: datetime) -> str:
        return self.changes.get(local, self.status)


def local(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M")


def fixed_set() -> list[Model]:
    """Return the appointments of every test, in creation order."""
    return [
        Model("single Sun 00:00", local("2026-03-29 00:00")),
        Model("single Sun 23:59", local("2026-03-29 23:59")),
        Model("single cancelled", local("2026-03-29 12:00"), status="cancelled"),
        Model("single Dec 31 23:59", local("2026-12-31 23:59")),
        Model("single Jan 1 00:00", local("2027-01-01 00:00")),
        Model("single Jan 31 23:30", local("2027-01-31 23:30")),
        Model("single Feb 1 00:30", local("2027-02-01 00:30")),
        Model("single Feb 29 00:00", local("2028-02-29 00:00")),
        Model("single Feb 29 23:59", local("2028-02-29 23:59"), status="done"),
        Model("single Mar 1 00:00", local("2028-03-01 00:00")),
        Model(
            "daily 23:59",
            local("2026-03-27 23:59"),
            "daily",
            until=date(2026, 4, 2),
            changes={local("2026-03-29 23:59"): "done"},
        ),
        Model(
            "weekly Mon 00:00",
            local("2026-03-23 00:00"),
            "weekly",
            changes={local("2026-03-30 00:00"): "cancelled"},
        ),
        Model(
            "monthly 31st 23:30",
            local("2026-01-31 23:30"),
            "monthly",
            changes={local("2026-12-31 23:30"): "cancelled"},
        ),
        Model(
            "daily 00:30 leap",
            local("2028-02-27 00:30"),
            "daily",
            until=date(2028, 3, 1),
            changes={local("2028-02-29 00:30"): "cancelled"},
        ),
        Model(
            "weekly Sun 23:30",
            local("2026-12-27 23:30"),
            "weekly",
            until=date(2027, 1, 31),
            changes={local("2027-01-03 23:30"): "cancelled"},
        ),
        Model(
            "cancelled daily 00:00",
            local("2026-03-28 00:00"),
            "daily",
            until=date(2026, 4, 5),
            status="cancelled",
            changes={local("2026-03-31 00:00"): "planned"},
        ),
    ]


def store(db: Database, models: list[Model], zone: ZoneInfo) -> None:
    for model in models:
        values = {
            "title": model.title,
            "starts_at_local": model.first,
            "repeat": model.repeat,
            "repeat_until": model.until,
        }
        uuid = service.create_appointment(db, values, owner="Test", zone=zone)
        if model.status != "planned":
            service.set_status(db, uuid, model.status)
        for when, status in model.changes.items():
            original = clock.to_utc(when, zone)
            service.set_occurrence_status(db, uuid, original, status, owner="Test")


def expected_dated(
    models: list[Model], first: date, after_last: date
) -> list[tuple[str, str]]:
    found = []
    for index, model in enumerate(models):
        for starts in model.starts():
            status = model.status_at(starts)
            if first <= starts.date() < after_last and status != "cancelled":
                found.append((starts, index, model.title, status))
    return [(f"{s:%Y-%m-%d %H:%M}", t) for s, _i, t, _st in sorted(found)]


def expected_list(
    models: list[Model], today: date, statuses: tuple[str, ...]
) -> list[tuple[str, str]]:
    """Return the rows of the "all" or "cancelled" view, earlier pages first."""
    midnight = datetime.combine(today, datetime.min.time())
    found = []
    for index, model in enumerate(models):
        matching = [s for s in model.starts() if model.status_at(s) in statuses]
        if model.status in statuses:
            upcoming = [s for s in matching if s >= midnight]
            listed = upcoming[:1] or matching[-1:]
        else:
            listed = [s for s in matching if s in model.changes]
        found.extend((starts, index, model.title) for starts in listed)
    return [(f"{s:%Y-%m-%d %H:%M}", t) for s, _i, t in sorted(found)]


def rows(found: list[Occurrence]) -> list[tuple[str, str]]:
    return [
        (o.starts_at.strftime("%Y-%m-%d %H:%M"), o.appointment["title"]) for o in found
    ]


@pytest.fixture(params=ZONES)
def zone(request: pytest.FixtureRequest) -> ZoneInfo:
    return ZoneInfo(request.param)


@pytest.mark.parametrize("today", TODAYS)
@pytest.mark.parametrize("week_start", ["monday", "sunday"])
def test_dated_views_match_model(
    db: Database, zone: ZoneInfo, today: str, week_start: str
) -> None:
    models = fixed_set()
    store(db, models, zone)
    day = date.fromisoformat(today)

    for view in DATED_VIEWS:
        first, after_last = service.view_days(view, today=day, week_start=week_start)
        found = service.quick_view(
            db, view, today=day, zone=zone, week_start=week_start
        )
        assert rows(found) == expected_dated(models, first, after_last), view


@pytest.mark.parametrize("today", TODAYS)
@pytest.mark.parametrize("view", ["all", "cancelled"])
def test_list_views_match_model(
    db: Database, zone: ZoneInfo, today: str, view: str
) -> None:
    models = fixed_set()
    store(db, models, zone)
    day = date.fromisoformat(today)

    default = appointment_list.list_page(db, view, today=day, zone=zone)
    earlier = appointment_list.list_page(
        db, view, today=day, zone=zone, before=default.earlier
    )
    found = rows(earlier.occurrences if default.earlier else []) + rows(
        default.occurrences
    )
    midnight = f"{day.isoformat()} 00:00"

    assert found == expected_list(models, day, appointment_list.LIST_STATUSES[view])
    assert all(start >= midnight for start, _title in rows(default.occurrences))


def test_model_spot_checks() -> None:
    # A few hand-checked rows, so a mistake shared by the model and the
    # service cannot pass unseen.
    models = fixed_set()

    sunday = expected_dated(models, date(2026, 3, 29), date(2026, 3, 30))
    leap_week = expected_dated(models, date(2028, 2, 28), date(2028, 3, 6))
    new_year = expected_dated(models, date(2026, 12, 28), date(2027, 1, 4))

    assert sunday == [
        ("2026-03-29 00:00", "single Sun 00:00"),
        ("2026-03-29 23:59", "single Sun 23:59"),
        ("2026-03-29 23:59", "daily 23:59"),
    ]
    assert leap_week == [
        ("2028-02-28 00:00", "weekly Mon 00:00"),
        ("2028-02-28 00:30", "daily 00:30 leap"),
        ("2028-02-29 00:00", "single Feb 29 00:00"),
        ("2028-02-29 23:59", "single Feb 29 23:59"),
        ("2028-03-01 00:00", "single Mar 1 00:00"),
        ("2028-03-01 00:30", "daily 00:30 leap"),
    ]
    assert new_year == [
        ("2026-12-28 00:00", "weekly Mon 00:00"),
        ("2026-12-31 23:59", "single Dec 31 23:59"),
        ("2027-01-01 00:00", "single Jan 1 00:00"),
    ]


def test_model_spot_check_cancelled_list() -> None:
    models = fixed_set()

    found = expected_list(models, date(2026, 3, 30), ("cancelled",))

    assert found == [
        ("2026-03-29 12:00", "single cancelled"),
        ("2026-03-30 00:00", "weekly Mon 00:00"),
        ("2026-03-30 00:00", "cancelled daily 00:00"),
        ("2026-12-31 23:30", "monthly 31st 23:30"),
        ("2027-01-03 23:30", "weekly Sun 23:30"),
        ("2028-02-29 00:30", "daily 00:30 leap"),
    ]
