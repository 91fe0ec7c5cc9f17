"""Appointment quick views at week, month and year ends, on both backends.

Each appointment's title is its local start, so the expected lists below are
the hand-computed local times each view must contain. The same wall-clock
times are stored in Asia/Shanghai (UTC+8, no DST) and Europe/Berlin (DST
starts on Sunday 2026-03-29).
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from crm_web.data.db import Database
from crm_web.services import appointment_list
from crm_web.services import appointments as service

ZONES = ["Asia/Shanghai", "Europe/Berlin"]

# Local starts of the non-repeating planned appointments, as titles.
STARTS = [
    "2026-03-22 23:59",  # Sunday
    "2026-03-23 00:00",  # Monday
    "2026-03-28 23:59",  # Saturday
    "2026-03-29 00:00",  # Sunday; Berlin moves to summer time at 02:00
    "2026-03-29 00:30",
    "2026-03-29 23:30",
    "2026-03-29 23:59",
    "2026-03-30 00:00",  # Monday
    "2026-03-30 00:30",
    "2026-03-31 23:59",
    "2026-04-01 00:00",
    "2026-12-27 23:30",  # Sunday
    "2026-12-28 00:00",  # Monday
    "2026-12-31 23:59",  # Thursday
    "2027-01-01 00:00",
    "2027-01-03 23:59",  # Sunday
    "2027-01-04 00:30",  # Monday
    "2027-01-31 23:30",  # Sunday
    "2027-02-01 00:00",
    "2027-02-28 23:59",
    "2027-03-01 00:00",
    "2028-02-27 23:59",  # Sunday
    "2028-02-28 00:30",  # Monday
    "2028-02-29 00:00",  # Tuesday, leap day
    "2028-02-29 23:59",
    "2028-03-01 00:00",
]
CANCELLED = "2026-03-29 12:00 cancelled"
DONE = "2026-03-29 10:00 done"

# (today, week_start, view) -> titles in start order.
CASES: list[tuple[str, str, str, list[str]]] = [
    # Sunday 2026-03-29
    ("2026-03-29", "monday", "today", [
        "2026-03-29 00:00", "2026-03-29 00:30", DONE,
        "2026-03-29 23:30", "2026-03-29 23:59",
    ]),
    ("2026-03-29", "monday", "this_week", [
        "2026-03-23 00:00", "2026-03-28 23:59", "2026-03-29 00:00",
        "2026-03-29 00:30", DONE, "2026-03-29 23:30", "2026-03-29 23:59",
    ]),
    ("2026-03-29", "monday", "next_week", [
        "2026-03-30 00:00", "2026-03-30 00:30", "2026-03-31 23:59",
        "2026-04-01 00:00",
    ]),
    ("2026-03-29", "monday", "this_month", [
        "2026-03-22 23:59", "2026-03-23 00:00", "2026-03-28 23:59",
        "2026-03-29 00:00", "2026-03-29 00:30", DONE, "2026-03-29 23:30",
        "2026-03-29 23:59", "2026-03-30 00:00", "2026-03-30 00:30",
        "2026-03-31 23:59",
    ]),
    ("2026-03-29", "monday", "next_month", ["2026-04-01 00:00"]),
    ("2026-03-29", "sunday", "this_week", [
        "2026-03-29 00:00", "2026-03-29 00:30", DONE, "2026-03-29 23:30",
        "2026-03-29 23:59", "2026-03-30 00:00", "2026-03-30 00:30",
        "2026-03-31 23:59", "2026-04-01 00:00",
    ]),
    ("2026-03-29", "sunday", "next_week", []),
    # Monday 2026-03-30
    ("2026-03-30", "monday", "today", ["2026-03-30 00:00", "2026-03-30 00:30"]),
    ("2026-03-30", "monday", "this_week", [
        "2026-03-30 00:00", "2026-03-30 00:30", "2026-03-31 23:59",
        "2026-04-01 00:00",
    ]),
    ("2026-03-30", "sunday", "this_week", [
        "2026-03-29 00:00", "2026-03-29 00:30", DONE, "2026-03-29 23:30",
        "2026-03-29 23:59", "2026-03-30 00:00", "2026-03-30 00:30",
        "2026-03-31 23:59", "2026-04-01 00:00",
    ]),
    ("2026-03-30", "sunday", "next_week", []),
    # Thursday 31 December 2026
    ("2026-12-31", "monday", "today", ["2026-12-31 23:59"]),
    ("2026-12-31", "monday", "this_week", [
        "2026-12-28 00:00", "2026-12-31 23:59", "2027-01-01 00:00",
        "2027-01-03 23:59",
    ]),
    ("2026-12-31", "monday", "next_week", ["2027-01-04 00:30"]),
    ("2026-12-31", "monday", "this_month", [
        "2026-12-27 23:30", "2026-12-28 00:00", "2026-12-31 23:59",
    ]),
    ("2026-12-31", "monday", "next_month", [
        "2027-01-01 00:00", "2027-01-03 23:59", "2027-01-04 00:30",
        "2027-01-31 23:30",
    ]),
    ("2026-12-31", "sunday", "this_week", [
        "2026-12-27 23:30", "2026-12-28 00:00", "2026-12-31 23:59",
        "2027-01-01 00:00",
    ]),
    ("2026-12-31", "sunday", "next_week", ["2027-01-03 23:59", "2027-01-04 00:30"]),
    # Sunday 31 January 2027
    ("2027-01-31", "monday", "today", ["2027-01-31 23:30"]),
    ("2027-01-31", "monday", "this_week", ["2027-01-31 23:30"]),
    ("2027-01-31", "monday", "next_week", ["2027-02-01 00:00"]),
    ("2027-01-31", "monday", "this_month", [
        "2027-01-01 00:00", "2027-01-03 23:59", "2027-01-04 00:30",
        "2027-01-31 23:30",
    ]),
    ("2027-01-31", "monday", "next_month", ["2027-02-01 00:00", "2027-02-28 23:59"]),
    ("2027-01-31", "sunday", "this_week", [
        "2027-01-31 23:30", "2027-02-01 00:00",
    ]),
    # Tuesday 29 February 2028
    ("2028-02-29", "monday", "today", ["2028-02-29 00:00", "2028-02-29 23:59"]),
    ("2028-02-29", "monday", "this_week", [
        "2028-02-28 00:30", "2028-02-29 00:00", "2028-02-29 23:59",
        "2028-03-01 00:00",
    ]),
    ("2028-02-29", "monday", "next_week", []),
    ("2028-02-29", "monday", "this_month", [
        "2028-02-27 23:59", "2028-02-28 00:30", "2028-02-29 00:00",
        "2028-02-29 23:59",
    ]),
    ("2028-02-29", "monday", "next_month", ["2028-03-01 00:00"]),
    ("2028-02-29", "sunday", "this_week", [
        "2028-02-27 23:59", "2028-02-28 00:30", "2028-02-29 00:00",
        "2028-02-29 23:59", "2028-03-01 00:00",
    ]),
]  # fmt: skip

TODAYS = sorted({case[0] for case in CASES})


def local(text: str) -> datetime:
    return datetime.strptime(text[:16], "%Y-%m-%d %H:%M")


def add(db: Database, title: str, zone: ZoneInfo, **values: object) -> str:
    """Store an appointment starting at the local time its title begins with."""
    starts = local(title)
    fields = {"title": title, "starts_at_local": starts, **values}
    return service.create_appointment(db, fields, owner="Test", zone=zone)


def add_fixed_set(db: Database, zone: ZoneInfo) -> None:
    for title in STARTS:
        add(db, title, zone)
    service.set_status(db, add(db, CANCELLED, zone), "cancelled")
    service.set_status(db, add(db, DONE, zone), "done")


def titles(found: list[service.Occurrence]) -> list[str]:
    return [o.appointment["title"] for o in found]


@pytest.mark.parametrize("zone_name", ZONES)
@pytest.mark.parametrize("today", TODAYS)
def test_quick_view_boundaries(db: Database, zone_name: str, today: str) -> None:
    zone = ZoneInfo(zone_name)
    add_fixed_set(db, zone)

    for case_today, week_start, view, expected in CASES:
        if case_today != today:
            continue
        found = service.quick_view(
            db,
            view,
            today=date.fromisoformat(today),
            zone=zone,
            week_start=week_start,
        )
        assert titles(found) == expected, (view, week_start)


@pytest.mark.parametrize("zone_name", ZONES)
def test_quick_view_cancelled_only(db: Database, zone_name: str) -> None:
    zone = ZoneInfo(zone_name)
    add_fixed_set(db, zone)

    found = service.quick_view(
        db, "cancelled", today=date(2026, 3, 29), zone=zone, week_start="monday"
    )

    assert titles(found) == [CANCELLED]


@pytest.mark.parametrize("zone_name", ZONES)
def test_quick_view_all_excludes_cancelled(db: Database, zone_name: str) -> None:
    zone = ZoneInfo(zone_name)
    add_fixed_set(db, zone)
    today = date(2026, 3, 29)

    default = appointment_list.list_page(db, "all", today=today, zone=zone)
    earlier = appointment_list.list_page(
        db, "all", today=today, zone=zone, before=default.earlier
    )
    from_today = titles(
        service.quick_view(db, "all", today=today, zone=zone, week_start="monday")
    )

    assert titles(default.occurrences) == from_today
    assert CANCELLED not in titles(earlier.occurrences) + from_today
    assert titles(earlier.occurrences) + from_today == sorted([*STARTS, DONE])
    assert from_today[0] == "2026-03-29 00:00"
    assert (default.later, earlier.earlier) == (None, None)


def test_occurrence_local_day_in_shanghai(db: Database) -> None:
    zone = ZoneInfo("Asia/Shanghai")
    uuid = add(db, "2026-03-30 00:30", zone)

    row = service.require_appointment(db, uuid)
    (found,) = service.quick_view(
        db, "today", today=date(2026, 3, 30), zone=zone, week_start="monday"
    )

    assert row["starts_at"] == datetime(2026, 3, 29, 16, 30)
    assert row["time_zone"] == "Asia/Shanghai"
    assert found.local_date == date(2026, 3, 30)
    assert found.starts_at.strftime("%H:%M") == "00:30"


# --- repeating series -----------------------------------------------------


def test_weekly_keeps_local_time_across_dst(db: Database) -> None:
    zone = ZoneInfo("Europe/Berlin")
    add(
        db,
        "2026-03-23 09:00 weekly",
        zone,
        repeat="weekly",
        repeat_until=date(2026, 4, 13),
    )

    found = service.quick_view(
        db, "this_month", today=date(2026, 3, 1), zone=zone, week_start="monday"
    )
    april = service.quick_view(
        db, "next_month", today=date(2026, 3, 1), zone=zone, week_start="monday"
    )

    assert [o.starts_at.strftime("%m-%d %H:%M") for o in found] == [
        "03-23 09:00",
        "03-30 09:00",
    ]
    assert [o.starts_at_utc.hour for o in found] == [8, 7]
    assert [o.starts_at.strftime("%m-%d %H:%M") for o in april] == [
        "04-06 09:00",
        "04-13 09:00",
    ]


@pytest.mark.parametrize(
    ("today", "view", "expected"),
    [
        ("2026-03-29", "this_week", ["03-23 09:00"]),
        ("2026-03-30", "this_week", ["03-30 09:00"]),
        ("2026-03-30", "today", ["03-30 09:00"]),
        ("2026-04-13", "this_week", ["04-13 09:00"]),
        ("2026-04-20", "this_week", []),
    ],
)
def test_weekly_series_per_week(
    db: Database, today: str, view: str, expected: list[str]
) -> None:
    zone = ZoneInfo("Europe/Berlin")
    add(
        db,
        "2026-03-23 09:00 weekly",
        zone,
        repeat="weekly",
        repeat_until=date(2026, 4, 13),
    )

    found = service.quick_view(
        db, view, today=date.fromisoformat(today), zone=zone, week_start="monday"
    )

    assert [o.starts_at.strftime("%m-%d %H:%M") for o in found] == expected


def test_monthly_on_31st_skips_short_months(db: Database) -> None:
    zone = ZoneInfo("Asia/Shanghai")
    add(db, "2027-01-31 23:30 monthly", zone, repeat="monthly")

    found = service.occurrences_between(
        db, datetime(2027, 1, 1), datetime(2027, 9, 1), zone=zone
    )

    assert [o.local_date.isoformat() for o in found] == [
        "2027-01-31",
        "2027-03-31",
        "2027-05-31",
        "2027-07-31",
        "2027-08-31",
    ]


def test_daily_until_is_inclusive(db: Database) -> None:
    zone = ZoneInfo("Asia/Shanghai")
    add(
        db,
        "2026-12-30 23:30 daily",
        zone,
        repeat="daily",
        repeat_until=date(2027, 1, 1),
    )

    this_week = service.quick_view(
        db, "this_week", today=date(2026, 12, 31), zone=zone, week_start="monday"
    )
    january = service.quick_view(
        db, "next_month", today=date(2026, 12, 31), zone=zone, week_start="monday"
    )

    assert [o.local_date.isoformat() for o in this_week] == [
        "2026-12-30",
        "2026-12-31",
        "2027-01-01",
    ]
    assert [o.starts_at.strftime("%H:%M") for o in this_week] == ["23:30"] * 3
    assert [o.local_date.isoformat() for o in january] == ["2027-01-01"]


def test_all_lists_series_once(db: Database) -> None:
    zone = ZoneInfo("Asia/Shanghai")
    add(db, "2026-01-05 09:00 weekly", zone, repeat="weekly")

    found = service.quick_view(
        db, "all", today=date(2026, 3, 29), zone=zone, week_start="monday"
    )

    assert len(found) == 1
    assert found[0].starts_at.strftime("%Y-%m-%d %H:%M") == "2026-03-30 09:00"


def test_cancelled_series_only_in_cancelled(db: Database) -> None:
    zone = ZoneInfo("Asia/Shanghai")
    uuid = add(db, "2026-03-23 09:00 daily", zone, repeat="daily")
    service.set_status(db, uuid, "cancelled")
    today = date(2026, 3, 29)

    week = service.quick_view(
        db, "this_week", today=today, zone=zone, week_start="monday"
    )
    cancelled = service.quick_view(
        db, "cancelled", today=today, zone=zone, week_start="monday"
    )

    assert week == []
    assert titles(cancelled) == ["2026-03-23 09:00 daily"]


def test_series_in_view_of_other_zone(db: Database) -> None:
    # Entered in Berlin, viewed from Shanghai: 18:00 Berlin (CEST) is 00:00
    # the next day in Shanghai.
    add(
        db,
        "2026-06-01 18:00 daily",
        ZoneInfo("Europe/Berlin"),
        repeat="daily",
        repeat_until=date(2026, 6, 2),
    )

    found = service.quick_view(
        db,
        "today",
        today=date(2026, 6, 2),
        zone=ZoneInfo("Asia/Shanghai"),
        week_start="monday",
    )

    assert [o.starts_at.strftime("%m-%d %H:%M") for o in found] == ["06-02 00:00"]


# --- validation and writes ------------------------------------------------


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"title": "", "starts_at_local": datetime(2026, 1, 1, 9)}, "title"),
        ({"title": "x" * 201, "starts_at_local": datetime(2026, 1, 1, 9)}, "title"),
        ({"title": "Visit"}, "starts_at_local"),
        (
            {
                "title": "Visit",
                "starts_at_local": datetime(2026, 1, 1, 9),
                "ends_at_local": datetime(2026, 1, 1, 8),
            },
            "ends_at_local",
        ),
        (
            {
                "title": "Visit",
                "starts_at_local": datetime(2026, 1, 1, 9),
                "repeat": "yearly",
            },
            "repeat",
        ),
        (
            {
                "title": "Visit",
                "starts_at_local": datetime(2026, 1, 10, 9),
                "repeat": "daily",
                "repeat_until": date(2026, 1, 9),
            },
            "repeat_until",
        ),
        (
            {
                "title": "Visit",
                "starts_at_local": datetime(2026, 1, 1, 9),
                "reminder_minutes": -5,
            },
            "reminder_minutes",
        ),
    ],
)
def test_validate_rejects(values: dict[str, object], field: str) -> None:
    with pytest.raises(service.AppointmentInvalidError) as caught:
        service.validate(values, zone=ZoneInfo("Asia/Shanghai"))

    assert list(caught.value.errors) == [field]


def test_create_defaults(db: Database) -> None:
    zone = ZoneInfo("Asia/Shanghai")
    uuid = service.create_appointment(
        db,
        {"title": " 拜访 工厂 ", "starts_at_local": datetime(2026, 5, 1, 9, 30)},
        owner="Test",
        zone=zone,
    )

    row = service.require_appointment(db, uuid)

    assert row["title"] == "拜访 工厂"
    assert row["status"] == "planned"
    assert row["ends_at"] == datetime(2026, 5, 1, 2, 30)
    assert row["repeat"] == "none"
    assert row["repeat_until"] is None
    assert row["reminder_minutes"] is None
    assert row["contact_uuid"] is None


def test_update_version_conflict(db: Database) -> None:
    zone = ZoneInfo("Asia/Shanghai")
    uuid = add(db, "2026-05-01 09:00", zone)
    values = {"title": "New", "starts_at_local": datetime(2026, 5, 1, 10)}
    service.update_appointment(db, uuid, values, version=1, zone=zone)

    with pytest.raises(service.VersionConflictError):
        service.update_appointment(db, uuid, values, version=1, zone=zone)


def test_appointments_for_contact_newest_first(db: Database) -> None:
    zone = ZoneInfo("Asia/Shanghai")
    for title in ("2026-05-01 09:00", "2026-06-01 09:00", "2026-04-01 09:00"):
        add(db, title, zone, contact_uuid="c-1")
    add(db, "2026-07-01 09:00", zone, contact_uuid="c-2")

    found = service.appointments_for_contact(db, "c-1")

    assert [r["title"] for r in found] == [
        "2026-06-01 09:00",
        "2026-05-01 09:00",
        "2026-04-01 09:00",
    ]


def test_relink_contact_moves_appointments(db: Database) -> None:
    from crm_web.data import appointments as appointment_data

    zone = ZoneInfo("Asia/Shanghai")
    add(db, "2026-05-01 09:00", zone, contact_uuid="c-1")
    add(db, "2026-05-02 09:00", zone, contact_uuid="c-2")

    moved = db.write(lambda db: appointment_data.relink_contact(db, "c-1", "c-2"))

    assert moved == 1
    assert service.appointments_for_contact(db, "c-1") == []
    assert len(service.appointments_for_contact(db, "c-2")) == 2


def test_exact_contact_name_wins_over_longer_names(db: Database) -> None:
    from crm_web.services import contacts as contact_service
    from crm_web.services.appointment_form import _parse_contact

    for name in ("王强", "王强(重复)"):
        contact_service.create_contact(db, contact_service.parse_form({"name": name}),
                                       owner="Admin", region="CN")
    uuid, error = _parse_contact(db, {"contact": "王强"})
    assert error == ""
    assert uuid is not None
    assert db.query("SELECT name FROM contacts WHERE uuid = :u", u=uuid) == [
        {"name": "王强"}]
