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


def summarize_day(db: Database, *, zone: ZoneInfo, week_start: str) -> DaySummary:
    """Gather what the user needs to see first today."""
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
    )
