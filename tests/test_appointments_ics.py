"""The .ics export, parsed back with icalendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar

from crm_web.data.db import Database
from crm_web.services import appointments as service
from crm_web.services.calendar_ics import calendar_bytes

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
