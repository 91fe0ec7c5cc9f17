"""The contact a sales record belongs to: matching typed text, suggestions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _

from crm_web.data import contacts as contact_data
from crm_web.data import sales as sale_data
from crm_web.data.db import Database
from crm_web.errors import InvalidValueError
from crm_web.services import text
from crm_web.services.sales import FIELD_LABELS, SaleInvalidError, clean_value
from crm_web.services.search import search_contacts


def resolve_contact(
    db: Database, *, contact_uuid: str, typed: str, region: str
) -> str | None:
    """Return the uuid of the contact a form or import row names.

    A uuid chosen from the suggestions wins. Otherwise the typed text is
    matched as a phone number, an e-mail address or an exact name or
    company, and it must name exactly one live contact.
    """
    if contact_uuid:
        row = contact_data.get_contact_by_uuid(db, contact_uuid)
        if row is not None and not row["deleted"]:
            return contact_uuid
    typed = clean_value(typed)
    if not typed:
        return None
    uuids = _matching_contacts(db, typed, region)
    if len(uuids) == 1:
        return uuids.pop()
    hint = (
        _("several contacts match; type the phone number or e-mail instead.")
        if uuids
        else _("no contact has this phone, e-mail or name; create the contact first.")
    )
    raise SaleInvalidError(
        {
            "contact": InvalidValueError(
                str(FIELD_LABELS["contact"]), typed, hint
            ).message
        }
    )


def _matching_contacts(db: Database, typed: str, region: str) -> set[str]:
    phone = (
        text.normalize_phone(typed, region) if any(c.isdigit() for c in typed) else ""
    )
    email = text.normalize_email(typed) if "@" in typed else ""
    if phone or email:
        found = contact_data.find_duplicates(
            db, phones=[phone] if phone else [], email=email, exclude_id=None
        )
        if found:
            return {row["uuid"] for row in found}
    return {row["uuid"] for row in sale_data.find_contacts_by_name(db, typed)}


def suggest_contacts(db: Database, query: str, *, limit: int) -> list[dict[str, str]]:
    """Return uuid and a one-line label of contacts matching ``query``."""
    found = search_contacts(db, query, limit=limit)
    rows = contact_data.find_contacts_by_ids(db, found.ids)
    return [{"uuid": row["uuid"], "label": _contact_label(row)} for row in rows]


def _contact_label(row: Mapping[str, Any]) -> str:
    parts = [row["name"], row["company"], row["mobile"] or row["email"]]
    return " · ".join(part for part in parts if part)


def contact_name(db: Database, contact_uuid: str | None) -> str:
    """Return a contact's name, or its company, or "" for none."""
    if not contact_uuid:
        return ""
    return sale_data.find_contact_names(db, [contact_uuid]).get(contact_uuid, "")
