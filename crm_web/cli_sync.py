"""``r9crm sync``: run an upload or download, or print the sync status.

Results go to standard output and progress to standard error, in English
like the rest of the command line.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from crm_web.data.db import Database
from crm_web.services import clock, sync, sync_runs
from crm_web.services.preferences import load_preferences
from crm_web.services.sync import Progress
from crm_web.services.sync_runs import SyncResult

AREA_NAMES = {
    "contacts": "contacts",
    "sales": "sales records",
    "comm_logs": "log entries",
    "categories": "categories",
}
# Runs that `r9crm sync status` lists, newest first.
SHOWN_RUNS = 10


def run_sync(
    db: Database, data_dir: Path, direction: str, *, local_owner: str
) -> SyncResult:
    """Sign in to the saved server and upload or download, showing progress."""
    server_db, user = sync_runs.open_sync(db, data_dir, direction)
    print(f"{direction.capitalize()} as network user {user.name}", file=sys.stderr)
    return sync_runs.run_sync(
        direction,
        db,
        server_db,
        user,
        local_owner=local_owner,
        progress=_progress(direction),
    )


def _progress(direction: str) -> Progress:
    # The engine counts every record it checks, sent or not.
    def report(done: int, total: int) -> None:
        if not total:
            return
        print(
            f"{direction}: {done} of {total} records checked",
            file=sys.stderr,
            flush=True,
        )

    return report


def print_summary(result: SyncResult) -> int:
    """Print what a run did and return the number of open conflicts."""
    print(
        f"{result.direction.capitalize()} finished: {result.sent} sent, "
        f"{result.received} received, {result.conflicts} conflicts, "
        f"{result.rejected} rejected."
    )
    if result.rejected:
        names = ", ".join(result.rejected_names)
        more = (
            f" and {result.unnamed_rejections} more"
            if result.unnamed_rejections
            else ""
        )
        print(
            "Not sent, because the network user may not change them on the "
            f"server: {names}{more}."
        )
    _print_open_conflicts(result.open_conflicts)
    return result.open_conflicts


def print_status(db: Database, data_dir: Path) -> int:
    """Print the data folder, pending records, open conflicts and the last runs.

    Return the number of open conflicts. Without a saved server and network
    user it raises the error an upload would.
    """
    sync_runs.check_configured(db, data_dir)
    # Printed so that a mistyped --data-dir shows.
    print(f"Data folder: {data_dir}")
    status = sync.sync_status(db)
    pending = ", ".join(
        f"{label} {status.pending.get(name, 0)}" for name, label in AREA_NAMES.items()
    )
    print(f"Waiting to be uploaded: {pending}.")
    _print_open_conflicts(status.open_conflicts)
    if not status.history:
        print("No upload or download yet.")
        return status.open_conflicts
    zone = clock.user_zone(load_preferences(db)["time_zone"])
    print("Last runs:")
    for run in status.history[:SHOWN_RUNS]:
        print(_run_line(run, zone))
    return status.open_conflicts


def _run_line(run: dict[str, Any], zone: ZoneInfo) -> str:
    started = clock.to_local(run["started_at"], zone).strftime("%Y-%m-%d %H:%M")
    counts = (
        f"sent {run['sent']}, received {run['received']}, "
        f"conflicts {run['conflicts']}, rejected {run['rejected']}"
    )
    status = run["status"]
    if status == "running":
        # A run whose process died stays "running" until the next run starts.
        status += " (if no sync is running, it was interrupted)"
    fields = [started, run["direction"], run["network_user"], counts, status]
    if run["message"]:
        fields.append(run["message"])
    return "\t".join(fields)


def _print_open_conflicts(count: int) -> None:
    if count:
        print(
            f"Open conflicts: {count}. Resolve them on the Network page, "
            "under Conflicts."
        )
    else:
        print("Open conflicts: 0.")
