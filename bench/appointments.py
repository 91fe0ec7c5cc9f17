"""Quick views of appointments at 100,000 rows, against a raw range query.

The rows are generated: non-repeating appointments at random times over five
years from 2024, about one in twenty cancelled and three in ten done, plus
SERIES repeating series. Each quick view is timed through the service with
"today" in the middle of that span, in Asia/Shanghai. Its floor is one SQL
query over the same UTC range with the driver alone (sqlite3 or PyMySQL)
that returns only ids. The floor of the undated views reads one page of
ids by start from today, the page those views open on.
"""

from __future__ import annotations

import random
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.backends import BACKENDS, Backend, connect_dbapi, open_backend
from bench.report import Figure, Target, format_table, time_runs
from crm_web.data import appointments as appointment_data
from crm_web.data.db import Database, connect
from crm_web.services import appointments as service

P95_LIMIT_MS = 100.0
SERIES = 50
SPAN_DAYS = 5 * 365
FIRST_DAY = datetime(2024, 1, 1)
TODAY = date(2026, 6, 15)
ZONE = ZoneInfo("Asia/Shanghai")
WEEK_START = "monday"
SEED = 20261204
CHUNK = 5000
DEFAULT_RUNS = 30


def generate_rows(rows: int, *, seed: int = SEED) -> list[dict[str, Any]]:
    """Return ``rows`` appointment rows, SERIES of them repeating."""
    rng = random.Random(seed)
    now = datetime(2026, 1, 1)
    generated = []
    for number in range(rows):
        starts = FIRST_DAY + timedelta(minutes=rng.randrange(SPAN_DAYS * 24 * 60))
        is_series = number < SERIES
        status = rng.choices(("planned", "done", "cancelled"), (65, 30, 5))[0]
        generated.append(
            {
                "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "created_at": now,
                "updated_at": now,
                "version": 1,
                "owner": "Bench",
                "deleted": False,
                "contact_uuid": None,
                "title": f"拜访客户 {number}",
                "starts_at": starts,
                "ends_at": starts + timedelta(hours=1),
                "time_zone": ZONE.key,
                "location": "上海",
                "notes": "",
                "status": status,
                "reminder_minutes": 15 if number % 3 == 0 else None,
                "repeat": rng.choice(appointment_data.REPEATS) if is_series else "none",
                "repeat_until": None,
            }
        )
    return generated


def fill(db: Database, rows: int) -> float:
    """Insert the generated rows and return the seconds it took."""
    generated = generate_rows(rows)
    start = time.perf_counter()
    for first in range(0, len(generated), CHUNK):
        chunk = generated[first : first + CHUNK]
        db.write(partial(appointment_data.insert_appointments, rows=chunk))
    db.release()
    return time.perf_counter() - start


def floor_query(view: str) -> tuple[str, dict[str, Any]]:
    """Return the raw SQL and parameters a quick view cannot beat."""
    if view in ("all", "cancelled"):
        sql = (
            "SELECT id FROM appointments WHERE deleted = 0 "
            "AND starts_at >= %(start)s ORDER BY starts_at LIMIT 100"
        )
        return sql, {"start": service.local_midnight_utc(TODAY, ZONE)}
    first, after_last = service.view_days(view, today=TODAY, week_start=WEEK_START)
    sql = (
        "SELECT id FROM appointments WHERE deleted = 0 "
        "AND starts_at >= %(start)s AND starts_at < %(end)s"
    )
    return sql, {
        "start": service.local_midnight_utc(first, ZONE),
        "end": service.local_midnight_utc(after_last, ZONE),
    }


def measure_appointments(backend: Backend, db: Database, runs: int) -> list[Figure]:
    """Time every quick view and its raw range query floor."""
    raw = connect_dbapi(backend.url)
    figures = []
    try:
        for view in service.QUICK_VIEWS:
            figures.append(_view_figure(backend, db, raw, view, runs))
    finally:
        raw.close()
    return figures


def _view_figure(
    backend: Backend, db: Database, raw: Any, view: str, runs: int
) -> Figure:
    def quick_view() -> list[service.Occurrence]:
        found = service.quick_view(
            db, view, today=TODAY, zone=ZONE, week_start=WEEK_START
        )
        db.release()
        return found

    sql, params = floor_query(view)
    if not backend.is_mysql:
        # sqlite3 takes named parameters as :name, and stores datetimes as text.
        sql = sql.replace("%(start)s", ":start").replace("%(end)s", ":end")
        params = {k: v.isoformat(sep=" ") for k, v in params.items()}

    def floor() -> list[Any]:
        cursor = raw.cursor()
        cursor.execute(sql, params)
        found = cursor.fetchall()
        cursor.close()
        if backend.is_mysql:
            raw.commit()
        return list(found)

    occurrences = len(quick_view())
    floor_rows = len(floor())
    return Figure(
        backend.name,
        f"appointments quick view {view}",
        "ms",
        time_runs(quick_view, runs),
        time_runs(floor, runs),
        Target(P95_LIMIT_MS, "p95"),
        note=f"{occurrences} occurrences; floor {floor_rows} rows",
    )


def run(
    rows: int,
    *,
    backends: tuple[str, ...] = BACKENDS,
    runs: int = DEFAULT_RUNS,
) -> list[Figure]:
    """Fill each backend with ``rows`` appointments and time the quick views."""
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="appointments-") as work:
        for name in backends:
            with open_backend(name, Path(work)) as backend:
                db = connect(backend.url)
                try:
                    seconds = fill(db, rows)
                    print(f"[{name}] {rows:,} appointments inserted in {seconds:.1f} s")
                    figures.extend(measure_appointments(backend, db, runs))
                finally:
                    db.release()
                    db.close()
    print(format_table(figures))
    for figure in figures:
        print(f"  {figure.backend}, {figure.name}: {figure.note}")
    return figures


if __name__ == "__main__":
    run(100_000)
