"""Edit conflicts: the version now saved next to the values a user typed.

Every edit form carries the version of the record it was opened on. When
someone else saved the record in between, the save is rejected
(VersionConflictError) and the form comes back with both versions field
by field. The hidden version then is the saved one, so saving again is a
deliberate overwrite. Both sides are shown as the record stores them,
after the typed values were validated, so "10" and "10.00" compare equal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import get_locale, ngettext
from flask_babel import gettext as _

from crm_web.data import sales as sale_data
from crm_web.data.db import Database
from crm_web.i18n import format_date, format_moment
from crm_web.services import appointment_form, clock, money
from crm_web.services import appointments as appointment_service
from crm_web.services.comm_log import CHANNELS, EntryInput, entry_label
from crm_web.services.contacts import ContactInput, decode_extra
from crm_web.services.fields import CONTACT_FIELDS
from crm_web.services.sales import CUSTOM_FIELDS, FIELD_LABELS, STATUSES, SaleInput


@dataclass(frozen=True)
class FieldVersions:
    """One field's value in the saved version and in the user's version."""

    label: str
    saved: str
    mine: str

    @property
    def differs(self) -> bool:
        return self.saved != self.mine


@dataclass(frozen=True)
class VersionConflict:
    """A rejected save: the record's saved version and the user's values."""

    record: str  # the record's name, as messages show it
    version: int  # the saved version, for the form's hidden input
    # When the saved version was stored, in UTC. NOTE: records do not store
    # who saved them last, so the panel names no one.
    saved_at: datetime
    fields: tuple[FieldVersions, ...]

    @property
    def message(self) -> str:
        return _(
            "“%(name)s” was changed by someone else after you opened it, so "
            "your changes were not saved. Compare the two versions below, "
            "then save yours anyway or discard them and open the saved "
            "version.",
            name=self.record,
        )

    @property
    def differences(self) -> int:
        return sum(1 for field in self.fields if field.differs)


def compare_versions(
    record: str,
    saved_row: Mapping[str, Any],
    labels: Sequence[tuple[str, str]],
    saved: Mapping[str, str],
    mine: Mapping[str, str],
) -> VersionConflict:
    """Pair the shown values of each field, leaving out fields empty in both.

    ``labels`` gives (key, label) in the form's order; ``saved`` and
    ``mine`` map the same keys to the text shown for each version.
    """
    fields = tuple(
        FieldVersions(label, saved.get(key, ""), mine.get(key, ""))
        for key, label in labels
        if saved.get(key) or mine.get(key)
    )
    return VersionConflict(
        record=record,
        version=int(saved_row["version"]),
        saved_at=saved_row["updated_at"],
        fields=fields,
    )


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return format_date(value)
    return str(value)


# --- contacts ----------------------------------------------------------------


def compare_contact(
    saved_row: Mapping[str, Any],
    contact: ContactInput,
    *,
    category_names: Mapping[str, str],
) -> VersionConflict:
    """Compare a stored contact with the validated values of its edit form."""
    saved_extra = decode_extra(saved_row.get("extra"))
    labels = [(f.name, str(f.label)) for f in CONTACT_FIELDS]
    labels += [(f"extra:{k}", k) for k in {**saved_extra, **contact.extra}]
    return compare_versions(
        str(saved_row["name"] or saved_row["company"]),
        saved_row,
        labels,
        _contact_texts(saved_row, saved_extra, category_names),
        _contact_texts(contact.values, contact.extra, category_names),
    )


def _contact_texts(
    values: Mapping[str, Any],
    extra: Mapping[str, str],
    category_names: Mapping[str, str],
) -> dict[str, str]:
    texts = {f.name: _text(values.get(f.name)) for f in CONTACT_FIELDS}
    texts["category"] = category_names.get(values.get("category_uuid") or "", "")
    texts.update({f"extra:{k}": v for k, v in extra.items()})
    return texts


# --- sales records -------------------------------------------------------------


def compare_sale(
    db: Database,
    saved_row: Mapping[str, Any],
    sale: SaleInput,
    *,
    custom_labels: Mapping[str, str],
) -> VersionConflict:
    """Compare a stored sales record with the validated values of its form.

    ``custom_labels`` are the labels of the custom fields in use; a custom
    field without a label is hidden on the form and left out here too.
    """
    names = sale_data.find_contact_names(
        db, [saved_row["contact_uuid"] or "", sale.values.get("contact_uuid") or ""]
    )
    keys = (
        "contact",
        "sold_on",
        "item",
        "service_type",
        "quantity",
        "unit_price",
        "amount",
        "currency",
        "status",
    )
    labels = [(key, str(FIELD_LABELS[key])) for key in keys]
    labels += [(name, label) for name, label in custom_labels.items() if label]
    labels.append(("notes", str(FIELD_LABELS["notes"])))
    record = (
        saved_row["item"] or saved_row["service_type"] or _text(saved_row["sold_on"])
    )
    return compare_versions(
        str(record),
        saved_row,
        labels,
        _sale_texts(saved_row, names),
        _sale_texts(sale.values, names),
    )


def _sale_texts(values: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, str]:
    status = str(values.get("status") or "")
    texts = {
        "contact": names.get(values.get("contact_uuid") or "", ""),
        "sold_on": _text(values.get("sold_on")),
        **_sale_numbers(values),
        "currency": str(values.get("currency") or ""),
        "status": str(STATUSES.get(status, status)),
    }
    for name in ("item", "service_type", "notes", *CUSTOM_FIELDS):
        texts[name] = _text(values.get(name))
    return texts


def _sale_numbers(values: Mapping[str, Any]) -> dict[str, str]:
    """Return quantity, unit price and amount as the sales list shows them."""
    locale = str(get_locale() or "en")
    currency = str(values.get("currency") or "")
    quantity = values.get("quantity_milli")
    price = values.get("unit_price_micro")
    amount = values.get("amount_minor")
    return {
        "quantity": "" if quantity is None else money.format_quantity(quantity, locale),
        "unit_price": (
            "" if price is None else money.format_unit_price(price, currency, locale)
        ),
        "amount": (
            "" if amount is None else money.format_money(amount, currency, locale)
        ),
    }


# --- log entries -------------------------------------------------------------


def compare_entry(
    saved_row: Mapping[str, Any], entry: EntryInput, *, zone: ZoneInfo
) -> VersionConflict:
    """Compare a stored log entry with the validated values of its form."""
    saved_contact = saved_row.get("contact_name") or saved_row.get("contact_company")
    typed_contact = entry.contact.get("name") or entry.contact.get("company")
    labels = [
        ("contact", _("Contact")),
        ("occurred_at", _("Date and time")),
        ("channel", _("Channel")),
        ("title", _("Title")),
        ("content", _("Content")),
        ("follow_up_on", _("Follow up on")),
    ]
    return compare_versions(
        entry_label(saved_row),
        saved_row,
        labels,
        _entry_texts(saved_row, str(saved_contact or ""), zone),
        _entry_texts(entry.values, str(typed_contact or ""), zone),
    )


def _entry_texts(
    values: Mapping[str, Any], contact: str, zone: ZoneInfo
) -> dict[str, str]:
    occurred = values.get("occurred_at")
    local = clock.to_local(occurred, zone).replace(tzinfo=None) if occurred else None
    channel = str(values.get("channel") or "")
    return {
        "contact": contact,
        "occurred_at": format_moment(local) if local else "",
        "channel": str(CHANNELS.get(channel, channel)),
        "title": _text(values.get("title")),
        "content": _text(values.get("content")),
        "follow_up_on": _text(values.get("follow_up_on")),
    }


# --- appointments --------------------------------------------------------------


def compare_appointment(
    db: Database,
    saved_row: Mapping[str, Any],
    values: Mapping[str, Any],
    *,
    zone: ZoneInfo,
) -> VersionConflict:
    """Compare a stored appointment with the parsed values of its edit form.

    ``values`` are what appointment_form.parse_form returns, with times in
    ``zone``, the zone of the appointment's series.
    """
    typed = appointment_service.validate(values, zone=zone)
    labels = [
        ("title", _("Title")),
        ("contact", _("Contact")),
        ("starts_at", _("Start")),
        ("ends_at", _("End")),
        ("location", _("Location")),
        ("reminder_minutes", _("Reminder")),
        ("repeat", _("Repeat")),
        ("repeat_until", _("Repeat until (inclusive)")),
        ("notes", _("Notes")),
    ]
    return compare_versions(
        str(saved_row["title"]),
        saved_row,
        labels,
        _appointment_texts(db, saved_row, zone),
        _appointment_texts(db, typed, zone),
    )


def _appointment_texts(
    db: Database, values: Mapping[str, Any], zone: ZoneInfo
) -> dict[str, str]:
    repeat = str(values.get("repeat") or "none")
    texts = {
        "contact": appointment_form.contact_name(db, values.get("contact_uuid")),
        "reminder_minutes": _reminder(values.get("reminder_minutes")),
        "repeat": str(appointment_service.REPEAT_LABELS.get(repeat, repeat)),
        "repeat_until": _text(values.get("repeat_until")),
    }
    for name in ("starts_at", "ends_at"):
        local = clock.to_local(values[name], zone).replace(tzinfo=None)
        texts[name] = format_moment(local)
    for name in ("title", "location", "notes"):
        texts[name] = _text(values.get(name))
    return texts


def _reminder(minutes: int | None) -> str:
    """Return a reminder as the appointment form's list names it."""
    if minutes is None:
        return _("No reminder")
    if minutes == 0:
        return _("At the start")
    if minutes % 1440 == 0:
        days = minutes // 1440
        return ngettext("%(num)s day before", "%(num)s days before", days)
    if minutes % 60 == 0:
        hours = minutes // 60
        return ngettext("%(num)s hour before", "%(num)s hours before", hours)
    return ngettext("%(num)s minute before", "%(num)s minutes before", minutes)
