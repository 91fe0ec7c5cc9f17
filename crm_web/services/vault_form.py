"""Fields of a vault entry: kinds, labels, and checks of typed values.

The same checks apply to the entry form and to entries read from an
imported vault file.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm_web.data import contacts as contact_data
from crm_web.data.db import Database
from crm_web.errors import InvalidValueError, VaultEntryInvalidError
from crm_web.services import text
from crm_web.services.search import search_contacts

KINDS = {
    "qq": _l("QQ"),
    "wechat": _l("WeChat"),
    "taobao": _l("Taobao/Wangwang"),
    "alipay": _l("Alipay"),
    "email": _l("E-mail"),
    "website": _l("Website"),
    "membership": _l("Membership card"),
    "bank_card": _l("Bank card"),
    "other": _l("Other"),
}
FIELD_LABELS = {
    "kind": _l("Kind"),
    "title": _l("Title"),
    "account": _l("Account name"),
    "password": _l("Password or PIN"),
    "card_number": _l("Card number"),
    "expiry": _l("Expiry"),
    "notes": _l("Notes"),
    "contact": _l("Linked contact"),
}
# The fields stored only inside the encrypted secret column.
SECRET_FIELDS = ("account", "password", "card_number", "expiry", "notes")
# Characters; title matches its column, the others keep a note of 10,000
# characters encrypted within MySQL's MEDIUMTEXT with room to spare.
MAX_LENGTHS = {
    "title": 200,
    "account": 200,
    "password": 1000,
    "card_number": 64,
    "notes": 10_000,
}
# Suggestions offered while a contact name is typed, and candidates looked
# at when matching typed text to one contact.
CONTACT_SUGGESTIONS = 10

_MONTH_YEAR = re.compile(r"(\d{1,2})\s*[/\-.]\s*(\d{4}|\d{2})")
_YEAR_MONTH = re.compile(r"(\d{4})\s*[/\-.年]\s*(\d{1,2})\s*月?")
_FULL_DATE = re.compile(r"(\d{4})\s*[/\-.年]\s*(\d{1,2})\s*[/\-.月]\s*(\d{1,2})\s*日?")


@dataclass(frozen=True)
class EntryInput:
    """A vault entry as typed, checked and cleaned."""

    kind: str
    title: str
    account: str = ""
    password: str = ""
    card_number: str = ""
    expiry: str = ""
    notes: str = ""
    contact_uuid: str | None = None

    def secrets(self) -> dict[str, str]:
        """Return the fields that are stored encrypted."""
        values = asdict(self)
        return {name: values[name] for name in SECRET_FIELDS}


def parse_entry(db: Database, raw: Mapping[str, Any]) -> EntryInput:
    """Check a submitted entry form; raise VaultEntryInvalidError naming each fault."""
    errors: dict[str, str] = {}
    values = clean_fields(raw, errors)
    contact_uuid = _resolve_contact(db, raw, errors)
    if errors:
        raise VaultEntryInvalidError(errors)
    return EntryInput(**values, contact_uuid=contact_uuid)


def clean_fields(raw: Mapping[str, Any], errors: dict[str, str]) -> dict[str, str]:
    """Return the entry's fields cleaned, recording each fault in ``errors``.

    A password is kept exactly as typed, spaces included. Error messages
    never repeat a password, card number or note.
    """
    kind = str(raw.get("kind") or "")
    if kind not in KINDS:
        errors["kind"] = InvalidValueError(
            str(FIELD_LABELS["kind"]), kind, _("choose one from the list.")
        ).message
    title = _one_line(raw.get("title"))
    if not title:
        errors["title"] = _(
            "The title is missing. Type a name for the entry, such as "
            "“Shop QQ” or “ICBC debit card”."
        )
    values = {
        "kind": kind,
        "title": title,
        "account": _one_line(raw.get("account")),
        "password": str(raw.get("password") or ""),
        "card_number": " ".join(_nfkc(raw.get("card_number")).split()),
        "expiry": _parse_expiry(_nfkc(raw.get("expiry")), errors),
        "notes": _multi_line(raw.get("notes")),
    }
    for name, limit in MAX_LENGTHS.items():
        if len(values[name]) > limit:
            errors[name] = _(
                "%(field)s is %(length)s characters long; the most it may be is "
                "%(limit)s. Shorten it and save again.",
                field=FIELD_LABELS[name],
                length=len(values[name]),
                limit=limit,
            )
    return values


def _one_line(raw: object) -> str:
    return " ".join(text.clean(raw).replace("\u3000", " ").split())


def _multi_line(raw: object) -> str:
    value = "" if raw is None else str(raw)
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


def _nfkc(raw: object) -> str:
    # Full-width digits and slashes typed by Chinese input methods become ASCII.
    return unicodedata.normalize("NFKC", text.clean(raw))


def _parse_expiry(typed: str, errors: dict[str, str]) -> str:
    """Return an expiry as YYYY-MM or YYYY-MM-DD, or "" when none is typed."""
    if not typed:
        return ""
    parsed = _expiry_parts(typed)
    if parsed is not None:
        year, month, day = parsed
        try:
            date(year, month, day or 1)
        except ValueError:
            parsed = None
        else:
            if 1900 <= year <= 2199:
                return f"{year:04d}-{month:02d}" + (f"-{day:02d}" if day else "")
    errors["expiry"] = InvalidValueError(
        str(FIELD_LABELS["expiry"]),
        typed,
        _(
            "type the month and year, such as 12/27 or 2027-12, or a whole "
            "date, such as 2027-12-31."
        ),
    ).message
    return typed


def _expiry_parts(typed: str) -> tuple[int, int, int | None] | None:
    if match := _FULL_DATE.fullmatch(typed):
        return int(match[1]), int(match[2]), int(match[3])
    if match := _YEAR_MONTH.fullmatch(typed):
        return int(match[1]), int(match[2]), None
    if match := _MONTH_YEAR.fullmatch(typed):
        year = int(match[2])
        return (2000 + year if len(match[2]) == 2 else year), int(match[1]), None
    return None


def _resolve_contact(
    db: Database, raw: Mapping[str, Any], errors: dict[str, str]
) -> str | None:
    """Return the uuid of the linked contact, or None for no link.

    An empty field means no link. A contact picked from the suggestions
    wins; otherwise the typed text goes through the smart query and must
    match exactly one contact.
    """
    typed = _one_line(raw.get("contact"))
    if not typed:
        return None
    chosen = str(raw.get("contact_uuid") or "").strip()
    if chosen:
        row = contact_data.get_contact_by_uuid(db, chosen)
        if row is not None and not row["deleted"]:
            return chosen
    found = search_contacts(db, typed, limit=2)
    if found.total == 1:
        return str(contact_data.find_contacts_by_ids(db, found.ids)[0]["uuid"])
    hint = (
        _("several contacts match; pick one from the suggestions.")
        if found.total
        else _("no contact matches; check the spelling, or leave it empty.")
    )
    errors["contact"] = InvalidValueError(
        str(FIELD_LABELS["contact"]), typed, hint
    ).message
    return None
