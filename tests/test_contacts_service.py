"""Contact service rules, on SQLite and on MariaDB."""

from __future__ import annotations

from datetime import date

import pytest

from crm_web.data import contacts as contact_data
from crm_web.data.db import Database
from crm_web.errors import VersionConflictError
from crm_web.services import categories as category_service
from crm_web.services import contacts as service
from crm_web.services.contacts import ContactInvalidError, DuplicateContactError


def add(db: Database, **values: str) -> int:
    return service.create_contact(
        db, service.parse_form(values), owner="Admin", region="CN", allow_duplicate=True
    )


def test_create_stores_text_exactly(db: Database) -> None:
    contact_id = add(
        db,
        name="张小明",
        mobile="00155 5550 0102",
        postcode="010020",
        qq="0123456789",
        notes="第一行\n第二行 😀",
    )
    row = contact_data.get_contact(db, contact_id)
    assert row is not None
    assert row["mobile"] == "00155 5550 0102"
    assert row["postcode"] == "010020"
    assert row["qq"] == "0123456789"
    assert row["notes"] == "第一行\n第二行 😀"


def test_create_sets_record_columns(db: Database) -> None:
    row = contact_data.get_contact(db, add(db, name="Bob"))
    assert row is not None
    assert len(row["uuid"]) == 36
    assert row["version"] == 1
    assert row["owner"] == "Admin"
    assert row["deleted"] is False
    assert row["created_at"] == row["updated_at"]


def test_create_keeps_gb18030_only_character(db: Database) -> None:
    row = contact_data.get_contact(db, add(db, name="𠀀明"))
    assert row is not None
    assert row["name"] == "𠀀明"


def test_parse_form_requires_name_or_company() -> None:
    with pytest.raises(ContactInvalidError) as caught:
        service.parse_form({"email": "a@b.cn"})
    assert "name" in caught.value.errors


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "not-an-email"),
        ("birthday", "31/31/2020"),
        ("name", "x" * 201),
    ],
)
def test_parse_form_rejects_bad_value_naming_it(field: str, value: str) -> None:
    with pytest.raises(ContactInvalidError) as caught:
        service.parse_form({"name": "A", field: value})
    assert field in caught.value.errors


def test_parse_form_parses_birthday_text() -> None:
    parsed = service.parse_form({"name": "A", "birthday": "1990年3月15日"})
    assert parsed.values["birthday"] == date(1990, 3, 15)


def test_duplicate_phone_in_other_format_is_reported(db: Database) -> None:
    add(db, name="张小明", mobile="+86 155-5550-0102")
    typed = service.parse_form({"name": "Zhang", "phone": "15555500102"})
    with pytest.raises(DuplicateContactError) as caught:
        service.create_contact(db, typed, owner="Admin", region="CN")
    assert caught.value.matches[0]["name"] == "张小明"


def test_duplicate_email_ignores_case(db: Database) -> None:
    add(db, name="A", email="Sales@Example.COM")
    typed = service.parse_form({"name": "B", "email": "sales@example.com"})
    with pytest.raises(DuplicateContactError):
        service.create_contact(db, typed, owner="Admin", region="CN")


def test_update_with_stale_version_is_refused(db: Database) -> None:
    contact_id = add(db, name="A")
    form = service.parse_form({"name": "B"})
    service.update_contact(db, contact_id, form, version=1, region="CN")
    with pytest.raises(VersionConflictError):
        service.update_contact(
            db, contact_id, service.parse_form({"name": "C"}), version=1, region="CN"
        )
    row = contact_data.get_contact(db, contact_id)
    assert row is not None
    assert row["name"] == "B"
    assert row["version"] == 2


def test_delete_and_restore(db: Database) -> None:
    contact_id = add(db, name="A")
    service.set_deleted(db, contact_id, deleted=True)
    assert contact_data.count_deleted(db) == 1
    service.set_deleted(db, contact_id, deleted=False)
    assert contact_data.count_deleted(db) == 0


def test_merge_keeps_every_non_empty_field(db: Database) -> None:
    target = add(db, name="张小明", mobile="15555500102", city="宁波", tags="VIP")
    source = add(
        db,
        name="Zhang Xiaoming",
        email="z@example.com",
        city="杭州",
        tags="展会",
        notes="老客户",
    )
    service.merge_contacts(db, target_id=target, source_id=source, region="CN")
    merged = contact_data.get_contact(db, target)
    gone = contact_data.get_contact(db, source)
    assert merged is not None and gone is not None
    assert merged["email"] == "z@example.com"
    assert merged["city"] == "宁波"
    assert "杭州" in merged["notes"]
    assert "Zhang Xiaoming" in merged["notes"]
    assert "老客户" in merged["notes"]
    assert merged["tags"] == "VIP, 展会"
    assert gone["deleted"] is True
    assert gone["merged_into"] == merged["uuid"]


def test_category_delete_moves_contacts(db: Database) -> None:
    old = category_service.create_category(db, "展会", owner="Admin")
    new = category_service.create_category(db, "经销商", owner="Admin")
    contact_id = add(db, name="A", category_uuid=old)
    moved = category_service.delete_category(db, old, move_to=new)
    row = contact_data.get_contact(db, contact_id)
    assert moved == 1
    assert row is not None
    assert row["category_uuid"] == new
    assert [c["name"] for c in category_service.list_categories(db)] == ["经销商"]


def test_category_names_unique_ignoring_case(db: Database) -> None:
    category_service.create_category(db, "VIP", owner="Admin")
    with pytest.raises(Exception, match="already exists"):
        category_service.create_category(db, "vip", owner="Admin")


def test_category_counts(db: Database) -> None:
    vip = category_service.create_category(db, "VIP", owner="Admin")
    add(db, name="A", category_uuid=vip)
    add(db, name="B", category_uuid=vip)
    add(db, name="C")
    counts = {c["name"]: c["count"] for c in category_service.list_categories(db)}
    assert counts == {"VIP": 2}
    assert category_service.count_uncategorised(db) == 1


def test_merge_moves_log_entries(db: Database) -> None:
    from zoneinfo import ZoneInfo

    from crm_web.services import comm_log

    zone = ZoneInfo("Asia/Shanghai")
    target = add(db, name="张小明", mobile="15555500102")
    source = add(db, name="Zhang")
    entry = comm_log.parse_entry(
        db, {"contact_id": str(source),
             "occurred_at": "2026-12-01T10:00", "channel": "phone",
             "title": "报价"}, zone=zone)
    comm_log.create_entry(db, entry, owner="Admin", zone=zone)
    service.merge_contacts(db, target_id=target, source_id=source, region="CN")
    target_uuid = contact_data.get_contact(db, target)["uuid"]  # type: ignore[index]
    rows = db.query("SELECT contact_uuid FROM comm_logs")
    assert rows == [{"contact_uuid": target_uuid}]
