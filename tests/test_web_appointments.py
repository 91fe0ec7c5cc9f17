"""Appointment pages through the test client."""

from __future__ import annotations

import functools
import re
from datetime import date, datetime, timedelta
from http import HTTPStatus
from zoneinfo import ZoneInfo

import icalendar
import pytest
from dateutil.rrule import rruleset, rrulestr
from flask.testing import FlaskClient

from crm_web.data.db import Database
from crm_web.services import appointments as service
from crm_web.services import clock
from crm_web.services import contacts as contact_service
from crm_web.services.appointment_series import format_occurrence_id
from crm_web.services.preferences import save_preferences

ZONE = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def shanghai(app_db: Database) -> None:
    save_preferences(app_db, {"time_zone": "Asia/Shanghai"})
    app_db.release()


def today_at(hour: int, minute: int = 0) -> datetime:
    return datetime.combine(clock.today(ZONE), datetime.min.time()).replace(
        hour=hour, minute=minute
    )


def post_new(client: FlaskClient, **values: str) -> object:
    starts = today_at(0, 30).strftime("%Y-%m-%dT%H:%M")
    form = {"title": "拜访工厂", "starts_at_local": starts, "repeat": "none", **values}
    return client.post("/appointments/new", data=form)


def only_uuid(app_db: Database) -> str:
    rows = service.all_appointments(app_db)
    app_db.release()
    assert len(rows) == 1
    return str(rows[0]["uuid"])


@pytest.mark.parametrize(
    "path",
    [
        "/appointments/",
        *(f"/appointments/?view={name}" for name in service.QUICK_VIEWS),
        "/appointments/?view=junk",
        "/appointments/new",
        "/appointments/calendar",
        "/appointments/calendar?month=2026-12",
        "/appointments/calendar?month=junk",
        "/appointments/reminders.json",
        "/appointments/export.ics",
    ],
)
def test_page_renders(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code == HTTPStatus.OK


def test_create_lists_in_this_week(client: FlaskClient) -> None:
    response = post_new(client)

    page = client.get("/appointments/?view=this_week").get_data(as_text=True)

    assert response.status_code == HTTPStatus.FOUND
    assert "拜访工厂" in page
    assert "00:30–01:30" in page


def test_create_invalid_names_field(client: FlaskClient) -> None:
    response = post_new(client, title="", ends_at_local="2000-01-01T00:00")

    page = response.get_data(as_text=True)

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert "Enter a title" in page
    assert "The end is before the start" in page


def test_create_bad_date_names_value(client: FlaskClient) -> None:
    response = post_new(client, starts_at_local="2026-13-45T99:00")

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert "“2026-13-45T99:00” is not a date and time" in response.get_data(
        as_text=True
    )


def test_cancel_moves_to_cancelled_view(client: FlaskClient, app_db: Database) -> None:
    post_new(client)
    uuid = only_uuid(app_db)

    client.post(f"/appointments/{uuid}/cancel")
    week = client.get("/appointments/?view=this_week").get_data(as_text=True)
    cancelled = client.get("/appointments/?view=cancelled").get_data(as_text=True)

    assert "拜访工厂" not in week
    assert "拜访工厂" in cancelled


def test_restore_returns_to_week(client: FlaskClient, app_db: Database) -> None:
    post_new(client)
    uuid = only_uuid(app_db)
    client.post(f"/appointments/{uuid}/cancel")

    client.post(f"/appointments/{uuid}/restore")
    week = client.get("/appointments/?view=this_week").get_data(as_text=True)

    assert "拜访工厂" in week
    assert service.require_appointment(app_db, uuid)["status"] == "planned"


def test_done_marks_status(client: FlaskClient, app_db: Database) -> None:
    post_new(client)
    uuid = only_uuid(app_db)

    response = client.post(f"/appointments/{uuid}/done")

    assert response.status_code == HTTPStatus.FOUND
    assert service.require_appointment(app_db, uuid)["status"] == "done"


def test_status_rejects_foreign_next(client: FlaskClient, app_db: Database) -> None:
    post_new(client)
    uuid = only_uuid(app_db)

    response = client.post(
        f"/appointments/{uuid}/done", data={"next": "//evil.example/"}
    )

    assert response.headers["Location"] == "/appointments/"


def test_edit_changes_values(client: FlaskClient, app_db: Database) -> None:
    post_new(client)
    uuid = only_uuid(app_db)
    form = client.get(f"/appointments/{uuid}/edit").get_data(as_text=True)

    response = client.post(
        f"/appointments/{uuid}/edit",
        data={
            "title": "改期拜访",
            "starts_at_local": "2026-05-01T09:00",
            "ends_at_local": "2026-05-01T10:00",
            "version": "1",
        },
    )
    row = service.require_appointment(app_db, uuid)

    assert 'value="拜访工厂"' in form
    assert response.status_code == HTTPStatus.FOUND
    assert row["title"] == "改期拜访"
    assert row["starts_at"] == datetime(2026, 5, 1, 1, 0)


def test_edit_stale_version_conflicts(client: FlaskClient, app_db: Database) -> None:
    post_new(client)
    uuid = only_uuid(app_db)
    form = {"title": "A", "starts_at_local": "2026-05-01T09:00", "version": "1"}
    client.post(f"/appointments/{uuid}/edit", data=form)

    response = client.post(f"/appointments/{uuid}/edit", data=form)

    assert response.status_code == HTTPStatus.CONFLICT


def test_unknown_appointment_is_404(client: FlaskClient) -> None:
    response = client.get("/appointments/no-such-uuid/edit")

    assert response.status_code == HTTPStatus.NOT_FOUND


def test_calendar_shows_local_day(client: FlaskClient) -> None:
    post_new(client, starts_at_local=today_at(23, 30).strftime("%Y-%m-%dT%H:%M"))

    page = client.get("/appointments/calendar").get_data(as_text=True)
    cell = re.search(
        rf'data-date="{clock.today(ZONE).isoformat()}">(.*?)</td>', page, re.S
    )

    assert cell is not None
    assert "23:30" in cell.group(1)
    assert "拜访工厂" in cell.group(1)


@pytest.mark.parametrize(
    ("week_start", "first_day"), [("monday", "Mon"), ("sunday", "Sun")]
)
def test_calendar_week_start(
    client: FlaskClient, app_db: Database, week_start: str, first_day: str
) -> None:
    save_preferences(app_db, {"week_start": week_start})
    app_db.release()

    page = client.get("/appointments/calendar?month=2026-03").get_data(as_text=True)
    headers = re.findall(r'<th scope="col">(\w+)</th>', page)

    assert headers[0] == first_day
    assert len(headers) == 7


def test_calendar_links_neighbour_months(client: FlaskClient) -> None:
    page = client.get("/appointments/calendar?month=2026-12").get_data(as_text=True)

    assert "month=2026-11" in page
    assert "month=2027-01" in page


def test_contact_typed_by_name(client: FlaskClient, app_db: Database) -> None:
    contact = contact_service.parse_form({"name": "张小明", "company": "东方贸易"})
    contact_id = contact_service.create_contact(
        app_db, contact, owner="Test", region="CN"
    )
    app_db.release()

    post_new(client, contact="张小明")
    rows = service.all_appointments(app_db)
    page = client.get("/appointments/?view=this_week").get_data(as_text=True)

    assert rows[0]["contact_uuid"] is not None
    assert (
        contact_service.require_contact(app_db, contact_id)["uuid"]
        == (rows[0]["contact_uuid"])
    )
    assert "张小明" in page


def test_contact_unknown_is_rejected(client: FlaskClient) -> None:
    response = post_new(client, contact="无此人")

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert "No contact matches “无此人”" in response.get_data(as_text=True)


def test_export_one_ics(client: FlaskClient, app_db: Database) -> None:
    post_new(client, location="上海")
    uuid = only_uuid(app_db)

    response = client.get(f"/appointments/{uuid}.ics")
    (event,) = icalendar.Calendar.from_ical(response.data).walk("VEVENT")

    assert response.mimetype == "text/calendar"
    assert "attachment" in response.headers["Content-Disposition"]
    assert str(event["UID"]) == uuid
    assert event.decoded("DTSTART").date() == clock.today(ZONE)
    assert str(event["LOCATION"]) == "上海"


def test_export_all_includes_cancelled(client: FlaskClient, app_db: Database) -> None:
    post_new(client)
    uuid = only_uuid(app_db)
    client.post(f"/appointments/{uuid}/cancel")
    post_new(client, title="第二个")

    response = client.get("/appointments/export.ics")
    events = icalendar.Calendar.from_ical(response.data).walk("VEVENT")

    assert sorted(str(e["STATUS"]) for e in events) == ["CANCELLED", "CONFIRMED"]


def test_reminders_json_lists_due(client: FlaskClient) -> None:
    soon = clock.to_local(clock.now_utc(), ZONE) + timedelta(minutes=10)
    post_new(
        client,
        starts_at_local=soon.strftime("%Y-%m-%dT%H:%M"),
        reminder_minutes="15",
    )
    post_new(
        client,
        title="later",
        starts_at_local=(soon + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"),
        reminder_minutes="15",
    )

    body = client.get(
        "/appointments/reminders.json", headers={"X-Requested-With": "fetch"}
    ).get_json()

    assert [r["title"] for r in body["reminders"]] == ["拜访工厂"]
    assert body["reminders"][0]["key"].count("@") == 1
    assert body["texts"]["dismiss"] == "Dismiss"


# --- one occurrence of a series ----------------------------------------------


def post_daily(client: FlaskClient, app_db: Database) -> tuple[str, str]:
    """Create a daily series from today 00:30; return its uuid and today's id."""
    post_new(client, repeat="daily")
    uuid = only_uuid(app_db)
    original = clock.to_utc(today_at(0, 30), ZONE)
    return uuid, format_occurrence_id(original)


def today_rows(client: FlaskClient) -> list[str]:
    page = client.get("/appointments/?view=today").get_data(as_text=True)
    return re.findall(r'<tr class="appointment status-(\w+)', page)


def test_cancel_one_occurrence(client: FlaskClient, app_db: Database) -> None:
    uuid, occurrence = post_daily(client, app_db)

    response = client.post(f"/appointments/{uuid}/occurrences/{occurrence}/cancel")
    cancelled = client.get("/appointments/?view=cancelled").get_data(as_text=True)
    week = client.get("/appointments/?view=next_week").get_data(as_text=True)

    assert response.status_code == HTTPStatus.FOUND
    assert today_rows(client) == []
    assert f'data-occurrence="{occurrence}"' in cancelled
    assert week.count('class="appointment status-planned') == 7
    assert service.require_appointment(app_db, uuid)["status"] == "planned"


def test_restore_one_occurrence(client: FlaskClient, app_db: Database) -> None:
    uuid, occurrence = post_daily(client, app_db)
    client.post(f"/appointments/{uuid}/occurrences/{occurrence}/cancel")

    client.post(f"/appointments/{uuid}/occurrences/{occurrence}/restore")

    assert today_rows(client) == ["planned"]


def test_done_one_occurrence(client: FlaskClient, app_db: Database) -> None:
    uuid, occurrence = post_daily(client, app_db)

    response = client.post(
        f"/appointments/{uuid}/occurrences/{occurrence}/done", follow_redirects=True
    )

    assert "This occurrence was marked done." in response.get_data(as_text=True)
    assert today_rows(client) == ["done"]


def test_occurrence_actions_offered(client: FlaskClient, app_db: Database) -> None:
    uuid, occurrence = post_daily(client, app_db)

    page = client.get("/appointments/?view=today").get_data(as_text=True)

    for action in ("done", "cancel"):
        assert f"/appointments/{uuid}/occurrences/{occurrence}/{action}" in page
    assert f"/appointments/{uuid}/occurrences/{occurrence}/move" in page
    assert f"/appointments/{uuid}/cancel" in page  # the whole series


@pytest.mark.parametrize(
    ("occurrence", "action"),
    [
        ("20000101T000000Z", "cancel"),  # not an occurrence of the series
        ("junk", "cancel"),
        ("junk", "move"),
        (None, "delete"),  # no such action
    ],
)
def test_occurrence_not_found(
    client: FlaskClient, app_db: Database, occurrence: str | None, action: str
) -> None:
    uuid, today = post_daily(client, app_db)

    url = f"/appointments/{uuid}/occurrences/{occurrence or today}/{action}"
    response = client.post(url)

    assert response.status_code == HTTPStatus.NOT_FOUND
    if occurrence:
        assert "拜访工厂” has no occurrence at" in response.get_data(as_text=True)


def test_move_occurrence_form(client: FlaskClient, app_db: Database) -> None:
    uuid, occurrence = post_daily(client, app_db)
    url = f"/appointments/{uuid}/occurrences/{occurrence}/move"
    form = client.get(url).get_data(as_text=True)
    later = today_at(0, 30) + timedelta(days=1, hours=14)

    response = client.post(
        url,
        data={
            "starts_at_local": later.strftime("%Y-%m-%dT%H:%M"),
            "ends_at_local": "",
            "version": "1",
            "next": "/appointments/?view=cancelled",
        },
    )
    tomorrow = client.get("/appointments/?view=this_month").get_data(as_text=True)

    assert today_at(0, 30).strftime("%Y-%m-%dT%H:%M") in form
    assert response.status_code == HTTPStatus.FOUND
    assert response.headers["Location"] == "/appointments/?view=cancelled"
    assert today_rows(client) == []
    assert "14:30–15:30" in tomorrow


def test_move_occurrence_invalid(client: FlaskClient, app_db: Database) -> None:
    uuid, occurrence = post_daily(client, app_db)

    response = client.post(
        f"/appointments/{uuid}/occurrences/{occurrence}/move",
        data={"starts_at_local": "2026-02-30T09:00", "version": "1"},
    )

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert "“2026-02-30T09:00” is not a date and time" in response.get_data(
        as_text=True
    )


# --- "all" view pages ---------------------------------------------------------


def test_all_view_opens_at_today(client: FlaskClient, app_db: Database) -> None:
    yesterday = today_at(9) - timedelta(days=1)
    post_new(client, title="昨天", starts_at_local=yesterday.strftime("%Y-%m-%dT%H:%M"))
    post_new(client, title="今天")

    default = client.get("/appointments/?view=all").get_data(as_text=True)
    link = re.search(r'href="(/appointments/\?[^"]*before=[^"]+)"', default)
    assert link is not None
    earlier = client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)

    assert "今天" in default
    assert "昨天" not in default
    assert ">From today</a>" not in default
    assert "昨天" in earlier
    assert "今天" not in earlier
    assert ">From today</a>" in earlier


# --- .ics file names ------------------------------------------------------------


def download_name(response: object) -> str:
    from werkzeug.http import parse_options_header

    header = response.headers["Content-Disposition"]  # type: ignore[attr-defined]
    kind, options = parse_options_header(header)
    assert kind == "attachment"
    return options["filename"]


def test_ics_one_named_after_title(client: FlaskClient, app_db: Database) -> None:
    post_new(client, title="拜访: 东方/贸易?")
    uuid = only_uuid(app_db)

    response = client.get(f"/appointments/{uuid}.ics")
    page = client.get("/appointments/?view=this_week").get_data(as_text=True)
    expected = f"拜访_ 东方_贸易_-{clock.today(ZONE).isoformat()}.ics"

    assert download_name(response) == expected
    assert f'data-download="{expected}"' in page
    assert (
        f'filename="appointment-{clock.today(ZONE).isoformat()}.ics"'
        in (response.headers["Content-Disposition"])
    )


def test_ics_all_named_in_user_language(client: FlaskClient) -> None:
    response = client.get("/appointments/export.ics")
    page = client.get("/appointments/").get_data(as_text=True)
    expected = f"appointments-{clock.today(ZONE).isoformat()}.ics"

    assert download_name(response) == expected
    assert f'data-download="{expected}"' in page
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"


# --- the same local day on the page and in the .ics files --------------------

TIMES = ["00:00", "00:30", "23:30", "23:59"]
MONDAYS = ["2026-03-02", "2026-03-09", "2026-03-16", "2026-03-23", "2026-03-30"]


def add_weekly_at_times(app_db: Database, zone: ZoneInfo) -> list[str]:
    """Store a weekly series per time from Monday 2026-03-02, 03-16 cancelled."""
    uuids = []
    for time_text in TIMES:
        starts = datetime.fromisoformat(f"2026-03-02 {time_text}")
        values = {
            "title": f"每周 {time_text}",
            "starts_at_local": starts,
            "ends_at_local": starts + timedelta(minutes=20),
            "repeat": "weekly",
            "repeat_until": datetime(2026, 3, 30).date(),
        }
        uuid = service.create_appointment(app_db, values, owner="Test", zone=zone)
        cancelled = clock.to_utc(starts + timedelta(weeks=2), zone)
        service.set_occurrence_status(app_db, uuid, cancelled, "cancelled", owner="T")
        uuids.append(uuid)
    app_db.release()
    return uuids


def expected_days() -> set[tuple[str, str, str]]:
    return {
        (f"每周 {time_text}", day, time_text)
        for time_text in TIMES
        for day in MONDAYS
        if day != "2026-03-16"
    }


def calendar_days(client: FlaskClient, month: str) -> set[tuple[str, str, str]]:
    page = client.get(f"/appointments/calendar?month={month}").get_data(as_text=True)
    found = set()
    for day, cell in re.findall(r'data-date="([\d-]+)">(.*?)</td>', page, re.S):
        for time_text, title in re.findall(
            r'<span class="time">([\d:]+)</span> ([^<]+)</a>', cell
        ):
            found.add((title.strip(), day, time_text))
    return found


def ics_days(body: bytes, zone: ZoneInfo) -> set[tuple[str, str, str]]:
    """Expand every VEVENT as a phone calendar would and return local days."""
    found = set()
    for event in icalendar.Calendar.from_ical(body).walk("VEVENT"):
        rules = rruleset()
        starts = event.decoded("DTSTART")
        rules.rrule(rrulestr(event["RRULE"].to_ical().decode(), dtstart=starts))
        if "EXDATE" in event:
            for exdate in event["EXDATE"].dts:
                rules.exdate(exdate.dt)
        for occurrence in rules:
            moment = occurrence.astimezone(zone)
            found.add((str(event["SUMMARY"]), f"{moment:%Y-%m-%d}", f"{moment:%H:%M}"))
    return found


def test_shanghai_days_on_page(client: FlaskClient, app_db: Database) -> None:
    add_weekly_at_times(app_db, ZONE)

    assert calendar_days(client, "2026-03") == expected_days()


def test_shanghai_days_in_ics_export(client: FlaskClient, app_db: Database) -> None:
    uuids = add_weekly_at_times(app_db, ZONE)

    exported = ics_days(client.get("/appointments/export.ics").data, ZONE)
    one_by_one = set().union(
        *(ics_days(client.get(f"/appointments/{u}.ics").data, ZONE) for u in uuids)
    )

    assert exported == expected_days()
    assert one_by_one == expected_days()


def test_berlin_weekly_across_dst(client: FlaskClient, app_db: Database) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    save_preferences(app_db, {"time_zone": "Europe/Berlin"})
    values = {
        "title": "Jour fixe",
        "starts_at_local": datetime(2026, 3, 23, 9, 0),
        "repeat": "weekly",
        "repeat_until": datetime(2026, 4, 6).date(),
    }
    uuid = service.create_appointment(app_db, values, owner="Test", zone=berlin)
    app_db.release()

    page = calendar_days(client, "2026-03") | calendar_days(client, "2026-04")
    body = client.get(f"/appointments/{uuid}.ics").data
    (event,) = icalendar.Calendar.from_ical(body).walk("VEVENT")
    rules = rrulestr(
        event["RRULE"].to_ical().decode(), dtstart=event.decoded("DTSTART")
    )
    utc_hours = [o.astimezone(ZoneInfo("UTC")).hour for o in rules]

    expected = {
        ("Jour fixe", day, "09:00")
        for day in ("2026-03-23", "2026-03-30", "2026-04-06")
    }
    assert page == expected
    assert ics_days(body, berlin) == expected
    assert utc_hours == [8, 7, 7]


def test_ics_all_named_in_chinese(client: FlaskClient, app_db: Database) -> None:
    save_preferences(app_db, {"language": "zh_CN"})
    app_db.release()
    today = clock.today(ZONE).isoformat()

    response = client.get("/appointments/export.ics")

    assert download_name(response) == f"预约-{today}.ics"
    assert (
        f'filename="appointments-{today}.ics"'
        in (response.headers["Content-Disposition"])
    )


@pytest.mark.parametrize(("days_ahead", "view"), [(0, "today"), (400, "all")])
def test_saving_shows_the_view_that_holds_the_appointment(
    client: FlaskClient, days_ahead: int, view: str
) -> None:
    starts = today_at(10) + timedelta(days=days_ahead)
    response = post_new(client, starts_at_local=starts.strftime("%Y-%m-%dT%H:%M"))
    assert response.headers["Location"] == f"/appointments/?view={view}"  # type: ignore[attr-defined]


def test_view_for_day_first_match() -> None:
    monday = date(2026, 12, 28)
    pick = functools.partial(service.view_for_day, today=monday, week_start="monday")
    assert pick(monday) == "today"
    assert pick(date(2027, 1, 3)) == "this_week"  # Sunday, next month
    assert pick(date(2027, 1, 4)) == "next_week"
    assert pick(date(2026, 12, 1)) == "this_month"
    assert pick(date(2027, 1, 31)) == "next_month"
    assert pick(date(2027, 2, 1)) == "all"
    assert pick(date(2026, 11, 30)) == "all"


def test_reminder_choices_read_in_hours_and_days(client: FlaskClient) -> None:
    page = client.get("/appointments/new").get_data(as_text=True)
    labels = re.findall(r'<option value="\d+"[^>]*>\s*([^<]+?)\s*</option>', page)
    assert labels[-3:] == ["1 hour before", "2 hours before", "1 day before"]


def test_appointment_next_day_mark(client: FlaskClient) -> None:
    starts = today_at(23, 30)
    post_new(
        client,
        starts_at_local=starts.strftime("%Y-%m-%dT%H:%M"),
        ends_at_local=(starts + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
    )
    page = client.get("/appointments/?view=today").get_data(as_text=True)
    assert re.search(r"23:30–00:30 <span[^>]*>\(next day\)</span>", page)
