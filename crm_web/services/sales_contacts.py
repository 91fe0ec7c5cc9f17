"""The contact a sales record belongs to, by the shared contact picker."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crm_web.data import sales as sale_data
from crm_web.data.db import Database
from crm_web.services import contact_picker
from crm_web.services.sales import SaleInvalidError


def resolve_contact(
    db: Database, form: Mapping[str, Any], *, region: str
) -> str | None:
    """Return the uuid of the contact a sales form names, or None for none.

    Raise SaleInvalidError with the candidates when the typed text matches
    several contacts or none (crm_web/services/contact_picker.py).
    """
    pick = contact_picker.pick_contact(db, form, region=region)
    if pick.error:
        raise SaleInvalidError({"contact": pick.error}, candidates=pick.candidates)
    return pick.uuid


def suggest_contacts(db: Database, query: str, *, limit: int) -> list[dict[str, str]]:
    """Return uuid, name and a one-line label of contacts matching ``query``."""
    return contact_picker.suggest_contacts(db, query, limit=limit)


def contact_name(db: Database, contact_uuid: str | None) -> str:
    """Return a contact's name, or its company, or "" for none."""
    if not contact_uuid:
        return ""
    return sale_data.find_contact_names(db, [contact_uuid]).get(contact_uuid, "")
