"""One import, or its floor, in a process of its own, for time and peak RSS.

Run as ``python -m bench.child import|floor FILE URL DATA_DIR``. The last
line printed is a JSON object of counts and figures. ``seconds`` is wall
clock time and ``cpu_seconds`` the CPU time of this process, which leaves
out a database server's. ``peak_rss_mb`` is the peak resident set size and
``start_rss_mb`` that peak before the timed work, after imports and set-up.
The floor process imports neither the app nor openpyxl, so its figures are
those of the read and the insert.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from python_calamine import CalamineWorkbook

from bench.backends import connect_dbapi

FLOOR_TABLE = "bench_floor"


def peak_rss_mb() -> float:
    """Return this process's peak RSS in MB (10**6 bytes).

    Linux keeps ``ru_maxrss`` across exec, so a child started by a large
    parent would report at least the parent's size. VmHWM in
    /proc/self/status covers only the memory of the running program.
    """
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e6
    raise RuntimeError("/proc/self/status has no VmHWM line")


def run_import(path: Path, url: str, data_dir: Path) -> Callable[[], dict[str, Any]]:
    """Set up the app and return the timed step, which imports the file."""
    from crm_web import create_app, web
    from crm_web.config import load_settings
    from crm_web.services.importing.pipeline import import_file, plan_import

    settings = load_settings(data_dir=data_dir, database_url=url)
    app = create_app(settings)
    context = app.test_request_context()
    context.push()

    def work() -> dict[str, Any]:
        plan = plan_import(path)
        summary = import_file(
            web.db(),
            path,
            policy="update",
            owner=web.owner(),
            region=web.region(),
            work_dir=settings.work_dir,
            plan=plan,
        )
        return {
            "inserted": summary.inserted,
            "updated": summary.updated,
            "skipped": summary.skipped,
            "rejected": summary.rejected,
        }

    return work


def run_floor(path: Path, url: str, data_dir: Path) -> Callable[[], dict[str, Any]]:
    """Return the timed step, which reads the sheet and inserts its rows.

    The rows go, as calamine returns them, into a new table of TEXT columns
    with one executemany.
    """
    connection = connect_dbapi(url)
    mark = "?" if url.startswith("sqlite") else "%s"

    def work() -> dict[str, Any]:
        rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
        columns = [f"c{i}" for i in range(len(rows[0]))]
        cursor = connection.cursor()
        cursor.execute(
            f"CREATE TABLE {FLOOR_TABLE} ({', '.join(f'{c} TEXT' for c in columns)})"
        )
        cursor.executemany(
            f"INSERT INTO {FLOOR_TABLE} ({', '.join(columns)}) "
            f"VALUES ({', '.join(mark for _ in columns)})",
            rows[1:],
        )
        connection.commit()
        connection.close()
        return {"inserted": len(rows) - 1}

    return work


STEPS = {"import": run_import, "floor": run_floor}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.child")
    parser.add_argument("mode", choices=sorted(STEPS))
    parser.add_argument("file", type=Path)
    parser.add_argument("url")
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--profile", type=Path, help="write cProfile stats here")
    args = parser.parse_args(argv)

    work = STEPS[args.mode](args.file, args.url, args.data_dir)
    start_rss = peak_rss_mb()
    profiler = cProfile.Profile() if args.profile else None
    start, start_cpu = time.perf_counter(), time.process_time()
    with profiler or nullcontext():
        counts = work()
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - start_cpu
    if profiler:
        profiler.dump_stats(args.profile)
    result = {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "start_rss_mb": start_rss,
        "peak_rss_mb": peak_rss_mb(),
        **counts,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
