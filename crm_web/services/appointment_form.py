"""The appointment form: typed text to service values and back."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _

from crm_web.data import contacts as contact_data
from crm_web.data.db import Database
from crm_web.services import clock
from crm_web.services.appointments import (
    AppointmentInvalidError,
    Occurrence,
    series_zone,
)
from crm_web.services.search import search_contacts

REMINDER_CHOICES = (0, 5, 10, 15, 30, 60, 120, 24 * 60)
# Maximum number of contacts the error names when the typed text matches several.
CONTACT_MATCHES_SHOWN = 3


def parse_form(db: Database, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Turn the form's text into create_appointment values.

    The contact is the hidden contact_uuid, unless the user typed something
    else in the contact field. Then the contacts' smart query must find
    exactly one contact for that text.
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
    values["contact_uuid"], error = _parse_contact(db, raw)
    if error:
        errors["contact"] = error
    if errors:
        raise AppointmentInvalidError(errors)
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
    chosen = (raw.get("contact_uuid") or "").strip()
    typed = " ".join(str(raw.get("contact") or "").split())
    if chosen and typed == contact_name(db, chosen):
        return chosen, ""
    if not typed:
        return None, ""
    found = search_contacts(db, typed, limit=CONTACT_MATCHES_SHOWN)
    if found.total == 1:
        row = contact_data.get_contact(db, found.ids[0])
        return (str(row["uuid"]) if row else None), ""
    if found.total == 0:
        return None, _(
            "No contact matches “%(value)s”. Check the spelling, or leave the "
            "field empty.",
            value=typed,
        )
    rows = contact_data.find_contacts_by_ids(db, found.ids)
    # A full name typed exactly picks that contact, even when longer names
    # (王强 and 王强(重复)) also contain it.
    exact = [r for r in rows if typed in (r["name"], r["company"])]
    if len(exact) == 1:
        return str(exact[0]["uuid"]), ""
    names = ", ".join(f"“{_display_name(r)}”" for r in rows)
    return None, _(
        "“%(value)s” matches %(count)s contacts, such as %(names)s. Type more "
        "of the name, a phone number or an e-mail address.",
        value=typed,
        count=found.total,
        names=names,
    )


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
