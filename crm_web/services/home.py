"""The home page's day at a glance: appointments, follow-ups, log, sales."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from crm_web.data import comm_logs as log_data
from crm_web.data.db import Database
from crm_web.services import appointments, clock, sales
from crm_web.services.appointments import Occurrence

RECENT_ENTRIES = 8
FOLLOW_UPS = 20


@dataclass
class DaySummary:
    today: date
    appointments: list[Occurrence]
    reminders: list[Occurrence]
    follow_ups: list[dict[str, Any]]
    recent: list[dict[str, Any]]
    month_totals: dict[str, int]  # currency -> amount in minor units
    # The entry whose follow-up was just marked done here, offered for undo.
    just_done: dict[str, Any] | None = None


def summarize_day(
    db: Database, *, zone: ZoneInfo, week_start: str, done_id: int | None = None
) -> DaySummary:
    """Gather what the user needs to see first today.

    ``done_id`` names an entry whose follow-up the user just marked done;
    it is offered for undo while it is still done.
    """
    today = clock.today(zone)
    return DaySummary(
        today=today,
        appointments=appointments.quick_view(
            db, "today", today=today, zone=zone, week_start=week_start
        ),
        reminders=appointments.due_reminders(db, now_utc=clock.now_utc(), zone=zone),
        follow_ups=log_data.find_follow_ups_due(
            db, on_or_before=today, limit=FOLLOW_UPS
        ),
        recent=log_data.find_recent(db, RECENT_ENTRIES),
        month_totals=sales.month_totals(db, year=today.year, month=today.month),
        just_done=_just_done(db, done_id),
    )


def _just_done(db: Database, entry_id: int | None) -> dict[str, Any] | None:
    if entry_id is None:
        return None
    row = log_data.get_log(db, entry_id)
    if row is None or row["deleted"] or not row["follow_up_done"]:
        return None
    return row
