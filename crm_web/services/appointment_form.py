"""The appointment form: typed text to service values and back."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _

from crm_web.data import appointments as appointment_data
from crm_web.data import contacts as contact_data
from crm_web.data.db import Database
from crm_web.services import clock, contact_picker
from crm_web.services.appointment_series import make_occurrence
from crm_web.services.appointments import (
    AppointmentInvalidError,
    Occurrence,
    series_zone,
)

REMINDER_CHOICES = (0, 5, 10, 15, 30, 60, 120, 24 * 60)


def parse_form(db: Database, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Turn the form's text into create_appointment values.

    The contact field follows the rules of crm_web/services/contact_picker.py,
    the same as in the sales and log forms.
    """
    errors: dict[str, str] = {}
    values: dict[str, Any] = {
        "title": raw.get("title", ""),
        "location": raw.get("location", ""),
        "notes": raw.get("notes", ""),
        "repeat": raw.get("repeat") or "none",
    }
    for name in ("starts_at_local", "ends_at_local"):
        values[name], error = _parse_datetime(raw.get(name, ""))
        if error:
            errors[name] = error
    values["repeat_until"], error = _parse_date(raw.get("repeat_until", ""))
    if error:
        errors["repeat_until"] = error
    values["reminder_minutes"], error = _parse_minutes(raw.get("reminder_minutes", ""))
    if error:
        errors["reminder_minutes"] = error
    pick = contact_picker.pick_contact(db, raw)
    values["contact_uuid"] = pick.uuid
    if pick.error:
        errors["contact"] = pick.error
    if errors:
        raise AppointmentInvalidError(errors, candidates=pick.candidates)
    return values


def form_values(row: Mapping[str, Any]) -> dict[str, Any]:
    """Return a stored appointment as the form's text values."""
    zone = series_zone(row)
    starts = clock.to_local(row["starts_at"], zone)
    ends = clock.to_local(row["ends_at"], zone)
    minutes = row["reminder_minutes"]
    until = row["repeat_until"]
    return {
        "title": row["title"],
        "starts_at_local": starts.strftime("%Y-%m-%dT%H:%M"),
        "ends_at_local": ends.strftime("%Y-%m-%dT%H:%M"),
        "location": row["location"],
        "notes": row["notes"],
        "reminder_minutes": "" if minutes is None else str(minutes),
        "repeat": row["repeat"],
        "repeat_until": until.isoformat() if until else "",
        "contact_uuid": row["contact_uuid"] or "",
        "version": row["version"],
    }


def parse_occurrence_form(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Turn the form that moves one occurrence into move_occurrence values."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name in ("starts_at_local", "ends_at_local"):
        values[name], error = _parse_datetime(raw.get(name, ""))
        if error:
            errors[name] = error
    if errors:
        raise AppointmentInvalidError(errors)
    return values


def occurrence_form_values(
    db: Database, row: dict[str, Any], original_utc: datetime
) -> dict[str, Any]:
    """Return one occurrence's current start and end as the form's text values."""
    zone = series_zone(row)
    change = appointment_data.get_occurrence_change(db, row["uuid"], original_utc)
    occurrence = make_occurrence(row, original_utc, zone, change)
    return {
        "starts_at_local": occurrence.starts_at.strftime("%Y-%m-%dT%H:%M"),
        "ends_at_local": occurrence.ends_at.strftime("%Y-%m-%dT%H:%M"),
        "version": row["version"],
    }


def _parse_datetime(text: str) -> tuple[datetime | None, str]:
    text = text.strip()
    if not text:
        return None, ""
    try:
        return datetime.fromisoformat(text.replace(" ", "T")).replace(
            tzinfo=None, second=0, microsecond=0
        ), ""
    except ValueError:
        return None, _(
            "“%(value)s” is not a date and time. Use the form 2026-03-01 09:30.",
            value=text,
        )


def _parse_date(text: str) -> tuple[date | None, str]:
    text = text.strip()
    if not text:
        return None, ""
    try:
        return date.fromisoformat(text), ""
    except ValueError:
        return None, _(
            "“%(value)s” is not a date. Use the form 2026-03-01.", value=text
        )


def _parse_minutes(text: str) -> tuple[int | None, str]:
    text = text.strip()
    if not text:
        return None, ""
    if not text.isdigit():
        return None, _(
            "Reminder “%(value)s” is not a whole number of minutes.", value=text
        )
    return int(text), ""


def _parse_contact(db: Database, raw: Mapping[str, Any]) -> tuple[str | None, str]:
    """Return the uuid of the contact the form names, and an error or ""."""
    pick = contact_picker.pick_contact(db, raw)
    return pick.uuid, pick.error


def contact_name(db: Database, contact_uuid: str | None) -> str:
    """Return a contact's name (or company), empty if there is none."""
    if not contact_uuid:
        return ""
    row = contact_data.get_contact_by_uuid(db, contact_uuid)
    return _display_name(row) if row and not row["deleted"] else ""


def contact_names(db: Database, occurrences: list[Occurrence]) -> dict[str, str]:
    """Return the names of the contacts the occurrences belong to, by uuid."""
    uuids = {o.appointment["contact_uuid"] for o in occurrences}
    return {u: contact_name(db, u) for u in uuids if u}


def _display_name(row: Mapping[str, Any]) -> str:
    return str(row["name"] or row["company"])
