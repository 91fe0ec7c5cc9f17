"""The .ics export, parsed back with icalendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
from dateutil.rrule import rruleset, rrulestr

from crm_web.data.db import Database
from crm_web.services import appointments as service
from crm_web.services.calendar_ics import calendar_bytes, calendar_file

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")


def export_one(db: Database, zone: ZoneInfo, **values: object) -> icalendar.Event:
    uuid = service.create_appointment(db, values, owner="Test", zone=zone)
    row = service.require_appointment(db, uuid)
    calendar = icalendar.Calendar.from_ical(calendar_bytes([row]))
    (event,) = calendar.walk("VEVENT")
    assert str(event["UID"]) == uuid
    return event


def test_ics_keeps_local_day_and_chinese_text(db: Database) -> None:
    event = export_one(
        db,
        SHANGHAI,
        title="拜访东方贸易 😀",
        starts_at_local=datetime(2026, 3, 30, 0, 30),
        ends_at_local=datetime(2026, 3, 30, 1, 45),
        location="上海市浦东新区",
        notes="带样品；讨论报价\n第二行",
    )

    starts = event.decoded("DTSTART")
    assert event["DTSTART"].params["TZID"] == "Asia/Shanghai"
    assert starts.replace(tzinfo=None) == datetime(2026, 3, 30, 0, 30)
    assert starts.utcoffset() == timedelta(hours=8)
    assert event.decoded("DTEND").replace(tzinfo=None) == datetime(2026, 3, 30, 1, 45)
    assert str(event["SUMMARY"]) == "拜访东方贸易 😀"
    assert str(event["LOCATION"]) == "上海市浦东新区"
    assert str(event["DESCRIPTION"]) == "带样品；讨论报价\n第二行"
    assert str(event["STATUS"]) == "CONFIRMED"
    assert "RRULE" not in event
    assert event.walk("VALARM") == []


def test_ics_weekly_rrule_until_utc(db: Database) -> None:
    event = export_one(
        db,
        BERLIN,
        title="Weekly call",
        starts_at_local=datetime(2026, 3, 23, 9, 0),
        repeat="weekly",
        repeat_until=date(2026, 4, 13),
    )

    rule = event["RRULE"]
    assert rule["FREQ"] == ["WEEKLY"]
    # 23:59:59 on 13 April in Berlin (CEST, UTC+2) is 21:59:59 UTC.
    assert rule["UNTIL"] == [datetime(2026, 4, 13, 21, 59, 59, tzinfo=UTC)]
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"


def test_ics_monthly_and_daily_freq(db: Database) -> None:
    monthly = export_one(
        db,
        SHANGHAI,
        title="Month end",
        starts_at_local=datetime(2027, 1, 31, 17, 0),
        repeat="monthly",
    )
    daily = export_one(
        db,
        SHANGHAI,
        title="Stand-up",
        starts_at_local=datetime(2027, 1, 4, 9, 0),
        repeat="daily",
    )

    assert monthly["RRULE"]["FREQ"] == ["MONTHLY"]
    assert "UNTIL" not in monthly["RRULE"]
    assert daily["RRULE"]["FREQ"] == ["DAILY"]


def test_ics_cancelled_status(db: Database) -> None:
    uuid = service.create_appointment(
        db,
        {"title": "Trade fair", "starts_at_local": datetime(2026, 4, 15, 10)},
        owner="Test",
        zone=SHANGHAI,
    )
    service.set_status(db, uuid, "cancelled")
    row = service.require_appointment(db, uuid)

    (event,) = icalendar.Calendar.from_ical(calendar_bytes([row])).walk("VEVENT")

    assert str(event["STATUS"]) == "CANCELLED"
    assert event["SEQUENCE"] == 1


def test_ics_alarm_before_start(db: Database) -> None:
    event = export_one(
        db,
        SHANGHAI,
        title="Call 张经理",
        starts_at_local=datetime(2026, 4, 15, 10),
        reminder_minutes=15,
    )

    (alarm,) = event.walk("VALARM")

    assert str(alarm["ACTION"]) == "DISPLAY"
    assert alarm.decoded("TRIGGER") == timedelta(minutes=-15)
    assert str(alarm["DESCRIPTION"]) == "Call 张经理"


def test_ics_calendar_has_timezone(db: Database) -> None:
    uuid = service.create_appointment(
        db,
        {"title": "Visit", "starts_at_local": datetime(2026, 4, 15, 10)},
        owner="Test",
        zone=SHANGHAI,
    )
    body = calendar_bytes([service.require_appointment(db, uuid)])

    calendar = icalendar.Calendar.from_ical(body)

    assert str(calendar["VERSION"]) == "2.0"
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Asia/Shanghai"]
    assert body.startswith(b"BEGIN:VCALENDAR\r\n")


# --- changes to one occurrence ----------------------------------------------


def weekly_berlin(db: Database, **values: object) -> str:
    """Store a weekly 09:00 Berlin call from Monday 2026-03-23, across DST."""
    fields = {
        "title": "Weekly call",
        "starts_at_local": datetime(2026, 3, 23, 9, 0),
        "repeat": "weekly",
        "repeat_until": date(2026, 4, 20),
        **values,
    }
    return service.create_appointment(db, fields, owner="Test", zone=BERLIN)


def exported_events(db: Database, uuid: str) -> list[icalendar.Event]:
    row = service.require_appointment(db, uuid)
    body = calendar_file(db, [row])
    events: list[icalendar.Event] = icalendar.Calendar.from_ical(body).walk("VEVENT")
    return events


def expanded_starts(event: icalendar.Event) -> list[datetime]:
    """Expand a VEVENT's RRULE minus its EXDATEs with dateutil, as calendars do."""
    starts = event.decoded("DTSTART")
    rules = rruleset()
    rules.rrule(rrulestr(event["RRULE"].to_ical().decode(), dtstart=starts))
    if "EXDATE" in event:
        for exdate in event["EXDATE"].dts:
            rules.exdate(exdate.dt)
    return list(rules)


def test_ics_exdate_hides_cancelled_occurrence(db: Database) -> None:
    uuid = weekly_berlin(db)
    # 2026-03-30 09:00 in Berlin (CEST) is 07:00 UTC.
    service.set_occurrence_status(
        db, uuid, datetime(2026, 3, 30, 7, 0), "cancelled", owner="Test"
    )

    (event,) = exported_events(db, uuid)
    exdates = [d.dt for d in event["EXDATE"].dts]
    local_starts = [s.strftime("%m-%d %H:%M") for s in expanded_starts(event)]

    assert exdates == [datetime(2026, 3, 30, 9, 0, tzinfo=BERLIN)]
    assert event["EXDATE"].params["TZID"] == "Europe/Berlin"
    assert local_starts == ["03-23 09:00", "04-06 09:00", "04-13 09:00", "04-20 09:00"]
    assert str(event["STATUS"]) == "CONFIRMED"


def test_ics_exdate_line_uses_local_time(db: Database) -> None:
    uuid = weekly_berlin(db)
    service.set_occurrence_status(
        db, uuid, datetime(2026, 3, 23, 8, 0), "cancelled", owner="Test"
    )
    row = service.require_appointment(db, uuid)

    body = calendar_file(db, [row]).decode()

    assert "EXDATE;TZID=Europe/Berlin:20260323T090000\r\n" in body


def test_ics_done_occurrence_is_not_excluded(db: Database) -> None:
    uuid = weekly_berlin(db)
    service.set_occurrence_status(
        db, uuid, datetime(2026, 3, 30, 7, 0), "done", owner="Test"
    )

    (event,) = exported_events(db, uuid)

    assert "EXDATE" not in event
    assert len(expanded_starts(event)) == 5


def test_ics_moved_occurrence_has_recurrence_id(db: Database) -> None:
    uuid = weekly_berlin(db)
    service.move_occurrence(
        db,
        uuid,
        datetime(2026, 4, 6, 7, 0),
        {"starts_at_local": datetime(2026, 4, 7, 14, 0)},
        version=1,
        owner="Test",
    )

    series, moved = exported_events(db, uuid)

    assert "RECURRENCE-ID" not in series
    assert str(moved["UID"]) == uuid
    assert moved.decoded("RECURRENCE-ID") == datetime(2026, 4, 6, 9, 0, tzinfo=BERLIN)
    assert moved["RECURRENCE-ID"].params["TZID"] == "Europe/Berlin"
    assert moved.decoded("DTSTART") == datetime(2026, 4, 7, 14, 0, tzinfo=BERLIN)
    assert moved.decoded("DTEND") == datetime(2026, 4, 7, 15, 0, tzinfo=BERLIN)
    assert moved["SEQUENCE"] == series["SEQUENCE"] == 1
    assert str(moved["SUMMARY"]) == "Weekly call"


def test_ics_cancelled_series_keeps_restored_one(db: Database) -> None:
    uuid = weekly_berlin(db)
    service.set_status(db, uuid, "cancelled")
    service.set_occurrence_status(
        db, uuid, datetime(2026, 4, 13, 7, 0), "planned", owner="Test"
    )

    series, restored = exported_events(db, uuid)

    assert str(series["STATUS"]) == "CANCELLED"
    assert "EXDATE" not in series
    assert str(restored["STATUS"]) == "CONFIRMED"
    assert restored.decoded("RECURRENCE-ID") == datetime(
        2026, 4, 13, 9, 0, tzinfo=BERLIN
    )


def test_ics_sequence_grows_with_occurrence_change(db: Database) -> None:
    uuid = weekly_berlin(db)
    (before,) = exported_events(db, uuid)

    service.set_occurrence_status(
        db, uuid, datetime(2026, 3, 30, 7, 0), "cancelled", owner="Test"
    )
    (after,) = exported_events(db, uuid)

    assert after["SEQUENCE"] > before["SEQUENCE"]


def test_ics_ignores_change_without_occurrence(db: Database) -> None:
    uuid = weekly_berlin(db)
    service.set_occurrence_status(
        db, uuid, datetime(2026, 4, 20, 7, 0), "cancelled", owner="Test"
    )
    row = service.require_appointment(db, uuid)
    # The series now ends before the cancelled occurrence.
    service.update_appointment(
        db,
        uuid,
        {
            "title": row["title"],
            "starts_at_local": datetime(2026, 3, 23, 9, 0),
            "repeat": "weekly",
            "repeat_until": date(2026, 4, 13),
        },
        version=row["version"],
        zone=BERLIN,
    )

    (event,) = exported_events(db, uuid)

    assert "EXDATE" not in event
    assert len(expanded_starts(event)) == 4
