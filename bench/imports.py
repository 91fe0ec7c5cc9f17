"""Import time and peak memory, each against its floor, in child processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.backends import Backend
from bench.report import Figure, Stats, Target

REPO_ROOT = Path(__file__).resolve().parent.parent
SQLITE_RATIO_LIMIT = 1.5
PEAK_RSS_LIMIT_MB = 300


def data_dir(backend: Backend) -> Path:
    """Return the app's data folder (secret key, logs, work files)."""
    return backend.work_dir / "data"


def run_child(mode: str, path: Path, backend: Backend) -> dict[str, Any]:
    """Run ``bench.child`` and return the JSON object it prints last."""
    command = [
        sys.executable,
        "-m",
        "bench.child",
        mode,
        str(path),
        backend.url,
        str(data_dir(backend)),
    ]
    done = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"bench.child {mode} on {backend.name} failed with exit code "
            f"{done.returncode}:\n{done.stderr[-4000:]}"
        )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure_import(backend: Backend, path: Path, rows: int) -> list[Figure]:
    """Import ``path`` into the empty database; the floor goes first."""
    path.read_bytes()  # Both runs then read the file from the page cache.
    floor = run_child("floor", path, backend)
    result = run_child("import", path, backend)
    counts = (
        f"{result['inserted']} inserted, {result['updated']} updated, "
        f"{result['skipped']} skipped, {result['rejected']} rejected"
    )
    if result["inserted"] != rows:
        counts += f" (expected {rows} inserted)"
    counts += (
        f"; CPU time {result['cpu_seconds']:.1f} s, floor "
        f"{floor['cpu_seconds']:.1f} s (these processes only, not a server)"
    )
    seconds_target = Target(SQLITE_RATIO_LIMIT, "ratio")
    return [
        Figure(
            backend.name,
            "import (plan_import + import_file)",
            "s",
            Stats.single(result["seconds"]),
            Stats.single(floor["seconds"]),
            seconds_target if not backend.is_mysql else None,
            note=counts,
        ),
        Figure(
            backend.name,
            "import peak RSS",
            "MB",
            Stats.single(result["peak_rss_mb"]),
            Stats.single(floor["peak_rss_mb"]),
            Target(PEAK_RSS_LIMIT_MB, "p95"),
            note=(
                f"{result['start_rss_mb']:.0f} MB before the import "
                f"(interpreter, app, database); floor process "
                f"{floor['start_rss_mb']:.0f} MB before its work"
            ),
        ),
    ]
