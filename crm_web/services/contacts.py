"""Contact cards: validation, derived columns, duplicates, trash and merge."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import gettext as _

from crm_web.data import appointments as appointment_data
from crm_web.data import categories as category_data
from crm_web.data import comm_logs as comm_log_data
from crm_web.data import contacts as contact_data
from crm_web.data import sales as sales_data
from crm_web.data import visibility
from crm_web.data.db import Database
from crm_web.data.records import new_record, next_revision
from crm_web.data.schema import utcnow
from crm_web.errors import NotFoundError, UserError, VersionConflictError
from crm_web.i18n import format_list, join_sentences
from crm_web.services import sharing, text
from crm_web.services.fields import CONTACT_FIELDS, PHONE_FIELD_NAMES, Field
from crm_web.services.importing.values import parse_date

log = logging.getLogger(__name__)

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
SEP = text.SEARCH_SEPARATOR


_PARSED_FIELDS = {f.name: f for f in CONTACT_FIELDS if f.name != "category"}
_EMPTY_VALUES = {
    name: None if spec.kind == "date" else "" for name, spec in _PARSED_FIELDS.items()
}
_TEXT_FIELD_NAMES = [
    f.name for f in CONTACT_FIELDS if f.kind not in ("date", "category")
]


class ContactInvalidError(UserError):
    """One or more fields of a contact form are invalid."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(join_sentences(list(errors.values())))
        self.errors = errors


class DuplicateContactError(UserError):
    """A contact with the same phone or e-mail exists already."""

    def __init__(self, matches: list[dict[str, Any]]) -> None:
        names = format_list([f"“{m['name'] or m['company']}”" for m in matches[:3]])
        super().__init__(
            _(
                "A contact with the same phone or e-mail already exists: "
                "%(names)s. Open it, merge into it, or save anyway.",
                names=names,
            )
        )
        self.matches = matches


@dataclass
class ContactInput:
    """Validated contact values, ready to store."""

    values: dict[str, Any]
    extra: dict[str, str] = field(default_factory=dict)


def parse_form(
    raw: Mapping[str, Any],
    *,
    extra: Mapping[str, str] | None = None,
    lenient: bool = False,
) -> ContactInput:
    """Validate typed values; raise ContactInvalidError naming each bad one.

    ``lenient`` (imports) keeps a malformed e-mail address as typed instead
    of rejecting the row; the importer reports it as a warning.
    """
    values: dict[str, Any] = dict(_EMPTY_VALUES)
    errors: dict[str, str] = {}
    # Only the keys present are parsed: an import row fills few fields,
    # and this runs for every row of a 100,000-row file.
    for name, raw_value in raw.items():
        spec = _PARSED_FIELDS.get(name)
        if spec is None or raw_value is None or raw_value == "":
            continue
        value, error = _parse_field(spec, raw_value)
        values[name] = value
        if error and not (
            lenient
            and spec.kind == "email"
            and 0 < len(value) <= (spec.max_length or 0)
        ):
            errors[name] = error
    values["category_uuid"] = raw.get("category_uuid") or None
    if not (values["name"] or values["company"]):
        errors["name"] = _("Enter a name or a company: a card needs one of them.")
    if errors:
        raise ContactInvalidError(errors)
    return ContactInput(values, dict(extra or {}))


def _parse_field(spec: Field, raw: Any) -> tuple[Any, str]:
    if spec.kind == "date":
        return _parse_birthday(spec.label, raw)
    value = text.clean(raw)
    if spec.kind == "tags":
        value = ", ".join(text.split_tags(value))
    if spec.kind != "longtext":
        value = " ".join(value.split())
    if spec.max_length and len(value) > spec.max_length and spec.name == "notes":
        return value, _(
            "%(field)s is %(length)s characters long; the limit is %(max)s. "
            "Shorten it.",
            field=spec.label,
            length=len(value),
            max=spec.max_length,
        )
    if spec.max_length and len(value) > spec.max_length:
        return value, _(
            "%(field)s is %(length)s characters long; the limit is %(max)s. "
            "Shorten it or move the rest into Notes.",
            field=spec.label,
            length=len(value),
            max=spec.max_length,
        )
    if spec.kind == "email" and value and not _EMAIL.fullmatch(value):
        return value, _(
            "%(field)s “%(value)s” is not a valid e-mail address; it should "
            "look like name@example.com.",
            field=spec.label,
            value=value,
        )
    return value, ""


def _parse_birthday(label: object, raw: Any) -> tuple[date | None, str]:
    if raw is None or raw == "":
        return None, ""
    if isinstance(raw, date):
        return raw, ""
    parsed = parse_date(text.clean(raw))
    if parsed is None:
        return None, _(
            "%(field)s “%(value)s” is not a date. Type it as 1990-03-15.",
            field=label,
            value=raw,
        )
    return parsed, ""


def derived_columns(
    values: Mapping[str, Any], extra: Mapping[str, str], *, region: str
) -> dict[str, Any]:
    """Return sort keys, normalised phones/e-mail and the search text."""
    mobile_norm = text.normalize_phone(values.get("mobile", ""), region)
    phone_norm = text.normalize_phone(values.get("phone", ""), region)
    parts = [text.fold(values[name]) for name in _TEXT_FIELD_NAMES if values.get(name)]
    parts.extend(text.fold(v) for v in extra.values() if v)
    parts.extend(text.pinyin_search_forms(values.get("name", "")))
    parts.extend(text.loose_forms(parts, values.get("name", "")))
    for name in PHONE_FIELD_NAMES:
        raw = values.get(name, "")
        if raw:
            norm = text.normalize_phone(raw, region)
            parts.extend(text.phone_search_forms(raw, norm))
    return {
        "name_sort": text.sort_key(values.get("name", ""), is_name=True)[:400],
        "company_sort": text.sort_key(values.get("company", ""))[:400],
        "mobile_norm": mobile_norm,
        "phone_norm": phone_norm,
        "email_norm": text.normalize_email(values.get("email", "")),
        "search_text": SEP.join(p for p in parts if p),
    }


def storable(contact: ContactInput, *, region: str) -> dict[str, Any]:
    """Return the column values for a validated contact."""
    row = dict(contact.values)
    row["extra"] = json.dumps(contact.extra, ensure_ascii=False)
    row.update(derived_columns(contact.values, contact.extra, region=region))
    return row


def find_duplicates(
    db: Database, contact: ContactInput, *, region: str, exclude_id: int | None = None
) -> list[dict[str, Any]]:
    """Return live contacts with the same normalised phone or e-mail."""
    phones = [
        text.normalize_phone(contact.values.get(name, ""), region)
        for name in ("mobile", "phone")
    ]
    return contact_data.find_duplicates(
        db,
        phones=[p for p in phones if p],
        email=text.normalize_email(contact.values.get("email", "")),
        exclude_id=exclude_id,
    )


def create_contact(
    db: Database,
    contact: ContactInput,
    *,
    owner: str,
    region: str,
    allow_duplicate: bool = False,
) -> int:
    """Store a new contact, shared as share_default chooses, and return its id."""
    if not allow_duplicate:
        matches = find_duplicates(db, contact, region=region)
        if matches:
            raise DuplicateContactError(matches)
    shares = sharing.default_shares(db)

    def work(db: Database) -> int:
        row = {**new_record(owner), **storable(contact, region=region)}
        row["revision"] = next_revision(db, "contacts")
        contact_id = contact_data.insert_contact(db, row)
        sharing.share_new_records(db, [row["uuid"]], shares)
        return contact_id

    contact_id = db.write(work)
    log.info("Contact %s created", contact_id)
    return contact_id


def update_contact(
    db: Database,
    contact_id: int,
    contact: ContactInput,
    *,
    version: int,
    region: str,
    allow_duplicate: bool = False,
) -> None:
    """Save an edited contact, refusing if someone saved it meanwhile."""
    current = require_contact(db, contact_id)
    visibility.require_may_edit(current, current["name"] or current["company"])
    if not allow_duplicate:
        matches = find_duplicates(db, contact, region=region, exclude_id=contact_id)
        if matches:
            raise DuplicateContactError(matches)

    def work(db: Database) -> bool:
        row = storable(contact, region=region)
        row["updated_at"] = utcnow()
        row["revision"] = next_revision(db, "contacts")
        return contact_data.update_contact(
            db, contact_id, row, expected_version=version
        )

    if not db.write(work):
        raise VersionConflictError(current["name"] or current["company"])
    log.info("Contact %s updated", contact_id)


def require_contact(db: Database, contact_id: int) -> dict[str, Any]:
    """Return a contact row or raise NotFoundError."""
    row = contact_data.get_contact(db, contact_id)
    if row is None:
        raise NotFoundError(_("Contact"), contact_id)
    return row


def set_deleted(db: Database, contact_id: int, *, deleted: bool) -> None:
    """Move a contact to the trash, or restore it from there."""
    current = require_contact(db, contact_id)
    visibility.require_may_edit(current, current["name"] or current["company"])

    def work(db: Database) -> None:
        now = utcnow()
        contact_data.update_contact(
            db,
            contact_id,
            {
                "deleted": deleted,
                "deleted_at": now if deleted else None,
                "updated_at": now,
                "revision": next_revision(db, "contacts"),
            },
        )

    db.write(work)
    log.info("Contact %s %s", contact_id, "deleted" if deleted else "restored")


def contact_view(
    db: Database, row: dict[str, Any], category_names: dict[str, str] | None = None
) -> dict[str, Any]:
    """Return a contact with its category name and extra fields decoded.

    A list page passes ``category_names`` (uuid -> name) to avoid a query
    per row.
    """
    view = dict(row)
    view["extra"] = decode_extra(row.get("extra"))
    uuid = row.get("category_uuid")
    if category_names is not None:
        view["category"] = category_names.get(uuid or "", "")
        return view
    category = category_data.get_category(db, uuid) if uuid else None
    view["category"] = category["name"] if category else ""
    return view


def decode_extra(raw: str | None) -> dict[str, str]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def merge_contacts(
    db: Database, *, target_id: int, source_id: int, region: str
) -> None:
    """Merge the source contact into the target and trash the source.

    Every non-empty field is kept: an empty target field takes the source's
    value, and a different non-empty value is added to the notes, labelled.
    """
    target = require_contact(db, target_id)
    source = require_contact(db, source_id)
    merged = merge_values(target, source)

    def work(db: Database) -> None:
        revision = next_revision(db, "contacts")
        now = utcnow()
        row = dict(merged.values)
        row["extra"] = json.dumps(merged.extra, ensure_ascii=False)
        row.update(derived_columns(merged.values, merged.extra, region=region))
        contact_data.update_contact(
            db, target_id, {**row, "updated_at": now, "revision": revision}
        )
        contact_data.update_contact(
            db,
            source_id,
            {
                "deleted": True,
                "deleted_at": now,
                "updated_at": now,
                "merged_into": target["uuid"],
                "revision": revision,
            },
        )
        # Everything linked to the merged card moves with it.
        for area in (comm_log_data, sales_data, appointment_data):
            area.relink_contact(db, source["uuid"], target["uuid"], revision=revision)

    db.write(work)
    log.info("Contact %s merged into %s", source_id, target_id)


def merge_values(target: Mapping[str, Any], source: Mapping[str, Any]) -> ContactInput:
    """Combine two contacts' fields without losing any non-empty value."""
    values: dict[str, Any] = {}
    leftovers: list[str] = []
    for spec in CONTACT_FIELDS:
        if spec.name == "category":
            continue
        mine, theirs = target.get(spec.name), source.get(spec.name)
        values[spec.name] = mine if mine not in (None, "") else theirs
        if mine not in (None, "") and theirs not in (None, "") and mine != theirs:
            if spec.name == "notes":
                values["notes"] = f"{mine}\n{theirs}"
            elif spec.name == "tags":
                values["tags"] = ", ".join(text.split_tags(f"{mine}, {theirs}"))
            else:
                leftovers.append(f"{spec.label}: {theirs}")
    if leftovers:
        values["notes"] = "\n".join(filter(None, [values["notes"], *leftovers]))
    values["category_uuid"] = target.get("category_uuid") or source.get("category_uuid")
    extra = {**decode_extra(source.get("extra")), **decode_extra(target.get("extra"))}
    return ContactInput(values, extra)


def merge_input(
    db: Database, target_id: int, contact: ContactInput, *, region: str
) -> None:
    """Merge typed values of a new card into an existing contact."""
    target = require_contact(db, target_id)
    source = {**contact.values, "extra": json.dumps(contact.extra, ensure_ascii=False)}
    merged = merge_values(target, source)

    def work(db: Database) -> None:
        row = storable(merged, region=region)
        row["updated_at"] = utcnow()
        row["revision"] = next_revision(db, "contacts")
        contact_data.update_contact(db, target_id, row)

    db.write(work)
    log.info("New card merged into contact %s", target_id)
