"""The contact field of the sales, log and appointment forms.

Every form posts the same three fields. ``contact`` is the typed text.
``contact_uuid`` is hidden: the autocomplete sets it when the user picks
a suggestion, and the server sets it for the contact a form opens with.
``contact_pick`` is a radio button among the candidates that an earlier
attempt listed. All three forms apply the same rules, in this order:

1. A contact picked among the candidates wins.
2. Empty typed text means no contact.
3. The contact of ``contact_uuid`` wins while the text still names it (its
   name, company or suggestion label). Text typed over it without
   JavaScript, which would clear the hidden field, is matched instead.
4. The text is matched as a phone number, then an e-mail address, then an
   exact name or company, then with the contacts' smart query (pinyin,
   initials, phone digits). The first of these that finds any contact
   decides: exactly one is taken, several become candidates to pick from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _

from crm_web.data import contacts as contact_data
from crm_web.data import sales as sale_data
from crm_web.data.db import Database
from crm_web.services import text
from crm_web.services.preferences import load_preferences
from crm_web.services.search import search_contacts

# Candidates offered when the text matches several contacts, and the
# number of suggestions the autocomplete shows.
CANDIDATES_SHOWN = 10


@dataclass(frozen=True)
class ContactPick:
    """The outcome of reading a contact field.

    ``contact`` is the chosen contact's row, or None for none. When the
    text matched several contacts or none, ``error`` is the message in the
    user's language and ``candidates`` lists up to CANDIDATES_SHOWN of them.
    """

    contact: dict[str, Any] | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""
    typed: str = ""

    @property
    def uuid(self) -> str | None:
        return str(self.contact["uuid"]) if self.contact else None


def pick_contact(
    db: Database, form: Mapping[str, Any], *, region: str | None = None
) -> ContactPick:
    """Return the contact a form's contact field names, by the module's rules.

    ``region`` is the phone region for numbers typed without a country
    code; None reads the phone_region setting.
    """
    picked = _live_contact(db, form.get("contact_pick"))
    if picked is not None:
        return ContactPick(picked)
    typed = clean_text(form.get("contact"))
    if not typed:
        return ContactPick()
    chosen = _live_contact(db, form.get("contact_uuid"))
    if chosen is not None and typed in _names_of(chosen):
        return ContactPick(chosen, typed=typed)
    if region is None:
        region = load_preferences(db)["phone_region"]
    return match_text(db, typed, region=region)


def match_text(db: Database, typed: str, *, region: str) -> ContactPick:
    """Return the contact that typed text names, or candidates, or an error."""
    rows = _exact_matches(db, typed, region)
    if len(rows) == 1:
        return ContactPick(rows[0], typed=typed)
    if rows:
        return _several(typed, len(rows), rows[:CANDIDATES_SHOWN])
    found = search_contacts(db, typed, limit=CANDIDATES_SHOWN)
    rows = contact_data.find_contacts_by_ids(db, found.ids)
    if len(rows) == 1 and found.total == 1:
        return ContactPick(rows[0], typed=typed)
    if not rows:
        return ContactPick(
            typed=typed,
            error=_(
                "No contact matches “%(value)s”. Check the spelling, type a "
                "phone number or e-mail address, or create the contact first.",
                value=typed,
            ),
        )
    return _several(typed, found.total, rows)


def _exact_matches(db: Database, typed: str, region: str) -> list[dict[str, Any]]:
    """Return the contacts found by the first finder that finds any."""
    for finder in (_by_phone, _by_email, _by_name):
        rows = finder(db, typed, region)
        if rows:
            return rows
    return []


def _by_phone(db: Database, typed: str, region: str) -> list[dict[str, Any]]:
    if sum(c.isdigit() for c in typed) < 5 or "@" in typed:
        return []
    phone = text.normalize_phone(typed, region)
    if not phone:
        return []
    return contact_data.find_duplicates(db, phones=[phone], email="", exclude_id=None)


def _by_email(db: Database, typed: str, region: str) -> list[dict[str, Any]]:
    del region
    if "@" not in typed:
        return []
    email = text.normalize_email(typed)
    return contact_data.find_duplicates(db, phones=[], email=email, exclude_id=None)


def _by_name(db: Database, typed: str, region: str) -> list[dict[str, Any]]:
    del region
    uuids = [row["uuid"] for row in sale_data.find_contacts_by_name(db, typed)]
    return [row for uuid in uuids if (row := _live_contact(db, uuid)) is not None]


def _several(typed: str, count: int, rows: list[dict[str, Any]]) -> ContactPick:
    return ContactPick(
        candidates=rows,
        typed=typed,
        error=_(
            "%(count)s contacts match “%(value)s”. Pick one of them below, or "
            "type a phone number or e-mail address.",
            count=count,
            value=typed,
        ),
    )


def _live_contact(db: Database, uuid: Any) -> dict[str, Any] | None:
    value = clean_text(uuid)
    if not value:
        return None
    row = contact_data.get_contact_by_uuid(db, value)
    return row if row is not None and not row["deleted"] else None


def clean_text(raw: Any) -> str:
    """Return typed text on one line, trimmed, with full-width spaces folded."""
    return " ".join(text.clean(raw).replace("\u3000", " ").split())


def display_name(row: Mapping[str, Any]) -> str:
    """Return what the contact field shows for a contact: name, else company."""
    return str(row["name"] or row["company"])


def contact_label(row: Mapping[str, Any]) -> str:
    """Return a one-line label: name, company, and mobile or e-mail."""
    parts = [row["name"], row["company"], row["mobile"] or row["email"]]
    return " · ".join(part for part in parts if part)


def _names_of(row: Mapping[str, Any]) -> set[str]:
    names = {row["name"], row["company"], display_name(row), contact_label(row)}
    return {clean_text(name) for name in names if name}


def suggest_contacts(
    db: Database, query: str, *, limit: int = CANDIDATES_SHOWN
) -> list[dict[str, str]]:
    """Return uuid, name and label of contacts the smart query finds."""
    found = search_contacts(db, clean_text(query), limit=limit)
    rows = contact_data.find_contacts_by_ids(db, found.ids)
    return [
        {"uuid": row["uuid"], "name": display_name(row), "label": contact_label(row)}
        for row in rows
    ]


def field_values(db: Database, contact_uuid: str | None) -> dict[str, str]:
    """Return the contact field's text and hidden uuid for a stored contact."""
    row = _live_contact(db, contact_uuid)
    if row is None:
        return {"contact": "", "contact_uuid": ""}
    return {"contact": display_name(row), "contact_uuid": str(row["uuid"])}
