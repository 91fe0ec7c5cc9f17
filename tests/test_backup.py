"""Backup and restore round trips on SQLite and MariaDB, and the command line."""

from __future__ import annotations

import io
import json
import os
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from backup_helpers import (
    BLOB,
    BLOB_SHA,
    all_files,
    all_rows,
    fill,
    purge_counter,
    without_purge_counter,
)
from conftest import MYSQL_HOST, MYSQL_PASSWORD, MYSQL_PORT, MYSQL_USER, mysql_server
from sqlalchemy import text

from crm_web.cli import main
from crm_web.config import Settings, load_settings
from crm_web.data import schema
from crm_web.data.db import Database, connect
from crm_web.errors import BackupExistsError, BackupInFilesAreaError
from crm_web.services import backup, search
from crm_web.services.backup_archive import FORMAT, FORMAT_VERSION, SQLITE_ENTRY


def new_mysql_database() -> str:
    name = f"r9test_{uuid.uuid4().hex[:12]}"
    server = mysql_server()
    with server.cursor() as cursor:
        cursor.execute(
            f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        )
    server.close()
    return name


def drop_mysql_database(name: str) -> None:
    server = mysql_server()
    with server.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
    server.close()


def mysql_url_for(name: str) -> str:
    return (
        f"mysql+pymysql://{MYSQL_USER}:{MYSQL_PASSWORD}@{MYSQL_HOST}:"
        f"{MYSQL_PORT}/{name}?charset=utf8mb4"
    )


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(data_dir=tmp_path / "data", database_url=database_url)


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own on either backend, to restore into."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'target.sqlite3'}"
        return
    name = new_mysql_database()
    try:
        yield mysql_url_for(name)
    finally:
        drop_mysql_database(name)


@pytest.fixture
def target(tmp_path: Path, target_url: str) -> Iterator[tuple[Database, Settings]]:
    """A fresh install: an empty data folder and a new database."""
    settings = load_settings(data_dir=tmp_path / "empty", database_url=target_url)
    database = connect(target_url)
    yield database, settings
    database.release()
    search.index_for(database).forget()
    database.close()


def test_round_trip_gives_identical_data(
    db: Database,
    settings: Settings,
    tmp_path: Path,
    target: tuple[Database, Settings],
) -> None:
    fill(db, settings)
    expected_rows = all_rows(db)
    zip_path = backup.create_backup(db, settings, tmp_path / "b.zip").path
    into, into_settings = target

    backup.restore_backup(into, into_settings, zip_path)

    restored = all_rows(into)
    for table, rows in without_purge_counter(expected_rows).items():
        assert without_purge_counter(restored)[table] == rows, table
    assert purge_counter(restored) > purge_counter(expected_rows)
    assert all_files(into_settings.files_dir) == all_files(settings.files_dir)
    assert all_files(into_settings.files_dir)[f"blobs/{BLOB_SHA[:2]}/{BLOB_SHA}"] == (
        BLOB
    )


def test_manifest_describes_the_backup(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    fill(db, settings)
    summary = backup.create_backup(db, settings, tmp_path / "b.zip")
    with zipfile.ZipFile(summary.path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        names = set(archive.namelist())
    assert manifest["format"] == FORMAT
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["schema_version"] == schema.LATEST_VERSION
    assert manifest["database_kind"] == ("sqlite" if db.is_sqlite else "mysql")
    assert manifest["created_at"].endswith("Z")
    assert manifest["tables"]["contacts"]["rows"] == 2
    assert manifest["tables"]["files"]["rows"] == 1
    assert set(manifest["entries"]) == names - {"manifest.json"}
    assert f"files/blobs/{BLOB_SHA[:2]}/{BLOB_SHA}" in names
    assert manifest["entries"][f"files/blobs/{BLOB_SHA[:2]}/{BLOB_SHA}"] == {
        "sha256": BLOB_SHA,
        "size": len(BLOB),
    }
    if db.is_sqlite:
        assert SQLITE_ENTRY in names
    else:
        assert "database/contacts.jsonl" in names
    assert "secret.key" not in " ".join(names)
    assert summary.tables["contacts"] == 2
    assert summary.files == 1


def test_uploads_in_progress_are_left_out(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    partial = settings.files_dir / "incoming" / "upload-abc"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"half an upload")
    summary = backup.create_backup(db, settings, tmp_path / "b.zip")
    with zipfile.ZipFile(summary.path) as archive:
        assert not [n for n in archive.namelist() if "incoming" in n]
    assert summary.files == 0


def test_existing_target_is_not_overwritten(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    target_file = tmp_path / "b.zip"
    target_file.write_bytes(b"mine")
    with pytest.raises(BackupExistsError) as raised:
        backup.create_backup(db, settings, target_file)
    assert str(target_file) in raised.value.message
    assert target_file.read_bytes() == b"mine"


def test_restore_writes_a_safety_backup_that_undoes_it(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    empty_zip = backup.create_backup(db, settings, tmp_path / "empty.zip").path
    fill(db, settings)
    filled = all_rows(db)

    summary = backup.restore_backup(db, settings, empty_zip)

    assert all_rows(db)["contacts"] == []
    assert all_files(settings.files_dir) == {}
    assert summary.safety_path.parent == settings.data_dir / "safety-backups"
    assert backup.BACKUP_NAME.fullmatch(summary.safety_path.name)
    backup.restore_backup(db, settings, summary.safety_path)
    assert all_rows(db)["contacts"] == filled["contacts"]
    assert f"blobs/{BLOB_SHA[:2]}/{BLOB_SHA}" in all_files(settings.files_dir)
    # No scratch folder is left in the data folder.
    assert not [p for p in settings.data_dir.iterdir() if p.name.startswith(".")]


def test_restore_forgets_the_search_index(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    empty_zip = backup.create_backup(db, settings, tmp_path / "empty.zip").path
    fill(db, settings)
    assert search.search_contacts(db, "zxm").total == 1

    backup.restore_backup(db, settings, empty_zip)

    assert search.search_contacts(db, "zxm").total == 0


def test_restore_reloads_other_processes_indexes(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    """An index in another process reloads too, without a call to forget()."""
    other_process = search.ContactIndex()
    empty_zip = backup.create_backup(db, settings, tmp_path / "empty.zip").path
    fill(db, settings)
    assert other_process.search(db, "zxm", search.Filters()).total == 1

    backup.restore_backup(db, settings, empty_zip)

    assert other_process.search(db, "zxm", search.Filters()).total == 0


def test_safety_backups_keep_the_newest_three(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    zip_path = backup.create_backup(db, settings, tmp_path / "b.zip").path
    for _attempt in range(backup.SAFETY_KEEP + 1):
        backup.restore_backup(db, settings, zip_path)
    kept = backup.list_backups(backup.safety_folder(settings), backup.SAFETY)
    assert len(kept) == backup.SAFETY_KEEP


def test_older_schema_backup_is_upgraded(
    db: Database,
    settings: Settings,
    tmp_path: Path,
    target: tuple[Database, Settings],
) -> None:
    """A backup from before the file repository gains its tables."""
    fill(db, settings)
    before = all_rows(db)

    def make_version_8(db: Database) -> None:
        db.execute(text("DROP TABLE file_links"))
        db.execute(text("DROP TABLE files"))
        db.execute(schema.migrations.delete().where(schema.migrations.c.version > 8))

    db.write(make_version_8)
    zip_path = backup.create_backup(db, settings, tmp_path / "old.zip").path
    with zipfile.ZipFile(zip_path) as archive:
        assert json.loads(archive.read("manifest.json"))["schema_version"] == 8
    into, into_settings = target

    summary = backup.restore_backup(into, into_settings, zip_path)

    restored = all_rows(into)
    assert summary.schema_version == 8
    versions = [row[0] for row in restored["schema_migrations"]]
    assert versions == [version for version, _step in schema.UPGRADES]
    assert restored["files"] == []
    assert restored["file_links"] == []
    for table in ("contacts", "sales", "comm_logs", "appointments", "vault_entries"):
        assert restored[table] == before[table], table


def test_cli_round_trip(
    tmp_path: Path,
    database_url: str,
    target_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = ("--data-dir", str(tmp_path / "a"), "--database-url", database_url)
    into = ("--data-dir", str(tmp_path / "b"), "--database-url", target_url)
    settings = load_settings(data_dir=tmp_path / "a", database_url=database_url)
    database = connect(database_url)
    fill(database, settings)
    expected = all_rows(database)
    database.close()
    folder = tmp_path / "out"
    folder.mkdir()

    assert main([*source, "backup", str(folder)]) == 0
    written = capsys.readouterr().out
    [zip_path] = list(folder.iterdir())
    assert backup.BACKUP_NAME.fullmatch(zip_path.name)
    assert f"Backup written to {zip_path}" in written
    assert "2 contacts" in written
    assert main([*into, "restore", str(zip_path), "--yes"]) == 0
    assert "safety-backups" in capsys.readouterr().out

    restored_db = connect(target_url)
    restored = all_rows(restored_db)
    restored_db.close()
    search._indexes.clear()
    for table in ("contacts", "sales", "users", "files", "vault_entries"):
        assert restored[table] == expected[table], table
    assert (tmp_path / "b" / "files" / "blobs" / BLOB_SHA[:2] / BLOB_SHA).read_bytes()


def test_cli_restore_asks_for_confirmation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base = ("--data-dir", str(tmp_path / "a"))
    assert main([*base, "backup", str(tmp_path / "b.zip")]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))
    code = main([*base, "restore", str(tmp_path / "b.zip")])
    assert code == 2
    assert "add --yes" in capsys.readouterr().err
    assert not (tmp_path / "a" / "safety-backups").exists()


def test_cli_restore_reports_a_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.zip"
    code = main(["--data-dir", str(tmp_path / "a"), "restore", str(missing), "--yes"])
    assert code == 2
    assert str(missing) in capsys.readouterr().err


def test_backup_inside_files_area_is_rejected(db: Database, settings: Settings) -> None:
    target_file = settings.files_dir / "backups" / "b.zip"
    with pytest.raises(BackupInFilesAreaError) as raised:
        backup.create_backup(db, settings, target_file)
    assert str(settings.files_dir) in raised.value.message
    assert not target_file.parent.exists()


def test_leftovers_of_killed_runs_are_removed(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    old_partial = folder / ".r9crm-partial-abc.zip"
    new_partial = folder / ".r9crm-partial-def.zip"
    old_scratch = settings.data_dir / ".restore-abc"
    (old_scratch / "unpacked").mkdir(parents=True)
    for path in (old_partial, new_partial, folder / "mine.zip"):
        path.write_bytes(b"x")
    day_ago = time.time() - 25 * 3600
    for path in (old_partial, old_scratch, folder / "mine.zip"):
        os.utime(path, (day_ago, day_ago))

    zip_path = backup.create_backup(db, settings, folder / "b.zip").path
    backup.restore_backup(db, settings, zip_path)

    assert not old_partial.exists()
    assert new_partial.exists()
    assert (folder / "mine.zip").exists()
    assert not old_scratch.exists()
