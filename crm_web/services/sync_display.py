"""Sync conflicts and status in the words of the pages that show them.

A conflict stores both versions of a record as raw columns. Each column
gets the label its own form uses. References (contact, category,
appointment) become names and codes (status, channel) become labels.
Dates and money stay raw with a ``kind``, so that templates format them
with the app's filters in the user's language and time zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm_web.data import appointments as appointment_data
from crm_web.data import categories as category_data
from crm_web.data import sales as sale_data
from crm_web.data.db import Database
from crm_web.services.comm_log import CHANNELS
from crm_web.services.contacts import decode_extra
from crm_web.services.fields import FIELDS_BY_NAME
from crm_web.services.sales import CUSTOM_FIELDS, STATUSES
from crm_web.services.sales import FIELD_LABELS as SALE_LABELS
from crm_web.services.sync_conflicts import ConflictView

# The areas whose records wait for an upload, in the order pages list them.
AREAS = {
    "contacts": _l("Contacts"),
    "sales": _l("Sales & service"),
    "comm_logs": _l("Communication log"),
    "categories": _l("Categories"),
}
KIND_NAMES = {
    "edited": _l("Changed on both sides"),
    "deleted_here": _l("Deleted here, changed on the server"),
    "deleted_there": _l("Changed here, deleted on the server"),
    "rejected": _l("Changed here, read-only on the server"),
}
KIND_EXPLANATIONS = {
    "edited": _l(
        "It was changed here and on the server since the last sync, so "
        "neither version replaced the other."
    ),
    "deleted_here": _l(
        "You deleted it here, but it was changed on the server since the last sync."
    ),
    "deleted_there": _l(
        "It was deleted on the server, but you changed it here since the last sync."
    ),
    "rejected": _l(
        "You changed a record that others shared with you, and your network "
        "user may only read such records, so the server kept its version. "
        "Keep theirs to take the server's version back here, or ask your "
        "team's admin for the right to change shared records."
    ),
}
DIRECTIONS = {"upload": _l("Upload"), "download": _l("Download")}
STATUS_NAMES = {
    "running": _l("Running"),
    "done": _l("Finished"),
    "failed": _l("Failed"),
}
# Codes the sync stores as a history row's message. Any other message is
# an error's sentence, stored in the language the run had.
HISTORY_MESSAGES = {
    "interrupted": _l(
        "Interrupted: the app was closed or stopped before the run finished."
    ),
}

COMMON_LABELS = {"deleted": _l("In the trash")}
CONTACT_LABELS = {
    **{name: field.label for name, field in FIELDS_BY_NAME.items()},
    "category_uuid": FIELDS_BY_NAME["category"].label,
    "extra": _l("Extra fields"),
}
SALE_COLUMN_LABELS = {
    "contact_uuid": SALE_LABELS["contact"],
    "sold_on": SALE_LABELS["sold_on"],
    "item": SALE_LABELS["item"],
    "service_type": SALE_LABELS["service_type"],
    "quantity_milli": SALE_LABELS["quantity"],
    "unit_price_micro": SALE_LABELS["unit_price"],
    "amount_minor": SALE_LABELS["amount"],
    "currency": SALE_LABELS["currency"],
    "status": SALE_LABELS["status"],
    "notes": SALE_LABELS["notes"],
}
LOG_LABELS = {
    "contact_uuid": _l("Contact"),
    "occurred_at": _l("Date and time"),
    "channel": _l("Channel"),
    "title": _l("Title"),
    "content": _l("Content"),
    "follow_up_on": _l("Follow up on"),
    "follow_up_done": _l("Follow-up done"),
    "appointment_uuid": _l("Appointment"),
}
CATEGORY_LABELS = {"name": _l("Category name"), "sort_order": _l("Position")}
LABELS: dict[str, dict[str, Any]] = {
    "contacts": CONTACT_LABELS,
    "sales": SALE_COLUMN_LABELS,
    "comm_logs": LOG_LABELS,
    "categories": CATEGORY_LABELS,
}

# The template format of each column's raw value; other columns are text.
KINDS = {
    "deleted": "bool",
    "follow_up_done": "bool",
    "birthday": "date",
    "sold_on": "date",
    "follow_up_on": "date",
    "occurred_at": "datetime",
    "quantity_milli": "quantity",
    "unit_price_micro": "price",
    "amount_minor": "money",
}


@dataclass(frozen=True)
class FieldRow:
    """One column of a conflict as the page shows it, both versions."""

    name: str  # the column, which the page's pick buttons name
    label: str
    kind: str  # text | bool | date | datetime | quantity | price | money
    mine: Any
    theirs: Any
    differs: bool
    # The currency of each version, for the money kinds.
    mine_currency: str = ""
    theirs_currency: str = ""


def shown_history(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return sync history rows with their message codes in the user's words."""
    return [
        {**run, "message": str(HISTORY_MESSAGES.get(run["message"], run["message"]))}
        for run in history
    ]


def field_label(table_name: str, column: str, custom_labels: Mapping[str, str]) -> str:
    """Return the label a column has on its record's form."""
    if column in COMMON_LABELS:
        return str(COMMON_LABELS[column])
    if table_name == "sales" and column in CUSTOM_FIELDS:
        number = CUSTOM_FIELDS.index(column) + 1
        return custom_labels.get(column) or _("Custom field %(number)s", number=number)
    label = LABELS[table_name].get(column)
    return column if label is None else str(label)


def conflict_rows(
    db: Database, view: ConflictView, *, custom_labels: Mapping[str, str]
) -> list[FieldRow]:
    """Return the conflict's columns with labels, leaving out those empty in both.

    References and codes come back as names and labels; ``differs`` compares
    the stored values, so a renamed category still counts as the same one.
    """
    names = _reference_names(db, view)
    mine = {choice.name: choice.mine for choice in view.fields}
    theirs = {choice.name: choice.theirs for choice in view.fields}
    rows = []
    for choice in view.fields:
        if _is_empty(choice.mine) and _is_empty(choice.theirs):
            continue
        rows.append(
            FieldRow(
                name=choice.name,
                label=field_label(view.table_name, choice.name, custom_labels),
                kind=KINDS.get(choice.name, "text"),
                mine=_shown(choice.name, choice.mine, names),
                theirs=_shown(choice.name, choice.theirs, names),
                differs=choice.differs,
                mine_currency=str(mine.get("currency") or ""),
                theirs_currency=str(theirs.get("currency") or ""),
            )
        )
    return rows


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == "{}"


def _shown(column: str, value: Any, names: Mapping[str, str]) -> Any:
    """Return a value as the page shows it: names, labels, or raw for filters."""
    if value is None:
        return None
    if column in ("contact_uuid", "category_uuid", "appointment_uuid"):
        return names.get(value) or _("(not on this computer)")
    if column == "extra":
        extra = decode_extra(value)
        return "\n".join(f"{label}: {text}" for label, text in extra.items())
    if column == "status":
        return str(STATUSES.get(value, value))
    if column == "channel":
        return str(CHANNELS.get(value, value))
    return value


def _reference_names(db: Database, view: ConflictView) -> dict[str, str]:
    """Return uuid -> name of the contacts, categories and appointments cited."""
    cited = {
        choice.name: {value for value in (choice.mine, choice.theirs) if value}
        for choice in view.fields
    }
    names = sale_data.find_contact_names(db, sorted(cited.get("contact_uuid", ())))
    for category_uuid in cited.get("category_uuid", ()):
        category = category_data.get_category(db, category_uuid)
        if category is not None:
            names[category_uuid] = category["name"]
    for appointment_uuid in cited.get("appointment_uuid", ()):
        appointment = appointment_data.get_appointment(db, appointment_uuid)
        if appointment is not None:
            names[appointment_uuid] = appointment["title"]
    return names
