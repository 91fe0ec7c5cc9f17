"""The backup file: a zip with the database, the files area and a manifest.

Entries of format version 1:

- ``manifest.json``: format, format version, app version, schema version,
  database kind, creation time (UTC), each table's columns and row count,
  and the SHA-256 and size of every other entry.
- ``database/r9crm.sqlite3``: the database, when it was SQLite.
- ``database/<table>.jsonl``: the database, when it was MySQL/MariaDB. One
  JSON array of column values per line, in the manifest's column order.
- ``files/<path>``: the files area, path for path.

``unpack_backup`` checks everything the manifest promises while it unpacks
into a scratch folder, and raises a BackupRejectedError naming the file and
the problem before the caller changes anything.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

from crm_web.data import schema
from crm_web.data.backup import KINDS, ColumnSpec
from crm_web.errors import (
    BackupDamagedError,
    BackupForeignError,
    BackupFormatError,
    BackupManifestError,
    BackupMismatchError,
    BackupTooLargeError,
    BackupTooManyEntriesError,
    BackupTooNewError,
    BackupUnpackError,
    BackupUnreadableError,
    BackupUnsafeEntryError,
)

FORMAT = "r9crm-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATABASE_PREFIX = "database/"
SQLITE_ENTRY = "database/r9crm.sqlite3"
FILES_PREFIX = "files/"
DATABASE_KINDS = ("sqlite", "mysql")

CHUNK_BYTES = 1024 * 1024
MB = 1024 * 1024
# Zip-bomb guards. The sizes the zip declares must equal the manifest's and
# fit on the disk with room to spare; reading an entry stops at its size.
MAX_ENTRIES = 1_000_000
MAX_MANIFEST_BYTES = 256 * MB
MAX_LINE_BYTES = 64 * MB
FREE_SPACE_RESERVE_BYTES = 64 * MB

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
# Characters no entry name may contain: a backslash or colon could name
# another folder or drive on Windows.
_FORBIDDEN = re.compile(r"[\x00-\x1f\\:]")


@dataclass(frozen=True)
class Entry:
    sha256: str
    size: int


@dataclass(frozen=True)
class TableInfo:
    rows: int
    columns: list[ColumnSpec]


@dataclass(frozen=True)
class Manifest:
    app_version: str
    schema_version: int
    database_kind: str
    created_at: str
    tables: dict[str, TableInfo]
    entries: dict[str, Entry]

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "app_version": self.app_version,
            "schema_version": self.schema_version,
            "database_kind": self.database_kind,
            "created_at": self.created_at,
            "tables": {
                name: {
                    "rows": info.rows,
                    "columns": [spec.as_json() for spec in info.columns],
                }
                for name, info in self.tables.items()
            },
            "entries": {
                name: {"sha256": entry.sha256, "size": entry.size}
                for name, entry in sorted(self.entries.items())
            },
        }


def table_entry(table: str) -> str:
    return f"{DATABASE_PREFIX}{table}.jsonl"


# --- writing ----------------------------------------------------------------


class _HashingWriter:
    """A file-like object that hashes and counts what passes into the zip."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.target.write(data)


class BackupWriter:
    """Write entries into an open zip, recording each one's SHA-256 and size."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        self.entries: dict[str, Entry] = {}

    def add_file(self, name: str, path: Path) -> None:
        with path.open("rb") as source, self._open(name) as output:
            while chunk := source.read(CHUNK_BYTES):
                output.write(chunk)

    def add_lines(self, name: str, lines: Iterator[bytes]) -> None:
        with self._open(name) as output:
            for line in lines:
                output.write(line)

    def add_manifest(self, manifest: Manifest) -> None:
        text = json.dumps(manifest.as_json(), ensure_ascii=False, indent=1)
        self.archive.writestr(MANIFEST, text.encode("utf-8"))

    def _open(self, name: str) -> _Entry:
        return _Entry(self, name)


class _Entry:
    def __init__(self, writer: BackupWriter, name: str) -> None:
        self.writer = writer
        self.name = name

    def __enter__(self) -> _HashingWriter:
        # force_zip64: the size is not known up front and may pass 2 GiB.
        self.handle = self.writer.archive.open(self.name, "w", force_zip64=True)
        self.hashing = _HashingWriter(self.handle)
        return self.hashing

    def __exit__(self, *exc: object) -> None:
        self.handle.close()
        self.writer.entries[self.name] = Entry(
            self.hashing.digest.hexdigest(), self.hashing.size
        )


def encode_rows(
    specs: list[ColumnSpec], batches: Iterator[list[tuple[Any, ...]]]
) -> Iterator[bytes]:
    """Yield the JSON lines of each batch of rows, as UTF-8 bytes."""
    kinds = [spec.kind for spec in specs]
    for batch in batches:
        lines = [
            json.dumps([_encode(k, v) for k, v in zip(kinds, row, strict=True)]) + "\n"
            for row in batch
        ]
        yield "".join(lines).encode("ascii")


def _encode(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind in ("datetime", "date"):
        return value.isoformat()
    if kind == "numeric":
        return str(value)
    if kind == "binary":
        return base64.b64encode(value).decode("ascii")
    return value


# --- reading ----------------------------------------------------------------


def unpack_backup(source: Path, folder: Path, *, name: str) -> Manifest:
    """Check the backup ``source`` and unpack its entries into ``folder``.

    ``folder`` is a scratch folder inside the data folder, and ``name`` is
    the file name messages show. Raise a BackupRejectedError for a file that
    is not a complete, unchanged R9 CRM backup this version can read.
    """
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as error:
        raise BackupUnreadableError(name) from error
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ENTRIES:
            raise BackupTooManyEntriesError(name, len(infos), MAX_ENTRIES)
        for info in infos:
            if not is_safe_entry_name(info.filename):
                raise BackupUnsafeEntryError(name, info.filename)
        manifest = _read_manifest(archive, name)
        by_name = _match_entries(infos, manifest, name)
        _check_free_space(manifest, folder, name)
        for entry_name, entry in sorted(manifest.entries.items()):
            _unpack_entry(archive, by_name[entry_name], entry, folder, name)
    return manifest


def is_safe_entry_name(entry: str) -> bool:
    """Return whether an entry name stays inside the folder it is unpacked into."""
    if not entry or entry.startswith("/") or _FORBIDDEN.search(entry):
        return False
    parts = entry.rstrip("/").split("/")
    return all(part not in ("", ".", "..") for part in parts)


def entry_path(folder: Path, entry: str) -> Path:
    """Return where an entry, whose name is safe, is unpacked in ``folder``."""
    return folder.joinpath(*entry.split("/"))


def _read_manifest(archive: zipfile.ZipFile, name: str) -> Manifest:
    try:
        info = archive.getinfo(MANIFEST)
    except KeyError as error:
        raise BackupForeignError(name) from error
    if info.file_size > MAX_MANIFEST_BYTES:
        raise BackupManifestError(name, MANIFEST)
    try:
        raw = archive.read(info)
        data = json.loads(raw.decode("utf-8"))
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise BackupDamagedError(name, MANIFEST) from error
    except (UnicodeDecodeError, ValueError) as error:
        raise BackupForeignError(name) from error
    return parse_manifest(data, name)


def parse_manifest(data: Any, name: str) -> Manifest:
    """Check a manifest's fields; raise a BackupRejectedError for a wrong one."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BackupForeignError(name)
    format_version = _whole(data, "format_version", name)
    if format_version > FORMAT_VERSION or format_version < 1:
        raise BackupFormatError(name, format_version)
    schema_version = _whole(data, "schema_version", name)
    if schema_version > schema.LATEST_VERSION:
        raise BackupTooNewError(name, schema_version, schema.LATEST_VERSION)
    kind = data.get("database_kind")
    if kind not in DATABASE_KINDS:
        raise BackupManifestError(name, "database_kind")
    for field in ("app_version", "created_at"):
        if not isinstance(data.get(field), str):
            raise BackupManifestError(name, field)
    return Manifest(
        app_version=data["app_version"],
        schema_version=schema_version,
        database_kind=kind,
        created_at=data["created_at"],
        tables=_parse_tables(data.get("tables"), name),
        entries=_parse_entries(data.get("entries"), name),
    )


def _whole(data: dict[str, Any], field: str, name: str) -> int:
    value: Any = data.get(field)
    if not _is_whole(value) or value < 0:
        raise BackupManifestError(name, field)
    return int(value)


def _parse_tables(raw: Any, name: str) -> dict[str, TableInfo]:
    if not isinstance(raw, dict):
        raise BackupManifestError(name, "tables")
    tables = {}
    for table, info in raw.items():
        field = f"tables.{table}"
        if not _IDENTIFIER.fullmatch(str(table)) or not isinstance(info, dict):
            raise BackupManifestError(name, field)
        rows = _whole(info, "rows", name)
        columns = info.get("columns")
        if not isinstance(columns, list) or not columns:
            raise BackupManifestError(name, field)
        tables[table] = TableInfo(
            rows, [_parse_column(c, field, name) for c in columns]
        )
    return tables


def _parse_column(raw: Any, field: str, name: str) -> ColumnSpec:
    if not isinstance(raw, dict):
        raise BackupManifestError(name, field)
    column: Any = raw.get("name")
    length: Any = raw.get("length")
    nullable: Any = raw.get("nullable")
    primary_key: Any = raw.get("primary_key")
    valid = (
        isinstance(column, str)
        and _IDENTIFIER.fullmatch(column) is not None
        and raw.get("kind") in KINDS
        and (length is None or _is_whole(length) and 0 < length < 2**31)
        and isinstance(nullable, bool)
        and isinstance(primary_key, bool)
    )
    if not valid:
        raise BackupManifestError(name, f"{field}.{column}")
    return ColumnSpec(column, raw["kind"], length, nullable, primary_key)


def _parse_entries(raw: Any, name: str) -> dict[str, Entry]:
    if not isinstance(raw, dict):
        raise BackupManifestError(name, "entries")
    entries = {}
    for entry, info in raw.items():
        sha256: Any = info.get("sha256") if isinstance(info, dict) else None
        size: Any = info.get("size") if isinstance(info, dict) else None
        if not (
            isinstance(sha256, str)
            and _SHA256.fullmatch(sha256)
            and _is_whole(size)
            and size >= 0
        ):
            raise BackupManifestError(name, f"entries.{entry}")
        entries[entry] = Entry(sha256, size)
    return entries


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _match_entries(
    infos: list[zipfile.ZipInfo], manifest: Manifest, name: str
) -> dict[str, zipfile.ZipInfo]:
    """Pair each manifest entry with its zip entry.

    Raise for an entry that is missing, repeated, not listed, of another
    size than listed, or outside the database and files folders.
    """
    by_name: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        entry = info.filename
        if entry == MANIFEST:
            continue
        if entry in by_name or entry not in manifest.entries:
            raise BackupMismatchError(name, entry)
        if info.file_size != manifest.entries[entry].size:
            raise BackupDamagedError(name, entry)
        if info.flag_bits & 0x1:  # encrypted with a password
            raise BackupUnreadableError(name)
        by_name[entry] = info
    expected = expected_entries(manifest)
    for entry in sorted(expected | set(manifest.entries)):
        if entry not in by_name:
            raise BackupMismatchError(name, entry)
        is_file = entry.startswith(FILES_PREFIX) and not entry.endswith("/")
        if entry not in expected and not is_file:
            raise BackupMismatchError(name, entry)
    return by_name


def expected_entries(manifest: Manifest) -> set[str]:
    """Return the database entries a backup of its kind must contain."""
    if manifest.database_kind == "sqlite":
        return {SQLITE_ENTRY}
    return {table_entry(table) for table in manifest.tables}


def _check_free_space(manifest: Manifest, folder: Path, name: str) -> None:
    needed = sum(entry.size for entry in manifest.entries.values())
    free = shutil.disk_usage(folder).free
    if needed + FREE_SPACE_RESERVE_BYTES > free:
        raise BackupTooLargeError(
            name, -(-needed // MB), free // MB, str(folder.parent)
        )


def _unpack_entry(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    entry: Entry,
    folder: Path,
    name: str,
) -> None:
    target = entry_path(folder, info.filename)
    if not target.resolve().is_relative_to(folder.resolve()):
        raise BackupUnsafeEntryError(name, info.filename)
    digest = hashlib.sha256()
    size = 0
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(info) as source, target.open("wb") as output:
            while chunk := source.read(CHUNK_BYTES):
                size += len(chunk)
                if size > entry.size:
                    raise BackupDamagedError(name, info.filename)
                digest.update(chunk)
                output.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        # A wrong CRC, a broken deflate stream or a header that differs
        # from the central directory.
        raise BackupDamagedError(name, info.filename) from error
    except OSError as error:
        raise BackupUnpackError(str(folder), error.strerror or str(error)) from error
    if size != entry.size or digest.hexdigest() != entry.sha256:
        raise BackupDamagedError(name, info.filename)


def decode_rows(
    path: Path, specs: list[ColumnSpec], *, name: str, entry: str
) -> Iterator[list[dict[str, Any]]]:
    """Read a table's JSON lines in batches of rows keyed by column name."""
    kinds = [(spec.name, spec.kind) for spec in specs]
    batch: list[dict[str, Any]] = []
    with path.open("rb") as lines:
        while line := lines.readline(MAX_LINE_BYTES + 1):
            if len(line) > MAX_LINE_BYTES or not line.endswith(b"\n"):
                raise BackupDamagedError(name, entry)
            try:
                values = json.loads(line)
                if not isinstance(values, list) or len(values) != len(kinds):
                    raise ValueError("wrong number of values")
                batch.append(
                    {
                        column: decode_value(kind, value)
                        for (column, kind), value in zip(kinds, values, strict=True)
                    }
                )
            except (ValueError, TypeError, InvalidOperation) as error:
                raise BackupDamagedError(name, entry) from error
            if len(batch) >= 1000:
                yield batch
                batch = []
    if batch:
        yield batch


def decode_value(kind: str, value: Any) -> Any:
    """Turn a JSON value back into the column's Python value."""
    if value is None:
        return None
    if kind in ("integer", "bigint"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"not an integer: {value!r}")
        return value
    if kind == "boolean":
        if value not in (True, False, 0, 1):
            raise ValueError(f"not a boolean: {value!r}")
        return bool(value)
    if kind in ("string", "text"):
        if not isinstance(value, str):
            raise ValueError(f"not a text: {value!r}")
        return value
    if kind == "datetime":
        return datetime.fromisoformat(value)
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "numeric":
        return Decimal(str(value))
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"not a number: {value!r}")
        return float(value)
    return base64.b64decode(value, validate=True)
