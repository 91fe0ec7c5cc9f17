"""Importing contacts: plan, preview, run in one transaction, and undo."""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm_web.data import contacts as contact_data
from crm_web.data import imports as import_data
from crm_web.data import visibility
from crm_web.data.db import Database
from crm_web.data.records import new_record, next_revision
from crm_web.data.schema import utcnow
from crm_web.errors import InvalidValueError, NoHeaderError, UserError
from crm_web.i18n import format_list
from crm_web.services import sharing, text
from crm_web.services.categories import ensure_category
from crm_web.services.contacts import (
    ContactInput,
    decode_extra,
    derived_columns,
    storable,
)
from crm_web.services.fields import CONTACT_FIELDS
from crm_web.services.importing.detect import SourceInfo, detect
from crm_web.services.importing.headers import find_header_row, map_headers
from crm_web.services.importing.readers import iter_rows, sample_rows
from crm_web.services.importing.rejected import write_rejected_rows
from crm_web.services.importing.rows import (
    ConvertedRow,
    convert_row,
    default_mapping,
    valid_targets,
)
from crm_web.services.templates_files import example_values

log = logging.getLogger(__name__)

# The import template's example row (see templates_files): skipped, because
# users type their list below it and leave it in.
TEMPLATE_EXAMPLE = {k: example_values()[k] for k in ("name", "mobile", "email")}

# Policies for a row whose contact is already stored, with their labels.
POLICY_LABELS = {
    "skip": _l("Skip the row"),
    "update": _l("Fill only the empty fields of the stored card"),
    "overwrite": _l("Overwrite the stored fields with the file’s values"),
    "create": _l("Create another card anyway"),
}
POLICIES = tuple(POLICY_LABELS)
TEXT_KINDS = ("csv", "txt")
FLUSH_ROWS = 1000
PROGRESS_EVERY = 500
STORED_FIELDS = [f.name for f in CONTACT_FIELDS if f.name != "category"]


@dataclass
class ImportPlan:
    """A file's reading options and the field each of its columns goes to."""

    path: Path
    filename: str
    info: SourceInfo
    sheet: str | None
    header_row: int
    headers: list[str]
    mapping: list[str]
    # True when no column title matched a field and the user must map by hand.
    needs_mapping: bool = False

    @property
    def is_text_source(self) -> bool:
        return self.info.kind in TEXT_KINDS


@dataclass
class ImportSummary:
    filename: str
    dry_run: bool
    import_uuid: str = ""
    inserted: int = 0
    updated: int = 0
    skipped: int = 0
    rejected: int = 0
    warnings: int = 0
    rejected_reasons: list[str] = field(default_factory=list)
    rejected_file: Path | None = None

    def describe(self) -> str:
        counts = dict(
            inserted=self.inserted,
            updated=self.updated,
            skipped=self.skipped,
            rejected=self.rejected,
        )
        if self.dry_run:
            return _(
                "Dry run of %(file)s, nothing saved: %(inserted)s would be "
                "inserted, %(updated)s updated, %(skipped)s skipped, "
                "%(rejected)s rejected.",
                file=self.filename,
                **counts,
            )
        return _(
            "Imported %(file)s: %(inserted)s inserted, %(updated)s updated, "
            "%(skipped)s skipped, %(rejected)s rejected.",
            file=self.filename,
            **counts,
        )

    def describe_rejected_file(self) -> str:
        return _(
            "Rejected rows, with the reason for each, are in %(path)s: fix "
            "them there and import that file.",
            path=self.rejected_file,
        )


NO_HEADER = -1  # header_row value for a file whose first row is data


def plan_import(
    path: Path,
    *,
    filename: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
    header_row: int | None = None,
    mapping: list[str] | None = None,
    allow_unmatched: bool = False,
) -> ImportPlan:
    """Detect the file's format, header row and column mapping.

    Raises NoHeaderError when no column title names a contact field,
    unless ``allow_unmatched`` (the wizard, where the user maps by hand).
    """
    name = filename or path.name
    info = detect(path, filename=name, encoding=encoding, delimiter=delimiter)
    if sheet not in info.sheet_names:
        sheet, sample = _best_sheet(path, info)
    else:
        sample = sample_rows(path, info, sheet=sheet, limit=30)
    if not any(any(_filled(c) for c in row) for row in sample):
        from crm_web.errors import EmptyFileError

        raise EmptyFileError(name)
    if header_row is None or not NO_HEADER <= header_row < len(sample):
        header_row = find_header_row(sample)
    width = max(len(row) for row in sample)
    if header_row == NO_HEADER:
        headers = [""] * width
    else:
        headers = [_header_text(c) for c in sample[header_row]]
        headers += [""] * (width - len(headers))
    fields = map_headers(headers)
    chosen = _checked_mapping(mapping, len(headers)) or default_mapping(fields, headers)
    if mapping is None and not any(fields) and not allow_unmatched:
        raise NoHeaderError(name)
    plan = ImportPlan(path, name, info, sheet, header_row, headers, chosen)
    plan.needs_mapping = mapping is None and not any(fields)
    return plan


def _best_sheet(path: Path, info: SourceInfo) -> tuple[str | None, list[list[Any]]]:
    """Return the first sheet with contact columns, and its first rows.

    An instructions sheet often comes first; without any matching sheet the
    first sheet is used.
    """
    first: tuple[str | None, list[list[Any]]] | None = None
    names: list[str | None] = list(info.sheet_names) or [None]
    for name in names:
        sample = sample_rows(path, info, sheet=name, limit=30)
        if first is None:
            first = (name, sample)
        if any(any(map_headers([_header_text(c) for c in row])) for row in sample):
            return name, sample
    assert first is not None
    return first


def _checked_mapping(mapping: list[str] | None, width: int) -> list[str] | None:
    if mapping is None:
        return None
    allowed = valid_targets()
    for target in mapping:
        if target not in allowed:
            raise InvalidValueError(
                _("Column mapping"), target, _("choose a field from the list.")
            )
    return (mapping + ["extra"] * width)[:width]


def _header_text(cell: Any) -> str:
    if isinstance(cell, datetime.date | datetime.time):
        return cell.isoformat()
    return text.clean(cell)


def _filled(cell: Any) -> bool:
    return cell not in ("", None) and not (isinstance(cell, str) and not cell.strip())


def data_rows(
    plan: ImportPlan, *, on_total: Callable[[int], None] | None = None
) -> Iterator[tuple[int, list[Any]]]:
    """Yield (line number, cells) for each non-empty row below the header."""
    if on_total is not None and plan.is_text_source:
        on_total(_count_lines(plan.path))
    rows = iter_rows(plan.path, plan.info, sheet=plan.sheet, on_total=on_total)
    for index, cells in enumerate(rows):
        if index <= plan.header_row:
            continue
        if any(_filled(c) for c in cells):
            yield index + 1, cells


def _count_lines(path: Path) -> int:
    # Counts line ends in bounded chunks: an estimate for the progress bar
    # (quoted line breaks inside a cell count too).
    count = 0
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            count += chunk.count(b"\n")
    return count


def convert(plan: ImportPlan, line: int, cells: list[Any]) -> ConvertedRow:
    return convert_row(
        line, cells, plan.headers, plan.mapping, is_text_source=plan.is_text_source
    )


@dataclass
class PreviewRow:
    row: ConvertedRow
    action: str  # insert | update | skip | reject
    note: str = ""  # which card a row updates, or why it is skipped


def preview(
    db: Database, plan: ImportPlan, *, policy: str, region: str, limit: int = 20
) -> list[PreviewRow]:
    """Convert the first rows exactly as the import would, without saving."""
    matcher = Matcher(contact_data.find_match_keys(db), region=region)
    result = []
    for line, cells in data_rows(plan):
        row = convert(plan, line, cells)
        result.append(_preview_row(db, row, matcher, policy))
        if len(result) >= limit:
            break
    return result


def _preview_row(
    db: Database, row: ConvertedRow, matcher: Matcher, policy: str
) -> PreviewRow:
    if row.skip_reason:
        return PreviewRow(row, "skip", row.skip_reason)
    if row.problems or row.contact is None:
        return PreviewRow(row, "reject")
    if is_template_example(row.contact):
        return PreviewRow(row, "skip", _("the template's example row"))
    match = None if policy == "create" else matcher.find(row.contact)
    matcher.add(f"preview-{row.line}", row.contact)
    if match is None:
        return PreviewRow(row, "insert")
    card = matcher.labels.get(match, _("an earlier row of this file"))
    if policy == "skip":
        return PreviewRow(row, "skip", _("same as %(card)s", card=card))
    current = contact_data.get_contact_by_uuid(db, match)
    if current is not None and not changed_values(
        current, row.contact, None, overwrite=policy == "overwrite"
    ):
        return PreviewRow(row, "skip", _("no change to %(card)s", card=card))
    return PreviewRow(row, "update", card)


def is_template_example(contact: ContactInput) -> bool:
    """Return whether a row is the import template's untouched example."""
    values = contact.values
    return all(values.get(k) == v for k, v in TEMPLATE_EXAMPLE.items())


class Matcher:
    """Finder of the stored (or earlier imported) contact a row duplicates.

    Rows match on a normalised phone or a case-folded e-mail. A row with
    neither matches on name and company, so importing a file twice never
    creates a second card.
    """

    def __init__(self, rows: list[dict[str, Any]], *, region: str) -> None:
        self.region = region
        self.phones: dict[str, str] = {}
        self.emails: dict[str, str] = {}
        self.names: dict[tuple[str, str], str] = {}
        # uuid -> "name (company)" of stored cards, for the preview.
        self.labels: dict[str, str] = {}
        for row in rows:
            self._register(
                row["uuid"],
                [row["mobile_norm"], row["phone_norm"]],
                row["email_norm"],
                row["name"],
                row["company"],
            )

    def _register(
        self, uuid: str, phones: list[str], email: str, name: str, company: str
    ) -> None:
        for phone in phones:
            if phone:
                self.phones.setdefault(phone, uuid)
        if email:
            self.emails.setdefault(email, uuid)
        self.names.setdefault((text.fold(name), text.fold(company)), uuid)
        self.labels[uuid] = f"{name} ({company})" if company else name

    def _keys(self, contact: ContactInput) -> tuple[list[str], str]:
        values = contact.values
        phones = [
            text.normalize_phone(values[n], self.region)
            for n in ("mobile", "phone")
            if values.get(n)
        ]
        return [p for p in phones if p], text.normalize_email(values["email"])

    def find(self, contact: ContactInput) -> str | None:
        phones, email = self._keys(contact)
        for phone in phones:
            if phone in self.phones:
                return self.phones[phone]
        if email and email in self.emails:
            return self.emails[email]
        if not phones and not email:
            values = contact.values
            key = (text.fold(values["name"]), text.fold(values["company"]))
            return self.names.get(key)
        return None

    def add(self, uuid: str, contact: ContactInput) -> None:
        phones, email = self._keys(contact)
        values = contact.values
        self._register(uuid, phones, email, values["name"], values["company"])


# Called with (rows done, estimated total or 0 while unknown).
ProgressCallback = Callable[[int, int], None]


def import_file(
    db: Database,
    path: Path,
    *,
    policy: str = "update",
    dry_run: bool = False,
    owner: str,
    region: str,
    work_dir: Path,
    plan: ImportPlan | None = None,
    progress: ProgressCallback | None = None,
) -> ImportSummary:
    """Import every row of a file in one transaction; return the counts."""
    if policy not in POLICIES:
        labels = [f"“{label}”" for label in POLICY_LABELS.values()]
        raise InvalidValueError(
            _("Contacts already stored"),
            policy,
            _("choose one of: %(choices)s", choices=format_list(labels, style="or")),
        )
    plan = plan or plan_import(path)
    run = _ImportRun(
        db,
        plan,
        policy=policy,
        owner=owner,
        region=region,
        dry_run=dry_run,
        progress=progress,
    )
    with contextlib.suppress(_DryRunFinished):
        db.write(run.execute)
    summary = run.summary
    if run.rejected_rows:
        rejected_file = _write_rejected(
            plan, run.rejected_rows, work_dir, summary.import_uuid or "dry-run"
        )
        summary.rejected_file = rejected_file
        if not dry_run:
            db.write(
                lambda db: import_data.update_import(
                    db, summary.import_uuid, {"rejected_file": rejected_file.name}
                )
            )
    log.info("%s", summary.describe())
    return summary


class _DryRunFinished(Exception):
    """Raised at the end of a dry run so that its transaction rolls back."""


class _ImportRun:
    def __init__(
        self,
        db: Database,
        plan: ImportPlan,
        *,
        policy: str,
        owner: str,
        region: str,
        dry_run: bool,
        progress: ProgressCallback | None,
    ) -> None:
        self.plan, self.policy, self.owner = plan, policy, owner
        self.region, self.dry_run, self.progress = region, dry_run, progress
        self.summary = ImportSummary(plan.filename, dry_run)
        self.rejected_rows: list[ConvertedRow] = []

    def execute(self, db: Database) -> None:
        # db.write may call this again after a deadlock: start afresh.
        self.summary = ImportSummary(self.plan.filename, self.dry_run)
        self.rejected_rows = []
        self.db = db
        self.pending: list[dict[str, Any]] = []
        self.pending_uuids: set[str] = set()
        self.changes: list[dict[str, Any]] = []
        self.categories: dict[str, str | None] = {}
        self.import_uuid = new_record(self.owner)["uuid"]
        self.revision = next_revision(db, "contacts")
        self.shares = sharing.default_shares(db)
        self.matcher = Matcher(contact_data.find_match_keys(db), region=self.region)
        self.total = 0
        rows = data_rows(self.plan, on_total=self._set_total)
        for count, (line, cells) in enumerate(rows, start=1):
            self._handle(convert(self.plan, line, cells))
            if self.progress and count % PROGRESS_EVERY == 0:
                self.progress(count, self.total)
        self._flush()
        self._record()
        if self.dry_run:
            raise _DryRunFinished

    def _set_total(self, total: int) -> None:
        # The header row and anything above it are not data rows.
        self.total = max(0, total - self.plan.header_row - 1)

    def _handle(self, row: ConvertedRow) -> None:
        if row.skip_reason or (row.contact and is_template_example(row.contact)):
            self.summary.skipped += 1
            return
        if row.problems or row.contact is None:
            self.summary.rejected += 1
            self.rejected_rows.append(row)
            reasons = " ".join(row.problems)
            self.summary.rejected_reasons.append(
                _("Row %(line)s: %(reasons)s", line=row.line, reasons=reasons)
            )
            return
        self.summary.warnings += len(row.warnings)
        match = None if self.policy == "create" else self.matcher.find(row.contact)
        if match is None:
            self._insert(row)
        elif self.policy == "skip":
            self.summary.skipped += 1
        else:
            self._update(match, row)

    def _category(self, name: str) -> str | None:
        if not name:
            return None
        key = text.fold(name)
        if key not in self.categories:
            self.categories[key] = ensure_category(self.db, name, owner=self.owner)
        return self.categories[key]

    def _insert(self, row: ConvertedRow) -> None:
        assert row.contact is not None
        values = {**new_record(self.owner), **storable(row.contact, region=self.region)}
        values.update(
            category_uuid=self._category(row.category),
            revision=self.revision,
            import_uuid=self.import_uuid,
        )
        self.pending.append(values)
        self.pending_uuids.add(values["uuid"])
        self.matcher.add(values["uuid"], row.contact)
        self.changes.append(self._change(values["uuid"], "inserted", None))
        self.summary.inserted += 1
        if len(self.pending) >= FLUSH_ROWS:
            self._flush()

    def _update(self, uuid: str, row: ConvertedRow) -> None:
        assert row.contact is not None
        if uuid in self.pending_uuids:
            self._flush()
        current = contact_data.get_contact_by_uuid(self.db, uuid)
        if current is None:
            self.summary.skipped += 1
            return
        category = self._category(row.category)
        changed = changed_values(
            current, row.contact, category, overwrite=self.policy == "overwrite"
        )
        if not changed:
            self.summary.skipped += 1
            return
        record = {
            "before": {k: _jsonable(current[k]) for k in changed},
            "after": {k: _jsonable(v) for k, v in changed.items()},
        }
        merged = _merged_input(current, changed)
        values = {
            **changed,
            **derived_columns(merged.values, merged.extra, region=self.region),
        }
        values.update(updated_at=utcnow(), revision=self.revision)
        contact_data.update_contacts_by_uuid(self.db, [(uuid, values)])
        self.changes.append(self._change(uuid, "updated", record))
        self.summary.updated += 1

    def _change(
        self, uuid: str, action: str, record: dict[str, Any] | None
    ) -> dict[str, Any]:
        # Undo compares this revision with the card's to find later edits.
        details = {"revision": self.revision, **(record or {})}
        return {
            "import_uuid": self.import_uuid,
            "contact_uuid": uuid,
            "action": action,
            "before": json.dumps(details, ensure_ascii=False),
        }

    def _flush(self) -> None:
        # Written in batches so that memory stays flat however long the file.
        contact_data.insert_contacts(self.db, self.pending)
        uuids = [row["uuid"] for row in self.pending]
        sharing.share_new_records(self.db, uuids, self.shares)
        import_data.insert_changes(self.db, self.changes)
        self.pending = []
        self.pending_uuids = set()
        self.changes = []

    def _record(self) -> None:
        self._flush()
        summary = self.summary
        summary.import_uuid = self.import_uuid
        row = {
            **new_record(self.owner),
            "uuid": self.import_uuid,
            "filename": self.plan.filename[:255],
            "file_kind": self.plan.info.kind,
            "policy": self.policy,
            "status": "done",
            "inserted": summary.inserted,
            "updated": summary.updated,
            "skipped": summary.skipped,
            "rejected": summary.rejected,
        }
        import_data.insert_import(self.db, row)


def changed_values(
    current: dict[str, Any],
    contact: ContactInput,
    category: str | None,
    *,
    overwrite: bool,
) -> dict[str, Any]:
    """Return the columns an import row changes on a stored contact.

    Without ``overwrite`` only empty stored fields are filled. Empty values
    in the file never erase stored ones.
    """
    changed: dict[str, Any] = {}
    for name in STORED_FIELDS:
        new = contact.values.get(name)
        old = current.get(name)
        if new in (None, "") or new == old:
            continue
        if overwrite or old in (None, ""):
            changed[name] = new
    if (
        category
        and category != current.get("category_uuid")
        and (overwrite or not current.get("category_uuid"))
    ):
        changed["category_uuid"] = category
    extra = decode_extra(current.get("extra"))
    added = {
        k: v
        for k, v in contact.extra.items()
        if v and (overwrite or not extra.get(k)) and extra.get(k) != v
    }
    if added:
        changed["extra"] = json.dumps({**extra, **added}, ensure_ascii=False)
    return changed


def _merged_input(current: dict[str, Any], changed: dict[str, Any]) -> ContactInput:
    values = {name: changed.get(name, current.get(name)) for name in STORED_FIELDS}
    extra = decode_extra(changed.get("extra", current.get("extra")))
    return ContactInput(values, extra)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def _write_rejected(
    plan: ImportPlan, rows: list[ConvertedRow], work_dir: Path, import_uuid: str
) -> Path:
    kind = "xlsx" if plan.info.kind not in TEXT_KINDS else plan.info.kind
    target = work_dir / f"rejected-{import_uuid}.{kind}"
    return write_rejected_rows(target, kind, plan.headers, rows)


@dataclass
class UndoSummary:
    removed: int = 0  # added by the import and untouched since: deleted
    trashed: int = 0  # added by the import and edited since: moved to the trash
    restored: int = 0  # updated by the import: old values put back
    kept_fields: int = 0  # fields edited since the import: left as they are

    def describe(self) -> str:
        return _(
            "The import was undone: %(removed)s added contacts were removed and "
            "%(restored)s updated contacts got their old values back. "
            "%(trashed)s added contacts that were edited after the import were "
            "moved to the trash instead, and %(kept)s fields edited after the "
            "import were kept.",
            removed=self.removed,
            restored=self.restored,
            trashed=self.trashed,
            kept=self.kept_fields,
        )


def undo_import(db: Database, import_uuid: str, *, region: str) -> UndoSummary:
    """Undo an import without losing anything the user did after it.

    Contacts the import added are deleted, unless they were edited since:
    those go to the trash. Fields the import changed get their old value
    back only where they still hold the imported value.
    """
    record = import_data.get_import(db, import_uuid)
    if record is None:
        raise UserError(_("Import %(id)s was not found.", id=import_uuid))
    if record["status"] == "undone":
        raise UserError(
            _("The import of %(file)s was already undone.", file=record["filename"])
        )

    def work(db: Database) -> UndoSummary:
        summary = UndoSummary()
        revision = next_revision(db, "contacts")
        changes = import_data.find_changes(db, import_uuid)
        for change in reversed(changes):
            if change["action"] == "updated":
                _restore(db, change, summary, revision=revision, region=region)
        inserted = [c for c in changes if c["action"] == "inserted"]
        _remove_inserted(db, inserted, summary, revision=revision)
        next_revision(db, "contacts_purged")
        import_data.update_import(
            db, import_uuid, {"status": "undone", "updated_at": utcnow()}
        )
        return summary

    summary = db.write(work)
    log.info("Import %s undone: %s", import_uuid, summary)
    return summary


def _details(change: dict[str, Any]) -> dict[str, Any]:
    details: dict[str, Any] = json.loads(change["before"] or "{}")
    return details


def _remove_inserted(
    db: Database, changes: list[dict[str, Any]], summary: UndoSummary, *, revision: int
) -> None:
    untouched, edited = [], []
    for change in changes:
        current = contact_data.get_contact_by_uuid(db, change["contact_uuid"])
        if current is None:
            continue
        if current["revision"] == _details(change).get("revision"):
            untouched.append(change["contact_uuid"])
        elif not current["deleted"]:
            edited.append(change["contact_uuid"])
    contact_data.delete_contacts_by_uuid(db, untouched)
    visibility.set_shares(db, untouched, [])
    now = utcnow()
    contact_data.update_contacts_by_uuid(
        db,
        [
            (
                uuid,
                {
                    "deleted": True,
                    "deleted_at": now,
                    "updated_at": now,
                    "revision": revision,
                },
            )
            for uuid in edited
        ],
    )
    summary.removed += len(untouched)
    summary.trashed += len(edited)


def _restore(
    db: Database,
    change: dict[str, Any],
    summary: UndoSummary,
    *,
    revision: int,
    region: str,
) -> None:
    details = _details(change)
    current = contact_data.get_contact_by_uuid(db, change["contact_uuid"])
    if current is None:
        return
    before: dict[str, Any] = {}
    for name, old in details.get("before", {}).items():
        if _jsonable(current[name]) == details["after"].get(name):
            before[name] = old
        else:
            summary.kept_fields += 1
    if not before:
        return
    if before.get("birthday"):
        before["birthday"] = datetime.date.fromisoformat(before["birthday"])
    merged = _merged_input(current, before)
    values = {**before, **derived_columns(merged.values, merged.extra, region=region)}
    values.update(updated_at=utcnow(), revision=revision)
    contact_data.update_contacts_by_uuid(db, [(change["contact_uuid"], values)])
    summary.restored += 1
