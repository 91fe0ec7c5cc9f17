"""Back up and restore the database and the files area.

A backup is one zip (see ``backup_archive``). The session-signing key
``secret.key`` is left out: it only signs browser sessions, so a restored
app keeps its own key and everyone signs in again. Logs and the work folder
are left out too. The account vault is rows in the database, so it is
backed up still encrypted under each user's master password.

A backup written from either backend restores into either: a SQLite copy
is read row by row into MySQL, and a MySQL dump is loaded into a SQLite
file first.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import re
import shutil
import sqlite3
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, MetaData
from sqlalchemy.exc import DBAPIError

from crm_web.config import Settings
from crm_web.data import backup as backup_data
from crm_web.data import schema
from crm_web.data.db import Database
from crm_web.data.records import get_revision
from crm_web.errors import (
    BackupDamagedError,
    BackupExistsError,
    BackupInFilesAreaError,
    BackupNotFoundError,
    BackupUnpackError,
    BackupWriteError,
)
from crm_web.services import clock
from crm_web.services.backup_archive import (
    FILES_PREFIX,
    SQLITE_ENTRY,
    BackupWriter,
    Manifest,
    TableInfo,
    decode_rows,
    encode_rows,
    entry_path,
    is_safe_entry_name,
    table_entry,
    unpack_backup,
)
from crm_web.services.preferences import load_preferences
from crm_web.services.search import index_for

log = logging.getLogger(__name__)

# Backups and restores of this process run one at a time.
_lock = threading.Lock()

DEFAULT_FOLDER = "backups"
SAFETY_FOLDER = "safety-backups"
SAFETY_KEEP = 3
# Uploads still arriving in the files area; they belong to no record yet.
SKIPPED_FILES_FOLDERS = ("incoming",)

MANUAL = "backup"
AUTOMATIC = "auto"
SAFETY = "before-restore"
# r9crm-<kind>-<local date>-<local time>[-<n>].zip, such as
# r9crm-auto-20261204-021500.zip. The n distinguishes backups of one second.
BACKUP_NAME = re.compile(
    r"r9crm-(backup|auto|before-restore)-(\d{8}-\d{6})(?:-(\d{1,3}))?\.zip"
)
PARTIAL_PREFIX = ".r9crm-partial-"
SCRATCH_PREFIX = ".restore-"
# Age after which a partial backup or a restore's scratch folder is a
# leftover of a killed run, not work in progress.
STALE_SECONDS = 24 * 3600
# The counter whose change makes every process reload its contact index.
PURGE_COUNTER = "contacts_purged"


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    size: int
    tables: dict[str, int]
    files: int


@dataclass(frozen=True)
class RestoreSummary:
    name: str
    created_at: str
    schema_version: int
    tables: dict[str, int]
    safety_path: Path


@dataclass(frozen=True)
class BackupFile:
    """A backup file of ours found in a folder."""

    path: Path
    kind: str
    size: int
    modified: datetime  # naive UTC

    @property
    def name(self) -> str:
        return self.path.name


def app_version() -> str:
    try:
        return importlib.metadata.version("r9crm")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


# --- folders and names ---------------------------------------------------


def backup_folder(settings: Settings, folder_setting: str) -> Path:
    """Return the folder the backup_folder setting names, or the default."""
    if folder_setting:
        return Path(folder_setting).expanduser()
    return settings.data_dir / DEFAULT_FOLDER


def safety_folder(settings: Settings) -> Path:
    return settings.data_dir / SAFETY_FOLDER


def local_now(db: Database) -> datetime:
    """Return the wall-clock time in the user's time zone, for file names."""
    zone = clock.user_zone(load_preferences(db)["time_zone"])
    return clock.to_local(clock.now_utc(), zone).replace(tzinfo=None)


def new_backup_path(folder: Path, kind: str, moment: datetime) -> Path:
    """Return a path for a new backup of ``kind`` that no file has yet."""
    stem = f"r9crm-{kind}-{moment:%Y%m%d-%H%M%S}"
    candidate = folder / f"{stem}.zip"
    number = 2
    while candidate.exists():
        candidate = folder / f"{stem}-{number}.zip"
        number += 1
    return candidate


def list_backups(folder: Path, kind: str | None = None) -> list[BackupFile]:
    """Return our backup files in ``folder``, newest first.

    Only regular files whose whole name matches BACKUP_NAME count, so any
    other file in the folder is neither listed nor ever deleted.
    """
    try:
        candidates = list(folder.iterdir())
    except OSError:
        return []
    found = []
    for path in candidates:
        match = BACKUP_NAME.fullmatch(path.name)
        if match is None or (kind is not None and match.group(1) != kind):
            continue
        try:
            if path.is_symlink() or not path.is_file():
                continue
            stat = path.stat()
        except OSError:  # deleted or unreadable since the listing
            continue
        modified = datetime.fromtimestamp(stat.st_mtime, UTC)
        found.append(
            BackupFile(
                path, match.group(1), stat.st_size, modified.replace(tzinfo=None)
            )
        )
    return sorted(found, key=_age_key, reverse=True)


def _age_key(backup: BackupFile) -> tuple[str, int]:
    match = BACKUP_NAME.fullmatch(backup.name)
    assert match is not None
    return match.group(2), int(match.group(3) or 1)


def prune_backups(
    folder: Path, kind: str, keep: int, *, spare: Path | None = None
) -> list[Path]:
    """Delete all but the ``keep`` newest backups of ``kind``; return those deleted."""
    deleted = []
    for backup in list_backups(folder, kind)[keep:]:
        if spare is not None and backup.path == spare:
            continue
        try:
            backup.path.unlink(missing_ok=True)
        except OSError as error:
            # Windows refuses to delete a file that is open, such as one
            # being restored; the next run tries again.
            log.warning("Cannot delete the old backup %s: %s", backup.path, error)
            continue
        log.info("Deleted the old backup %s", backup.path)
        deleted.append(backup.path)
    return deleted


def _remove_stale(folder: Path, pattern: str) -> None:
    """Delete leftovers of a run that was killed, older than a day."""
    cutoff = datetime.now(UTC).timestamp() - STALE_SECONDS
    for path in folder.glob(pattern):
        try:
            if path.lstat().st_mtime > cutoff:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError as error:
            log.warning("Cannot delete the leftover %s: %s", path, error)
            continue
        log.info("Deleted the leftover %s", path)


def find_backup(settings: Settings, folder: Path, name: str) -> Path:
    """Return the backup named ``name`` in ``folder`` or the safety folder."""
    if BACKUP_NAME.fullmatch(name):
        for place in (folder, safety_folder(settings)):
            path = place / name
            if path.is_file():
                return path
    raise BackupNotFoundError(name)


# --- writing a backup ----------------------------------------------------


def create_backup(db: Database, settings: Settings, target: Path) -> BackupSummary:
    """Write a backup of the database and the files area to the new file ``target``.

    The zip is written under a temporary name in the same folder and renamed
    when complete, so ``target`` never contains half a backup.
    """
    with _lock:
        return _write_backup(db, settings, target)


def _write_backup(db: Database, settings: Settings, target: Path) -> BackupSummary:
    if target.exists():
        raise BackupExistsError(str(target))
    if target.resolve().is_relative_to(settings.files_dir.resolve()):
        raise BackupInFilesAreaError(str(target), str(settings.files_dir))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(target.parent, f"{PARTIAL_PREFIX}*.zip")
        handle, temp_name = tempfile.mkstemp(
            dir=target.parent, prefix=PARTIAL_PREFIX, suffix=".zip"
        )
        os.close(handle)
    except OSError as error:
        raise BackupWriteError(str(target.parent), _reason(error)) from error
    temp = Path(temp_name)
    try:
        with zipfile.ZipFile(
            temp, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True
        ) as archive:
            writer = BackupWriter(archive)
            kind, version, tables = _write_database(db, settings, writer)
            files = _write_files(settings.files_dir, writer)
            writer.add_manifest(
                Manifest(
                    app_version=app_version(),
                    schema_version=version,
                    database_kind=kind,
                    created_at=clock.now_utc().isoformat() + "Z",
                    tables=tables,
                    entries=writer.entries,
                )
            )
        os.replace(temp, target)
    except OSError as error:
        raise BackupWriteError(str(target), _reason(error)) from error
    finally:
        temp.unlink(missing_ok=True)
    counts = {name: info.rows for name, info in tables.items()}
    size = target.stat().st_size
    log.info(
        "Backup written to %s (%s bytes, %s contacts, %s files)",
        target,
        size,
        counts.get("contacts", 0),
        files,
    )
    return BackupSummary(target, size, counts, files)


def _reason(error: OSError) -> str:
    reason = error.strerror or str(error)
    return f"{reason}: {error.filename}" if error.filename else reason


def _write_database(
    db: Database, settings: Settings, writer: BackupWriter
) -> tuple[str, int, dict[str, TableInfo]]:
    """Add the database to the zip; return its kind, schema version and tables."""
    if db.is_sqlite:
        settings.work_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=settings.work_dir) as scratch:
            copy = Path(scratch) / "r9crm.sqlite3"
            backup_data.copy_sqlite(db, copy)
            with backup_data.open_sqlite(copy) as conn:
                version = backup_data.get_schema_version(conn)
                tables = {
                    name: TableInfo(backup_data.count_rows(conn, name), columns)
                    for name, columns in backup_data.describe_tables(conn).items()
                }
            writer.add_file(SQLITE_ENTRY, copy)
        return "sqlite", version, tables
    with backup_data.mysql_snapshot(db) as conn:
        version = backup_data.get_schema_version(conn)
        tables = {}
        for name, columns in backup_data.describe_tables(conn).items():
            table = backup_data.table_from_specs(name, columns, MetaData())
            counted = _Counted(backup_data.stream_rows(conn, table))
            writer.add_lines(table_entry(name), encode_rows(columns, iter(counted)))
            tables[name] = TableInfo(counted.rows, columns)
    return "mysql", version, tables


class _Counted:
    """Batches of rows passed through, counting the rows."""

    def __init__(self, batches: Iterator[list[tuple[Any, ...]]]) -> None:
        self.batches = batches
        self.rows = 0

    def __iter__(self) -> Iterator[list[tuple[Any, ...]]]:
        for batch in self.batches:
            self.rows += len(batch)
            yield batch


def _write_files(root: Path, writer: BackupWriter) -> int:
    """Add every file of the files area to the zip; return how many."""
    count = 0
    for folder, subfolders, names in os.walk(root):
        current = Path(folder)
        if current == root:
            subfolders[:] = [s for s in subfolders if s not in SKIPPED_FILES_FOLDERS]
        subfolders.sort()
        for name in sorted(names):
            path = current / name
            if path.is_symlink() or not path.is_file():
                continue
            entry = FILES_PREFIX + path.relative_to(root).as_posix()
            if not is_safe_entry_name(entry):
                log.warning(
                    "Not backed up: %s has a name a backup cannot contain", path
                )
                continue
            writer.add_file(entry, path)
            count += 1
    return count


# --- restoring -----------------------------------------------------------


def restore_backup(
    db: Database, settings: Settings, source: Path, *, name: str = ""
) -> RestoreSummary:
    """Replace the database and the files area with the backup ``source``.

    The whole backup is checked and staged first; a rejected backup raises
    a BackupRejectedError and changes nothing. Before replacing anything, a
    safety backup of the current data is written to the safety folder.
    ``name`` is the file name messages show (an upload's own name).
    """
    name = name or source.name
    if not source.is_file():
        raise BackupNotFoundError(str(source))
    with _lock:
        summary = _restore(db, settings, source, name)
    prune_backups(safety_folder(settings), SAFETY, SAFETY_KEEP, spare=source)
    return summary


def _restore(
    db: Database, settings: Settings, source: Path, name: str
) -> RestoreSummary:
    _remove_stale(settings.data_dir, f"{SCRATCH_PREFIX}*")
    try:
        scratch = Path(tempfile.mkdtemp(dir=settings.data_dir, prefix=SCRATCH_PREFIX))
    except OSError as error:
        raise BackupUnpackError(str(settings.data_dir), _reason(error)) from error
    try:
        unpacked = scratch / "unpacked"
        unpacked.mkdir()
        manifest = unpack_backup(source, unpacked, name=name)
        staged = _stage_database(manifest, unpacked, scratch, name)
        _mark_contacts_replaced(db, staged)
        safety = new_backup_path(safety_folder(settings), SAFETY, local_now(db))
        _write_backup(db, settings, safety)
        _replace(db, settings, staged, unpacked / FILES_PREFIX.rstrip("/"), scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    db.prepare()
    index_for(db).forget()
    log.info("Restored the backup %s; the data before it is in %s", name, safety)
    return RestoreSummary(
        name=name,
        created_at=manifest.created_at,
        schema_version=manifest.schema_version,
        tables={table: info.rows for table, info in manifest.tables.items()},
        safety_path=safety,
    )


def _stage_database(
    manifest: Manifest, unpacked: Path, scratch: Path, name: str
) -> Path:
    """Return a SQLite file with the backup's data in the current schema."""
    if manifest.database_kind == "sqlite":
        staged = entry_path(unpacked, SQLITE_ENTRY)
        _check_sqlite_copy(staged, manifest, name)
        with backup_data.open_sqlite(staged) as conn:
            _upgrade(conn)
        return staged
    loaded = scratch / "loaded.sqlite3"
    with backup_data.open_sqlite(loaded) as conn:
        _load_dump(conn, manifest, unpacked, name)
        _upgrade(conn)
        staged = scratch / "staged.sqlite3"
        with backup_data.open_sqlite(staged) as target:
            schema.upgrade(target)
            backup_data.copy_rows(conn, target)
            target.commit()
    return staged


def _mark_contacts_replaced(db: Database, staged: Path) -> None:
    """Advance the purge counter, so every process reloads its search index.

    Each process's index reloads in full when this counter changes, and the
    restored value could equal the one it has seen.
    """
    seen = get_revision(db, PURGE_COUNTER)
    db.release()
    with backup_data.open_sqlite(staged) as conn:
        backup_data.advance_counter(conn, PURGE_COUNTER, above=seen)
        conn.commit()


def _upgrade(conn: Connection) -> None:
    applied = schema.upgrade(conn)
    if applied:
        log.info("Brought the backup up to date with upgrades %s", applied)


def _check_sqlite_copy(path: Path, manifest: Manifest, name: str) -> None:
    """Check the database file in a backup against its manifest."""
    try:
        backup_data.check_sqlite_file(path)
        with backup_data.open_sqlite(path) as conn:
            version = backup_data.get_schema_version(conn)
            counts = {
                table: backup_data.count_rows(conn, table) for table in manifest.tables
            }
    except (sqlite3.DatabaseError, DBAPIError) as error:
        # On a private copy every database error means a damaged file.
        raise BackupDamagedError(name, SQLITE_ENTRY) from error
    expected = {table: info.rows for table, info in manifest.tables.items()}
    if version != manifest.schema_version or counts != expected:
        raise BackupDamagedError(name, SQLITE_ENTRY)


def _load_dump(conn: Connection, manifest: Manifest, unpacked: Path, name: str) -> None:
    """Create the dump's tables as they were and load their rows."""
    metadata = MetaData()
    for table_name, info in manifest.tables.items():
        entry = table_entry(table_name)
        table = backup_data.table_from_specs(table_name, info.columns, metadata)
        table.create(conn)
        loaded = 0
        rows = decode_rows(
            entry_path(unpacked, entry), info.columns, name=name, entry=entry
        )
        try:
            for batch in rows:
                backup_data.insert_rows(conn, table, batch)
                loaded += len(batch)
        except DBAPIError as error:
            # A missing value or a repeated key in the dump.
            raise BackupDamagedError(name, entry) from error
        if loaded != info.rows:
            raise BackupDamagedError(name, entry)
    conn.commit()
    if backup_data.get_schema_version(conn) != manifest.schema_version:
        raise BackupDamagedError(name, table_entry(schema.migrations.name))


def _replace(
    db: Database, settings: Settings, staged: Path, new_files: Path, scratch: Path
) -> None:
    """Swap in the new files area, then the database; undo the swap on failure."""
    new_files.mkdir(exist_ok=True)
    old_files = scratch / "files-before"
    files_dir = settings.files_dir
    try:
        if files_dir.exists():
            os.replace(files_dir, old_files)
        os.replace(new_files, files_dir)
    except OSError as error:
        if old_files.exists() and not files_dir.exists():
            os.replace(old_files, files_dir)
        raise BackupUnpackError(str(files_dir), _reason(error)) from error
    try:
        if db.is_sqlite:
            backup_data.replace_sqlite(db, staged)
        else:
            with backup_data.open_sqlite(staged) as conn:
                backup_data.replace_mysql_rows(db, conn)
    except BaseException:
        os.replace(files_dir, new_files)
        if old_files.exists():
            os.replace(old_files, files_dir)
        raise
