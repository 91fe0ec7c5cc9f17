"""The sync engine: two terminals (SQLite files) and one MariaDB server.

Lily and Tom each have a terminal; Boss is the server's admin. Records
are created through the services, as the pages create them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from crm_web.data import users as user_data
from crm_web.data import visibility
from crm_web.data.db import Database, connect
from crm_web.data.preferences import upsert_preference
from crm_web.data.records import next_revision
from crm_web.data.schema import (
    audit_log,
    comm_logs,
    contacts,
    record_shares,
    sales,
    sync_history,
)
from crm_web.errors import NetworkUserDisabledError, SyncNotAllowedError
from crm_web.services import accounts, network, search, sharing, sync, sync_conflicts
from crm_web.services import categories as category_service
from crm_web.services import comm_log as log_service
from crm_web.services import contacts as contact_service
from crm_web.services import sales as sale_service
from crm_web.services.network_user import NetworkUser

pytestmark = pytest.mark.mysql

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def server(mysql_url: str) -> Iterator[Database]:
    database = connect(mysql_url)

    def work(db: Database) -> None:
        upsert_preference(db, sync.SERVER_PREFERENCE, str(uuid.uuid4()))
        for name, role in (("lily", "user"), ("tom", "user"), ("boss", "admin")):
            user_data.insert_user(
                db,
                name=name,
                password_hash=accounts.hash_password("password-" + name),
                role=role,
            )

    database.write(work)
    yield database
    database.release()
    search.index_for(database).forget()
    database.close()


def _terminal(path: Path) -> Iterator[Database]:
    database = connect(f"sqlite:///{path}")
    yield database
    database.release()
    search.index_for(database).forget()
    database.close()


@pytest.fixture
def lily_db(tmp_path: Path) -> Iterator[Database]:
    yield from _terminal(tmp_path / "lily.sqlite3")


@pytest.fixture
def tom_db(tmp_path: Path) -> Iterator[Database]:
    yield from _terminal(tmp_path / "tom.sqlite3")


def network_user(server: Database, name: str) -> NetworkUser:
    row = user_data.get_user(server, name)
    assert row is not None
    return network.network_user_of(row)


def set_rights(server: Database, name: str, **values: Any) -> None:
    row = user_data.get_user(server, name)
    assert row is not None
    server.write(lambda db: user_data.update_user(db, row["uuid"], **values))


def upload(local: Database, server: Database, name: str) -> sync.SyncSummary:
    return sync.upload(local, server, network_user(server, name), local_owner="Admin")


def download(local: Database, server: Database, name: str) -> sync.SyncSummary:
    return sync.download(local, server, network_user(server, name), local_owner="Admin")


def add_contact(db: Database, **values: Any) -> str:
    contact = contact_service.parse_form(values)
    contact_id = contact_service.create_contact(
        db, contact, owner="Admin", region="CN", allow_duplicate=True
    )
    return str(contact_service.require_contact(db, contact_id)["uuid"])


def contact_id(db: Database, contact_uuid: str) -> int:
    row = db.execute(select(contacts.c.id).where(contacts.c.uuid == contact_uuid))
    return int(row.scalar_one())


def edit_contact(db: Database, contact_uuid: str, **values: Any) -> None:
    current = contact_service.require_contact(db, contact_id(db, contact_uuid))
    form = {
        name: current[name]
        for name in ("name", "company", "mobile", "email", "notes", "category_uuid")
        if current[name]
    }
    form.update(values)
    contact_service.update_contact(
        db,
        current["id"],
        contact_service.parse_form(form),
        version=current["version"],
        region="CN",
        allow_duplicate=True,
    )


def share(db: Database, record_uuid: str, users: list[str]) -> None:
    def work(db: Database) -> None:
        visibility.set_shares(db, [record_uuid], users)
        db.execute(
            update(contacts)
            .where(contacts.c.uuid == record_uuid)
            .values(revision=next_revision(db, "contacts"))
        )

    db.write(work)


def add_entry(db: Database, contact_uuid: str, title: str) -> str:
    raw = {
        "contact_id": str(contact_id(db, contact_uuid)),
        "occurred_at": "2026-11-20T10:30",
        "channel": "phone",
        "title": title,
        "content": "",
    }
    entry = log_service.parse_entry(db, raw, zone=SHANGHAI)
    entry_id = log_service.create_entry(db, entry, owner="Admin", zone=SHANGHAI)
    row = db.execute(select(comm_logs.c.uuid).where(comm_logs.c.id == entry_id))
    return str(row.scalar_one())


def add_sale(db: Database, contact_uuid: str, item: str) -> str:
    form = {
        "sold_on": "2026-11-20",
        "currency": "CNY",
        "status": "ordered",
        "item": item,
        "contact_uuid": contact_uuid,
    }
    sale_id = sale_service.create_sale(db, sale_service.parse_form(form), owner="Admin")
    row = db.execute(select(sales.c.uuid).where(sales.c.id == sale_id))
    return str(row.scalar_one())


def row_of(db: Database, table: Any, record_uuid: str) -> dict[str, Any] | None:
    found = db.execute(select(table).where(table.c.uuid == record_uuid)).first()
    return None if found is None else dict(found._mapping)


def name_of(db: Database, record_uuid: str) -> str | None:
    row = row_of(db, contacts, record_uuid)
    return None if row is None else str(row["name"])


@pytest.fixture
def shared_world(
    lily_db: Database, tom_db: Database, server: Database
) -> dict[str, str]:
    """Lily shares 王芳 with Tom and keeps 李雷 private; both went up."""
    shared = add_contact(lily_db, name="王芳", company="华南电子")
    private = add_contact(lily_db, name="李雷", company="远东贸易")
    share(lily_db, shared, ["tom"])
    keys = {
        "shared": shared,
        "private": private,
        "shared_log": add_entry(lily_db, shared, "报价电话"),
        "shared_sale": add_sale(lily_db, shared, "LED 灯"),
        "private_log": add_entry(lily_db, private, "私人电话"),
        "private_sale": add_sale(lily_db, private, "样品"),
    }
    upload(lily_db, server, "lily")
    return keys


# --- upload and download ------------------------------------------------------


def test_upload_counts_every_record(
    lily_db: Database, server: Database, shared_world: dict[str, str]
) -> None:
    history = lily_db.execute(select(sync_history)).first()
    assert history is not None
    assert history.sent == 6
    assert history.status == "done"


def test_upload_owner_is_network_user(
    server: Database, shared_world: dict[str, str]
) -> None:
    row = row_of(server, contacts, shared_world["shared"])
    assert row is not None
    assert row["owner"] == "lily"


def test_upload_sends_shares(server: Database, shared_world: dict[str, str]) -> None:
    users = server.execute(
        select(record_shares.c.user).where(
            record_shares.c.record_uuid == shared_world["shared"]
        )
    ).scalars()
    assert list(users) == ["tom"]


def test_shared_contact_reaches_tom(
    tom_db: Database, server: Database, shared_world: dict[str, str]
) -> None:
    summary = download(tom_db, server, "tom")
    assert name_of(tom_db, shared_world["shared"]) == "王芳"
    assert summary.received == 3


@pytest.mark.parametrize("key", ["shared_log", "shared_sale"])
def test_shared_contact_brings_its_records(
    tom_db: Database, server: Database, shared_world: dict[str, str], key: str
) -> None:
    download(tom_db, server, "tom")
    table = comm_logs if key == "shared_log" else sales
    assert row_of(tom_db, table, shared_world[key]) is not None


@pytest.mark.parametrize("key", ["private", "private_log", "private_sale"])
def test_unshared_record_never_reaches_tom(
    tom_db: Database, server: Database, shared_world: dict[str, str], key: str
) -> None:
    download(tom_db, server, "tom")
    table = {"private": contacts, "private_log": comm_logs, "private_sale": sales}
    assert row_of(tom_db, table[key], shared_world[key]) is None


def test_admin_receives_everything(
    tmp_path: Path, server: Database, shared_world: dict[str, str]
) -> None:
    boss_db = next(_terminal(tmp_path / "boss.sqlite3"))
    download(boss_db, server, "boss")
    assert name_of(boss_db, shared_world["private"]) == "李雷"


def test_second_upload_sends_nothing(
    lily_db: Database, server: Database, shared_world: dict[str, str]
) -> None:
    assert upload(lily_db, server, "lily").sent == 0


def test_second_download_receives_nothing(
    tom_db: Database, server: Database, shared_world: dict[str, str]
) -> None:
    download(tom_db, server, "tom")
    assert download(tom_db, server, "tom").received == 0


def test_downloaded_record_not_uploaded_back(
    tom_db: Database, server: Database, shared_world: dict[str, str]
) -> None:
    download(tom_db, server, "tom")
    summary = upload(tom_db, server, "tom")
    assert summary.sent == 0
    assert summary.conflicts == 0


def test_sharing_later_brings_older_records(
    lily_db: Database, tom_db: Database, server: Database, shared_world: dict[str, str]
) -> None:
    download(tom_db, server, "tom")
    share(lily_db, shared_world["private"], ["tom"])
    upload(lily_db, server, "lily")
    download(tom_db, server, "tom")
    assert row_of(tom_db, comm_logs, shared_world["private_log"]) is not None


def test_edit_reaches_other_terminal(
    lily_db: Database, tom_db: Database, server: Database, shared_world: dict[str, str]
) -> None:
    download(tom_db, server, "tom")
    edit_contact(lily_db, shared_world["shared"], name="王芳芳")
    upload(lily_db, server, "lily")
    download(tom_db, server, "tom")
    assert name_of(tom_db, shared_world["shared"]) == "王芳芳"


def test_tom_edit_reaches_lily(
    lily_db: Database, tom_db: Database, server: Database, shared_world: dict[str, str]
) -> None:
    download(tom_db, server, "tom")
    edit_contact(tom_db, shared_world["shared"], mobile="13800138000")
    assert upload(tom_db, server, "tom").sent == 1
    download(lily_db, server, "lily")
    row = row_of(lily_db, contacts, shared_world["shared"])
    assert row is not None
    assert row["mobile"] == "13800138000"


def test_own_records_reach_second_terminal(
    tmp_path: Path, server: Database, shared_world: dict[str, str]
) -> None:
    laptop = next(_terminal(tmp_path / "lily-laptop.sqlite3"))
    download(laptop, server, "lily")
    assert name_of(laptop, shared_world["private"]) == "李雷"


def test_search_finds_downloaded_contact(
    tom_db: Database, server: Database, shared_world: dict[str, str]
) -> None:
    download(tom_db, server, "tom")
    found = search.index_for(tom_db).search(tom_db, "王芳", search.Filters())
    assert found.ids == [contact_id(tom_db, shared_world["shared"])]


# --- deletions ----------------------------------------------------------------


def test_delete_propagates(
    lily_db: Database, tom_db: Database, server: Database, shared_world: dict[str, str]
) -> None:
    download(tom_db, server, "tom")
    contact_service.set_deleted(
        lily_db, contact_id(lily_db, shared_world["shared"]), deleted=True
    )
    upload(lily_db, server, "lily")
    download(tom_db, server, "tom")
    row = row_of(tom_db, contacts, shared_world["shared"])
    assert row is not None
    assert row["deleted"] is True


def test_delete_against_edit_is_conflict(
    lily_db: Database, tom_db: Database, server: Database, shared_world: dict[str, str]
) -> None:
    download(tom_db, server, "tom")
    contact_service.set_deleted(
        lily_db, contact_id(lily_db, shared_world["shared"]), deleted=True
    )
    upload(lily_db, server, "lily")
    edit_contact(tom_db, shared_world["shared"], notes="还在谈")
    summary = upload(tom_db, server, "tom")
    kinds = [c.kind for c in sync_conflicts.list_conflicts(tom_db)]
    assert summary.conflicts == 1
    assert kinds == ["deleted_there"]


# --- conflicts ----------------------------------------------------------------


@pytest.fixture
def conflict(
    lily_db: Database, tom_db: Database, server: Database, shared_world: dict[str, str]
) -> sync_conflicts.ConflictView:
    """Both change 王芳: Lily's name reaches the server first."""
    download(tom_db, server, "tom")
    edit_contact(lily_db, shared_world["shared"], name="王芳-L", email="l@x.cn")
    upload(lily_db, server, "lily")
    edit_contact(tom_db, shared_world["shared"], name="王芳-T", mobile="13900139000")
    upload(tom_db, server, "tom")
    (view,) = sync_conflicts.list_conflicts(tom_db)
    return view


def test_conflict_keeps_server_value(
    server: Database, shared_world: dict[str, str], conflict: Any
) -> None:
    assert name_of(server, shared_world["shared"]) == "王芳-L"


def test_conflict_keeps_local_value(
    tom_db: Database, shared_world: dict[str, str], conflict: Any
) -> None:
    assert name_of(tom_db, shared_world["shared"]) == "王芳-T"


def test_conflict_shows_both_names(conflict: sync_conflicts.ConflictView) -> None:
    field = next(f for f in conflict.fields if f.name == "name")
    assert (field.mine, field.theirs) == ("王芳-T", "王芳-L")


def test_conflict_lists_only_differing_fields_as_differing(
    conflict: sync_conflicts.ConflictView,
) -> None:
    differing = {f.name for f in conflict.fields if f.differs}
    assert differing == {"name", "email", "mobile"}


def test_download_during_conflict_leaves_local(
    tom_db: Database, server: Database, shared_world: dict[str, str], conflict: Any
) -> None:
    summary = download(tom_db, server, "tom")
    assert name_of(tom_db, shared_world["shared"]) == "王芳-T"
    assert summary.received == 0


def test_keep_mine_wins_on_next_upload(
    lily_db: Database,
    tom_db: Database,
    server: Database,
    shared_world: dict[str, str],
    conflict: sync_conflicts.ConflictView,
) -> None:
    sync_conflicts.resolve_conflict(
        tom_db, conflict.id, keep="mine", local_owner="Admin", region="CN"
    )
    assert upload(tom_db, server, "tom").sent == 1
    download(lily_db, server, "lily")
    assert name_of(lily_db, shared_world["shared"]) == "王芳-T"


def test_keep_theirs_applies_server_values(
    tom_db: Database,
    server: Database,
    shared_world: dict[str, str],
    conflict: sync_conflicts.ConflictView,
) -> None:
    sync_conflicts.resolve_conflict(
        tom_db, conflict.id, keep="theirs", local_owner="Admin", region="CN"
    )
    assert name_of(tom_db, shared_world["shared"]) == "王芳-L"
    assert upload(tom_db, server, "tom").sent == 0


def test_picks_merge_fields(
    tom_db: Database,
    server: Database,
    shared_world: dict[str, str],
    conflict: sync_conflicts.ConflictView,
) -> None:
    sync_conflicts.resolve_conflict(
        tom_db,
        conflict.id,
        keep="merged",
        picks={"name": "theirs", "email": "theirs", "mobile": "mine"},
        local_owner="Admin",
        region="CN",
    )
    upload(tom_db, server, "tom")
    row = row_of(server, contacts, shared_world["shared"])
    assert row is not None
    assert (row["name"], row["email"], row["mobile"]) == (
        "王芳-L",
        "l@x.cn",
        "13900139000",
    )


def test_merged_contact_search_text_recomputed(
    tom_db: Database,
    shared_world: dict[str, str],
    conflict: sync_conflicts.ConflictView,
) -> None:
    sync_conflicts.resolve_conflict(
        tom_db,
        conflict.id,
        keep="merged",
        picks={"name": "theirs"},
        local_owner="Admin",
        region="CN",
    )
    row = row_of(tom_db, contacts, shared_world["shared"])
    assert row is not None
    assert "王芳-l" in row["search_text"].lower()


def test_resolved_conflict_leaves_list(
    tom_db: Database, conflict: sync_conflicts.ConflictView
) -> None:
    sync_conflicts.resolve_conflict(
        tom_db, conflict.id, keep="theirs", local_owner="Admin", region="CN"
    )
    assert sync_conflicts.list_conflicts(tom_db) == []


# --- rights -------------------------------------------------------------------


def test_disabled_user_cannot_upload(
    lily_db: Database, server: Database, shared_world: dict[str, str]
) -> None:
    stale = network_user(server, "lily")
    set_rights(server, "lily", disabled=True)
    with pytest.raises(NetworkUserDisabledError):
        sync.upload(lily_db, server, stale, local_owner="Admin")


def test_disabled_user_cannot_download(tom_db: Database, server: Database) -> None:
    stale = network_user(server, "tom")
    set_rights(server, "tom", disabled=True)
    with pytest.raises(NetworkUserDisabledError):
        sync.download(tom_db, server, stale, local_owner="Admin")


def test_upload_right_withdrawn(lily_db: Database, server: Database) -> None:
    add_contact(lily_db, name="赵敏")
    set_rights(server, "lily", may_upload=False)
    with pytest.raises(SyncNotAllowedError):
        upload(lily_db, server, "lily")


def test_withdrawn_upload_sends_nothing(lily_db: Database, server: Database) -> None:
    created = add_contact(lily_db, name="赵敏")
    set_rights(server, "lily", may_upload=False)
    with pytest.raises(SyncNotAllowedError):
        upload(lily_db, server, "lily")
    assert row_of(server, contacts, created) is None


def test_read_only_user_edit_rejected(
    tom_db: Database, server: Database, shared_world: dict[str, str]
) -> None:
    download(tom_db, server, "tom")
    set_rights(server, "tom", may_edit_shared=False)
    edit_contact(tom_db, shared_world["shared"], name="汤姆改的")
    summary = upload(tom_db, server, "tom")
    assert summary.rejected == 1
    assert summary.rejected_names == ["汤姆改的"]
    assert name_of(server, shared_world["shared"]) == "王芳"


def test_category_limit_filters_shared_contacts(
    lily_db: Database, tom_db: Database, server: Database
) -> None:
    vip = category_service.create_category(lily_db, "VIP", owner="Admin")
    in_vip = add_contact(lily_db, name="钱多多", category_uuid=vip)
    outside = add_contact(lily_db, name="孙小小")
    share(lily_db, in_vip, ["tom"])
    share(lily_db, outside, ["tom"])
    upload(lily_db, server, "lily")
    set_rights(server, "tom", categories=f'["{vip}"]')
    download(tom_db, server, "tom")
    assert name_of(tom_db, in_vip) == "钱多多"
    assert name_of(tom_db, outside) is None


def test_same_named_category_becomes_one(
    lily_db: Database, tom_db: Database, server: Database
) -> None:
    category_service.create_category(lily_db, "VIP", owner="Admin")
    tom_vip = category_service.create_category(tom_db, "VIP", owner="Admin")
    mine = add_contact(tom_db, name="周杰", category_uuid=tom_vip)
    upload(lily_db, server, "lily")
    upload(tom_db, server, "tom")
    names = [c["name"] for c in category_service.list_categories(server)]
    row = row_of(server, contacts, mine)
    assert names == ["VIP"]
    assert row is not None
    assert row["category_uuid"] != tom_vip


# --- history and audit --------------------------------------------------------


def test_history_records_failure(lily_db: Database, server: Database) -> None:
    set_rights(server, "lily", may_upload=False)
    with pytest.raises(SyncNotAllowedError):
        upload(lily_db, server, "lily")
    assert lily_db.execute(select(sync_history)).first() is None


def test_audit_on_both_sides(
    lily_db: Database, server: Database, shared_world: dict[str, str]
) -> None:
    for db, user in ((lily_db, "Admin"), (server, "lily")):
        row = db.execute(
            select(audit_log).where(audit_log.c.action == "sync_upload")
        ).first()
        assert row is not None
        assert row.user == user
        assert "sent=6" in row.detail


def test_status_counts_pending(lily_db: Database, server: Database) -> None:
    add_contact(lily_db, name="吴用")
    before = sync.sync_status(lily_db).pending["contacts"]
    upload(lily_db, server, "lily")
    after = sync.sync_status(lily_db).pending["contacts"]
    assert (before, after) == (1, 0)


def test_history_times_are_utc(lily_db: Database, server: Database) -> None:
    upload(lily_db, server, "lily")
    row = lily_db.execute(select(sync_history)).first()
    assert row is not None
    now = datetime.now(UTC).replace(tzinfo=None)
    assert abs((now - row.started_at).total_seconds()) < 600


def test_rejected_edit_kept_as_conflict(
    tom_db: Database, server: Database, shared_world: dict[str, str]
) -> None:
    download(tom_db, server, "tom")
    set_rights(server, "tom", may_edit_shared=False)
    edit_contact(tom_db, shared_world["shared"], name="汤姆改的")
    upload(tom_db, server, "tom")
    kinds = [c.kind for c in sync_conflicts.list_conflicts(tom_db)]
    assert kinds == ["rejected"]


def test_rejected_edit_undone_by_keep_theirs(
    tom_db: Database, server: Database, shared_world: dict[str, str]
) -> None:
    download(tom_db, server, "tom")
    set_rights(server, "tom", may_edit_shared=False)
    edit_contact(tom_db, shared_world["shared"], name="汤姆改的")
    upload(tom_db, server, "tom")
    (conflict,) = sync_conflicts.list_conflicts(tom_db)
    sync_conflicts.resolve_conflict(
        tom_db, conflict.id, keep="theirs", local_owner="Admin", region="CN"
    )
    assert name_of(tom_db, shared_world["shared"]) == "王芳"
    assert upload(tom_db, server, "tom").rejected == 0


def test_download_brings_owner_sharing(
    tom_db: Database, server: Database, shared_world: dict[str, str]
) -> None:
    download(tom_db, server, "tom")
    shared = sharing.sharing_of(tom_db, shared_world["shared"], "Admin")
    assert (shared.owner, shared.users) == ("lily", ("tom",))


def test_sharing_of_fetched_record_refused(
    tom_db: Database, server: Database, shared_world: dict[str, str]
) -> None:
    download(tom_db, server, "tom")
    admin = accounts.default_admin(tom_db)
    with pytest.raises(sharing.NotYourRecordError):
        sharing.set_contact_sharing(
            tom_db,
            contact_id(tom_db, shared_world["shared"]),
            by=admin,
            everyone=True,
            users=[],
        )


def test_own_network_user_not_offered(
    lily_db: Database, shared_world: dict[str, str]
) -> None:
    upsert = lily_db.write
    upsert(lambda db: upsert_preference(db, "network_users", '["lily", "tom"]'))
    assert sharing.known_share_users(lily_db, me="Admin") == ["tom"]


def test_stopped_upload_keeps_counts(
    lily_db: Database, server: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The contacts went up; the run died while sending the sales records."""
    for number in range(3):
        add_sale(lily_db, add_contact(lily_db, name=f"客户{number}"), "样品")
    original = sync._UploadBatch.record
    calls = {"count": 0}

    def record_then_die(self: Any, local: Database, *, last: dict[str, Any]) -> None:
        calls["count"] += 1
        if calls["count"] == 2:
            raise ConnectionError("network lost")
        original(self, local, last=last)

    monkeypatch.setattr(sync._UploadBatch, "record", record_then_die)
    with pytest.raises(ConnectionError):
        upload(lily_db, server, "lily")
    row = lily_db.execute(select(sync_history)).first()
    assert row is not None
    assert (row.status, row.sent) == ("failed", 3)
