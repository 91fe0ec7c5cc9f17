"""The communication log's data and service layers, on SQLite and MariaDB."""

from __future__ import annotations

import sys
import types
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import (
    Column,
    Connection,
    Date,
    DateTime,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    select,
)

from crm_web.data import comm_logs as log_data
from crm_web.data import schema
from crm_web.data.db import Database, connect
from crm_web.data.records import UnknownColumnError, new_record
from crm_web.data.schema import appointments
from crm_web.errors import UserError, VersionConflictError
from crm_web.services import categories as category_service
from crm_web.services import comm_log as log_service
from crm_web.services import comm_log_files as log_files
from crm_web.services import contacts as contact_service
from crm_web.services.comm_log import LogEntryInvalidError, LogFilters
from crm_web.services.timeline import timeline_for_contact

SHANGHAI = ZoneInfo("Asia/Shanghai")


def add_contact(db: Database, **values: str) -> dict[str, Any]:
    contact = contact_service.parse_form(values)
    contact_id = contact_service.create_contact(
        db, contact, owner="Test", region="CN", allow_duplicate=True
    )
    return contact_service.require_contact(db, contact_id)


def add_entry(db: Database, contact: dict[str, Any], **values: Any) -> int:
    raw = {
        "contact_id": str(contact["id"]),
        "occurred_at": "2024-03-15T10:30",
        "channel": "phone",
        "title": "Price call",
        "content": "",
        **values,
    }
    entry = log_service.parse_entry(db, raw, zone=SHANGHAI)
    return log_service.create_entry(db, entry, owner="Test", zone=SHANGHAI)


def listed(db: Database, filters: LogFilters | None = None) -> list[str]:
    page = log_service.list_entries(
        db, filters or LogFilters(), zone=SHANGHAI, offset=0, limit=100
    )
    return [e["title"] for e in page.entries]


@pytest.fixture
def zhang(db: Database) -> dict[str, Any]:
    return add_contact(db, name="张小明", company="东方贸易", mobile="13812345678")


# --- entries ----------------------------------------------------------------


def test_entry_stores_utc_and_shows_local(db: Database, zhang: dict) -> None:
    entry_id = add_entry(db, zhang, occurred_at="2024-03-15T10:30")
    row = log_service.require_entry(db, entry_id)
    assert row["occurred_at"] == datetime(2024, 3, 15, 2, 30)
    view = log_service.entry_view(row, SHANGHAI)
    assert view["occurred_local"].replace(tzinfo=None) == datetime(2024, 3, 15, 10, 30)


def test_entry_keeps_line_breaks(db: Database, zhang: dict) -> None:
    entry_id = add_entry(db, zhang, content="第一行\r\n第二行\n\n第四行 😀")
    row = log_service.require_entry(db, entry_id)
    assert row["content"] == "第一行\n第二行\n\n第四行 😀"


def test_entry_stores_follow_up_as_local_date(db: Database, zhang: dict) -> None:
    entry_id = add_entry(db, zhang, follow_up_on="2024-03-20")
    assert log_service.require_entry(db, entry_id)["follow_up_on"] == date(2024, 3, 20)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("occurred_at", "", "Enter the date and time"),
        ("occurred_at", "yesterday-ish", "“yesterday-ish” is not valid"),
        ("channel", "fax", "Channel “fax” is not one of"),
        ("follow_up_on", "2024-02-30", "“2024-02-30” is not a date"),
        ("title", "x" * 201, "Title is 201 characters long"),
    ],
)
def test_parse_entry_rejects_bad_value(
    db: Database, zhang: dict, field: str, value: str, expected: str
) -> None:
    raw = {"contact_id": str(zhang["id"]), "occurred_at": "2024-03-15T10:30"}
    raw.update(title="t", channel="phone")
    raw[field] = value
    with pytest.raises(LogEntryInvalidError) as caught:
        log_service.parse_entry(db, raw, zone=SHANGHAI)
    assert expected in caught.value.errors[field]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [("title", "x" * 600, "Title is 600 characters long; the limit is 200."),
     ("title", "😀" * 201, "Title is 201 characters long; the limit is 200."),
     ("content", "x" * 20001, "Content is 20001 characters long; the limit is 20000"),
     ("content", "😀" * 16384, "Content is 16384 characters long; the limit is 20000")],
    ids=["title", "title-emoji", "content", "content-bytes"],
)  # fmt: skip
def test_parse_entry_rejects_long_text(
    db: Database, zhang: dict, field: str, value: str, expected: str
) -> None:
    raw = {"contact_id": str(zhang["id"]), "occurred_at": "2024-03-15T10:30"}
    raw.update(title="t", channel="phone")
    raw[field] = value
    with pytest.raises(LogEntryInvalidError) as caught:
        log_service.parse_entry(db, raw, zone=SHANGHAI)
    assert expected in caught.value.errors[field]


def test_longest_title_is_stored_whole(db: Database, zhang: dict) -> None:
    title = "😀字" * 100
    entry_id = add_entry(db, zhang, title=title, content="😀" * 16383)
    stored = log_service.require_entry(db, entry_id)
    assert stored["title"] == title
    assert stored["content"] == "😀" * 16383


def test_import_rejects_long_text(db: Database, zhang: dict, tmp_path: Path) -> None:
    when = datetime(2024, 3, 1, 9, 0)
    summary = import_rows(
        db, tmp_path, ["日期", "手机", "标题", "内容"],
        [when, "13812345678", "x" * 600, "ok"],
        [when, "13812345678", "ok", "😀" * 16384],
    )  # fmt: skip
    assert (summary.inserted, summary.rejected) == (0, 2)
    assert (
        "Title is 600 characters long; the limit is 200"
        in (summary.rejected_reasons[0])
    )
    assert "the limit is 20000" in summary.rejected_reasons[1]
    assert listed(db) == []


@pytest.mark.parametrize("typed", ["2026-99-01", "soon", "2024-02-30"])
def test_parse_filters_names_bad_date(typed: str) -> None:
    filters, errors = log_service.parse_filters({"from": typed, "to": "2024-03-01"})
    assert filters.date_from is None
    assert filters.date_to == date(2024, 3, 1)
    assert len(errors) == 1
    assert f"“{typed}” is not a valid date" in errors[0]


def test_parse_filters_reads_other_date_forms() -> None:
    filters, errors = log_service.parse_filters({"from": "2024/3/1"})
    assert filters.date_from == date(2024, 3, 1)
    assert errors == []


def test_parse_filters_swaps_reversed_range(db: Database, week: dict) -> None:
    args = {"from": "2024-03-03", "to": "2024-03-02"}
    filters, errors = log_service.parse_filters(args)
    assert (filters.date_from, filters.date_to) == (date(2024, 3, 2), date(2024, 3, 3))
    assert len(errors) == 1
    assert "is after the end date" in errors[0]
    assert listed(db, filters) == ["Visit plan", "WeChat hello"]


def test_parse_entry_needs_title_or_content(db: Database, zhang: dict) -> None:
    raw = {"contact_id": str(zhang["id"]), "occurred_at": "2024-03-15 10:30"}
    with pytest.raises(LogEntryInvalidError) as caught:
        log_service.parse_entry(db, raw, zone=SHANGHAI)
    assert "title" in caught.value.errors


def test_parse_entry_finds_contact_by_query(db: Database, zhang: dict) -> None:
    raw = {"contact_query": "13812345678", "occurred_at": "2024-03-15 10:30"}
    entry = log_service.parse_entry(db, {**raw, "title": "t"}, zone=SHANGHAI)
    assert entry.values["contact_uuid"] == zhang["uuid"]


def test_parse_entry_offers_choices_when_ambiguous(db: Database) -> None:
    add_contact(db, name="李华", company="南方物流")
    add_contact(db, name="李华", company="北方建材")
    raw = {"contact_query": "李华", "occurred_at": "2024-03-15 10:30", "title": "t"}
    with pytest.raises(LogEntryInvalidError) as caught:
        log_service.parse_entry(db, raw, zone=SHANGHAI)
    assert len(caught.value.choices) == 2
    assert "2 contacts match “李华”" in caught.value.errors["contact"]


def test_insert_rejects_unknown_column(db: Database) -> None:
    with pytest.raises(UnknownColumnError):
        log_data.insert_log(db, {"titel": "typo"})


def test_update_with_old_version_conflicts(db: Database, zhang: dict) -> None:
    entry_id = add_entry(db, zhang)
    raw = {"contact_id": str(zhang["id"]), "occurred_at": "2024-03-15T11:00"}
    entry = log_service.parse_entry(db, {**raw, "title": "New"}, zone=SHANGHAI)
    log_service.update_entry(
        db, entry_id, entry, version=1, owner="Test", zone=SHANGHAI
    )
    with pytest.raises(VersionConflictError):
        log_service.update_entry(
            db, entry_id, entry, version=1, owner="Test", zone=SHANGHAI
        )
    assert log_service.require_entry(db, entry_id)["version"] == 2


def test_delete_moves_entry_to_trash(db: Database, zhang: dict) -> None:
    entry_id = add_entry(db, zhang, title="Gone")
    log_service.set_deleted(db, entry_id, deleted=True)
    trash = log_service.list_entries(
        db, LogFilters(), zone=SHANGHAI, offset=0, limit=10, deleted=True
    )
    assert listed(db) == []
    assert [e["title"] for e in trash.entries] == ["Gone"]


def test_restore_brings_entry_back(db: Database, zhang: dict) -> None:
    entry_id = add_entry(db, zhang, title="Back")
    log_service.set_deleted(db, entry_id, deleted=True)
    log_service.set_deleted(db, entry_id, deleted=False)
    assert listed(db) == ["Back"]


# --- list, filters, neighbours ---------------------------------------------


@pytest.fixture
def week(db: Database, zhang: dict) -> dict[str, Any]:
    """Four entries over four days, two contacts, two categories."""
    buyers = category_service.create_category(db, "Buyers", owner="Test")
    li = add_contact(db, name="李华", company="南方物流")
    contact_service.update_contact(
        db,
        li["id"],
        contact_service.parse_form({"name": "李华", "category_uuid": buyers}),
        version=li["version"],
        region="CN",
    )
    add_entry(db, zhang, occurred_at="2024-03-01T09:00", title="Quote 50% off")
    add_entry(db, li, occurred_at="2024-03-02T23:30", title="WeChat hello",
              channel="wechat", content="Sample SHIPPED today")  # fmt: skip
    add_entry(db, zhang, occurred_at="2024-03-03T00:30", title="Visit plan",
              channel="visit")  # fmt: skip
    add_entry(db, li, occurred_at="2024-03-04T15:00", title="Order_2024")
    return {"zhang": zhang, "li": li, "buyers": buyers}


def test_list_is_newest_first(db: Database, week: dict) -> None:
    assert listed(db) == ["Order_2024", "Visit plan", "WeChat hello", "Quote 50% off"]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (LogFilters(date_from=date(2024, 3, 2), date_to=date(2024, 3, 2)),
         ["WeChat hello"]),
        (LogFilters(date_from=date(2024, 3, 3)), ["Order_2024", "Visit plan"]),
        (LogFilters(channel="wechat"), ["WeChat hello"]),
        (LogFilters(words="shipped"), ["WeChat hello"]),
        (LogFilters(words="50%"), ["Quote 50% off"]),
        (LogFilters(words="r_2"), ["Order_2024"]),
        (LogFilters(words="visit plan"), ["Visit plan"]),
        (LogFilters(contact_name="东方"), ["Visit plan", "Quote 50% off"]),
        (LogFilters(category="none"), ["Visit plan", "Quote 50% off"]),
    ],
)  # fmt: skip
def test_list_filter(
    db: Database, week: dict, filters: LogFilters, expected: list[str]
) -> None:
    assert listed(db, filters) == expected


@pytest.fixture
def namesakes(db: Database) -> None:
    """One entry for each of five contacts that the smart query distinguishes."""
    people = [
        {"name": "张小明", "company": "东方贸易"},
        {"name": "王芳", "company": "北方"},
        {"name": "李雷", "mobile": "139 1234 5678"},
        {"name": "Hans Müller", "company": "Müller GmbH"},
        {"name": "José Álvarez"},
    ]
    for number, values in enumerate(people):
        add_entry(db, add_contact(db, **values), title=values["name"],
                  occurred_at=f"2024-03-0{number + 1}T09:00")  # fmt: skip


@pytest.mark.parametrize(
    ("who", "expected"),
    [("zxm", ["张小明"]), ("wangfang", ["王芳"]), ("13912345678", ["李雷"]),
     ("muller", ["Hans Müller"]), ("MÜLLER", ["Hans Müller"]),
     ("jose", ["José Álvarez"]), ("东方", ["张小明"]), ("nobody", [])],
)  # fmt: skip
def test_list_filters_by_smart_contact_query(
    db: Database, namesakes: None, who: str, expected: list[str]
) -> None:
    assert listed(db, LogFilters(contact_name=who)) == expected


@pytest.mark.parametrize("few_contacts", [0, 50], ids=["in-order", "by-contacts"])
def test_contact_filter_either_way(
    db: Database,
    namesakes: None,
    monkeypatch: pytest.MonkeyPatch,
    few_contacts: int,
) -> None:
    monkeypatch.setattr(log_service, "FEW_CONTACTS", few_contacts)
    monkeypatch.setattr(log_data, "BOUND_CONTACTS_MAX", 1)
    filters = LogFilters(contact_name="l")
    titles = ["José Álvarez", "Hans Müller", "李雷"]
    assert listed(db, filters) == titles
    page = log_service.list_entries(db, filters, zone=SHANGHAI, offset=0, limit=1)
    assert page.total == len(titles)
    neighbours = log_service.neighbours(db, filters, page.entries[0], zone=SHANGHAI)
    assert neighbours[1] == listed_ids(db, filters)[1]


def test_contact_filter_keeps_category(db: Database, week: dict) -> None:
    filters = LogFilters(contact_name="华", category=week["buyers"])
    assert listed(db, filters) == ["Order_2024", "WeChat hello"]
    other = LogFilters(contact_name="东方", category=week["buyers"])
    assert listed(db, other) == []


def test_list_filters_by_category(db: Database, week: dict) -> None:
    filters = LogFilters(category=week["buyers"])
    assert listed(db, filters) == ["Order_2024", "WeChat hello"]


@pytest.mark.parametrize("few_contacts", [0, 50], ids=["joined", "by-contacts"])
def test_category_filter_either_way(
    db: Database, week: dict, monkeypatch: pytest.MonkeyPatch, few_contacts: int
) -> None:
    monkeypatch.setattr(log_service, "FEW_CONTACTS", few_contacts)
    buyers = LogFilters(category=week["buyers"])
    entries = log_service.list_entries(
        db, buyers, zone=SHANGHAI, offset=0, limit=1
    ).entries
    assert listed(db, buyers) == ["Order_2024", "WeChat hello"]
    assert listed(db, LogFilters(category="none")) == ["Visit plan", "Quote 50% off"]
    assert listed(db, LogFilters(category="no-such-category")) == []
    assert (
        log_service.neighbours(db, buyers, entries[0], zone=SHANGHAI)[1]
        == (listed_ids(db, buyers)[1])
    )


def listed_ids(db: Database, filters: LogFilters) -> list[int]:
    page = log_service.list_entries(db, filters, zone=SHANGHAI, offset=0, limit=100)
    return [e["id"] for e in page.entries]


def test_small_category_uses_contact_list(db: Database, week: dict) -> None:
    query = log_service.log_query(
        db, LogFilters(category=week["buyers"]), zone=SHANGHAI
    )
    assert query.contact_uuids == (week["li"]["uuid"],)
    assert query.category_uuid == ""


def test_list_filters_by_contact(db: Database, week: dict) -> None:
    filters = LogFilters(contact_id=week["zhang"]["id"])
    assert listed(db, filters) == ["Visit plan", "Quote 50% off"]


def test_list_pages_and_counts(db: Database, week: dict) -> None:
    page = log_service.list_entries(db, LogFilters(), zone=SHANGHAI, offset=2, limit=2)
    assert [e["title"] for e in page.entries] == ["WeChat hello", "Quote 50% off"]
    assert page.total == 4


def test_neighbours_follow_the_filter(db: Database, week: dict) -> None:
    filters = LogFilters(contact_id=week["zhang"]["id"])
    entries = log_service.list_entries(
        db, filters, zone=SHANGHAI, offset=0, limit=10
    ).entries
    newer, older = entries
    assert log_service.neighbours(db, filters, newer, zone=SHANGHAI) == (
        None,
        older["id"],
    )
    assert log_service.neighbours(db, filters, older, zone=SHANGHAI) == (
        newer["id"],
        None,
    )


def test_neighbours_break_ties_by_id(db: Database, zhang: dict) -> None:
    first = add_entry(db, zhang, title="A")
    second = add_entry(db, zhang, title="B")
    row = log_service.require_entry(db, first)
    assert log_service.neighbours(db, LogFilters(), row, zone=SHANGHAI) == (
        second,
        None,
    )


# --- functions for the home page and merge ---------------------------------


def test_relink_contact_moves_entries(db: Database, zhang: dict) -> None:
    other = add_contact(db, name="Zhang Xiaoming")
    add_entry(db, other, title="Moved")
    moved = db.write(
        lambda db: log_data.relink_contact(db, other["uuid"], zhang["uuid"])
    )
    assert moved == 1
    assert listed(db, LogFilters(contact_id=zhang["id"])) == ["Moved"]


def test_follow_ups_due_on_or_before(db: Database, zhang: dict) -> None:
    add_entry(db, zhang, title="Due", follow_up_on="2024-03-20")
    add_entry(db, zhang, title="Later", follow_up_on="2024-03-21")
    add_entry(db, zhang, title="None")
    due = log_data.find_follow_ups_due(db, on_or_before=date(2024, 3, 20))
    assert [row["title"] for row in due] == ["Due"]
    assert due[0]["contact_name"] == "张小明"


def test_find_recent_limits_rows(db: Database, week: dict) -> None:
    recent = log_data.find_recent(db, 2)
    assert [row["title"] for row in recent] == ["Order_2024", "Visit plan"]


# --- follow-up appointments and the timeline -------------------------------


def test_follow_up_creates_appointment(db: Database, zhang: dict) -> None:
    entry_id = add_entry(
        db,
        zhang,
        title="Send catalogue",
        follow_up_on="2024-03-20",
        make_appointment="1",
        follow_up_time="14:00",
    )
    row = log_service.require_entry(db, entry_id)
    statement = select(appointments).where(
        appointments.c.uuid == row["appointment_uuid"]
    )
    stored = db.execute(statement).one()._mapping
    assert stored["title"] == "Follow up: Send catalogue"
    assert stored["starts_at"] == datetime(2024, 3, 20, 6, 0)
    assert stored["contact_uuid"] == zhang["uuid"]


def test_moving_follow_up_moves_its_appointment(db: Database, zhang: dict) -> None:
    entry_id = add_entry(
        db,
        zhang,
        title="Send catalogue",
        follow_up_on="2024-03-20",
        make_appointment="1",
        follow_up_time="14:30",
    )
    edited = log_service.parse_entry(
        db,
        {
            "contact_id": str(zhang["id"]),
            "occurred_at": "2024-03-15T10:30",
            "channel": "phone",
            "title": "Send catalogue",
            "follow_up_on": "2024-03-22",
        },
        zone=SHANGHAI,
    )
    log_service.update_entry(
        db, entry_id, edited, version=1, owner="Test", zone=SHANGHAI
    )
    row = log_service.require_entry(db, entry_id)
    statement = select(appointments).where(
        appointments.c.uuid == row["appointment_uuid"]
    )
    stored = db.execute(statement).one()._mapping
    assert stored["starts_at"] == datetime(2024, 3, 22, 6, 30)


def test_follow_up_appointment_needs_date(db: Database, zhang: dict) -> None:
    with pytest.raises(LogEntryInvalidError) as caught:
        add_entry(db, zhang, make_appointment="1")
    assert "follow_up_on" in caught.value.errors


def test_failed_appointment_saves_nothing(
    db: Database, zhang: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    def create_appointment(db: Database, values: dict, **_: Any) -> str:
        db.execute(
            log_data.comm_logs.insert().values(
                **log_data_row(zhang["uuid"], "written before the failure")
            )
        )
        raise UserError("appointment rejected")

    fake = types.ModuleType("crm_web.services.appointments")
    fake.create_appointment = create_appointment  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "crm_web.services.appointments", fake)
    with pytest.raises(LogEntryInvalidError) as caught:
        add_entry(db, zhang, follow_up_on="2024-03-20", make_appointment="1")
    assert caught.value.errors["follow_up_time"] == "appointment rejected"
    assert listed(db) == []


def log_data_row(contact_uuid: str, title: str) -> dict[str, Any]:
    from crm_web.data.records import new_record

    return {
        **new_record("Test"),
        "contact_uuid": contact_uuid,
        "occurred_at": datetime(2024, 1, 1),
        "channel": "other",
        "title": title,
    }


def test_timeline_merges_kinds_newest_first(db: Database, zhang: dict) -> None:
    add_entry(db, zhang, occurred_at="2024-03-15T10:30", title="Call")
    add_entry(
        db,
        zhang,
        occurred_at="2024-03-10T09:00",
        title="Visit",
        follow_up_on="2024-03-20",
        make_appointment="1",
    )
    items = timeline_for_contact(db, zhang["uuid"], zone=SHANGHAI)
    assert [(i["kind"], i["title"]) for i in items] == [
        ("appointment", "Follow up: Visit"),
        ("log", "Call"),
        ("log", "Visit"),
    ]
    assert items[1]["at"] == datetime(2024, 3, 15, 10, 30)


def test_timeline_skips_missing_services(
    db: Database, zhang: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_entry(db, zhang, title="Call")
    empty = types.ModuleType("crm_web.services.sales")
    monkeypatch.setitem(sys.modules, "crm_web.services.sales", empty)
    monkeypatch.setitem(sys.modules, "crm_web.services.appointments", None)
    items = timeline_for_contact(db, zhang["uuid"], zone=SHANGHAI)
    assert [i["kind"] for i in items] == ["log"]


# --- export and import -----------------------------------------------------


def export_file(db: Database, tmp_path: Path, kind: str) -> Path:
    target = tmp_path / f"log.{kind}"
    log_files.export_log(db, target, kind, LogFilters(), zone=SHANGHAI)
    return target


def run_import(db: Database, path: Path, tmp_path: Path) -> log_files.LogImportSummary:
    plan = log_files.plan_log_import(path)
    return log_files.import_log_file(
        db,
        plan,
        owner="Test",
        region="CN",
        zone=SHANGHAI,
        work_dir=tmp_path / "work",
        name="test",
    )


def test_export_xlsx_writes_local_times(
    db: Database, week: dict, tmp_path: Path
) -> None:
    sheet = openpyxl.load_workbook(export_file(db, tmp_path, "xlsx")).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0][:3] == ["Date and time", "Contact", "Company"]
    assert rows[1][0] == datetime(2024, 3, 4, 15, 0)
    assert rows[1][1] == "李华"
    assert len(rows) == 5


@pytest.mark.parametrize("kind", ["xlsx", "txt"])
def test_import_of_export_adds_nothing(
    db: Database, week: dict, tmp_path: Path, kind: str
) -> None:
    summary = run_import(db, export_file(db, tmp_path, kind), tmp_path)
    assert (summary.inserted, summary.skipped, summary.rejected) == (0, 4, 0)


@pytest.mark.parametrize("kind", ["xlsx", "txt"])
def test_import_restores_exported_entries(
    db: Database, week: dict, tmp_path: Path, kind: str
) -> None:
    path = export_file(db, tmp_path, kind)
    before = listed(db)
    for row in log_data.find_recent(db, 10):
        log_service.set_deleted(db, row["id"], deleted=True)
    summary = run_import(db, path, tmp_path)
    assert summary.inserted == 4
    assert listed(db) == before


def test_import_rejects_unknown_contact(
    db: Database, zhang: dict, tmp_path: Path
) -> None:
    path = tmp_path / "log.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["日期", "联系人", "手机", "方式", "标题", "内容"])
    book.active.append([datetime(2024, 3, 1, 9, 0), "", "138 1234 5678", "微信",
                        "Hello", "line 1\nline 2"])  # fmt: skip
    book.active.append([datetime(2024, 3, 1, 9, 0), "王芳", "", "电话", "Who", ""])
    book.save(path)
    summary = run_import(db, path, tmp_path)
    assert (summary.inserted, summary.rejected) == (1, 1)
    assert "No contact matches “王芳”" in summary.rejected_reasons[0]
    assert summary.describe() == (
        "Imported log.xlsx: 1 log entry added, 0 already stored, 1 rejected."
    )
    assert "“”" not in summary.rejected_reasons[0]
    assert summary.rejected_file is not None
    rejected = openpyxl.load_workbook(summary.rejected_file).active
    assert [c.value for c in rejected[1]][-1] == "Reason rejected"
    stored = log_data.find_recent(db, 1)[0]
    assert (stored["channel"], stored["content"]) == ("wechat", "line 1\nline 2")
    assert stored["occurred_at"] == datetime(2024, 3, 1, 1, 0)


def test_import_without_date_column_is_rejected(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "log.txt"
    path.write_text("Contact\tTitle\nA\tB\n", encoding="utf-8")
    with pytest.raises(log_files.NoLogColumnsError):
        log_files.plan_log_import(path)


def test_import_is_all_or_nothing(
    db: Database, zhang: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "log.txt"
    lines = ["Date and time\tMobile\tTitle"]
    lines += [f"2024-03-01 09:{i:02d}\t13812345678\tT{i}" for i in range(5)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(log_files, "INSERT_CHUNK", 2)
    original = log_data.insert_logs
    calls = []

    def failing(db: Database, rows: list) -> None:
        calls.append(len(rows))
        if len(calls) == 2:
            raise RuntimeError("disk full")
        original(db, rows)

    monkeypatch.setattr(log_data, "insert_logs", failing)
    with pytest.raises(RuntimeError):
        run_import(db, path, tmp_path)
    assert listed(db) == []


def test_headers_map_chinese_spellings() -> None:
    assert log_files.map_log_headers(["日期", "手机", "标题", "备注"]) == [
        "occurred_at",
        "mobile",
        "title",
        "content",
    ]


@pytest.mark.parametrize(
    ("header", "key"),
    [("电子邮箱", "email"), ("邮箱地址", "email"), ("手机号码", "mobile"),
     ("客户姓名", "contact"), ("联系人", "contact"), ("固定电话", "phone"),
     ("E-mail address", "email"), ("姓名(Name)", "contact"),
     ("公司名称", "company")],
)  # fmt: skip
def test_headers_map_contact_import_spellings(header: str, key: str) -> None:
    assert log_files.map_log_headers(["日期", header]) == ["occurred_at", key]


def import_rows(
    db: Database, tmp_path: Path, header: list[str], *rows: list[Any]
) -> log_files.LogImportSummary:
    path = tmp_path / "log.xlsx"
    book = openpyxl.Workbook()
    book.active.append(header)
    for row in rows:
        book.active.append(row)
    book.save(path)
    return run_import(db, path, tmp_path)


def test_import_reads_wps_email_header(db: Database, tmp_path: Path) -> None:
    add_contact(db, name="Hans Müller", email="hans@muller.de")
    when = datetime(2024, 3, 1, 9, 0)
    summary = import_rows(
        db, tmp_path, ["日期", "客户姓名", "电子邮箱", "标题"],
        [when, "", "HANS@MULLER.DE", "Offer"],
    )  # fmt: skip
    assert (summary.inserted, summary.rejected) == (1, 0)


def test_import_names_every_value_typed(db: Database, tmp_path: Path) -> None:
    summary = import_rows(
        db, tmp_path, ["日期", "联系人", "电子邮箱", "标题"],
        [datetime(2024, 3, 1, 9, 0), "", "nobody@example.com", "Offer"],
    )  # fmt: skip
    reason = summary.rejected_reasons[0]
    assert "“nobody@example.com”" in reason
    assert "“”" not in reason


def test_import_says_which_contact_cells_are_empty(
    db: Database, tmp_path: Path
) -> None:
    summary = import_rows(
        db, tmp_path, ["日期", "联系人", "电子邮箱", "Notes from the call"],
        [datetime(2024, 3, 1, 9, 0), "", "", "HANS@MULLER.DE"],
    )  # fmt: skip
    reason = summary.rejected_reasons[0]
    assert "“联系人”, “电子邮箱” empty" in reason
    assert "“”" not in reason


def test_import_says_several_contacts_match(
    db: Database, zhang: dict, tmp_path: Path
) -> None:
    add_contact(db, name="张伟", company="南方物流")
    summary = import_rows(
        db, tmp_path, ["日期", "联系人", "标题"],
        [datetime(2024, 3, 1, 9, 0), "张", "Call"],
    )  # fmt: skip
    reason = summary.rejected_reasons[0]
    assert "Several contacts match “张”" in reason
    assert "phone or e-mail column" in reason


# --- follow-up done ----------------------------------------------------------


def due_titles(db: Database, day: date = date(2024, 3, 31)) -> list[str]:
    return [row["title"] for row in log_data.find_follow_ups_due(db, on_or_before=day)]


def test_done_follow_up_is_not_due(db: Database, zhang: dict) -> None:
    entry_id = add_entry(db, zhang, title="Send samples", follow_up_on="2024-03-20")
    add_entry(db, zhang, title="Call back", follow_up_on="2024-03-21")
    log_service.set_follow_up_done(db, entry_id, done=True)
    assert due_titles(db) == ["Call back"]
    assert log_service.require_entry(db, entry_id)["follow_up_done"] is True


def test_follow_up_done_can_be_undone(db: Database, zhang: dict) -> None:
    entry_id = add_entry(db, zhang, title="Send samples", follow_up_on="2024-03-20")
    log_service.set_follow_up_done(db, entry_id, done=True)
    log_service.set_follow_up_done(db, entry_id, done=False)
    assert due_titles(db) == ["Send samples"]
    assert log_service.require_entry(db, entry_id)["version"] == 3


def test_follow_up_done_needs_date(db: Database, zhang: dict) -> None:
    entry_id = add_entry(db, zhang, title="No date")
    with pytest.raises(log_service.NoFollowUpDateError) as caught:
        log_service.set_follow_up_done(db, entry_id, done=True)
    assert "“No date” has no follow-up date" in caught.value.message
    assert log_service.require_entry(db, entry_id)["follow_up_done"] is False


def edit_follow_up(db: Database, zhang: dict, entry_id: int, day: str) -> None:
    current = log_service.require_entry(db, entry_id)
    raw = {
        "contact_id": str(zhang["id"]),
        "occurred_at": "2024-03-15T10:30",
        "title": current["title"],
        "follow_up_on": day,
    }
    entry = log_service.parse_entry(db, raw, zone=SHANGHAI)
    log_service.update_entry(
        db, entry_id, entry, version=current["version"], owner="Test", zone=SHANGHAI
    )


@pytest.mark.parametrize(
    ("new_day", "still_done"),
    [("2024-03-20", True), ("2024-03-27", False), ("", False)],
)
def test_new_follow_up_date_reopens(
    db: Database, zhang: dict, new_day: str, still_done: bool
) -> None:
    entry_id = add_entry(db, zhang, title="Quote", follow_up_on="2024-03-20")
    log_service.set_follow_up_done(db, entry_id, done=True)
    edit_follow_up(db, zhang, entry_id, new_day)
    assert log_service.require_entry(db, entry_id)["follow_up_done"] is still_done


@pytest.mark.parametrize(
    ("state", "expected"),
    [("open", ["Open one"]), ("done", ["Done one"]), ("", ["Done one", "Open one",
                                                             "No follow-up"])],
)  # fmt: skip
def test_list_filters_follow_ups(
    db: Database, zhang: dict, state: str, expected: list[str]
) -> None:
    add_entry(db, zhang, occurred_at="2024-03-01T09:00", title="No follow-up")
    add_entry(db, zhang, occurred_at="2024-03-02T09:00", title="Open one",
              follow_up_on="2024-03-09")  # fmt: skip
    done = add_entry(db, zhang, occurred_at="2024-03-03T09:00", title="Done one",
                     follow_up_on="2024-03-10")  # fmt: skip
    log_service.set_follow_up_done(db, done, done=True)
    assert listed(db, LogFilters(follow_up=state)) == expected


# --- word search: the same folding on both backends ------------------------


@pytest.mark.parametrize(
    ("stored", "query"),
    [
        ("Call with MÜLLER GmbH", "müller"),
        ("Call with Müller GmbH", "MÜLLER"),
        ("Call with Müller GmbH", "muller"),
        ("Added on WeChat", "ｗｅｃｈａｔ"),
        ("ＦＯＢ价格 confirmed", "fob价格"),
        ("Große Bestellung", "GROSSE"),
        ("ΣΟΦΙΑ called", "σοφια"),
        ("报价已发送", "报价"),
        ("Paid 100% upfront", "100%"),
        ("Order a_b shipped", "a_b"),
        ("Wow! big order", "wow!"),
    ],
)
def test_word_search_folds_like_contacts(
    db: Database, zhang: dict, stored: str, query: str
) -> None:
    add_entry(db, zhang, title=stored)
    add_entry(db, zhang, title="Unrelated")
    assert listed(db, LogFilters(words=query)) == [stored]


@pytest.mark.parametrize(
    ("stored", "query"),
    [
        ("Paid 1000 upfront", "100%"),
        ("Order axb shipped", "a_b"),
        ("Wow big order", "wow!"),
        ("Müller", "mueller"),
    ],
)
def test_word_search_wildcards_are_literal(
    db: Database, zhang: dict, stored: str, query: str
) -> None:
    add_entry(db, zhang, title=stored)
    assert listed(db, LogFilters(words=query)) == []


def test_word_search_finds_content(db: Database, zhang: dict) -> None:
    add_entry(db, zhang, title="Visit", content="Ｓａｍｐｌｅ SHIPPED\n第二行")
    assert listed(db, LogFilters(words="sample 第二行")) == ["Visit"]


def test_word_search_skips_title_content_seam(db: Database, zhang: dict) -> None:
    add_entry(db, zhang, title="abc", content="def")
    assert listed(db, LogFilters(words="cd")) == []


def test_edit_rewrites_search_text(db: Database, zhang: dict) -> None:
    entry_id = add_entry(db, zhang, title="Old words", follow_up_on="2024-03-20")
    edit_follow_up(db, zhang, entry_id, "2024-03-20")
    raw = {
        "contact_id": str(zhang["id"]),
        "occurred_at": "2024-03-15T10:30",
        "title": "Ｎｅｗ words",
    }
    entry = log_service.parse_entry(db, raw, zone=SHANGHAI)
    log_service.update_entry(
        db, entry_id, entry, version=2, owner="Test", zone=SHANGHAI
    )
    assert listed(db, LogFilters(words="old")) == []
    assert listed(db, LogFilters(words="new")) == ["Ｎｅｗ words"]


def test_write_without_search_text_fails(db: Database, zhang: dict) -> None:
    entry_id = add_entry(db, zhang)
    with pytest.raises(log_data.StaleSearchTextError):
        db.write(lambda db: log_data.update_log(db, entry_id, {"title": "Bypass"}))
    assert listed(db) == ["Price call"]


def day_numbers(entries: list[dict[str, Any]]) -> list[int]:
    return [int(e["title"].split()[1]) for e in entries]


@pytest.mark.parametrize("window", [2, 4, 5000])
@pytest.mark.parametrize(
    ("words", "days"),
    [("alpha", [6, 5, 4, 3, 2, 1]), ("rare", [1]), ("even", [6, 4, 2])],
)
def test_word_search_window_finds_all(
    db: Database,
    zhang: dict,
    monkeypatch: pytest.MonkeyPatch,
    window: int,
    words: str,
    days: list[int],
) -> None:
    monkeypatch.setattr(log_data, "WORD_SEARCH_WINDOW", window)
    for day in range(1, 7):
        title = f"Alpha {day}" + (" even" if day % 2 == 0 else "")
        title += " rare" if day == 1 else ""
        add_entry(db, zhang, occurred_at=f"2024-03-0{day}T09:00", title=title)
    filters = LogFilters(words=words)
    first = log_service.list_entries(db, filters, zone=SHANGHAI, offset=0, limit=2)
    everything = log_service.list_entries(
        db, filters, zone=SHANGHAI, offset=0, limit=10
    )
    assert day_numbers(first.entries) == days[:2]
    assert first.total == len(days)
    assert day_numbers(everything.entries) == days


@pytest.mark.parametrize("window", [1, 5000])
def test_word_search_neighbours_skip_window(
    db: Database, zhang: dict, monkeypatch: pytest.MonkeyPatch, window: int
) -> None:
    monkeypatch.setattr(log_data, "WORD_SEARCH_WINDOW", window)
    oldest = add_entry(db, zhang, occurred_at="2024-03-01T09:00", title="Ping")
    for day in range(2, 6):
        add_entry(db, zhang, occurred_at=f"2024-03-0{day}T09:00", title="Other")
    newest = add_entry(db, zhang, occurred_at="2024-03-06T09:00", title="PING")
    filters = LogFilters(words="ping")
    rows = {
        entry_id: log_service.require_entry(db, entry_id)
        for entry_id in (oldest, newest)
    }
    assert log_service.neighbours(db, filters, rows[newest], zone=SHANGHAI) == (
        None,
        oldest,
    )
    assert log_service.neighbours(db, filters, rows[oldest], zone=SHANGHAI) == (
        newest,
        None,
    )


# --- counting up to a cap ---------------------------------------------------


@pytest.fixture
def six(db: Database, zhang: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """Six entries, one a day from 1 March, with the count capped at 3."""
    monkeypatch.setattr(log_service, "COUNT_CAP", 3)
    for day in range(1, 7):
        add_entry(db, zhang, occurred_at=f"2024-03-0{day}T09:00", title=f"E{day}")


def page_of(db: Database, offset: int, limit: int = 2) -> log_service.LogPage:
    return log_service.list_entries(
        db, LogFilters(), zone=SHANGHAI, offset=offset, limit=limit
    )


@pytest.mark.usefixtures("six")
@pytest.mark.parametrize(
    ("offset", "titles", "total", "capped", "has_next"),
    [
        (0, ["E6", "E5"], 3, True, True),
        (2, ["E4", "E3"], 3, True, True),
        (4, ["E2", "E1"], 6, False, False),
        (6, [], 3, True, False),
    ],
)
def test_list_counts_up_to_cap(
    db: Database,
    offset: int,
    titles: list[str],
    total: int,
    capped: bool,
    has_next: bool,
) -> None:
    page = page_of(db, offset)
    assert [e["title"] for e in page.entries] == titles
    assert page.total == total
    assert page.is_total_capped is capped
    assert page.has_next is has_next


@pytest.mark.usefixtures("six")
def test_list_counts_exactly_below_cap(db: Database) -> None:
    page = log_service.list_entries(
        db, LogFilters(words="e1 "), zone=SHANGHAI, offset=0, limit=1
    )
    assert (page.total, page.is_total_capped, page.has_next) == (1, False, False)


@pytest.mark.usefixtures("six")
def test_count_logs_stops_past_cap(db: Database) -> None:
    assert log_data.count_logs(db, log_data.LogQuery(), cap=3) == 4
    assert log_data.count_logs(db, log_data.LogQuery()) == 6


# --- export and import of the done flag -------------------------------------


@pytest.fixture
def follow_ups(db: Database, zhang: dict) -> None:
    """Three entries: follow-up done, follow-up open, no follow-up."""
    done = add_entry(db, zhang, occurred_at="2024-03-03T09:00", title="Done one",
                     follow_up_on="2024-03-10")  # fmt: skip
    log_service.set_follow_up_done(db, done, done=True)
    add_entry(db, zhang, occurred_at="2024-03-02T09:00", title="Open one",
              follow_up_on="2024-03-09")  # fmt: skip
    add_entry(db, zhang, occurred_at="2024-03-01T09:00", title="No follow-up")


def done_flags(db: Database) -> dict[str, bool]:
    page = log_service.list_entries(db, LogFilters(), zone=SHANGHAI, offset=0, limit=9)
    return {e["title"]: e["follow_up_done"] for e in page.entries}


@pytest.mark.usefixtures("follow_ups")
def test_export_writes_follow_up_done(db: Database, tmp_path: Path) -> None:
    sheet = openpyxl.load_workbook(export_file(db, tmp_path, "xlsx")).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0][-2:] == ["Follow up on", "Follow-up done"]
    assert [row[-1] for row in rows[1:]] == ["Yes", "No", None]


@pytest.mark.usefixtures("follow_ups")
@pytest.mark.parametrize("kind", ["xlsx", "txt"])
def test_import_restores_follow_up_done(
    db: Database, tmp_path: Path, kind: str
) -> None:
    path = export_file(db, tmp_path, kind)
    for row in log_data.find_recent(db, 10):
        log_service.set_deleted(db, row["id"], deleted=True)
    summary = run_import(db, path, tmp_path)
    assert summary.inserted == 3
    assert done_flags(db) == {
        "Done one": True,
        "Open one": False,
        "No follow-up": False,
    }


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("是", True), ("√", True), ("YES", True), (1, True), (True, True),
     ("否", False), ("no", False), (0, False), ("", False), (None, False)],
)  # fmt: skip
def test_import_reads_follow_up_done(
    db: Database, zhang: dict, tmp_path: Path, cell: Any, expected: bool
) -> None:
    path = tmp_path / "log.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["日期", "手机", "标题", "跟进日期", "已跟进"])
    book.active.append([datetime(2024, 3, 1, 9, 0), "13812345678", "Hello",
                        date(2024, 3, 8), cell])  # fmt: skip
    book.save(path)
    summary = run_import(db, path, tmp_path)
    assert (summary.inserted, summary.rejected) == (1, 0)
    assert done_flags(db) == {"Hello": expected}


def test_import_rejects_unclear_follow_up_done(
    db: Database, zhang: dict, tmp_path: Path
) -> None:
    path = tmp_path / "log.txt"
    path.write_text(
        "Date and time\tMobile\tTitle\tFollow-up done\n"
        "2024-03-01 09:00\t13812345678\tHello\tmaybe\n",
        encoding="utf-8",
    )
    summary = run_import(db, path, tmp_path)
    assert (summary.inserted, summary.rejected) == (0, 1)
    assert "Follow-up done “maybe” is not yes or no" in summary.rejected_reasons[0]


def test_import_without_done_column_stores_open(
    db: Database, zhang: dict, tmp_path: Path
) -> None:
    path = tmp_path / "log.txt"
    path.write_text(
        "Date and time\tMobile\tTitle\tFollow up on\n"
        "2024-03-01 09:00\t13812345678\tMÜLLER call\t2024-03-08\n",
        encoding="utf-8",
    )
    assert run_import(db, path, tmp_path).inserted == 1
    assert done_flags(db) == {"MÜLLER call": False}
    assert listed(db, LogFilters(words="müller")) == ["MÜLLER call"]


# --- schema upgrade 5 -------------------------------------------------------


def version_4_comm_logs() -> Table:
    """Return comm_logs as schema version 4 left it: no done flag, no search text."""
    return Table(
        "comm_logs",
        MetaData(),
        *schema.record_columns(),
        Column("contact_uuid", String(36), nullable=False),
        Column("occurred_at", DateTime, nullable=False),
        Column("channel", String(20), nullable=False),
        Column("title", String(200), nullable=False, default=""),
        Column("content", Text, nullable=False, default=""),
        Column("follow_up_on", Date, nullable=True),
        Column("appointment_uuid", String(36), nullable=True),
        **schema.MYSQL_TABLE,
    )


def create_version_4_daily_tables(conn: Connection) -> None:
    version_4_comm_logs().create(conn)
    schema.metadata.create_all(
        conn, tables=[schema.sales, schema.pick_lists, schema.appointments]
    )


def old_entry(title: str, content: str) -> dict[str, Any]:
    return {
        **new_record("Test"),
        "contact_uuid": "c0ffee00-0000-4000-8000-000000000000",
        "occurred_at": datetime(2024, 3, 1, 1, 0),
        "channel": "email",
        "title": title,
        "content": content,
        "follow_up_on": date(2024, 3, 8),
        "appointment_uuid": None,
    }


def test_upgrade_5_keeps_entries_and_fills_search(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before_5 = [(v, step) for v, step in schema.UPGRADES if v < 5]
    before_5[1] = (2, create_version_4_daily_tables)
    monkeypatch.setattr(schema, "UPGRADES", before_5)
    old = connect(database_url)
    rows = [
        old_entry("ＭÜＬＬＥＲ quote", "第一行\n第二行 😀"),
        old_entry("", "100% paid"),
    ]
    old.write(lambda db: db.execute(version_4_comm_logs().insert(), rows))
    old.release()
    old.close()
    monkeypatch.undo()

    upgraded = connect(database_url)
    try:
        table = schema.comm_logs
        stored = [
            row._mapping for row in upgraded.execute(select(table).order_by(table.c.id))
        ]
        assert [(r["title"], r["content"]) for r in stored] == [
            ("ＭÜＬＬＥＲ quote", "第一行\n第二行 😀"),
            ("", "100% paid"),
        ]
        assert [r["follow_up_on"] for r in stored] == [date(2024, 3, 8)] * 2
        assert [r["follow_up_done"] for r in stored] == [False, False]
        assert stored[1]["search_text"] == "100% paid"
        assert listed(upgraded, LogFilters(words="muller")) == ["ＭÜＬＬＥＲ quote"]
        due = log_data.find_follow_ups_due(upgraded, on_or_before=date(2024, 3, 8))
        assert len(due) == 2
    finally:
        upgraded.release()
        upgraded.close()


def test_upgrade_5_runs_twice(db: Database) -> None:
    with db.ds.engine.begin() as conn:
        schema._comm_log_follow_up_done_and_search_text(conn)
    columns = inspect(db.ds.engine).get_columns("comm_logs")
    assert {"follow_up_done", "search_text"} <= {c["name"] for c in columns}
