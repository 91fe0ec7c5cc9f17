"""A contact's timeline: log entries, sales and appointments, newest first.

Sales and appointments come from their own services. Each item is a plain
dict with ``kind`` ("log", "sale" or "appointment"), ``id``, ``uuid``,
``at`` (local naive datetime used for ordering and display), ``has_time``
(False when the source has only a date), ``title``, ``detail``, ``status``
and ``url`` (the source's own URL, or "" for the template to build one).
A sale also has ``amount_minor`` (None when blank) and ``currency``.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from crm_web.data import comm_logs as log_data
from crm_web.data.db import Database
from crm_web.services import clock
from crm_web.services.comm_log import CHANNELS, entry_label

log = logging.getLogger(__name__)

TIMELINE_LIMIT = 100


def timeline_for_contact(
    db: Database, contact_uuid: str, *, zone: ZoneInfo, limit: int = TIMELINE_LIMIT
) -> list[dict[str, Any]]:
    """Return up to ``limit`` items about one contact, newest first."""
    items = [
        _log_item(row, zone)
        for row in log_data.find_for_contact(db, contact_uuid, limit=limit)
    ]
    sales = _rows_from("crm_web.services.sales", "sales_for_contact", db, contact_uuid)
    items.extend(_sale_item(row) for row in sales)
    appointments = _rows_from(
        "crm_web.services.appointments", "appointments_for_contact", db, contact_uuid
    )
    items.extend(_appointment_item(row, zone) for row in appointments)
    items.sort(key=lambda item: (item["at"], item["id"] or 0), reverse=True)
    return items[:limit]


def _rows_from(
    module_name: str, function_name: str, db: Database, contact_uuid: str
) -> list[dict[str, Any]]:
    # NOTE: the sales and appointments services are built alongside this
    # one; until they exist, their part of the timeline is left out.
    try:
        module = importlib.import_module(module_name)
        function: Callable[..., list[dict[str, Any]]] = getattr(module, function_name)
    except (ImportError, AttributeError):
        return []
    return list(function(db, contact_uuid))


def _log_item(row: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    content = row["content"] or ""
    return {
        "kind": "log",
        "id": row["id"],
        "uuid": row["uuid"],
        "at": clock.to_local(row["occurred_at"], zone).replace(tzinfo=None),
        "has_time": True,
        "title": entry_label(row),
        "detail": content if row["title"] else "",
        "status": CHANNELS.get(row["channel"], row["channel"]),
        "follow_up_on": row["follow_up_on"],
        "url": "",
    }


def _sale_item(row: dict[str, Any]) -> dict[str, Any]:
    sold_on = row.get("sold_on")
    return {
        "kind": "sale",
        "id": row.get("id"),
        "uuid": row.get("uuid", ""),
        "at": _start_of(sold_on),
        "has_time": False,
        "title": row.get("item") or row.get("service_type") or "",
        "detail": row.get("notes") or "",
        "status": row.get("status_label") or row.get("status") or "",
        "follow_up_on": None,
        "url": row.get("url", ""),
        "amount_minor": row.get("amount_minor"),
        "currency": row.get("currency", ""),
    }


def _appointment_item(row: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    starts = row.get("starts_at")
    at = (
        clock.to_local(starts, zone).replace(tzinfo=None)
        if isinstance(starts, datetime)
        else datetime.min
    )
    return {
        "kind": "appointment",
        "id": row.get("id"),
        "uuid": row.get("uuid", ""),
        "at": at,
        "has_time": True,
        "title": row.get("title") or "",
        "detail": row.get("location") or "",
        "status": _appointment_status(row.get("status") or ""),
        "follow_up_on": None,
        "url": row.get("url", ""),
    }


def _start_of(day: Any) -> datetime:
    if isinstance(day, datetime):
        return day
    if isinstance(day, date):
        return datetime.combine(day, time())
    return datetime.min


def _appointment_status(code: str) -> str:
    """Return an appointment status in the user's language."""
    from crm_web.services.appointments import STATUS_LABELS

    return str(STATUS_LABELS.get(code, code))
