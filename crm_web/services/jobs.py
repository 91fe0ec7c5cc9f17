"""Long-running work in a background thread, with progress for the page."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from crm_web.errors import UserError

log = logging.getLogger(__name__)

MAX_KEPT = 50


@dataclass
class Job:
    id: str
    kind: str
    state: str = "running"  # running | done | failed
    progress: int = 0
    total: int = 0  # estimated; 0 while unknown
    result: Any = None
    error: str = ""
    info: dict[str, Any] = field(default_factory=dict)


_jobs: dict[str, Job] = {}
_lock = threading.Lock()


def start_job(
    kind: str,
    work: Callable[[Job], Any],
    *,
    wrap: Callable[[Callable[[], None]], None] | None = None,
    info: dict[str, Any] | None = None,
) -> Job:
    """Run ``work(job)`` in a thread; ``wrap`` sets up its context."""
    job = Job(id=uuid.uuid4().hex, kind=kind, info=info or {})
    with _lock:
        _jobs[job.id] = job
        for old in list(_jobs)[:-MAX_KEPT]:
            if _jobs[old].state != "running":
                del _jobs[old]

    def body() -> None:
        try:
            job.result = work(job)
            job.state = "done"
        except UserError as error:
            job.error = error.message
            job.state = "failed"
        except Exception:
            log.exception("Background %s job %s failed", kind, job.id)
            job.error = "unexpected"
            job.state = "failed"

    def run() -> None:
        if wrap is None:
            body()
        else:
            wrap(body)

    threading.Thread(target=run, name=f"r9crm-{kind}", daemon=True).start()
    return job


def get_job(job_id: str) -> Job | None:
    with _lock:
        return _jobs.get(job_id)


def running_job(kind: str) -> Job | None:
    """Return a job of ``kind`` still running in this process, if any."""
    with _lock:
        return next(
            (
                job
                for job in _jobs.values()
                if job.kind == kind and job.state == "running"
            ),
            None,
        )
