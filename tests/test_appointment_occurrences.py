"""One occurrence of a repeating appointment: status, moves, and the upgrade.

The series in most tests is a weekly call on Mondays at 09:00 in
Asia/Shanghai from 2026-03-02, so its occurrences fall on 03-02, 03-09,
03-16 and so on, at 01:00 UTC.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import inspect

from crm_web.data import appointments as appointment_data
from crm_web.data import schema
from crm_web.data.db import Database, connect
from crm_web.data.records import new_record
from crm_web.errors import VersionConflictError
from crm_web.services import appointment_list
from crm_web.services import appointments as service
from crm_web.services.appointment_series import Occurrence, format_occurrence_id
from crm_web.services.home import summarize_day

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 3, 16)
# The occurrence on MONDAY, at 09:00 Shanghai.
ORIGINAL = datetime(2026, 3, 16, 1, 0)


def add_weekly(db: Database, **values: object) -> str:
    fields = {
        "title": "周会",
        "starts_at_local": datetime(2026, 3, 2, 9, 0),
        "repeat": "weekly",
        **values,
    }
    return service.create_appointment(db, fields, owner="Test", zone=SHANGHAI)


def view(db: Database, name: str, today: date = MONDAY) -> list[Occurrence]:
    return service.quick_view(db, name, today=today, zone=SHANGHAI, week_start="monday")


def days(found: list[Occurrence]) -> list[str]:
    return [o.starts_at.strftime("%m-%d %H:%M") for o in found]


def set_status(db: Database, uuid: str, status: str, original: datetime) -> None:
    service.set_occurrence_status(db, uuid, original, status, owner="Test")


def move(
    db: Database, uuid: str, starts: datetime, ends: datetime | None = None
) -> None:
    version = service.require_appointment(db, uuid)["version"]
    values = {"starts_at_local": starts, "ends_at_local": ends}
    service.move_occurrence(db, uuid, ORIGINAL, values, version=version, owner="T")


# --- status of one occurrence ---------------------------------------------


def test_cancel_one_hides_it_from_dated_views(db: Database) -> None:
    uuid = add_weekly(db)

    set_status(db, uuid, "cancelled", ORIGINAL)

    assert view(db, "today") == []
    assert days(view(db, "this_month")) == [
        "03-02 09:00",
        "03-09 09:00",
        "03-23 09:00",
        "03-30 09:00",
    ]
    assert days(view(db, "today", MONDAY + timedelta(days=7))) == ["03-23 09:00"]


def test_cancel_one_shows_only_in_cancelled_view(db: Database) -> None:
    uuid = add_weekly(db)

    set_status(db, uuid, "cancelled", ORIGINAL)
    cancelled = view(db, "cancelled")
    listed = view(db, "all")

    assert days(cancelled) == ["03-16 09:00"]
    assert cancelled[0].status == "cancelled"
    assert cancelled[0].appointment["status"] == "planned"
    # The series is listed once in "all", at its next planned occurrence.
    assert days(listed) == ["03-23 09:00"]


def test_restore_one_follows_series_again(db: Database) -> None:
    uuid = add_weekly(db)
    set_status(db, uuid, "cancelled", ORIGINAL)

    set_status(db, uuid, "planned", ORIGINAL)
    change = appointment_data.get_occurrence_change(db, uuid, ORIGINAL)

    assert days(view(db, "today")) == ["03-16 09:00"]
    assert view(db, "cancelled") == []
    assert change is not None
    assert change["status"] is None


def test_done_one_keeps_others_planned(db: Database) -> None:
    uuid = add_weekly(db)

    set_status(db, uuid, "done", ORIGINAL)
    week = view(db, "this_month")

    assert [o.status for o in week] == [
        "planned",
        "planned",
        "done",
        "planned",
        "planned",
    ]


def test_cancel_series_keeps_done_occurrence(db: Database) -> None:
    uuid = add_weekly(db)
    set_status(db, uuid, "done", ORIGINAL)

    service.set_status(db, uuid, "cancelled")

    assert [(o.local_date.day, o.status) for o in view(db, "this_month")] == [
        (16, "done")
    ]


def test_restore_series_keeps_cancelled_occurrence(db: Database) -> None:
    uuid = add_weekly(db)
    set_status(db, uuid, "cancelled", ORIGINAL)
    service.set_status(db, uuid, "cancelled")

    service.set_status(db, uuid, "planned")

    assert "03-16 09:00" not in days(view(db, "this_month"))
    assert days(view(db, "cancelled")) == ["03-16 09:00"]


def test_restore_one_of_cancelled_series(db: Database) -> None:
    uuid = add_weekly(db)
    service.set_status(db, uuid, "cancelled")

    set_status(db, uuid, "planned", ORIGINAL)
    listed = view(db, "all", date(2026, 3, 1))
    cancelled = view(db, "cancelled", date(2026, 3, 1))

    assert days(view(db, "this_month")) == ["03-16 09:00"]
    assert days(listed) == ["03-16 09:00"]
    # The cancelled series is listed once, at its first cancelled occurrence.
    assert days(cancelled) == ["03-02 09:00"]


def test_occurrence_change_bumps_series_version(db: Database) -> None:
    uuid = add_weekly(db)

    set_status(db, uuid, "cancelled", ORIGINAL)
    set_status(db, uuid, "planned", ORIGINAL)

    assert service.require_appointment(db, uuid)["version"] == 3


@pytest.mark.parametrize(
    "original",
    [
        datetime(2026, 3, 16, 2, 0),  # an hour off
        datetime(2026, 3, 17, 1, 0),  # a Tuesday
        datetime(2026, 2, 23, 1, 0),  # before the first occurrence
    ],
)
def test_status_of_missing_occurrence_rejected(
    db: Database, original: datetime
) -> None:
    uuid = add_weekly(db)

    with pytest.raises(service.OccurrenceNotFoundError) as caught:
        set_status(db, uuid, "cancelled", original)

    assert "周会" in caught.value.message
    assert appointment_data.find_occurrence_changes(db, [uuid]) == []


def test_status_after_repeat_end_rejected(db: Database) -> None:
    uuid = add_weekly(db, repeat_until=date(2026, 3, 9))

    with pytest.raises(service.OccurrenceNotFoundError):
        set_status(db, uuid, "cancelled", ORIGINAL)


def test_status_of_single_appointment_rejected(db: Database) -> None:
    uuid = add_weekly(db, repeat="none", starts_at_local=datetime(2026, 3, 16, 9))

    with pytest.raises(service.OccurrenceNotFoundError):
        set_status(db, uuid, "cancelled", ORIGINAL)


# --- moving one occurrence --------------------------------------------------


def test_move_one_to_next_day(db: Database) -> None:
    uuid = add_weekly(db)

    move(db, uuid, datetime(2026, 3, 17, 14, 30))
    tuesday = view(db, "today", MONDAY + timedelta(days=1))

    assert view(db, "today") == []
    assert days(tuesday) == ["03-17 14:30"]
    assert tuesday[0].ends_at.strftime("%H:%M") == "15:30"
    assert tuesday[0].is_moved
    assert tuesday[0].original_starts_at_utc == ORIGINAL


def test_move_one_into_next_week(db: Database) -> None:
    uuid = add_weekly(db)

    move(db, uuid, datetime(2026, 3, 24, 9, 0), datetime(2026, 3, 24, 9, 30))
    next_week = view(db, "next_week")

    assert days(view(db, "this_week")) == []
    assert days(next_week) == ["03-23 09:00", "03-24 09:00"]
    assert [o.is_moved for o in next_week] == [False, True]


def test_move_back_drops_the_move(db: Database) -> None:
    uuid = add_weekly(db)
    move(db, uuid, datetime(2026, 3, 17, 14, 30))

    move(db, uuid, datetime(2026, 3, 16, 9, 0))
    change = appointment_data.get_occurrence_change(db, uuid, ORIGINAL)

    assert days(view(db, "today")) == ["03-16 09:00"]
    assert change is not None
    assert (change["starts_at"], change["ends_at"]) == (None, None)


def test_move_cancelled_stays_cancelled(db: Database) -> None:
    uuid = add_weekly(db)
    set_status(db, uuid, "cancelled", ORIGINAL)

    move(db, uuid, datetime(2026, 3, 17, 9, 0))

    assert view(db, "this_week") == []
    assert days(view(db, "cancelled")) == ["03-17 09:00"]


def test_move_end_before_start_rejected(db: Database) -> None:
    uuid = add_weekly(db)

    with pytest.raises(service.AppointmentInvalidError) as caught:
        move(db, uuid, datetime(2026, 3, 17, 9, 0), datetime(2026, 3, 17, 8, 0))

    assert list(caught.value.errors) == ["ends_at_local"]
    assert appointment_data.find_occurrence_changes(db, [uuid]) == []


def test_move_stale_version_conflicts(db: Database) -> None:
    uuid = add_weekly(db)
    values = {"starts_at_local": datetime(2026, 3, 17, 9, 0)}
    service.move_occurrence(db, uuid, ORIGINAL, values, version=1, owner="T")

    with pytest.raises(VersionConflictError):
        service.move_occurrence(db, uuid, ORIGINAL, values, version=1, owner="T")


# --- editing the series ------------------------------------------------------


def edit_series(db: Database, uuid: str, **values: object) -> None:
    row = service.require_appointment(db, uuid)
    fields = {
        "title": row["title"],
        "starts_at_local": datetime(2026, 3, 2, 9, 0),
        "repeat": row["repeat"],
        **values,
    }
    service.update_appointment(db, uuid, fields, version=row["version"], zone=SHANGHAI)


@pytest.mark.parametrize(
    ("starts", "repeat", "cancelled"),
    [
        (datetime(2026, 3, 2, 10, 0), "weekly", ["03-16 10:00"]),  # later hour
        (datetime(2026, 3, 3, 9, 0), "weekly", ["03-17 09:00"]),  # Tuesdays
        (datetime(2026, 2, 23, 9, 0), "weekly", ["03-16 09:00"]),  # earlier start
        (datetime(2026, 3, 2, 9, 0), "daily", ["03-16 09:00"]),  # same day
        (datetime(2026, 3, 3, 9, 0), "monthly", []),  # no occurrence that day
    ],
)
def test_series_edit_keeps_occurrence_changes(
    db: Database, starts: datetime, repeat: str, cancelled: list[str]
) -> None:
    uuid = add_weekly(db)
    set_status(db, uuid, "cancelled", ORIGINAL)

    edit_series(db, uuid, starts_at_local=starts, repeat=repeat)
    month = days(view(db, "this_month"))

    assert days(view(db, "cancelled")) == cancelled
    assert not set(cancelled) & set(month)


def test_series_edit_moves_changes_to_new_hour(db: Database) -> None:
    uuid = add_weekly(db)
    set_status(db, uuid, "cancelled", ORIGINAL)
    set_status(db, uuid, "done", ORIGINAL + timedelta(weeks=1))

    edit_series(db, uuid, starts_at_local=datetime(2026, 3, 9, 10, 0))
    month = view(db, "this_month")

    assert [(o.local_date.day, o.status) for o in month] == [
        (9, "planned"),
        (23, "done"),
        (30, "planned"),
    ]
    assert days(view(db, "cancelled")) == ["03-16 10:00"]


def test_series_edit_never_duplicates_a_key(db: Database) -> None:
    # A change left without an occurrence (here on a Tuesday of a Monday
    # series) keeps its key. The Monday change that would move onto that
    # Tuesday keeps its own key, so the two never clash.
    uuid = add_weekly(db)
    set_status(db, uuid, "cancelled", ORIGINAL)
    tuesday = ORIGINAL + timedelta(days=1)
    orphan = {
        **new_record("Test"),
        "appointment_uuid": uuid,
        "original_starts_at": tuesday,
        "status": "done",
        "starts_at": None,
        "ends_at": None,
    }
    db.write(lambda db: appointment_data.insert_occurrence_change(db, orphan))

    edit_series(db, uuid, starts_at_local=datetime(2026, 3, 3, 9, 0))
    keys = {
        c["original_starts_at"]: c["status"]
        for c in appointment_data.find_occurrence_changes(db, [uuid])
    }

    assert keys == {ORIGINAL: "cancelled", tuesday: "done"}
    assert [(o.local_date.day, o.status) for o in view(db, "this_week")] == [
        (17, "done")
    ]


# --- reminders and the home page -------------------------------------------


def test_reminder_skips_cancelled_and_done(db: Database) -> None:
    uuid = add_weekly(db, reminder_minutes=15)
    soon = ORIGINAL - timedelta(minutes=10)

    due_before = service.due_reminders(db, now_utc=soon, zone=SHANGHAI)
    set_status(db, uuid, "cancelled", ORIGINAL)
    due_cancelled = service.due_reminders(db, now_utc=soon, zone=SHANGHAI)
    set_status(db, uuid, "done", ORIGINAL)
    due_done = service.due_reminders(db, now_utc=soon, zone=SHANGHAI)

    assert days(due_before) == ["03-16 09:00"]
    assert due_cancelled == []
    assert due_done == []


def test_reminder_follows_moved_occurrence(db: Database) -> None:
    uuid = add_weekly(db, reminder_minutes=15)
    move(db, uuid, datetime(2026, 3, 16, 15, 0))

    at_nine = service.due_reminders(
        db, now_utc=ORIGINAL - timedelta(minutes=10), zone=SHANGHAI
    )
    at_three = service.due_reminders(
        db, now_utc=datetime(2026, 3, 16, 6, 50), zone=SHANGHAI
    )

    assert at_nine == []
    assert days(at_three) == ["03-16 15:00"]


def test_home_today_skips_cancelled_occurrence(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crm_web.services import clock

    monkeypatch.setattr(clock, "today", lambda zone: MONDAY)
    uuid = add_weekly(db)
    before = summarize_day(db, zone=SHANGHAI, week_start="monday")
    set_status(db, uuid, "cancelled", ORIGINAL)

    after = summarize_day(db, zone=SHANGHAI, week_start="monday")

    assert days(before.appointments) == ["03-16 09:00"]
    assert after.appointments == []


def test_occurrence_id_round_trip() -> None:
    from crm_web.services.appointment_series import parse_occurrence_id

    text = format_occurrence_id(ORIGINAL)

    assert text == "20260316T010000Z"
    assert parse_occurrence_id(text) == ORIGINAL
    assert parse_occurrence_id("2026-03-16") is None
    assert parse_occurrence_id("20260316T010000Z/../x") is None


# --- schema upgrade 6 ---------------------------------------------------------


def test_upgrade_six_keeps_appointments(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before_six = [step for step in schema.UPGRADES if step[0] < 6]
    monkeypatch.setattr(schema, "UPGRADES", before_six)
    monkeypatch.setattr(schema, "LATEST_VERSION", before_six[-1][0])
    old = connect(database_url)
    assert "appointment_occurrences" not in schema.table_names(old.conn)
    uuid = add_weekly(old, title="旧的周会 😀", reminder_minutes=30)
    old_row = service.require_appointment(old, uuid)
    old.release()
    old.close()
    monkeypatch.undo()

    upgraded = connect(database_url)
    try:
        tables = inspect(upgraded.conn).get_table_names()
        versions = [
            r["version"]
            for r in upgraded.query(
                "SELECT version FROM schema_migrations ORDER BY version"
            )
        ]
        row = service.require_appointment(upgraded, uuid)
        set_status(upgraded, uuid, "cancelled", ORIGINAL)
        cancelled = days(view(upgraded, "cancelled"))
    finally:
        upgraded.release()
        upgraded.close()

    assert "appointment_occurrences" in tables
    assert 6 in versions
    assert {k: row[k] for k in old_row if k not in ("version", "updated_at")} == {
        k: old_row[k] for k in old_row if k not in ("version", "updated_at")
    }
    assert cancelled == ["03-16 09:00"]


def test_upgrade_six_twice_is_harmless(db: Database) -> None:
    step = dict(schema.UPGRADES)[6]

    step(db.conn)
    db.conn.commit()

    assert "appointment_occurrences" in schema.table_names(db.conn)


def test_cancelled_view_lists_each_cancelled_one(db: Database) -> None:
    uuid = add_weekly(db)
    for week in range(3):
        set_status(db, uuid, "cancelled", ORIGINAL + timedelta(weeks=week))

    page = appointment_list.list_page(db, "cancelled", today=MONDAY, zone=SHANGHAI)

    assert days(page.occurrences) == ["03-16 09:00", "03-23 09:00", "03-30 09:00"]
    assert (page.earlier, page.later) == (None, None)
