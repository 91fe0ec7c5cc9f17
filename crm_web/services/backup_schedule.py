"""Automatic backups, checked hourly by a daemon thread of the app server.

A backup is due when backup_every_days is not 0 and the newest automatic
backup in the backup folder is older than that many days, or there is none.
After writing one, the thread deletes the automatic backups beyond the
newest backup_keep. Only files whose whole name matches the automatic
backup pattern are deleted. The last run's outcome is stored in the data
folder and shown on the Backup page; a failure is logged and never stops
the app.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

from flask import Flask
from flask_babel import force_locale

from crm_web.config import Settings
from crm_web.data.db import Database
from crm_web.errors import UserError
from crm_web.i18n import match_language, system_language
from crm_web.services import clock
from crm_web.services.backup import (
    AUTOMATIC,
    backup_folder,
    create_backup,
    list_backups,
    local_now,
    new_backup_path,
    prune_backups,
)
from crm_web.services.preferences import load_preferences

log = logging.getLogger(__name__)

CHECK_SECONDS = 3600
# The first check waits a minute, so start-up and the first page come first.
FIRST_CHECK_SECONDS = 60
STATUS_FILE = "backup-status.json"


@dataclass(frozen=True)
class BackupStatus:
    """The outcome of the last automatic backup."""

    at: str  # UTC, ISO 8601
    ok: bool
    path: str
    message: str

    @property
    def at_utc(self) -> datetime:
        return datetime.fromisoformat(self.at)


def read_status(settings: Settings) -> BackupStatus | None:
    """Return the last automatic backup's outcome, or None if none is stored."""
    try:
        raw = json.loads((settings.data_dir / STATUS_FILE).read_text("utf-8"))
        status = BackupStatus(**raw)
        status.at_utc  # noqa: B018 (checks the stored time)
    except (OSError, ValueError, TypeError):
        return None
    return status


def write_status(settings: Settings, status: BackupStatus) -> None:
    """Store the outcome, replacing the file whole."""
    target = settings.data_dir / STATUS_FILE
    handle, temp_name = tempfile.mkstemp(dir=settings.data_dir, prefix=".status-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as output:
            json.dump(asdict(status), output, ensure_ascii=False)
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def is_due(folder: Path, every_days: int, now: datetime) -> bool:
    """Return whether the newest automatic backup is older than the interval.

    The interval is shortened by one check, so a daily backup is written in
    the same hour every day instead of an hour later each day.
    """
    newest = max((b.modified for b in list_backups(folder, AUTOMATIC)), default=None)
    if newest is None:
        return True
    interval = timedelta(days=every_days) - timedelta(seconds=CHECK_SECONDS)
    return now - newest >= interval


def run_automatic_backup(
    db: Database, settings: Settings, *, now: datetime | None = None
) -> BackupStatus | None:
    """Write an automatic backup if one is due; return the outcome, if any."""
    preferences = load_preferences(db)
    every_days = int(preferences["backup_every_days"])
    folder = backup_folder(settings, preferences["backup_folder"])
    now = now or clock.now_utc()
    if every_days == 0 or not is_due(folder, every_days, now):
        return None
    target = new_backup_path(folder, AUTOMATIC, local_now(db))
    try:
        summary = create_backup(db, settings, target)
        prune_backups(folder, AUTOMATIC, int(preferences["backup_keep"]))
    except UserError as error:
        log.error("Automatic backup failed: %s", error.message)
        status = BackupStatus(now.isoformat(), False, str(target), error.message)
    else:
        status = BackupStatus(now.isoformat(), True, str(summary.path), "")
    write_status(settings, status)
    return status


def start_automatic_backups(app: Flask) -> threading.Event:
    """Start the thread that checks for a due backup; set the event to stop it."""
    stop = threading.Event()

    def loop() -> None:
        delay = FIRST_CHECK_SECONDS
        while not stop.wait(delay):
            delay = CHECK_SECONDS
            check_once(app)

    threading.Thread(target=loop, name="r9crm-backups", daemon=True).start()
    return stop


def check_once(app: Flask) -> None:
    """Run one check in the app's context; log and record any failure."""
    db: Database = app.extensions["crm_db"]
    settings: Settings = app.extensions["crm_settings"]
    try:
        with app.app_context(), force_locale(_language(db, settings)):
            run_automatic_backup(db, settings)
    except Exception as error:
        log.exception("The automatic backup check failed")
        status = BackupStatus(clock.now_utc().isoformat(), False, "", str(error))
        try:
            write_status(settings, status)
        except OSError:
            log.exception("Cannot store the automatic backup's outcome")
    finally:
        db.release()


def _language(db: Database, settings: Settings) -> str:
    chosen = load_preferences(db)["language"]
    return chosen or match_language(settings.language) or system_language()
