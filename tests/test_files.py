"""The file repository's data and service layers, on SQLite and MariaDB."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import inspect

from crm_web.data import schema
from crm_web.data.db import Database, connect
from crm_web.errors import (
    FileNotInTrashError,
    FileTooLargeError,
    InvalidValueError,
    LocalFileError,
    NotFoundError,
    VersionConflictError,
)
from crm_web.services import comm_log as log_service
from crm_web.services import contacts as contact_service
from crm_web.services import file_names
from crm_web.services import files as file_service
from crm_web.services.file_store import MB, BlobStore
from crm_web.services.files import Target, Upload

CHINESE_NAME = "报价单 2026（最终版）.xlsx"
LIMIT = 5 * MB

# Crafted names and what the repository stores and shows for each.
CRAFTED_NAMES = [
    ("../../etc/passwd", "passwd"),
    ("/etc/passwd", "passwd"),
    ("..\\..\\boot.ini", "boot.ini"),
    ("C:\\Windows\\System32\\evil.dll", "evil.dll"),
    ("C:evil.txt", "C_evil.txt"),
    ("\\\\server\\share\\plan.txt", "plan.txt"),
    ("a\x00b.txt", "ab.txt"),
    ("tab\there\nline.txt", "tabhereline.txt"),
    ("CON", "_CON"),
    ("prn.txt", "_prn.txt"),
    ("AUX", "_AUX"),
    ("nul.tar.gz", "_nul.tar.gz"),
    ("COM1", "_COM1"),
    ("lpt1.log", "_lpt1.log"),
    ("report.pdf. . .", "report.pdf"),
    ("  spaced name.doc  ", "spaced name.doc"),
    ("invoice\u202efdp.exe", "invoicefdp.exe"),
    ("\u2067evil\u2069.txt", "evil.txt"),
    ('a<b>c:d"e|f?g*h.txt', "a_b_c_d_e_f_g_h.txt"),
    ("bad\udcffbyte.txt", "bad_byte.txt"),
    ("..", "file"),
    (".", "file"),
    ("", "file"),
    (CHINESE_NAME, CHINESE_NAME),
    ("合同/客户A/发票 №3.pdf", "发票 №3.pdf"),
]


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "files")


def add(
    db: Database,
    store: BlobStore,
    name: str,
    content: bytes,
    *,
    attach: Target | None = None,
) -> dict[str, Any]:
    upload = Upload(name, io.BytesIO(content))
    [file_id] = file_service.add_files(
        db, store, [upload], owner="Test", limit_bytes=LIMIT, attach=attach
    )
    return file_service.require_file(db, file_id)


def stored_blobs(store: BlobStore) -> list[Path]:
    return sorted(p for p in store.root.rglob("*") if p.is_file())


def names(db: Database, words: str = "", *, deleted: bool = False) -> list[str]:
    query = file_service.query_for(words, deleted=deleted)
    page = file_service.list_files(db, query, offset=0, limit=100)
    return sorted(f["name"] for f in page.files)


def add_contact(db: Database, **values: str) -> dict[str, Any]:
    contact = contact_service.parse_form(values)
    contact_id = contact_service.create_contact(
        db, contact, owner="Test", region="CN", allow_duplicate=True
    )
    return contact_service.require_contact(db, contact_id)


# --- names -------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), CRAFTED_NAMES)
def test_display_name_made_safe(raw: str, expected: str) -> None:
    assert file_names.display_name(raw) == expected


def test_display_name_long_keeps_extension() -> None:
    name = file_names.display_name("长" * 300 + ".pdf")
    assert len(name) == 255
    assert name.endswith("长.pdf")


def test_display_name_long_without_extension() -> None:
    assert file_names.display_name("x" * 1000) == "x" * 255


@pytest.mark.parametrize(("raw", "expected"), CRAFTED_NAMES)
def test_crafted_name_stays_in_files_area(
    db: Database, store: BlobStore, tmp_path: Path, raw: str, expected: str
) -> None:
    content = f"content of {raw!r}".encode("utf-8", "replace")
    row = add(db, store, raw, content)
    sha256 = hashlib.sha256(content).hexdigest()
    outside = [
        p for p in tmp_path.rglob("*") if p.is_file() and store.root not in p.parents
    ]
    # The SQLite database lives in tmp_path too; nothing else may.
    assert [p.name for p in outside if not p.name.startswith("test.sqlite3")] == []
    assert stored_blobs(store) == [store.root / "blobs" / sha256[:2] / sha256]
    assert row["name"] == expected


def test_blob_path_rejects_non_hash(store: BlobStore) -> None:
    for bad in ("../../secret", "A" * 64, "0" * 63, "0" * 64 + "/x"):
        with pytest.raises(ValueError):
            store.path_for(bad)


@pytest.mark.parametrize(
    "typed", ["", "   ", "...", "a/b.txt", "a\\b.txt", "x" * 256 + ".txt"]
)
def test_rename_rejects_bad_name(typed: str) -> None:
    with pytest.raises(InvalidValueError):
        file_names.validate_name(typed)


def test_rename_keeps_chinese_exactly() -> None:
    assert file_names.validate_name(f"  {CHINESE_NAME} ") == CHINESE_NAME


# --- storing -----------------------------------------------------------------


def test_chinese_name_kept_exactly(db: Database, store: BlobStore) -> None:
    row = add(db, store, CHINESE_NAME, b"xlsx bytes")
    assert row["name"] == CHINESE_NAME
    assert file_service.require_file(db, row["id"])["name"] == CHINESE_NAME


def test_same_content_stored_once(db: Database, store: BlobStore) -> None:
    content = b"the same quotation" * 1000
    first = add(db, store, "a.pdf", content)
    second = add(db, store, "b.pdf", content)
    sha256 = hashlib.sha256(content).hexdigest()
    assert first["sha256"] == second["sha256"] == sha256
    assert first["id"] != second["id"]
    assert stored_blobs(store) == [store.path_for(sha256)]
    assert store.path_for(sha256).read_bytes() == content


def test_size_and_type_recorded(db: Database, store: BlobStore) -> None:
    row = add(db, store, "Photo.JPG", b"\xff\xd8" + b"0" * 998)
    assert row["size"] == 1000
    assert row["content_type"] == "image/jpeg"
    assert row["owner"] == "Test"


def test_too_large_names_file_and_limit(db: Database, store: BlobStore) -> None:
    upload = Upload("大文件.zip", io.BytesIO(b"0" * (MB + 1)))
    with pytest.raises(FileTooLargeError) as raised:
        file_service.add_files(db, store, [upload], owner="T", limit_bytes=MB)
    assert "大文件.zip" in raised.value.message
    assert "1 MB" in raised.value.message


def test_too_large_in_batch_stores_nothing(db: Database, store: BlobStore) -> None:
    uploads = [
        Upload("small.txt", io.BytesIO(b"small")),
        Upload("big.bin", io.BytesIO(b"0" * (MB + 1))),
    ]
    with pytest.raises(FileTooLargeError):
        file_service.add_files(db, store, uploads, owner="T", limit_bytes=MB)
    assert stored_blobs(store) == []
    assert names(db) == []


def test_exactly_at_limit_is_accepted(db: Database, store: BlobStore) -> None:
    upload = Upload("edge.bin", io.BytesIO(b"0" * MB))
    [file_id] = file_service.add_files(db, store, [upload], owner="T", limit_bytes=MB)
    assert file_service.require_file(db, file_id)["size"] == MB


def test_failed_insert_removes_new_content(
    db: Database, store: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*_args: Any) -> int:
        raise RuntimeError("database down")

    monkeypatch.setattr(file_service.file_data, "insert_file", fail)
    with pytest.raises(RuntimeError):
        add(db, store, "a.txt", b"never stored")
    assert stored_blobs(store) == []


def test_failed_insert_keeps_shared_content(
    db: Database, store: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    add(db, store, "a.txt", b"shared")

    def fail(*_args: Any) -> int:
        raise RuntimeError("database down")

    monkeypatch.setattr(file_service.file_data, "insert_file", fail)
    with pytest.raises(RuntimeError):
        add(db, store, "b.txt", b"shared")
    assert len(stored_blobs(store)) == 1


def test_local_file_added_by_path(
    db: Database, store: BlobStore, tmp_path: Path
) -> None:
    source = tmp_path / "outside" / "样品清单.csv"
    source.parent.mkdir()
    source.write_bytes(b"a,b\n1,2\n")
    [file_id] = file_service.add_local_files(
        db, store, [str(source)], owner="T", limit_bytes=LIMIT
    )
    row = file_service.require_file(db, file_id)
    assert row["name"] == "样品清单.csv"
    assert store.path_for(row["sha256"]).read_bytes() == b"a,b\n1,2\n"


@pytest.mark.parametrize("kind", ["folder", "relative", "missing"])
def test_local_path_rejected(
    db: Database, store: BlobStore, tmp_path: Path, kind: str
) -> None:
    path = {
        "folder": str(tmp_path),
        "relative": "notes.txt",
        "missing": str(tmp_path / "gone.txt"),
    }[kind]
    with pytest.raises(LocalFileError) as raised:
        file_service.add_local_files(db, store, [path], owner="T", limit_bytes=LIMIT)
    assert path in raised.value.message
    assert names(db) == []


# --- metadata and search -----------------------------------------------------


def test_update_metadata_renames(db: Database, store: BlobStore) -> None:
    row = add(db, store, "draft.docx", b"doc")
    form = {"name": "合同 v2.pdf", "category": "合同", "tags": "a", "notes": ""}
    file_service.update_metadata(db, row["id"], form, version=row["version"])
    saved = file_service.require_file(db, row["id"])
    assert saved["name"] == "合同 v2.pdf"
    assert saved["content_type"] == "application/pdf"
    assert saved["category"] == "合同"


def test_update_metadata_stale_version(db: Database, store: BlobStore) -> None:
    row = add(db, store, "draft.docx", b"doc")
    form = {"name": "a.docx", "category": "", "tags": "", "notes": ""}
    file_service.update_metadata(db, row["id"], form, version=row["version"])
    with pytest.raises(VersionConflictError):
        file_service.update_metadata(db, row["id"], form, version=row["version"])


def test_notes_over_limit_rejected(db: Database, store: BlobStore) -> None:
    row = add(db, store, "a.txt", b"a")
    form = {"name": "a.txt", "category": "", "tags": "", "notes": "😀" * 20000}
    with pytest.raises(InvalidValueError):
        file_service.update_metadata(db, row["id"], form, version=row["version"])


def describe(db: Database, file_id: int, **values: str) -> None:
    row = file_service.require_file(db, file_id)
    form = {"name": row["name"], "category": "", "tags": "", "notes": "", **values}
    file_service.update_metadata(db, file_id, form, version=row["version"])


@pytest.fixture
def described(db: Database, store: BlobStore) -> dict[str, Any]:
    """Three files: one tagged, one with notes, one attached to a contact."""
    tagged = add(db, store, CHINESE_NAME, b"1")
    describe(db, tagged["id"], tags="FOB报价, 2026")
    noted = add(db, store, "notes.txt", b"2")
    describe(db, noted["id"], notes="Samples sent by DHL 快递")
    contact = add_contact(db, name="张小明", company="东方贸易")
    attached = add(db, store, "photo.png", b"3")
    file_service.attach_file(
        db, attached["id"], Target("contact", contact["uuid"]), owner="T"
    )
    return {"contact": contact}


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("最终", [CHINESE_NAME]),
        ("报价单 2026", [CHINESE_NAME]),
        ("fob报价", [CHINESE_NAME]),
        ("dhl", ["notes.txt"]),
        ("SAMPLES 快递", ["notes.txt"]),
        ("张小明", ["photo.png"]),
        ("zhangxiaoming", ["photo.png"]),
        ("东方", ["photo.png"]),
        ("%", []),
        ("_", []),
        ("nothing-like-this", []),
    ],
)
def test_search_by_name_tag_notes_contact(
    db: Database, described: dict[str, Any], words: str, expected: list[str]
) -> None:
    assert names(db, words) == expected


def test_search_finds_file_of_log_entry_contact(db: Database, store: BlobStore) -> None:
    contact = add_contact(db, name="李四", company="西部物流")
    entry = log_service.parse_entry(
        db,
        {
            "contact_id": str(contact["id"]),
            "occurred_at": "2024-03-15T10:30",
            "channel": "phone",
            "title": "Call",
        },
        zone=ZoneInfo("Asia/Shanghai"),
    )
    entry_id = log_service.create_entry(
        db, entry, owner="T", zone=ZoneInfo("Asia/Shanghai")
    )
    entry_uuid = log_service.require_entry(db, entry_id)["uuid"]
    add(db, store, "call.mp3", b"audio", attach=Target("log", entry_uuid))
    add(db, store, "other.mp3", b"other")
    assert names(db, "李四") == ["call.mp3"]


def test_detached_contact_no_longer_matches(
    db: Database, store: BlobStore, described: dict[str, Any]
) -> None:
    [photo] = [
        f
        for f in file_service.list_files(
            db, file_service.query_for("photo"), offset=0, limit=10
        ).files
    ]
    target = Target("contact", described["contact"]["uuid"])
    file_service.detach_file(db, photo["id"], target)
    assert names(db, "张小明") == []
    assert file_service.attached_files(db, target) == []


def test_attach_twice_keeps_one_link(db: Database, store: BlobStore) -> None:
    contact = add_contact(db, name="王五")
    target = Target("contact", contact["uuid"])
    row = add(db, store, "a.pdf", b"a", attach=target)
    file_service.attach_file(db, row["id"], target, owner="T")
    file_service.detach_file(db, row["id"], target)
    file_service.attach_file(db, row["id"], target, owner="T")
    attached = file_service.attached_files(db, target)
    assert [f["name"] for f in attached] == ["a.pdf"]


def test_attach_to_unknown_target(db: Database, store: BlobStore) -> None:
    row = add(db, store, "a.pdf", b"a")
    for kind in ("contact", "log"):
        with pytest.raises(NotFoundError):
            file_service.attach_file(db, row["id"], Target(kind, "nope"), owner="T")


def test_upload_to_unknown_target_stores_nothing(
    db: Database, store: BlobStore
) -> None:
    with pytest.raises(NotFoundError):
        add(db, store, "a.pdf", b"a", attach=Target("contact", "nope"))
    assert stored_blobs(store) == []


# --- trash ---------------------------------------------------------------------


def test_trash_and_restore(db: Database, store: BlobStore) -> None:
    row = add(db, store, "a.pdf", b"a")
    file_service.set_deleted(db, row["id"], deleted=True)
    assert names(db) == []
    assert names(db, deleted=True) == ["a.pdf"]
    file_service.set_deleted(db, row["id"], deleted=False)
    assert names(db) == ["a.pdf"]
    assert names(db, deleted=True) == []


def test_trashed_file_leaves_card(db: Database, store: BlobStore) -> None:
    contact = add_contact(db, name="王五")
    target = Target("contact", contact["uuid"])
    row = add(db, store, "a.pdf", b"a", attach=target)
    file_service.set_deleted(db, row["id"], deleted=True)
    assert file_service.attached_files(db, target) == []
    file_service.set_deleted(db, row["id"], deleted=False)
    assert [f["name"] for f in file_service.attached_files(db, target)] == ["a.pdf"]


def test_purge_keeps_shared_content(db: Database, store: BlobStore) -> None:
    first = add(db, store, "a.pdf", b"shared")
    second = add(db, store, "b.pdf", b"shared")
    path = store.path_for(first["sha256"])

    file_service.set_deleted(db, first["id"], deleted=True)
    file_service.purge_file(db, store, first["id"])
    assert path.read_bytes() == b"shared"
    assert names(db, deleted=True) == []

    file_service.set_deleted(db, second["id"], deleted=True)
    file_service.purge_file(db, store, second["id"])
    assert not path.exists()
    assert stored_blobs(store) == []


def test_purge_keeps_content_of_trashed_twin(db: Database, store: BlobStore) -> None:
    first = add(db, store, "a.pdf", b"shared")
    second = add(db, store, "b.pdf", b"shared")
    file_service.set_deleted(db, first["id"], deleted=True)
    file_service.set_deleted(db, second["id"], deleted=True)
    file_service.purge_file(db, store, first["id"])
    assert store.path_for(second["sha256"]).exists()


def test_purge_live_file_rejected(db: Database, store: BlobStore) -> None:
    row = add(db, store, "a.pdf", b"a")
    with pytest.raises(FileNotInTrashError):
        file_service.purge_file(db, store, row["id"])
    assert store.path_for(row["sha256"]).exists()


def test_empty_trash_purges_all(db: Database, store: BlobStore) -> None:
    kept = add(db, store, "kept.pdf", b"kept")
    for index in range(3):
        row = add(db, store, f"{index}.pdf", f"{index}".encode())
        file_service.set_deleted(db, row["id"], deleted=True)
    assert file_service.empty_trash(db, store) == 3
    assert names(db) == ["kept.pdf"]
    assert stored_blobs(store) == [store.path_for(kept["sha256"])]


# --- types -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content_type", "inline"),
    [
        ("a.pdf", "application/pdf", True),
        ("a.PNG", "image/png", True),
        ("a.txt", "text/plain", True),
        ("a.csv", "text/csv", True),
        ("a.html", "text/html", False),
        ("a.HTM", "text/html", False),
        ("a.svg", "image/svg+xml", False),
        ("a.xhtml", "application/xhtml+xml", False),
        (
            "a.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            False,
        ),
        ("a.txt.gz", "application/gzip", False),
        ("noextension", "application/octet-stream", False),
    ],
)
def test_type_and_inline(name: str, content_type: str, inline: bool) -> None:
    assert file_names.guess_type(name) == content_type
    assert file_names.is_inline(content_type) is inline


@pytest.mark.parametrize(
    ("content", "charset"),
    [
        ("报价".encode(), "utf-8"),
        ("报价".encode("gb18030"), "gb18030"),
        ("\ufeff报价".encode(), "utf-8"),
        ("报价".encode("utf-16"), "utf-16"),
    ],
)
def test_text_charset(tmp_path: Path, content: bytes, charset: str) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(content)
    assert file_names.text_charset(path) == charset


# --- schema ----------------------------------------------------------------------


def test_upgrade_adds_tables_and_keeps_rows(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = [step for step in schema.UPGRADES if step[0] != 9]
    monkeypatch.setattr(schema, "UPGRADES", before)
    old = connect(database_url)
    contact = add_contact(old, name="老客户", company="旧公司")
    assert "files" not in schema.table_names(old.conn)
    old.release()
    old.close()
    monkeypatch.undo()

    database = connect(database_url)
    tables = schema.table_names(database.conn)
    kept = contact_service.require_contact(database, contact["id"])
    # Running the step again, as on a database that already has the tables,
    # changes nothing.
    schema._create_file_tables(database.conn)
    columns = {c["name"] for c in inspect(database.conn).get_columns("files")}
    database.release()
    database.close()
    assert {"files", "file_links"} <= tables
    assert (kept["name"], kept["company"]) == ("老客户", "旧公司")
    assert {"uuid", "name", "sha256", "size", "deleted", "owner"} <= columns
