"""Sharing of sales records, log entries and listed contacts, on both backends.

The services are called as Lily, Tom (users) or Admin; what each can see
afterwards is read with the same visibility conditions the pages use.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from builders import make_xlsx
from sqlalchemy import Table, select

from crm_web.data import preferences as preference_data
from crm_web.data import users as user_data
from crm_web.data import visibility
from crm_web.data.db import Database
from crm_web.data.schema import comm_logs, contacts, sales
from crm_web.data.visibility import Viewer
from crm_web.errors import InvalidValueError, SharingSelectionChangedError
from crm_web.services import accounts, sales_io, sharing
from crm_web.services import comm_log as log_service
from crm_web.services import comm_log_files as log_files
from crm_web.services import contacts as contact_service
from crm_web.services import sales as sale_service
from crm_web.services.accounts import CurrentUser
from crm_web.services.importing import pipeline
from crm_web.services.preferences import save_preferences
from crm_web.services.search import Filters
from crm_web.services.sharing import NotYourRecordError, ShareChoice

SHANGHAI = ZoneInfo("Asia/Shanghai")
ADMIN = CurrentUser("admin-uuid", "Admin", "admin")
LILY = CurrentUser("lily-uuid", "Lily", "user")
TOM = CurrentUser("tom-uuid", "Tom", "user")
EVERYONE = ShareChoice(everyone=True)


@pytest.fixture
def team(db: Database) -> Database:
    """The database with users Lily and Tom besides Admin."""
    for name in ("Lily", "Tom"):
        accounts.create_user(db, name, "a good password", "user", by="test")
    return db


def seen_by(db: Database, table: Table, name: str) -> set[str]:
    """Return the uuids of ``table`` rows that user ``name`` may see."""
    condition = (
        visibility.visible(contacts, Viewer(name))
        if table is contacts
        else visibility.visible_about_contact(table, Viewer(name))
    )
    return set(db.execute(select(table.c.uuid).where(condition)).scalars())


def revision_of(db: Database, table: Table, uuid: str) -> int:
    query = select(table.c.revision).where(table.c.uuid == uuid)
    return int(db.execute(query).scalar_one())


def last_audit(db: Database) -> dict[str, Any]:
    rows, _total = user_data.find_audit(db, action="shared")
    return rows[0]


def add_contact(db: Database, name: str, owner: str, **values: str) -> str:
    contact = contact_service.parse_form({"name": name, **values})
    contact_id = contact_service.create_contact(
        db, contact, owner=owner, region="CN", allow_duplicate=True
    )
    return str(contact_service.require_contact(db, contact_id)["uuid"])


def add_sale(db: Database, owner: str, contact_uuid: str = "") -> int:
    sale = sale_service.parse_form(
        {"sold_on": "2026-03-15", "item": "钢管", "contact_uuid": contact_uuid}
    )
    return sale_service.create_sale(db, sale, owner=owner)


def sale_uuid(db: Database, sale_id: int) -> str:
    return str(sale_service.require_sale(db, sale_id)["uuid"])


def add_entry(db: Database, owner: str, contact_name: str = "莉莉的客户") -> int:
    contact_uuid = add_contact(db, contact_name, owner)
    raw = {
        "contact_uuid": contact_uuid,
        "contact": contact_name,
        "occurred_at": "2026-03-15T10:30",
        "title": "询价",
    }
    entry = log_service.parse_entry(db, raw, zone=SHANGHAI)
    return log_service.create_entry(db, entry, owner=owner, zone=SHANGHAI)


def entry_uuid(db: Database, entry_id: int) -> str:
    return str(log_service.require_entry(db, entry_id)["uuid"])


def remember_network_users(db: Database, names: list[str]) -> None:
    value = json.dumps(names, ensure_ascii=False)
    db.write(lambda db: preference_data.upsert_preference(db, "network_users", value))


# --- a sales record's own sharing ----------------------------------------------


def test_sale_shared_with_everyone_is_seen(team: Database) -> None:
    sale_id = add_sale(team, "Lily")
    sharing.set_sale_sharing(team, sale_id, by=LILY, choice=EVERYONE)
    assert sale_uuid(team, sale_id) in seen_by(team, sales, "Tom")


def test_private_sale_is_not_seen(team: Database) -> None:
    sale_id = add_sale(team, "Lily")
    assert sale_uuid(team, sale_id) not in seen_by(team, sales, "Tom")


def test_sale_sharing_bumps_revision(team: Database) -> None:
    sale_id = add_sale(team, "Lily")
    before = revision_of(team, sales, sale_uuid(team, sale_id))
    sharing.set_sale_sharing(team, sale_id, by=LILY, choice=EVERYONE)
    assert revision_of(team, sales, sale_uuid(team, sale_id)) > before


def test_sale_sharing_is_audited(team: Database) -> None:
    sale_id = add_sale(team, "Lily")
    sharing.set_sale_sharing(team, sale_id, by=LILY, choice=ShareChoice(users=("Tom",)))
    entry = last_audit(team)
    assert (entry["user"], entry["target"], entry["detail"]) == (
        "Lily",
        "sales record 2026-03-15 钢管",
        "Tom",
    )


def test_sale_sharing_made_private_again(team: Database) -> None:
    sale_id = add_sale(team, "Lily")
    sharing.set_sale_sharing(team, sale_id, by=LILY, choice=EVERYONE)
    sharing.set_sale_sharing(team, sale_id, by=LILY, choice=ShareChoice())
    assert sale_uuid(team, sale_id) not in seen_by(team, sales, "Tom")


def test_sale_sharing_by_other_user_rejected(team: Database) -> None:
    sale_id = add_sale(team, "Lily")
    with pytest.raises(NotYourRecordError):
        sharing.set_sale_sharing(team, sale_id, by=TOM, choice=EVERYONE)
    assert sale_uuid(team, sale_id) not in seen_by(team, sales, "Tom")


def test_sale_sharing_by_admin_allowed(team: Database) -> None:
    sale_id = add_sale(team, "Lily")
    sharing.set_sale_sharing(
        team, sale_id, by=ADMIN, choice=ShareChoice(users=("Tom",))
    )
    assert sale_uuid(team, sale_id) in seen_by(team, sales, "Tom")


def test_sale_follows_shared_contact(team: Database) -> None:
    contact = add_contact(team, "莉莉的客户", "Lily")
    sale_id = add_sale(team, "Lily", contact)
    team.write(lambda db: visibility.set_shares(db, [contact], ["Tom"]))
    assert sale_uuid(team, sale_id) in seen_by(team, sales, "Tom")


# --- a log entry's own sharing ---------------------------------------------------


def test_entry_shared_with_user_is_seen(team: Database) -> None:
    entry_id = add_entry(team, "Lily")
    choice = ShareChoice(users=("Tom",))
    sharing.set_entry_sharing(team, entry_id, by=LILY, choice=choice)
    assert entry_uuid(team, entry_id) in seen_by(team, comm_logs, "Tom")


def test_entry_sharing_leaves_contact_private(team: Database) -> None:
    entry_id = add_entry(team, "Lily")
    sharing.set_entry_sharing(team, entry_id, by=LILY, choice=EVERYONE)
    contact = log_service.require_entry(team, entry_id)["contact_uuid"]
    assert contact not in seen_by(team, contacts, "Tom")


def test_entry_sharing_bumps_revision(team: Database) -> None:
    entry_id = add_entry(team, "Lily")
    before = revision_of(team, comm_logs, entry_uuid(team, entry_id))
    sharing.set_entry_sharing(team, entry_id, by=LILY, choice=EVERYONE)
    assert revision_of(team, comm_logs, entry_uuid(team, entry_id)) > before


def test_entry_sharing_is_audited(team: Database) -> None:
    entry_id = add_entry(team, "Lily")
    sharing.set_entry_sharing(team, entry_id, by=LILY, choice=EVERYONE)
    entry = last_audit(team)
    assert (entry["user"], entry["target"], entry["detail"]) == (
        "Lily",
        "log entry 询价",
        "everyone",
    )


def test_entry_sharing_by_other_user_rejected(team: Database) -> None:
    entry_id = add_entry(team, "Lily")
    with pytest.raises(NotYourRecordError):
        sharing.set_entry_sharing(team, entry_id, by=TOM, choice=EVERYONE)


def test_entry_shared_with_network_user(team: Database) -> None:
    remember_network_users(team, ["王五"])
    entry_id = add_entry(team, "Lily")
    choice = ShareChoice(users=("王五",))
    sharing.set_entry_sharing(team, entry_id, by=LILY, choice=choice)
    assert entry_uuid(team, entry_id) in seen_by(team, comm_logs, "王五")


def test_entry_shared_with_unknown_user_rejected(team: Database) -> None:
    entry_id = add_entry(team, "Lily")
    with pytest.raises(InvalidValueError):
        sharing.set_entry_sharing(
            team, entry_id, by=LILY, choice=ShareChoice(users=("Nobody",))
        )


def test_contact_sharing_bumps_revision(team: Database) -> None:
    uuid = add_contact(team, "莉莉的客户", "Lily")
    contact_id = team.execute(select(contacts.c.id).where(contacts.c.uuid == uuid))
    before = revision_of(team, contacts, uuid)
    sharing.set_contact_sharing(
        team, int(contact_id.scalar_one()), by=LILY, everyone=True, users=[]
    )
    assert revision_of(team, contacts, uuid) > before


# --- who can be chosen ---------------------------------------------------------


def test_known_users_are_local_users(team: Database) -> None:
    assert sharing.known_share_users(team, me="Lily") == ["Admin", "Tom"]


def test_known_users_add_network_users(team: Database) -> None:
    remember_network_users(team, ["王五", "Tom", "Zoe"])
    assert sharing.known_share_users(team, me="Lily") == [
        "Admin",
        "Tom",
        "Zoe",
        "王五",
    ]


def test_known_users_leave_out_me(team: Database) -> None:
    remember_network_users(team, ["Lily", "Zoe"])
    assert "Lily" not in sharing.known_share_users(team, me="Lily")


def test_known_users_empty_for_single_user(db: Database) -> None:
    assert sharing.known_share_users(db, me="Admin") == []


def test_known_users_ignore_broken_preference(team: Database) -> None:
    team.write(lambda db: preference_data.upsert_preference(db, "network_users", "{"))
    assert sharing.known_share_users(team, me="Lily") == ["Admin", "Tom"]


# --- share_default ---------------------------------------------------------------


def share_everything(db: Database) -> None:
    save_preferences(db, {"share_default": "everyone"})


def test_new_contact_private_by_default(team: Database) -> None:
    uuid = add_contact(team, "莉莉的客户", "Lily")
    assert uuid not in seen_by(team, contacts, "Tom")


def test_new_contact_shared_by_default(team: Database) -> None:
    share_everything(team)
    uuid = add_contact(team, "莉莉的客户", "Lily")
    assert uuid in seen_by(team, contacts, "Tom")


def test_new_sale_shared_by_default(team: Database) -> None:
    share_everything(team)
    sale_id = add_sale(team, "Lily")
    assert sale_uuid(team, sale_id) in seen_by(team, sales, "Tom")


def test_new_entry_shared_by_default(team: Database) -> None:
    share_everything(team)
    entry_id = add_entry(team, "Lily")
    assert entry_uuid(team, entry_id) in seen_by(team, comm_logs, "Tom")


def test_imported_contacts_shared_by_default(team: Database, tmp_path: Path) -> None:
    share_everything(team)
    path = make_xlsx(
        tmp_path / "list.xlsx", [["姓名", "手机"], ["导入客户", "13800000001"]]
    )
    pipeline.import_file(
        team, path, owner="Lily", region="CN", work_dir=tmp_path / "work"
    )
    names = set(
        team.execute(
            select(contacts.c.name).where(visibility.visible(contacts, Viewer("Tom")))
        ).scalars()
    )
    assert names == {"导入客户"}


def test_imported_contacts_private_by_default(team: Database, tmp_path: Path) -> None:
    path = make_xlsx(
        tmp_path / "list.xlsx", [["姓名", "手机"], ["导入客户", "13800000001"]]
    )
    pipeline.import_file(
        team, path, owner="Lily", region="CN", work_dir=tmp_path / "work"
    )
    assert seen_by(team, contacts, "Tom") == set()


def test_undone_import_leaves_no_shares(team: Database, tmp_path: Path) -> None:
    share_everything(team)
    path = make_xlsx(
        tmp_path / "list.xlsx", [["姓名", "手机"], ["导入客户", "13800000001"]]
    )
    summary = pipeline.import_file(
        team, path, owner="Lily", region="CN", work_dir=tmp_path / "work"
    )
    pipeline.undo_import(team, summary.import_uuid or "", region="CN")
    assert visibility.shared_uuids(team, Viewer("Tom")) == set()


def test_imported_sales_shared_by_default(team: Database, tmp_path: Path) -> None:
    share_everything(team)
    path = make_xlsx(
        tmp_path / "sales.xlsx",
        [["日期", "商品", "数量", "单价"], [datetime.date(2026, 3, 1), "钢管", 2, 10]],
    )
    plan = sales_io.plan_import(path, filename=path.name, custom_labels={})
    summary = sales_io.import_sales(
        team,
        plan,
        owner="Lily",
        region="CN",
        default_currency="CNY",
        work_dir=tmp_path,
    )
    assert summary.inserted == 1
    assert len(seen_by(team, sales, "Tom")) == 1


def test_imported_entries_shared_by_default(team: Database, tmp_path: Path) -> None:
    add_contact(team, "张小明", "Admin", mobile="13812345678")
    share_everything(team)
    path = make_xlsx(
        tmp_path / "log.xlsx",
        [
            ["日期", "手机", "标题", "内容"],
            [datetime.datetime(2026, 3, 1, 9, 0), "13812345678", "回访", "ok"],
        ],
    )
    plan = log_files.plan_log_import(path)
    summary = log_files.import_log_file(
        team,
        plan,
        owner="Lily",
        region="CN",
        zone=SHANGHAI,
        work_dir=tmp_path / "work",
        name="log",
    )
    assert summary.inserted == 1
    assert len(seen_by(team, comm_logs, "Tom")) == 1


# --- every contact of a list ---------------------------------------------------


@pytest.fixture
def listed(team: Database) -> dict[str, str]:
    """Return Lily's three contacts and Tom's one, which he shared with her."""
    uuids = {
        "莉莉一": add_contact(team, "莉莉一", "Lily", city="宁波"),
        "莉莉二": add_contact(team, "莉莉二", "Lily", city="宁波"),
        "莉莉杭州": add_contact(team, "莉莉杭州", "Lily", city="杭州"),
        "汤姆宁波": add_contact(team, "汤姆宁波", "Tom", city="宁波"),
    }
    tom = uuids["汤姆宁波"]
    team.write(lambda db: visibility.set_shares(db, [tom], ["Lily"]))
    return uuids


NINGBO = Filters(city="宁波")


def test_bulk_plan_counts_changes(team: Database, listed: dict[str, str]) -> None:
    plan = sharing.plan_bulk_sharing(team, "", NINGBO, by=LILY, choice=EVERYONE)
    assert (plan.matched, plan.changed, plan.unchanged, plan.skipped) == (3, 2, 0, 1)


def test_bulk_plan_changes_nothing(team: Database, listed: dict[str, str]) -> None:
    sharing.plan_bulk_sharing(team, "", NINGBO, by=LILY, choice=EVERYONE)
    assert seen_by(team, contacts, "Tom") == {listed["汤姆宁波"]}


def test_bulk_shares_own_listed_contacts(
    team: Database, listed: dict[str, str]
) -> None:
    sharing.share_listed_contacts(
        team, "", NINGBO, by=LILY, choice=EVERYONE, expected=2
    )
    assert seen_by(team, contacts, "Tom") == {
        listed["莉莉一"],
        listed["莉莉二"],
        listed["汤姆宁波"],
    }


def test_bulk_leaves_others_contacts(team: Database, listed: dict[str, str]) -> None:
    sharing.share_listed_contacts(
        team, "", NINGBO, by=LILY, choice=ShareChoice(), expected=0
    )
    assert visibility.shares_of(team, [listed["汤姆宁波"]]) == {
        listed["汤姆宁波"]: ["Lily"]
    }


def test_bulk_reports_counts(team: Database, listed: dict[str, str]) -> None:
    done = sharing.share_listed_contacts(
        team, "", NINGBO, by=LILY, choice=EVERYONE, expected=2
    )
    assert (done.matched, done.changed, done.unchanged, done.skipped) == (3, 2, 0, 1)


def test_bulk_bumps_changed_revisions(team: Database, listed: dict[str, str]) -> None:
    before = {name: revision_of(team, contacts, u) for name, u in listed.items()}
    sharing.share_listed_contacts(
        team, "", NINGBO, by=LILY, choice=EVERYONE, expected=2
    )
    moved = {
        name
        for name, uuid in listed.items()
        if revision_of(team, contacts, uuid) > before[name]
    }
    assert moved == {"莉莉一", "莉莉二"}


def test_bulk_is_audited(team: Database, listed: dict[str, str]) -> None:
    sharing.share_listed_contacts(
        team, "", NINGBO, by=LILY, choice=ShareChoice(users=("Tom",)), expected=2
    )
    entry = last_audit(team)
    assert (entry["user"], entry["target"]) == ("Lily", "2 contacts")
    assert entry["detail"] == "Tom; skipped=1; query=; filters=city=宁波"


def test_bulk_counts_unchanged(team: Database, listed: dict[str, str]) -> None:
    sharing.share_listed_contacts(
        team, "", NINGBO, by=LILY, choice=EVERYONE, expected=2
    )
    plan = sharing.plan_bulk_sharing(team, "", Filters(), by=LILY, choice=EVERYONE)
    assert (plan.changed, plan.unchanged, plan.skipped) == (1, 2, 1)


def test_bulk_admin_shares_all(team: Database, listed: dict[str, str]) -> None:
    done = sharing.share_listed_contacts(
        team, "", NINGBO, by=ADMIN, choice=EVERYONE, expected=3
    )
    assert (done.changed, done.skipped) == (3, 0)


def test_bulk_never_shares_with_owner(team: Database, listed: dict[str, str]) -> None:
    choice = ShareChoice(users=("Lily", "Tom"))
    # Tom's contact is shared with Lily already, so two contacts change.
    sharing.share_listed_contacts(team, "", NINGBO, by=ADMIN, choice=choice, expected=2)
    assert visibility.shares_of(team, [listed["汤姆宁波"], listed["莉莉一"]]) == {
        listed["汤姆宁波"]: ["Lily"],
        listed["莉莉一"]: ["Tom"],
    }


def test_bulk_with_stale_count_rejected(team: Database, listed: dict[str, str]) -> None:
    with pytest.raises(SharingSelectionChangedError):
        sharing.share_listed_contacts(
            team, "", NINGBO, by=LILY, choice=EVERYONE, expected=5
        )


def test_bulk_with_stale_count_changes_nothing(
    team: Database, listed: dict[str, str]
) -> None:
    with pytest.raises(SharingSelectionChangedError):
        sharing.share_listed_contacts(
            team, "", NINGBO, by=LILY, choice=EVERYONE, expected=5
        )
    assert seen_by(team, contacts, "Tom") == {listed["汤姆宁波"]}


def test_bulk_follows_smart_query(team: Database, listed: dict[str, str]) -> None:
    sharing.share_listed_contacts(
        team, "莉莉二", Filters(), by=LILY, choice=EVERYONE, expected=1
    )
    assert seen_by(team, contacts, "Tom") == {listed["莉莉二"], listed["汤姆宁波"]}
