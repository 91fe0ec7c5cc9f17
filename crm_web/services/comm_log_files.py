"""Export of the communication log to .xlsx/.txt and import from that layout.

An import matches each row to a stored contact by phone (normalised to
E.164), e-mail (case-folded) or, with neither, by name and company. Like
the contact import it runs in one transaction, and rows that cannot be
stored come back in a file of the same columns with a reason column. A row
equal to a stored entry (same contact, time, channel and title) is skipped,
so importing a file twice adds nothing.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import has_request_context
from flask_babel import force_locale, format_number, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm_web.data import comm_logs as log_data
from crm_web.data import contacts as contact_data
from crm_web.data.db import Database
from crm_web.data.records import new_record
from crm_web.errors import EmptyFileError, UserError
from crm_web.i18n import LANGUAGES
from crm_web.services import clock, sharing, text
from crm_web.services.cells import unguard_formula
from crm_web.services.comm_log import (
    CHANNELS,
    CONTENT_MAX,
    CONTENT_MAX_BYTES,
    FOLLOW_UP_DONE,
    FOLLOW_UP_STATES,
    TITLE_MAX,
    LogFilters,
    content_too_long,
    log_query,
    search_text_of,
    title_too_long,
)
from crm_web.services.exporting import write_table
from crm_web.services.importing.detect import SourceInfo, detect
from crm_web.services.importing.headers import match_header, normalize_header
from crm_web.services.importing.readers import iter_rows, sample_rows
from crm_web.services.importing.values import (
    TruncatedNumber,
    cell_to_date,
    parse_date,
    parse_datetime,
)
from crm_web.services.search import search_contacts

log = logging.getLogger(__name__)

EXPORT_CHUNK = 1000
INSERT_CHUNK = 1000
TEXT_KINDS = ("csv", "txt")
HEADER_SCAN_ROWS = 30

# Export columns in file order; the import reads the same layout back.
COLUMNS: tuple[tuple[str, Any], ...] = (
    ("occurred_at", _l("Date and time")),
    ("contact", _l("Contact")),
    ("company", _l("Company")),
    ("mobile", _l("Mobile")),
    ("phone", _l("Phone")),
    ("email", _l("E-mail")),
    ("channel", _l("Channel")),
    ("title", _l("Title")),
    ("content", _l("Content")),
    ("follow_up_on", _l("Follow up on")),
    ("follow_up_done", _l("Follow-up done")),
)
# The follow-up done column's values: Yes, No, or empty for no follow-up.
YES = _l("Yes")
NO = _l("No")

# fmt: off
# Other spellings of the column headers, besides the labels in every language.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "occurred_at": ("occurred_at", "date", "time", "datetime", "date time",
                    "日期", "时间", "日期时间", "日期和时间", "沟通时间", "联系时间"),
    "contact": ("contact", "name", "contact name", "customer", "联系人", "姓名",
                "客户", "客户名称", "客户姓名"),
    "company": ("company", "公司", "公司名称", "单位"),
    "mobile": ("mobile", "手机", "手机号", "手机号码"),
    "phone": ("phone", "tel", "电话", "电话号码", "联系电话"),
    "email": ("email", "e-mail", "mail", "邮箱", "电子邮件", "邮件"),
    "channel": ("channel", "方式", "渠道", "沟通方式", "联系方式"),
    "title": ("title", "subject", "标题", "主题"),
    "content": ("content", "details", "notes", "内容", "沟通内容", "详情", "备注"),
    "follow_up_on": ("follow up", "follow-up", "follow up date", "跟进日期",
                     "下次跟进", "回访日期"),
    "follow_up_done": ("follow up done", "follow-up done", "done", "已跟进",
                       "跟进完成", "是否已跟进", "跟进状态", "回访完成"),
}
# Contact importer fields that name the contact, and the log column each
# fills. Headers the log's own SYNONYMS do not know are looked up there, so
# every spelling the contact import reads ("电子邮箱", "手机号码") works here.
CONTACT_FIELDS: dict[str, str] = {
    "name": "contact",
    "company": "company",
    "mobile": "mobile",
    "phone": "phone",
    "email": "email",
}
# Other spellings of yes and no in the follow-up done column, besides YES,
# NO and the follow-up states in every language.
DONE_SYNONYMS: dict[bool, tuple[str, ...]] = {
    True: ("yes", "y", "true", "1", "x", "✓", "✔", "√", "done", "是", "已完成",
           "完成", "已跟进", "已回访"),
    False: ("no", "n", "false", "0", "open", "否", "未完成", "未跟进", "待跟进",
            "未回访"),
}
CHANNEL_SYNONYMS: dict[str, tuple[str, ...]] = {
    "phone": ("phone", "call", "tel", "telephone", "电话", "打电话"),
    "wechat": ("wechat", "weixin", "微信"),
    "qq": ("qq",),
    "whatsapp": ("whatsapp",),
    "email": ("email", "e-mail", "mail", "邮件", "电子邮件", "邮箱"),
    "visit": ("visit", "拜访", "上门", "来访"),
    "meeting": ("meeting", "会议", "会面", "开会"),
    "exhibition": ("exhibition", "trade show", "fair", "展会", "展览"),
    "other": ("other", "其他", "其它"),
}
# fmt: on


# --- export -----------------------------------------------------------------


def export_records(
    db: Database, filters: LogFilters, *, zone: ZoneInfo
) -> Iterator[dict[str, Any]]:
    """Yield every matching entry as an export record, newest first."""
    query = log_query(db, filters, zone=zone)
    after: tuple[datetime.datetime, int] | None = None
    while True:
        rows = log_data.find_logs_after(db, query, after=after, limit=EXPORT_CHUNK)
        for row in rows:
            yield _record(row, zone)
        if len(rows) < EXPORT_CHUNK:
            return
        after = (rows[-1]["occurred_at"], rows[-1]["id"])


def _record(row: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    local = clock.to_local(row["occurred_at"], zone).replace(tzinfo=None)
    return {
        "occurred_at": local,
        "contact": row["contact_name"] or "",
        "company": row["contact_company"] or "",
        "mobile": row["contact_mobile"] or "",
        "phone": row["contact_phone"] or "",
        "email": row["contact_email"] or "",
        "channel": str(CHANNELS.get(row["channel"], row["channel"])),
        "title": row["title"],
        "content": row["content"],
        "follow_up_on": row["follow_up_on"],
        "follow_up_done": _done_cell(row),
    }


def _done_cell(row: dict[str, Any]) -> str:
    if row["follow_up_done"]:
        return str(YES)
    return str(NO) if row["follow_up_on"] else ""


def export_log(
    db: Database, target: Path, kind: str, filters: LogFilters, *, zone: ZoneInfo
) -> int:
    """Write the matching entries to ``target``; return the row count."""
    columns = [(key, str(label)) for key, label in COLUMNS]
    records = export_records(db, filters, zone=zone)
    count = write_table(target, kind, columns, records, sheet_title="Log")
    log.info("Exported %s log entries to %s", count, target)
    return count


# --- import: reading the file -----------------------------------------------


class NoLogColumnsError(UserError):
    def __init__(self, filename: str) -> None:
        super().__init__(
            _(
                "“%(file)s” has no column for the date and time or none that "
                "names the contact (name, mobile, phone or e-mail). Export the "
                "log once to see the expected columns, add them, and import "
                "again.",
                file=filename,
            )
        )


@dataclass
class LogImportPlan:
    path: Path
    filename: str
    info: SourceInfo
    header_row: int
    headers: list[str]
    mapping: list[str | None]  # a column key of COLUMNS per file column

    @property
    def is_text_source(self) -> bool:
        return self.info.kind in TEXT_KINDS


def _header_lookup() -> dict[str, str]:
    lookup: dict[str, str] = {}
    for key, spellings in SYNONYMS.items():
        for spelling in spellings:
            lookup.setdefault(normalize_header(spelling), key)
    for key, label in COLUMNS:
        for spelling in _translations(label):
            lookup.setdefault(normalize_header(spelling), key)
    return lookup


def _translations(label: Any) -> list[str]:
    """Return a lazy label in every interface language."""
    if not has_request_context():
        return [str(label)]
    found = []
    for language in LANGUAGES:
        with force_locale(language):
            found.append(str(label))
    return found


def map_log_headers(headers: list[str]) -> list[str | None]:
    """Map each header to a column key; a key named twice keeps its first."""
    lookup = _header_lookup()
    mapping: list[str | None] = []
    for header in headers:
        key = lookup.get(normalize_header(header))
        if key is None:
            key = CONTACT_FIELDS.get(match_header(header) or "")
        mapping.append(None if key in mapping else key)
    return mapping


def plan_log_import(path: Path, *, filename: str | None = None) -> LogImportPlan:
    """Detect the file's format, header row and columns."""
    name = filename or path.name
    info = detect(path, filename=name)
    sample = sample_rows(path, info, limit=HEADER_SCAN_ROWS)
    if not any(any(_filled(c) for c in row) for row in sample):
        raise EmptyFileError(name)
    best, best_count = 0, 0
    for index, row in enumerate(sample):
        count = len({k for k in map_log_headers([_text(c) for c in row]) if k})
        if count > best_count:
            best, best_count = index, count
    headers = [_text(c) for c in sample[best]]
    mapping = map_log_headers(headers)
    who = {"contact", "mobile", "phone", "email"}
    if "occurred_at" not in mapping or not who & set(mapping):
        raise NoLogColumnsError(name)
    return LogImportPlan(path, name, info, best, headers, mapping)


def _text(cell: Any) -> str:
    if isinstance(cell, datetime.date | datetime.time):
        return cell.isoformat()
    return text.clean(cell)


def _filled(cell: Any) -> bool:
    return cell not in ("", None) and not (isinstance(cell, str) and not cell.strip())


def data_rows(plan: LogImportPlan) -> Iterator[tuple[int, list[Any]]]:
    """Yield (line number, cells) for each non-empty row below the header."""
    for index, cells in enumerate(iter_rows(plan.path, plan.info)):
        if index > plan.header_row and any(_filled(c) for c in cells):
            yield index + 1, cells


# --- import: converting and matching rows -----------------------------------


@dataclass
class LogRow:
    """One data row: its line, cells, the values to store or its problems."""

    line: int
    cells: list[Any]
    values: dict[str, Any] = field(default_factory=dict)
    contact_name: str = ""
    problems: list[str] = field(default_factory=list)
    action: str = ""  # insert | skip | reject
    # The file's contact, date and title cells as text, for the preview of
    # a rejected row.
    typed: dict[str, str] = field(default_factory=dict)


# Columns that can name a row's contact, in the order they are tried.
WHO_KEYS = ("mobile", "phone", "email", "contact", "company")
# Names that match no contact exactly are looked up with the smart query
# to tell "several contacts match" from "none does", up to this many
# different names per import: each lookup scans every contact (about
# 20-40 ms at 100,000 contacts). NOTE: past that, an ambiguous name gets
# the "no contact matches" message.
PARTIAL_LOOKUPS = 200


class ContactMatcher:
    """Find the stored contact a row names, by phone, e-mail or name."""

    def __init__(
        self, db: Database, rows: list[dict[str, Any]], *, region: str
    ) -> None:
        self.db, self.region = db, region
        self.phones: dict[str, dict[str, Any]] = {}
        self.emails: dict[str, dict[str, Any]] = {}
        self.names: dict[str, list[dict[str, Any]]] = {}
        self.partial: dict[str, int] = {}
        for row in rows:
            for phone in (row["mobile_norm"], row["phone_norm"]):
                if phone:
                    self.phones.setdefault(phone, row)
            if row["email_norm"]:
                self.emails.setdefault(row["email_norm"], row)
            for key in {text.fold(row["name"]), text.fold(row["company"])}:
                if key:
                    self.names.setdefault(key, []).append(row)

    def find(
        self, values: dict[str, str], headers: dict[str, str]
    ) -> tuple[dict[str, Any] | None, str]:
        """Return the matching contact, or None and why none matched.

        ``headers`` maps each contact column of the file to its header, so
        the message for a row with all of them empty names those cells.
        """
        typed = [values[key] for key in WHO_KEYS if values.get(key)]
        if not typed:
            return None, _(
                "The row names no contact: %(columns)s empty. Fill in the "
                "contact's name, mobile, phone or e-mail.",
                columns=", ".join(f"“{h}”" for h in headers.values()),
            )
        for raw in (values.get("mobile", ""), values.get("phone", "")):
            phone = text.normalize_phone(raw, self.region) if raw else ""
            if phone in self.phones:
                return self.phones[phone], ""
        email = text.normalize_email(values.get("email", ""))
        if email in self.emails:
            return self.emails[email], ""
        name, company = values.get("contact", ""), values.get("company", "")
        if name or company:
            contact, reason = self._by_name(name, company)
            if contact is not None or reason:
                return contact, reason
        return None, _(
            "No contact matches %(values)s by phone, e-mail or name. Add the "
            "contact first, or correct the row.",
            values=", ".join(f"“{value}”" for value in typed),
        )

    def _by_name(self, name: str, company: str) -> tuple[dict[str, Any] | None, str]:
        """Return the contact named exactly, else None and the reason.

        The reason is "" when no contact matches the name even in part.
        """
        shown = name or company
        candidates = self.names.get(text.fold(shown), [])
        if name and company and len(candidates) > 1:
            folded = text.fold(company)
            candidates = [c for c in candidates if text.fold(c["company"]) == folded]
        if len(candidates) == 1:
            return candidates[0], ""
        if candidates:
            return None, ngettext(
                "%(count)s contact is named “%(value)s”. Add their mobile or "
                "e-mail to the row so it names one.",
                "%(count)s contacts are named “%(value)s”. Add their mobile or "
                "e-mail to the row so it names one.",
                len(candidates),
                count=format_number(len(candidates)),
                value=shown,
            )
        if self._partial_matches(shown) > 1:
            return None, _(
                "Several contacts match “%(value)s”. Add a phone or e-mail "
                "column to the file so that each row names one contact.",
                value=shown,
            )
        return None, ""

    def _partial_matches(self, name: str) -> int:
        """Return how many contacts the smart query finds for ``name``."""
        key = text.fold(name)
        if key not in self.partial:
            if len(self.partial) >= PARTIAL_LOOKUPS:
                return 0
            self.partial[key] = search_contacts(self.db, name, limit=0).total
        return self.partial[key]


def _typed_summary(typed: dict[str, str]) -> dict[str, str]:
    """Return the row's contact, date and title cells as the file has them."""
    keys = ("contact", "company", "mobile", "phone", "email")
    who = [typed[key] for key in keys if typed.get(key)]
    return {
        "contact": " / ".join(who),
        "occurred_at": typed.get("occurred_at", ""),
        "title": typed.get("title", ""),
    }


def _done_lookup() -> dict[str, bool]:
    lookup: dict[str, bool] = {}
    for done, spellings in DONE_SYNONYMS.items():
        for spelling in spellings:
            lookup[normalize_header(spelling)] = done
    labels = [(YES, True), (NO, False)]
    labels += [
        (label, key == FOLLOW_UP_DONE) for key, label in FOLLOW_UP_STATES.items()
    ]
    for label, done in labels:
        for spelling in _translations(label):
            lookup.setdefault(normalize_header(spelling), done)
    return lookup


def _channel_lookup() -> dict[str, str]:
    lookup: dict[str, str] = {}
    for code, spellings in CHANNEL_SYNONYMS.items():
        for spelling in spellings:
            lookup[normalize_header(spelling)] = code
    for code, label in CHANNELS.items():
        for spelling in _translations(label):
            lookup.setdefault(normalize_header(spelling), code)
    return lookup


class RowConverter:
    """Turn rows of a plan into entry values for one database and zone."""

    def __init__(
        self, db: Database, plan: LogImportPlan, *, region: str, zone: ZoneInfo
    ) -> None:
        self.db, self.plan, self.zone = db, plan, zone
        self.matcher = ContactMatcher(
            db, contact_data.find_match_keys(db), region=region
        )
        self.who_headers = {
            key: plan.headers[index] or key
            for index, key in enumerate(plan.mapping)
            if key in WHO_KEYS
        }
        self.channels = _channel_lookup()
        self.done_values = _done_lookup()
        self.seen: dict[str, set[tuple[datetime.datetime, str, str]]] = {}

    def convert(self, line: int, cells: list[Any]) -> LogRow:
        row = LogRow(line, cells)
        raw = self._cells_by_key(cells)
        occurred = self._occurred(raw.get("occurred_at"), row)
        typed = {k: _text(v) for k, v in raw.items()}
        row.typed = _typed_summary(typed)
        contact, reason = self.matcher.find(typed, self.who_headers)
        if contact is None:
            row.problems.append(reason)
        channel = self._channel(_text(raw.get("channel", "")), row)
        title = " ".join(_text(raw.get("title", "")).split())
        content = _text(raw.get("content", "")).replace("\r\n", "\n")
        self._check_text(title, content, row)
        follow_up = self._follow_up(raw.get("follow_up_on"), row)
        done = self._follow_up_done(raw.get("follow_up_done"), row)
        if row.problems or contact is None or occurred is None:
            row.action = "reject"
            return row
        row.contact_name = contact["name"] or contact["company"]
        row.values = {
            "contact_uuid": contact["uuid"],
            "occurred_at": occurred,
            "channel": channel,
            "title": title,
            "content": content,
            "search_text": search_text_of(title, content),
            "follow_up_on": follow_up,
            "follow_up_done": done,
        }
        row.action = "skip" if self._is_stored(row.values) else "insert"
        return row

    def _cells_by_key(self, cells: list[Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for index, key in enumerate(self.plan.mapping):
            if key is None or index >= len(cells):
                continue
            cell = cells[index]
            if self.plan.is_text_source and isinstance(cell, str):
                cell = unguard_formula(cell)
            values[key] = cell
        return values

    def _occurred(self, cell: Any, row: LogRow) -> datetime.datetime | None:
        moment: datetime.datetime | None = None
        if isinstance(cell, datetime.datetime):
            moment = cell
        elif isinstance(cell, datetime.date):
            moment = datetime.datetime.combine(cell, datetime.time())
        elif isinstance(cell, str) and cell.strip():
            moment = parse_datetime(cell)
            day = None if moment else parse_date(cell)
            moment = moment or (
                datetime.datetime.combine(day, datetime.time()) if day else None
            )
        if moment is None:
            row.problems.append(
                _(
                    "Date and time “%(value)s” is missing or not valid. Write "
                    "it as 2024-03-15 14:30.",
                    value=_text(cell),
                )
            )
            return None
        local = moment.replace(tzinfo=None, second=0, microsecond=0)
        return clock.to_utc(local, self.zone)

    def _channel(self, typed: str, row: LogRow) -> str:
        if not typed:
            return "other"
        code = self.channels.get(normalize_header(typed))
        if code is None:
            row.problems.append(
                _(
                    "Channel “%(value)s” is not one of: %(choices)s.",
                    value=typed,
                    choices=", ".join(str(label) for label in CHANNELS.values()),
                )
            )
            return "other"
        return code

    def _check_text(self, title: str, content: str, row: LogRow) -> None:
        if not (title or content):
            row.problems.append(_("The row has no title and no content."))
        if len(title) > TITLE_MAX:
            row.problems.append(title_too_long(title))
        if len(content) > CONTENT_MAX or len(content.encode()) > CONTENT_MAX_BYTES:
            row.problems.append(content_too_long(content))

    def _follow_up(self, cell: Any, row: LogRow) -> datetime.date | None:
        if not _filled(cell):
            return None
        day = None if isinstance(cell, TruncatedNumber) else cell_to_date(cell)
        if day is None:
            row.problems.append(
                _(
                    "Follow-up date “%(value)s” is not a date. Write it as 2024-03-15.",
                    value=_text(cell),
                )
            )
        return day

    def _follow_up_done(self, cell: Any, row: LogRow) -> bool:
        """Read yes or no. An empty cell or a missing column is no."""
        if isinstance(cell, bool):
            return cell
        if isinstance(cell, int | float) and cell in (0, 1):
            # calamine reads a 1 typed in Excel as 1.0.
            return bool(cell)
        if not _filled(cell):
            return False
        done = self.done_values.get(normalize_header(_text(cell)))
        if done is None:
            row.problems.append(
                _(
                    "Follow-up done “%(value)s” is not yes or no. Write “%(yes)s” "
                    "or “%(no)s”, or leave the cell empty.",
                    value=_text(cell),
                    yes=str(YES),
                    no=str(NO),
                )
            )
            return False
        return done

    def _is_stored(self, values: dict[str, Any]) -> bool:
        """Return whether an equal entry is stored or earlier in the file."""
        contact_uuid = values["contact_uuid"]
        if contact_uuid not in self.seen:
            self.seen[contact_uuid] = log_data.find_keys_for_contact(
                self.db, contact_uuid
            )
        key = (values["occurred_at"], values["channel"], values["title"])
        keys = self.seen[contact_uuid]
        if key in keys:
            return True
        keys.add(key)
        return False


def preview_log_import(
    db: Database, plan: LogImportPlan, *, region: str, zone: ZoneInfo, limit: int = 20
) -> list[LogRow]:
    """Convert the first rows exactly as the import would, without saving."""
    converter = RowConverter(db, plan, region=region, zone=zone)
    rows = []
    for line, cells in data_rows(plan):
        rows.append(converter.convert(line, cells))
        if len(rows) >= limit:
            break
    return rows


# --- import: storing --------------------------------------------------------


@dataclass
class LogImportSummary:
    filename: str
    inserted: int = 0
    skipped: int = 0
    rejected: int = 0
    rejected_reasons: list[str] = field(default_factory=list)
    rejected_file: Path | None = None

    def describe(self) -> str:
        added = ngettext(
            "%(count)s log entry added",
            "%(count)s log entries added",
            self.inserted,
            count=format_number(self.inserted),
        )
        skipped = ngettext(
            "%(count)s already stored",
            "%(count)s already stored",
            self.skipped,
            count=format_number(self.skipped),
        )
        rejected = ngettext(
            "%(count)s rejected",
            "%(count)s rejected",
            self.rejected,
            count=format_number(self.rejected),
        )
        return _(
            "Imported %(file)s: %(added)s, %(skipped)s, %(rejected)s.",
            file=self.filename,
            added=added,
            skipped=skipped,
            rejected=rejected,
        )


def _insert(db: Database, rows: list[dict[str, Any]], shares: list[str]) -> None:
    log_data.insert_logs(db, rows)
    sharing.share_new_records(db, [row["uuid"] for row in rows], shares)


def import_log_file(
    db: Database,
    plan: LogImportPlan,
    *,
    owner: str,
    region: str,
    zone: ZoneInfo,
    work_dir: Path,
    name: str,
) -> LogImportSummary:
    """Import every good row in one transaction; write the rejected ones.

    New entries are shared as the share_default setting chooses.
    """
    rejected: list[LogRow] = []
    shares = sharing.default_shares(db)

    def work(db: Database) -> LogImportSummary:
        # db.write may run this again after a deadlock, so it starts afresh.
        rejected.clear()
        summary = LogImportSummary(plan.filename)
        converter = RowConverter(db, plan, region=region, zone=zone)
        pending: list[dict[str, Any]] = []
        for line, cells in data_rows(plan):
            row = converter.convert(line, cells)
            if row.action == "reject":
                rejected.append(row)
                summary.rejected += 1
                summary.rejected_reasons.append(
                    _(
                        "Row %(line)s: %(reasons)s",
                        line=line,
                        reasons=" ".join(row.problems),
                    )
                )
            elif row.action == "skip":
                summary.skipped += 1
            else:
                pending.append(
                    {**new_record(owner), "appointment_uuid": None, **row.values}
                )
                summary.inserted += 1
            if len(pending) >= INSERT_CHUNK:
                _insert(db, pending, shares)
                pending = []
        _insert(db, pending, shares)
        return summary

    summary = db.write(work)
    if rejected:
        summary.rejected_file = _write_rejected(plan, rejected, work_dir, name)
    log.info("%s", summary.describe())
    return summary


def _write_rejected(
    plan: LogImportPlan, rows: list[LogRow], work_dir: Path, name: str
) -> Path:
    """Write rejected rows in the file's own columns plus a reason column."""
    kind = plan.info.kind if plan.is_text_source else "xlsx"
    work_dir.mkdir(parents=True, exist_ok=True)
    target = work_dir / f"rejected-{name}.{kind}"
    columns = [
        (f"c{i}", header or _("Column %(number)s", number=i + 1))
        for i, header in enumerate(plan.headers)
    ]
    columns.append(("reason", _("Reason rejected")))
    records = []
    for row in rows:
        record: dict[str, Any] = {
            f"c{i}": cell.isoformat() if isinstance(cell, datetime.time) else cell
            for i, cell in enumerate(row.cells)
        }
        record["reason"] = " ".join(row.problems)
        records.append(record)
    write_table(target, kind, columns, records, sheet_title="Rejected")
    return target
