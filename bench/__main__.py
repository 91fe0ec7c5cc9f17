"""Run the benchmarks: ``python -m bench [--rows N] [--backend ...] [--quick]``."""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import platform
import signal
import sys
import tempfile
import time
from pathlib import Path

from flask import Flask

from bench import appointments as appointments_bench
from bench import comm_log as comm_log_bench
from bench import lan as lan_bench
from bench import sales as sales_bench
from bench import sync as sync_bench
from bench.backends import BACKENDS, Backend, open_backend
from bench.exports import measure_export
from bench.generate import cached_file
from bench.imports import data_dir, measure_import
from bench.pages import measure_pages
from bench.queries import measure_queries
from bench.report import Figure, format_markdown, format_table
from crm_web import create_app
from crm_web.config import load_settings
from crm_web.data.db import Database
from crm_web.services.search import index_for

OUT_DIR = Path(__file__).resolve().parent / "out"
DEFAULT_ROWS = 100_000
QUICK_ROWS = 10_000
DEFAULT_SEED = 20261204
DEFAULT_RUNS = 30
# Changed records sent and fetched by the sync figures, whatever --rows says.
SYNC_ROWS = 10_000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--rows", type=int, default=DEFAULT_ROWS, help="contacts in the import file"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"use {QUICK_ROWS:,} rows, for a fast check",
    )
    parser.add_argument(
        "--backend",
        choices=(*BACKENDS, "both"),
        default="both",
        help="database to measure on (mysql: the MariaDB server of the tests)",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="seed of the generated rows"
    )
    parser.add_argument(
        "--areas",
        choices=("all", "contacts", "daily", "lan", "sync"),
        default="all",
        help="contacts (import, query, pages, export), daily (log, sales, "
        "appointments), lan (clients browsing r9crm serve at once), sync (upload "
        "and download through the MariaDB server) or all",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=DEFAULT_RUNS,
        help="timed repetitions of each query and page request",
    )
    return parser.parse_args(argv)


def machine_line() -> str:
    """Return the CPU count, memory, load averages and software versions."""
    loads = ", ".join(f"{load:.2f}" for load in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs, {_memory_gib():.0f} GiB RAM, load average "
        f"{loads} (1, 5, 15 min); Python {platform.python_version()} on "
        f"{platform.platform(terse=True)}"
    )


def _memory_gib() -> float:
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        kib = int(meminfo.readline().split()[1])
    return kib / 2**20


def open_app(backend: Backend) -> Flask:
    settings = load_settings(data_dir=data_dir(backend), database_url=backend.url)
    return create_app(settings)


def close_app(app: Flask) -> None:
    db: Database = app.extensions["crm_db"]
    index_for(db).forget()
    db.release()
    db.close()


def run_backend(
    name: str, path: Path, rows: int, runs: int, work_dir: Path
) -> list[Figure]:
    """Measure every figure on one backend, in a database of its own."""
    print(f"\n[{name}] {machine_line()}", flush=True)
    with open_backend(name, work_dir) as backend:
        figures = measure_import(backend, path, rows)
        _progress(figures)
        app = open_app(backend)
        try:
            db: Database = app.extensions["crm_db"]
            for step in (
                lambda: measure_queries(backend, db, runs),
                lambda: measure_pages(backend, app, runs),
                lambda: measure_export(backend, app),
            ):
                done = step()
                _progress(done)
                figures.extend(done)
        finally:
            close_app(app)
    return figures


def run_daily_work(rows: int, backends: tuple[str, ...], runs: int) -> list[Figure]:
    """Time log list filters, sales summaries and appointment quick views."""
    figures: list[Figure] = []
    for area in (comm_log_bench, sales_bench, appointments_bench):
        print(f"\n[{area.__name__}] {rows:,} rows; {machine_line()}", flush=True)
        done = area.run(rows, backends=backends, runs=runs)
        _progress(done)
        figures.extend(done)
    return figures


def run_sync() -> list[Figure]:
    """Time upload and download of SYNC_ROWS records through MariaDB."""
    print(f"\n[{sync_bench.__name__}] {SYNC_ROWS:,} records; {machine_line()}")
    figures = sync_bench.run(SYNC_ROWS)
    _progress(figures)
    return figures


def run_lan(rows: int, backends: tuple[str, ...], seed: int) -> list[Figure]:
    """Time clients browsing one `r9crm serve` at once and one at a time."""
    print(f"\n[{lan_bench.__name__}] {rows:,} contacts; {machine_line()}", flush=True)
    figures = lan_bench.run(rows, backends=backends, seed=seed)
    _progress(figures)
    return figures


def _progress(figures: list[Figure]) -> None:
    print(format_table(figures), flush=True)
    for figure in figures:
        if figure.note:
            print(f"  {figure.name}: {figure.note}", flush=True)


def save_markdown(figures: list[Figure], header: str) -> Path:
    OUT_DIR.mkdir(exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = OUT_DIR / f"results-{stamp}.md"
    notes = [f"- {f.backend}, {f.name}: {f.note}" for f in figures if f.note]
    path.write_text(
        "\n\n".join([header, format_markdown(figures), "\n".join(notes)]) + "\n",
        encoding="utf-8",
    )
    return path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rows = QUICK_ROWS if args.quick else args.rows
    backends = BACKENDS if args.backend == "both" else (args.backend,)
    # The database and temporary files are removed on SIGTERM too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    logging.basicConfig(level=logging.WARNING)

    start = time.perf_counter()
    path, generated = cached_file(OUT_DIR, rows, args.seed)
    if generated:
        print(f"Import file {path} generated in {time.perf_counter() - start:.1f} s")
    else:
        print(f"Import file {path} (cached)")

    header = (
        f"{datetime.date.today().isoformat()}, {rows:,} contacts, seed "
        f"{args.seed}, {args.runs} runs per latency figure. Start: {machine_line()}"
    )
    print(header, flush=True)
    figures: list[Figure] = []
    if args.areas in ("all", "contacts"):
        with tempfile.TemporaryDirectory(prefix="run-", dir=OUT_DIR) as work:
            for name in backends:
                figures.extend(run_backend(name, path, rows, args.runs, Path(work)))
    if args.areas in ("all", "daily"):
        figures.extend(run_daily_work(rows, backends, args.runs))
    if args.areas in ("all", "lan"):
        figures.extend(run_lan(rows, backends, args.seed))
    if args.areas in ("all", "sync"):
        figures.extend(run_sync())
    header += f" End: {machine_line()}"
    print(f"\nAll figures ({rows:,} contacts). End: {machine_line()}")
    print(format_table(figures))
    print(f"\nMarkdown copy: {save_markdown(figures, header)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
