"""Running an upload or download against the saved shared server.

The Network page and ``r9crm sync`` both sign in first (a wrong password
or a missing right is reported at once), then run the engine in
crm_web.services.sync, which closes the server connection when done.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from crm_web.data import sync as sync_data
from crm_web.data.db import Database
from crm_web.errors import (
    NetworkNotConfiguredError,
    SyncNotAllowedError,
    WorkingLiveError,
)
from crm_web.services import sync
from crm_web.services.network import live_server, open_network
from crm_web.services.network_config import load_network_config
from crm_web.services.network_user import NetworkUser
from crm_web.services.sync import Progress

DIRECTIONS = ("upload", "download")


@dataclass
class SyncResult:
    """What a finished run did, and the conflicts now open: the page's summary."""

    direction: str
    sent: int
    received: int
    conflicts: int
    rejected: int
    rejected_names: list[str] = field(default_factory=list)
    open_conflicts: int = 0

    @property
    def unnamed_rejections(self) -> int:
        """Return how many rejected records the summary does not name."""
        return self.rejected - len(self.rejected_names)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_configured(db: Database, data_dir: Path) -> bool:
    """Return whether a server is saved and a network user signed in."""
    config = load_network_config(db, data_dir)
    return config is not None and bool(config.network_user)


def check_configured(db: Database, data_dir: Path) -> None:
    """Raise the error that keeps this copy from syncing, if there is one.

    That is WorkingLiveError on the shared server's own database, and
    NetworkNotConfiguredError without a saved server and network user.
    """
    _check_not_live(db)
    if not is_configured(db, data_dir):
        raise NetworkNotConfiguredError()


def _check_not_live(db: Database) -> None:
    live = live_server(db)
    if live is not None:
        raise WorkingLiveError(live.host, live.database)


def open_sync(
    db: Database, data_dir: Path, direction: str
) -> tuple[Database, NetworkUser]:
    """Sign in to the saved server and check the user may sync this way.

    The caller hands the returned server database to ``run_sync``, which
    closes it.
    """
    _check_not_live(db)
    server_db, user, _config = open_network(db, data_dir)
    allowed = user.may_upload if direction == "upload" else user.may_download
    if not allowed:
        server_db.close()
        raise SyncNotAllowedError(user.name, direction)
    return server_db, user


def run_sync(
    direction: str,
    local: Database,
    server_db: Database,
    user: NetworkUser,
    *,
    local_owner: str,
    progress: Progress | None = None,
) -> SyncResult:
    """Upload or download, close the server database, and summarise the run."""
    engine = sync.upload if direction == "upload" else sync.download
    try:
        summary = engine(
            local, server_db, user, local_owner=local_owner, progress=progress
        )
    finally:
        server_db.release()
        server_db.close()
    open_conflicts = sync_data.count_open_conflicts(local)
    # Ending the read lets this thread's next query read later writes.
    local.release()
    return SyncResult(
        direction=summary.direction,
        sent=summary.sent,
        received=summary.received,
        conflicts=summary.conflicts,
        rejected=summary.rejected,
        rejected_names=list(summary.rejected_names),
        open_conflicts=open_conflicts,
    )
