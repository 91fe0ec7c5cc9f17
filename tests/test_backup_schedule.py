"""Automatic backups: when they run, what they keep, how failures show."""

from __future__ import annotations

import os
import threading
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask

from crm_web.config import Settings, load_settings
from crm_web.data.db import Database
from crm_web.errors import InvalidValueError
from crm_web.services import backup, backup_schedule, clock
from crm_web.services.preferences import load_preferences, save_preferences


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(data_dir=tmp_path / "data", database_url=database_url)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "backups"
    path.mkdir()
    return path


def turn_on(
    db: Database, folder: Path, *, every_days: str = "1", keep: str = "2"
) -> None:
    save_preferences(
        db,
        {
            "backup_folder": str(folder),
            "backup_every_days": every_days,
            "backup_keep": keep,
        },
    )


def age(path: Path, days: float) -> None:
    """Set a file's modification time to ``days`` ago."""
    moment = (datetime.now() - timedelta(days=days)).timestamp()
    os.utime(path, (moment, moment))


def test_keeps_the_newest_and_leaves_other_files(
    db: Database, settings: Settings, folder: Path
) -> None:
    turn_on(db, folder, keep="2")
    old_autos = [
        folder / "r9crm-auto-20250101-020000.zip",
        folder / "r9crm-auto-20250102-020000.zip",
        folder / "r9crm-auto-20250103-020000.zip",
    ]
    others = [
        folder / "notes.txt",
        folder / "r9crm-backup-20250101-020000.zip",  # a manual backup
        folder / "r9crm-before-restore-20250101-020000.zip",
        folder / "r9crm-auto-20250101-020000.zip.bak",
        folder / "R9CRM-AUTO-20250101-020000.ZIP",
        folder / "my-r9crm-auto-20250101-020000.zip",
        folder / "r9crm-auto-2025-01-01.zip",
    ]
    for path in [*old_autos, *others]:
        path.write_bytes(b"not ours to delete")
        age(path, 3)
    (folder / "r9crm-auto-20250104-020000.zip").mkdir()  # a folder, not a file

    status = backup_schedule.run_automatic_backup(db, settings)

    assert status is not None
    assert status.ok
    written = Path(status.path)
    assert written.parent == folder
    assert backup.BACKUP_NAME.fullmatch(written.name)
    assert zipfile.ZipFile(written).testzip() is None
    autos = backup.list_backups(folder, backup.AUTOMATIC)
    assert [b.path for b in autos] == [written, old_autos[2]]
    for path in others:
        assert path.read_bytes() == b"not ours to delete", path.name
    assert (folder / "r9crm-auto-20250104-020000.zip").is_dir()
    assert backup_schedule.read_status(settings) == status


def test_name_has_a_sortable_local_timestamp(
    db: Database, settings: Settings, folder: Path
) -> None:
    save_preferences(db, {"time_zone": "Asia/Shanghai"})
    turn_on(db, folder)
    before = clock.to_local(clock.now_utc(), clock.user_zone("Asia/Shanghai"))
    status = backup_schedule.run_automatic_backup(db, settings)
    assert status is not None
    stamp = Path(status.path).name.removeprefix("r9crm-auto-").removesuffix(".zip")
    written = datetime.strptime(stamp, "%Y%m%d-%H%M%S")
    assert abs(written - before.replace(tzinfo=None)) < timedelta(minutes=1)


def test_not_due_while_the_newest_is_recent(
    db: Database, settings: Settings, folder: Path
) -> None:
    turn_on(db, folder, every_days="2")
    recent = folder / "r9crm-auto-20250101-020000.zip"
    recent.write_bytes(b"x")
    age(recent, 1.5)
    assert backup_schedule.run_automatic_backup(db, settings) is None
    age(recent, 2)
    assert backup_schedule.run_automatic_backup(db, settings) is not None


def test_due_one_check_early(folder: Path) -> None:
    """A daily backup is due after 23 hours, so it does not drift an hour a day."""
    newest = folder / "r9crm-auto-20250101-020000.zip"
    newest.write_bytes(b"x")
    written = datetime(2026, 12, 4, 2, 0, 30)
    stamp = written.replace(tzinfo=UTC).timestamp()
    os.utime(newest, (stamp, stamp))
    assert not backup_schedule.is_due(folder, 1, written + timedelta(hours=22))
    assert backup_schedule.is_due(folder, 1, written + timedelta(hours=23))


def test_off_by_default(db: Database, settings: Settings) -> None:
    assert load_preferences(db)["backup_every_days"] == "0"
    assert backup_schedule.run_automatic_backup(db, settings) is None
    assert not (settings.data_dir / "backups").exists()
    assert backup_schedule.read_status(settings) is None


def test_failure_is_recorded_not_raised(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    turn_on(db, blocker / "backups")

    status = backup_schedule.run_automatic_backup(db, settings)

    assert status is not None
    assert not status.ok
    assert str(blocker / "backups") in status.message
    assert backup_schedule.read_status(settings) == status


def test_check_once_survives_a_broken_database(
    app: Flask, app_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_db: Database) -> dict[str, str]:
        raise RuntimeError("server has gone away")

    monkeypatch.setattr(backup_schedule, "load_preferences", broken)
    backup_schedule.check_once(app)
    status = backup_schedule.read_status(app.extensions["crm_settings"])
    assert status is not None
    assert not status.ok
    assert "server has gone away" in status.message


def test_thread_runs_a_due_backup_and_stops(
    app: Flask, app_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "auto"
    turn_on(app_db, folder)
    done = threading.Event()
    real = backup_schedule.check_once

    def check_and_signal(app: Flask) -> None:
        real(app)
        done.set()

    monkeypatch.setattr(backup_schedule, "FIRST_CHECK_SECONDS", 0)
    monkeypatch.setattr(backup_schedule, "check_once", check_and_signal)
    stop = backup_schedule.start_automatic_backups(app)
    try:
        assert done.wait(60)
    finally:
        stop.set()
    assert len(backup.list_backups(folder, backup.AUTOMATIC)) == 1


@pytest.mark.parametrize(
    ("name", "value", "stored"),
    [
        ("backup_every_days", "0", "0"),
        ("backup_every_days", "365", "365"),
        ("backup_every_days", "７", "7"),
        ("backup_keep", "1", "1"),
        ("backup_keep", "1000", "1000"),
        ("backup_folder", "", ""),
    ],
)
def test_backup_setting_accepted(
    db: Database, name: str, value: str, stored: str
) -> None:
    save_preferences(db, {name: value})
    assert load_preferences(db)[name] == stored


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("backup_every_days", "366"),
        ("backup_every_days", "-1"),
        ("backup_every_days", "1.5"),
        ("backup_every_days", "daily"),
        ("backup_keep", "0"),
        ("backup_keep", "1001"),
        ("backup_keep", ""),
        ("backup_folder", "backups"),
        ("backup_folder", "./here"),
    ],
)
def test_backup_setting_rejected(db: Database, name: str, value: str) -> None:
    with pytest.raises(InvalidValueError) as raised:
        save_preferences(db, {name: value})
    assert f"“{value}”" in raised.value.message


def test_backup_folder_setting_expands_home(db: Database) -> None:
    save_preferences(db, {"backup_folder": "~/R9 备份"})
    assert load_preferences(db)["backup_folder"] == str(Path.home() / "R9 备份")


def test_backup_folder_setting_rejects_a_file(db: Database, tmp_path: Path) -> None:
    existing = tmp_path / "file.txt"
    existing.write_text("x")
    with pytest.raises(InvalidValueError):
        save_preferences(db, {"backup_folder": str(existing)})
