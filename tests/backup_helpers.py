"""Data, snapshots and zip surgery shared by the backup tests."""

from __future__ import annotations

import hashlib
import json
import uuid
import zipfile
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, select

from crm_web.config import Settings
from crm_web.data import schema
from crm_web.data.db import Database

NOW = datetime(2026, 12, 4, 7, 30, 0)
# Text that breaks careless encodings: Chinese, an emoji, a character outside
# the Basic Multilingual Plane, a full-width space, control characters and
# trailing spaces.
AWKWARD = '张小明\u3000😀𠀀 \t\r\n"quoted" back\\slash \x1e end  '
BLOB = bytes(range(256)) * 12 + b"\x00" * 100
BLOB_SHA = hashlib.sha256(BLOB).hexdigest()


def record(**values: Any) -> dict[str, Any]:
    return {
        "uuid": str(uuid.uuid4()),
        "created_at": NOW,
        "updated_at": NOW,
        "version": 1,
        "owner": "Admin",
        "deleted": False,
        "deleted_at": None,
        **values,
    }


def fill(db: Database, settings: Settings) -> None:
    """Store rows in most tables and one file in the files area."""
    contact = record(
        name=AWKWARD,
        company="宁波东方贸易有限公司 ",
        mobile="013800138000",
        email="zxm@example.com",
        birthday=date(1990, 3, 15),
        notes="第一行\n第二行" * 2000,
        extra=json.dumps({"客户编号": "00123"}, ensure_ascii=False),
        search_text="zhangxiaoming zxm",
        revision=1,
    )
    gone = record(name="Alice", deleted=True, deleted_at=NOW, revision=2)
    file_row = record(
        name="报价单 2026.pdf",
        sha256=BLOB_SHA,
        size=len(BLOB),
        content_type="application/pdf",
    )
    rows: dict[Table, list[dict[str, Any]]] = {
        schema.categories: [record(name="重要客户 😀", sort_order=1, revision=1)],
        schema.contacts: [contact, gone],
        schema.sales: [
            record(
                contact_uuid=contact["uuid"],
                sold_on=date(2026, 12, 1),
                item="T恤",
                quantity_milli=2500,
                unit_price_micro=35000,
                amount_minor=9_223_372_036_854_775_807,
                currency="USD",
                status="paid",
            ),
            record(
                sold_on=date(2026, 2, 28),
                quantity_milli=None,
                unit_price_micro=None,
                amount_minor=None,
                status="quoted",
            ),
        ],
        schema.comm_logs: [
            record(
                contact_uuid=contact["uuid"],
                occurred_at=NOW,
                channel="wechat",
                title=AWKWARD,
                content="报价" * 3000,
                follow_up_on=date(2026, 12, 31),
                follow_up_done=True,
                search_text="baojia",
            )
        ],
        schema.appointments: [
            record(
                title="展会",
                starts_at=datetime(2026, 10, 25, 1, 30),
                ends_at=datetime(2026, 10, 25, 3, 0),
                time_zone="Europe/Berlin",
                status="planned",
                repeat="weekly",
                repeat_until=date(2027, 1, 1),
                reminder_minutes=15,
            )
        ],
        schema.vaults: [
            record(kdf='{"name": "scrypt"}', salt="c2FsdA==", verifier="gAAAAAB")
        ],
        schema.vault_entries: [
            record(
                vault_uuid="v1",
                kind="qq",
                title="QQ",
                secret="gAAAAABencrypted-token" * 50,
            )
        ],
        schema.files: [file_row],
        schema.file_links: [
            record(
                file_uuid=file_row["uuid"],
                target_kind="contact",
                target_uuid=contact["uuid"],
            )
        ],
    }

    def work(db: Database) -> None:
        for table, table_rows in rows.items():
            for row in table_rows:
                db.execute(table.insert(), row)

    db.write(work)
    blob = settings.files_dir / "blobs" / BLOB_SHA[:2] / BLOB_SHA
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(BLOB)


def all_rows(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Return every schema table's rows in primary-key order."""
    snapshot = {}
    for table in schema.metadata.sorted_tables:
        order = list(table.primary_key.columns)
        snapshot[table.name] = [
            tuple(row) for row in db.execute(select(table).order_by(*order))
        ]
    db.release()
    return snapshot


def without_purge_counter(
    rows: dict[str, list[tuple[Any, ...]]],
) -> dict[str, list[tuple[Any, ...]]]:
    """Drop the counter a restore advances on purpose from a snapshot."""
    counters = [row for row in rows["counters"] if row[0] != "contacts_purged"]
    return {**rows, "counters": counters}


def purge_counter(rows: dict[str, list[tuple[Any, ...]]]) -> int:
    return int(dict(rows["counters"])["contacts_purged"])


def all_files(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def rewrite_zip(
    source: Path,
    target: Path,
    *,
    change: Callable[[str, bytes], bytes | None] = lambda _name, data: data,
    manifest: Callable[[dict[str, Any]], None] | None = None,
    extra: dict[str, bytes] | None = None,
) -> Path:
    """Copy a backup, changing entries (None drops one) and the manifest.

    With ``manifest`` given, the checksums and sizes in it are recomputed
    after the entries change, so only the change under test is wrong.
    """
    entries: dict[str, bytes] = {}
    with zipfile.ZipFile(source) as archive:
        for name in archive.namelist():
            data = change(name, archive.read(name))
            if data is not None:
                entries[name] = data
    entries.update(extra or {})
    if manifest is not None:
        content = json.loads(entries["manifest.json"])
        content["entries"] = {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            for name, data in entries.items()
            if name != "manifest.json"
        }
        manifest(content)
        entries["manifest.json"] = json.dumps(content).encode()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return target
