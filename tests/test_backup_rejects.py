"""Restore rejects damaged, cut short, foreign and hostile zips, changing nothing."""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from backup_helpers import BLOB_SHA, all_files, all_rows, fill, rewrite_zip
from flask import Flask

from crm_web.config import Settings, load_settings
from crm_web.data import schema
from crm_web.data.db import Database
from crm_web.errors import (
    BackupDamagedError,
    BackupForeignError,
    BackupFormatError,
    BackupManifestError,
    BackupMismatchError,
    BackupNotFoundError,
    BackupRejectedError,
    BackupTooLargeError,
    BackupTooNewError,
    BackupUnreadableError,
    BackupUnsafeEntryError,
)
from crm_web.services import backup, backup_archive

BLOB_ENTRY = f"files/blobs/{BLOB_SHA[:2]}/{BLOB_SHA}"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(data_dir=tmp_path / "data", database_url=database_url)


@pytest.fixture
def good_zip(db: Database, settings: Settings, tmp_path: Path) -> Path:
    """A valid backup of a filled database, which the tests then spoil."""
    fill(db, settings)
    return backup.create_backup(db, settings, tmp_path / "good.zip").path


def assert_rejected(
    db: Database,
    settings: Settings,
    source: Path,
    error: type[BackupRejectedError],
    *,
    unchanged: str = "Nothing was restored",
) -> BackupRejectedError:
    """Restore ``source``, expect ``error``, and check nothing changed.

    ``unchanged`` is the message's sentence for that, in the request's language.
    """
    rows = all_rows(db)
    files = all_files(settings.files_dir)
    with pytest.raises(error) as raised:
        backup.restore_backup(db, settings, source)
    assert all_rows(db) == rows
    assert all_files(settings.files_dir) == files
    assert not backup.safety_folder(settings).exists()
    assert not [p for p in settings.data_dir.iterdir() if p.name.startswith(".")]
    assert source.name in raised.value.message
    assert unchanged in raised.value.message
    return raised.value


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5, 0.9, 0.999])
def test_truncated_zip(
    db: Database, settings: Settings, good_zip: Path, tmp_path: Path, fraction: float
) -> None:
    data = good_zip.read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(data[: int(len(data) * fraction)])
    assert_rejected(db, settings, cut, BackupUnreadableError)


def data_offset(archive_path: Path, entry: str) -> tuple[int, int]:
    """Return where an entry's stored bytes start in the zip, and their length."""
    with zipfile.ZipFile(archive_path) as archive:
        info = archive.getinfo(entry)
    with archive_path.open("rb") as raw:
        raw.seek(info.header_offset + 26)
        name_length = int.from_bytes(raw.read(2), "little")
        extra_length = int.from_bytes(raw.read(2), "little")
    start = info.header_offset + 30 + name_length + extra_length
    return start, info.compress_size


def first_database_entry(archive_path: Path) -> str:
    with zipfile.ZipFile(archive_path) as archive:
        return next(n for n in archive.namelist() if n.startswith("database/"))


@pytest.mark.parametrize("where", ["database", "file", "manifest"])
def test_one_flipped_byte(
    db: Database, settings: Settings, good_zip: Path, tmp_path: Path, where: str
) -> None:
    entry = {
        "database": first_database_entry(good_zip),
        "file": BLOB_ENTRY,
        "manifest": "manifest.json",
    }[where]
    start, length = data_offset(good_zip, entry)
    data = bytearray(good_zip.read_bytes())
    data[start + length // 2] ^= 0x01
    flipped = tmp_path / "flipped.zip"
    flipped.write_bytes(bytes(data))
    error = assert_rejected(db, settings, flipped, BackupDamagedError)
    assert entry in error.message


def test_changed_entry_with_a_valid_zip_checksum(
    db: Database, settings: Settings, good_zip: Path, tmp_path: Path
) -> None:
    """The zip's CRC matches the new bytes; only the manifest's SHA-256 catches it."""
    changed = rewrite_zip(
        good_zip,
        tmp_path / "changed.zip",
        change=lambda name, data: data[:-1] + b"X" if name == BLOB_ENTRY else data,
    )
    error = assert_rejected(db, settings, changed, BackupDamagedError)
    assert BLOB_ENTRY in error.message


def test_foreign_zip(db: Database, settings: Settings, tmp_path: Path) -> None:
    foreign = tmp_path / "photos.zip"
    with zipfile.ZipFile(foreign, "w") as archive:
        archive.writestr("IMG_0001.jpg", os.urandom(2000))
        archive.writestr("notes/readme.txt", "你好")
        archive.writestr("notes/", "")
    assert_rejected(db, settings, foreign, BackupForeignError)


def test_foreign_manifest(db: Database, settings: Settings, tmp_path: Path) -> None:
    foreign = tmp_path / "other-app.zip"
    with zipfile.ZipFile(foreign, "w") as archive:
        archive.writestr("manifest.json", json.dumps({"name": "some add-on"}))
    assert_rejected(db, settings, foreign, BackupForeignError)


def test_random_bytes(db: Database, settings: Settings, tmp_path: Path) -> None:
    noise = tmp_path / "noise.zip"
    noise.write_bytes(os.urandom(5000))
    assert_rejected(db, settings, noise, BackupUnreadableError)


@pytest.mark.parametrize(
    "entry",
    [
        "../evil",
        "files/../../evil",
        "/tmp/evil",
        "files/a/../../../evil",
        "files\\..\\..\\evil",
        "C:/evil",
        "files/./evil",
        "files//evil",
    ],
)
def test_entry_leading_outside(
    db: Database, settings: Settings, good_zip: Path, tmp_path: Path, entry: str
) -> None:
    hostile = tmp_path / "hostile.zip"
    with zipfile.ZipFile(good_zip) as source, zipfile.ZipFile(hostile, "w") as out:
        for info in source.infolist():
            out.writestr(info, source.read(info))
        # writestr with a ZipInfo keeps the name exactly as given.
        out.writestr(zipfile.ZipInfo(entry), b"owned")
    error = assert_rejected(db, settings, hostile, BackupUnsafeEntryError)
    assert entry in error.message
    assert not (tmp_path / "evil").exists()
    assert not (settings.data_dir / "evil").exists()


def set_field(field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(manifest: dict[str, Any]) -> None:
        manifest[field] = value

    return change


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (set_field("schema_version", schema.LATEST_VERSION + 1), BackupTooNewError),
        (set_field("format_version", 2), BackupFormatError),
        (set_field("format", "zip-of-things"), BackupForeignError),
        (set_field("database_kind", "postgresql"), BackupManifestError),
        (set_field("schema_version", "9"), BackupManifestError),
        (set_field("tables", []), BackupManifestError),
        (
            lambda m: m["tables"]["contacts"]["columns"][0].update(kind="geometry"),
            BackupManifestError,
        ),
        (
            lambda m: m["tables"]["contacts"]["columns"][0].update(name="id; DROP"),
            BackupManifestError,
        ),
        (lambda m: m["entries"].pop(BLOB_ENTRY), BackupMismatchError),
        (lambda m: m["entries"][BLOB_ENTRY].update(size=1), BackupDamagedError),
        (
            lambda m: m["entries"][BLOB_ENTRY].update(sha256="0" * 64),
            BackupDamagedError,
        ),
        (lambda m: m["tables"]["contacts"].update(rows=3), BackupDamagedError),
    ],
)
def test_manifest_problem(
    db: Database,
    settings: Settings,
    good_zip: Path,
    tmp_path: Path,
    change: Callable[[dict[str, Any]], None],
    error: type[BackupRejectedError],
) -> None:
    spoiled = rewrite_zip(good_zip, tmp_path / "spoiled.zip", manifest=change)
    assert_rejected(db, settings, spoiled, error)


def test_too_new_names_both_versions(
    app: Flask, db: Database, settings: Settings, good_zip: Path, tmp_path: Path
) -> None:
    newer = schema.LATEST_VERSION + 5
    spoiled = rewrite_zip(
        good_zip, tmp_path / "new.zip", manifest=set_field("schema_version", newer)
    )
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        error = assert_rejected(
            db, settings, spoiled, BackupTooNewError, unchanged="没有恢复任何内容"
        )
    assert f"{newer}" in error.message
    assert f"{schema.LATEST_VERSION}" in error.message
    assert "new.zip" in error.message
    assert "R9 CRM" in error.message


def test_missing_entry(
    db: Database, settings: Settings, good_zip: Path, tmp_path: Path
) -> None:
    spoiled = rewrite_zip(
        good_zip,
        tmp_path / "short.zip",
        change=lambda name, data: None if name == BLOB_ENTRY else data,
    )
    error = assert_rejected(db, settings, spoiled, BackupMismatchError)
    assert BLOB_ENTRY in error.message


def test_unlisted_entry(
    db: Database, settings: Settings, good_zip: Path, tmp_path: Path
) -> None:
    spoiled = rewrite_zip(
        good_zip, tmp_path / "extra.zip", extra={"files/planted.exe": b"MZ"}
    )
    error = assert_rejected(db, settings, spoiled, BackupMismatchError)
    assert "files/planted.exe" in error.message


def test_listed_entry_outside_known_folders(
    db: Database, settings: Settings, good_zip: Path, tmp_path: Path
) -> None:
    spoiled = rewrite_zip(
        good_zip,
        tmp_path / "extra.zip",
        extra={"autorun.inf": b"x", "database/extra.jsonl": b"[]\n"},
        manifest=lambda _manifest: None,
    )
    assert_rejected(db, settings, spoiled, BackupMismatchError)


def test_not_enough_disk_space(
    db: Database,
    settings: Settings,
    good_zip: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The guard reads the sizes the zip declares before unpacking a byte."""
    real = backup_archive.shutil.disk_usage

    def tiny(path: Any) -> Any:
        usage = real(path)
        return type(usage)(usage.total, usage.total - 1000, 1000)

    monkeypatch.setattr(backup_archive.shutil, "disk_usage", tiny)
    error = assert_rejected(db, settings, good_zip, BackupTooLargeError)
    assert str(settings.data_dir) in error.message


def test_declared_size_smaller_than_content(
    db: Database, settings: Settings, good_zip: Path, tmp_path: Path
) -> None:
    """An entry that inflates past its declared size stops at that size."""
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(good_zip) as source, zipfile.ZipFile(bomb, "w") as out:
        for info in source.infolist():
            if info.filename != BLOB_ENTRY:
                out.writestr(info, source.read(info))
        out.writestr(BLOB_ENTRY, b"\0" * 10_000_000, zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(bomb) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    declared = manifest["entries"][BLOB_ENTRY]["size"]
    raw = bytearray(bomb.read_bytes())
    # Make the central directory declare the manifest's size, as a zip bomb
    # would, while the deflate stream still inflates to 10 MB.
    record = central_record(raw, BLOB_ENTRY)
    raw[record + 24 : record + 28] = declared.to_bytes(4, "little")
    bomb.write_bytes(bytes(raw))
    assert_rejected(db, settings, bomb, BackupDamagedError)


def central_record(raw: bytes | bytearray, entry: str) -> int:
    """Return the offset of an entry's record in the zip's central directory."""
    name = entry.encode()
    start = 0
    while (start := bytes(raw).find(b"PK\x01\x02", start)) != -1:
        if raw[start + 46 : start + 46 + len(name)] == name:
            return start
        start += 4
    raise AssertionError(f"{entry} has no central directory record")


def test_missing_file(db: Database, settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(BackupNotFoundError) as raised:
        backup.restore_backup(db, settings, tmp_path / "nope.zip")
    assert "nope.zip" in raised.value.message


def test_message_in_chinese(
    app: Flask, db: Database, settings: Settings, tmp_path: Path
) -> None:
    noise = tmp_path / "坏的.zip"
    noise.write_bytes(b"PK\x03\x04 not really")
    with (
        app.test_request_context(headers={"Accept-Language": "zh-CN"}),
        pytest.raises(BackupUnreadableError) as raised,
    ):
        backup.restore_backup(db, settings, noise)
    assert "坏的.zip" in raised.value.message
    assert "不是 zip 文件" in raised.value.message


def test_damaged_sqlite_file_with_matching_checksums(
    db: Database, settings: Settings, good_zip: Path, tmp_path: Path
) -> None:
    if not db.is_sqlite:
        pytest.skip("a MySQL backup holds no SQLite file")
    spoiled = rewrite_zip(
        good_zip,
        tmp_path / "garbage-db.zip",
        change=lambda name, data: (
            b"SQLite format 3\x00" + bytes(4000)
            if name.startswith("database/")
            else data
        ),
        manifest=lambda _manifest: None,
    )
    assert_rejected(db, settings, spoiled, BackupDamagedError)


def test_damaged_dump_line_with_matching_checksums(
    db: Database, settings: Settings, good_zip: Path, tmp_path: Path
) -> None:
    if db.is_sqlite:
        pytest.skip("a SQLite backup holds no JSON lines")
    spoiled = rewrite_zip(
        good_zip,
        tmp_path / "bad-line.zip",
        change=lambda name, data: (
            data + b'["not", "a", "contact"]\n'
            if name == "database/contacts.jsonl"
            else data
        ),
        manifest=lambda _manifest: None,
    )
    error = assert_rejected(db, settings, spoiled, BackupDamagedError)
    assert "database/contacts.jsonl" in error.message
