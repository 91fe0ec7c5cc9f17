"""Export of every contact to .xlsx, against a plain openpyxl write."""

from __future__ import annotations

import datetime
import time
from pathlib import Path

from flask import Flask
from openpyxl import Workbook

from bench.backends import Backend
from bench.report import Figure, Stats, Target
from crm_web.data.db import Database
from crm_web.services.contact_export import export_to_path
from crm_web.services.fields import FIELD_NAMES

RATIO_LIMIT = 1.3


def floor_sql() -> str:
    """Return a SELECT of the exported fields, with the category's name."""
    columns = [
        "cat.name AS category" if name == "category" else f"c.{name}"
        for name in FIELD_NAMES
    ]
    return (
        f"SELECT {', '.join(columns)} FROM contacts c "
        "LEFT JOIN categories cat ON cat.uuid = c.category_uuid "
        "WHERE c.deleted = 0 ORDER BY c.name_sort, c.id"
    )


def write_floor(db: Database, path: Path) -> int:
    """Read the rows with one SELECT and write them as strings, write-only."""
    rows = db.query(floor_sql())
    db.release()
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Contacts")
    sheet.append(list(FIELD_NAMES))
    for row in rows:
        sheet.append([_text(row[name]) for name in FIELD_NAMES])
    workbook.save(path)
    return len(rows)


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def measure_export(backend: Backend, app: Flask) -> list[Figure]:
    """Time export_to_path of every contact, then the floor."""
    db: Database = app.extensions["crm_db"]
    target = backend.work_dir / "export.xlsx"
    with app.test_request_context():
        start = time.perf_counter()
        count = export_to_path(db, target)
        seconds = time.perf_counter() - start
    db.release()
    start = time.perf_counter()
    floor_count = write_floor(db, backend.work_dir / "floor.xlsx")
    floor_seconds = time.perf_counter() - start
    return [
        Figure(
            backend.name,
            "export to .xlsx (export_to_path)",
            "s",
            Stats.single(seconds),
            Stats.single(floor_seconds),
            Target(RATIO_LIMIT, "ratio"),
            note=(
                f"{count} rows, {target.stat().st_size / 1e6:.1f} MB; "
                f"floor {floor_count} rows"
            ),
        )
    ]
