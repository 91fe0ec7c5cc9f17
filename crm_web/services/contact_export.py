"""Contacts as plain records for export, the JSON output and templates."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from flask_babel import gettext as _

from crm_web.data import categories as category_data
from crm_web.data import contacts as contact_data
from crm_web.data.db import Database
from crm_web.errors import ExportWriteError
from crm_web.services.contacts import decode_extra
from crm_web.services.fields import CONTACT_FIELDS, FIELD_NAMES
from crm_web.services.search import Filters, index_for, search_contacts

log = logging.getLogger(__name__)

CHUNK = 1000


def contacts_for_query(
    db: Database, query: str = "", filters: Filters | None = None
) -> Iterator[dict[str, Any]]:
    """Yield every matching contact keyed by field name, in name order."""
    page = search_contacts(db, query, filters, limit=10**9)
    return records_by_ids(db, page.ids)


def records_by_ids(db: Database, ids: list[int]) -> Iterator[dict[str, Any]]:
    """Yield the contacts with ``ids``, in that order, keyed by field name."""
    names = {c["uuid"]: c["name"] for c in category_data.find_categories(db)}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        for row in contact_data.find_contacts_by_ids(db, chunk):
            yield record_of(row, names)


def record_of(row: dict[str, Any], category_names: dict[str, str]) -> dict[str, Any]:
    """Return a stored row as a record keyed by the contact field names."""
    record: dict[str, Any] = {}
    for name in FIELD_NAMES:
        if name == "category":
            record[name] = category_names.get(row["category_uuid"] or "", "")
        else:
            record[name] = row[name] if row[name] is not None else ""
    record["extra"] = decode_extra(row.get("extra"))
    return record


def export_columns(
    records: Sequence[dict[str, Any]] | None = None,
    fields: Sequence[str] | None = None,
    extra_labels: Sequence[str] = (),
) -> list[tuple[str, str]]:
    """Return (key, header) pairs: chosen fields, then extra fields."""
    chosen = set(fields or FIELD_NAMES)
    columns = [(f.name, str(f.label)) for f in CONTACT_FIELDS if f.name in chosen]
    columns.extend((f"extra:{label}", label) for label in extra_labels)
    return columns


def flat_rows(records: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Flatten each record's extra fields into ``extra:<label>`` keys."""
    for record in records:
        flat = {k: v for k, v in record.items() if k != "extra"}
        for label, value in record["extra"].items():
            flat[f"extra:{label}"] = value
        yield flat


def export_to_path(
    db: Database,
    path: Path,
    *,
    query: str = "",
    filters: Filters | None = None,
    fields: Sequence[str] | None = None,
    include_extra: bool = True,
) -> int:
    """Write matching contacts to ``path``; the format follows its extension.

    ``include_extra`` adds a column for every extra field (columns kept from
    imports, such as an ID number) that the matching contacts use.
    """
    from crm_web.services.exporting import kind_for_filename, write_table

    kind = kind_for_filename(path.name)
    if not path.parent.is_dir():
        raise ExportWriteError(
            str(path), _("the folder %(folder)s does not exist", folder=path.parent)
        )
    index = index_for(db)
    ids = search_contacts(db, query, filters, limit=10**9).ids
    labels = index.extra_labels(ids) if include_extra else []
    columns = export_columns(fields=fields, extra_labels=labels)
    rows = flat_rows(records_by_ids(db, ids))
    count = write_table(path, kind, columns, rows, sheet_title=_("Contacts"))
    log.info("Exported %s contacts to %s", count, path)
    return count
