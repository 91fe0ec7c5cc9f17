"""The communication log: validating entries, listing, trash, follow-ups.

Entries store when the exchange happened in UTC (``occurred_at``) and show
it in the user's zone. The follow-up day is a local calendar date. A
follow-up can also become an appointment, created by the appointments
service inside the same transaction as the entry.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import format_number, lazy_pgettext, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm_web.data import comm_logs as log_data
from crm_web.data import contacts as contact_data
from crm_web.data import visibility
from crm_web.data.comm_logs import FOLLOW_UP_DONE as FOLLOW_UP_DONE
from crm_web.data.comm_logs import FOLLOW_UP_OPEN as FOLLOW_UP_OPEN
from crm_web.data.comm_logs import NO_CATEGORY as NO_CATEGORY
from crm_web.data.comm_logs import LogQuery
from crm_web.data.db import Database
from crm_web.data.records import new_record
from crm_web.data.schema import utcnow
from crm_web.errors import NotFoundError, UserError, VersionConflictError
from crm_web.services import clock, contact_picker, sharing, text
from crm_web.services.importing.values import parse_date, parse_datetime, parse_time
from crm_web.services.search import search_contacts

log = logging.getLogger(__name__)

CHANNELS: dict[str, Any] = {
    "phone": _l("Phone"),
    "wechat": _l("WeChat"),
    "qq": _l("QQ"),
    "whatsapp": _l("WhatsApp"),
    # The channel, not the address: Chinese uses 邮件 here and 邮箱 for the field.
    "email": lazy_pgettext("channel", "E-mail"),
    "visit": _l("Visit"),
    "meeting": _l("Meeting"),
    "exhibition": _l("Exhibition"),
    "other": _l("Other"),
}
# States of the list's follow-up filter.
FOLLOW_UP_STATES: dict[str, Any] = {
    FOLLOW_UP_OPEN: lazy_pgettext("follow-up", "Open"),
    FOLLOW_UP_DONE: lazy_pgettext("follow-up", "Done"),
}
TITLE_MAX = 200
CONTENT_MAX = 20000
# MySQL's TEXT column takes at most 65,535 bytes, which 20,000 characters
# can pass when many of them are emoji (4 bytes in UTF-8).
CONTENT_MAX_BYTES = 65535
APPOINTMENT_MINUTES = 30
DEFAULT_FOLLOW_UP_TIME = time(9, 0)
APPOINTMENTS_MODULE = "crm_web.services.appointments"


class LogEntryInvalidError(UserError):
    """One or more fields of a log entry form are invalid."""

    def __init__(
        self, errors: dict[str, str], choices: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(" ".join(errors.values()))
        self.errors = errors
        self.choices = choices or []


class NoFollowUpDateError(UserError):
    def __init__(self, label: str) -> None:
        super().__init__(
            _(
                "Log entry “%(title)s” has no follow-up date, so its follow-up "
                "cannot be marked done. Edit the entry to set a date first.",
                title=label,
            )
        )


class AppointmentsUnavailableError(UserError):
    def __init__(self) -> None:
        super().__init__(
            _(
                "Appointments cannot be created in this version of R9 CRM. "
                "Untick “also create an appointment” and save again."
            )
        )


@dataclass(frozen=True)
class LogFilters:
    """The list's filters as the user types them; empty values do not filter."""

    date_from: date | None = None
    date_to: date | None = None
    contact_id: int | None = None
    contact_name: str = ""
    category: str = ""  # a category uuid, or NO_CATEGORY
    channel: str = ""
    words: str = ""
    follow_up: str = ""  # a key of FOLLOW_UP_STATES, or "" for all entries

    def is_empty(self) -> bool:
        return self == LogFilters()


def parse_filters(args: Mapping[str, Any]) -> tuple[LogFilters, list[str]]:
    """Read the list filters from request arguments; return them and errors.

    A date that cannot be read is left out and named in an error, so the
    page still lists entries. A range typed backwards is swapped.
    """
    errors: list[str] = []
    date_from = _filter_date(args.get("from"), errors)
    date_to = _filter_date(args.get("to"), errors)
    if date_from and date_to and date_from > date_to:
        errors.append(
            _(
                "The start date %(start)s is after the end date %(end)s, so "
                "the list shows the entries between them.",
                start=date_from.isoformat(),
                end=date_to.isoformat(),
            )
        )
        date_from, date_to = date_to, date_from
    contact = text.clean(args.get("contact"))
    channel = text.clean(args.get("channel"))
    follow_up = text.clean(args.get("follow_up"))
    filters = LogFilters(
        date_from=date_from,
        date_to=date_to,
        contact_id=int(contact) if contact.isdigit() else None,
        contact_name=text.clean(args.get("who")),
        category=text.clean(args.get("category")),
        channel=channel if channel in CHANNELS else "",
        words=text.clean(args.get("q")),
        follow_up=follow_up if follow_up in FOLLOW_UP_STATES else "",
    )
    return filters, errors


def _filter_date(raw: Any, errors: list[str]) -> date | None:
    value = text.clean(raw)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        parsed = parse_date(value)
    if parsed is None:
        errors.append(
            _(
                "“%(value)s” is not a valid date, so the list is not filtered "
                "by it. Type it as 2024-03-15.",
                value=value,
            )
        )
    return parsed


@dataclass
class EntryInput:
    """Validated entry values, ready to store."""

    values: dict[str, Any]
    appointment_at: datetime | None = None  # local start, when requested
    contact: dict[str, Any] = field(default_factory=dict)


# --- reading the form -------------------------------------------------------


def parse_entry(db: Database, raw: Mapping[str, Any], *, zone: ZoneInfo) -> EntryInput:
    """Validate typed values; raise LogEntryInvalidError naming each bad one."""
    errors: dict[str, str] = {}
    contact, choices = _resolve_contact(db, raw, errors)
    occurred = _parse_occurred(raw.get("occurred_at"), errors)
    channel = text.clean(raw.get("channel")) or "other"
    if channel not in CHANNELS:
        errors["channel"] = _(
            "Channel “%(value)s” is not one of the listed channels. Choose one "
            "from the list.",
            value=channel,
        )
    title = " ".join(text.clean(raw.get("title")).split())
    content = _clean_content(raw.get("content"))
    _check_lengths(title, content, errors)
    follow_up = _parse_follow_up(raw.get("follow_up_on"), errors)
    appointment_at = _appointment_start(raw, follow_up, errors)
    if errors:
        raise LogEntryInvalidError(errors, choices)
    assert contact is not None and occurred is not None
    values = {
        "contact_uuid": contact["uuid"],
        "occurred_at": clock.to_utc(occurred, zone),
        "channel": channel,
        "title": title,
        "content": content,
        "search_text": search_text_of(title, content),
        "follow_up_on": follow_up,
    }
    return EntryInput(values, appointment_at, contact)


def search_text_of(title: str, content: str) -> str:
    """Return the text the word filter searches: title and content, folded.

    Folding is the contact search's: case, full-width forms and, in an
    extra copy, accents, so "muller", "MÜLLER" and "ｍüｌｌｅｒ" find Müller.
    """
    parts = [text.fold(part) for part in (title, content) if part]
    parts.extend(text.loose_forms(parts, ""))
    return text.SEARCH_SEPARATOR.join(parts)


def _resolve_contact(
    db: Database, raw: Mapping[str, Any], errors: dict[str, str]
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Return the chosen contact, or record why none is, with candidates.

    The contact field follows the rules of crm_web/services/contact_picker.py.
    A ``contact_id`` (a contact's number) counts as a contact picked from
    the candidates, and ``contact_query`` as the typed text.
    """
    form = {
        "contact": raw.get("contact", raw.get("contact_query")),
        "contact_uuid": raw.get("contact_uuid"),
        "contact_pick": raw.get("contact_pick"),
    }
    chosen = str(raw.get("contact_id") or "").strip()
    if chosen.isdigit() and not form["contact_pick"]:
        contact = contact_data.get_contact(db, int(chosen))
        form["contact_pick"] = contact["uuid"] if contact else None
    pick = contact_picker.pick_contact(db, form)
    if pick.contact is not None:
        return pick.contact, []
    errors["contact"] = pick.error or _(
        "Choose the contact: type part of a name, phone or company and "
        "pick one of the matches."
    )
    return None, pick.candidates


def _parse_occurred(raw: Any, errors: dict[str, str]) -> datetime | None:
    value = text.clean(raw)
    if not value:
        errors["occurred_at"] = _("Enter the date and time of the exchange.")
        return None
    try:
        parsed: datetime | None = datetime.fromisoformat(value)
    except ValueError:
        parsed = parse_datetime(value)
    if parsed is None:
        day = parse_date(value)
        parsed = datetime.combine(day, time()) if day else None
    if parsed is None:
        errors["occurred_at"] = _(
            "Date and time “%(value)s” is not valid. Type it as 2024-03-15 14:30.",
            value=value,
        )
        return None
    return parsed.replace(tzinfo=None, second=0, microsecond=0)


def _clean_content(raw: Any) -> str:
    # Line breaks are kept; only Windows and old Mac line ends are unified.
    value = "" if raw is None else str(raw)
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return text.clean(value)


def _check_lengths(title: str, content: str, errors: dict[str, str]) -> None:
    if not (title or content):
        errors["title"] = _("Enter a title or some content: an entry needs one.")
    if len(title) > TITLE_MAX:
        errors["title"] = title_too_long(title)
    if len(content) > CONTENT_MAX or len(content.encode()) > CONTENT_MAX_BYTES:
        errors["content"] = content_too_long(content)


def title_too_long(title: str) -> str:
    """Return the message for a title over TITLE_MAX characters."""
    return ngettext(
        "Title is %(length)s character long; the limit is %(max)s. Shorten "
        "it and put the details in the content.",
        "Title is %(length)s characters long; the limit is %(max)s. Shorten "
        "it and put the details in the content.",
        len(title),
        length=format_number(len(title)),
        max=format_number(TITLE_MAX),
    )


def content_too_long(content: str) -> str:
    """Return the message for content over CONTENT_MAX characters or bytes."""
    return ngettext(
        "Content is %(length)s character long; the limit is %(max)s, or "
        "fewer with many emoji. Split it into two entries.",
        "Content is %(length)s characters long; the limit is %(max)s, or "
        "fewer with many emoji. Split it into two entries.",
        len(content),
        length=format_number(len(content)),
        max=format_number(CONTENT_MAX),
    )


def _parse_follow_up(raw: Any, errors: dict[str, str]) -> date | None:
    value = text.clean(raw)
    if not value:
        return None
    parsed = parse_date(value)
    if parsed is None:
        errors["follow_up_on"] = _(
            "Follow-up date “%(value)s” is not a date. Type it as 2024-03-15.",
            value=value,
        )
    return parsed


def _appointment_start(
    raw: Mapping[str, Any], follow_up: date | None, errors: dict[str, str]
) -> datetime | None:
    if not raw.get("make_appointment"):
        return None
    if follow_up is None:
        if "follow_up_on" not in errors:
            errors["follow_up_on"] = _(
                "Choose a follow-up date for the appointment, or untick “also "
                "create an appointment”."
            )
        return None
    typed = text.clean(raw.get("follow_up_time"))
    at = parse_time(typed) if typed else DEFAULT_FOLLOW_UP_TIME
    if at is None:
        errors["follow_up_time"] = _(
            "Time “%(value)s” is not valid. Type it as 09:30.", value=typed
        )
        return None
    return datetime.combine(follow_up, at)


# --- writing ----------------------------------------------------------------


def appointments_service() -> ModuleType | None:
    """Return the appointments service module, or None where it is missing."""
    try:
        module = importlib.import_module(APPOINTMENTS_MODULE)
    except ImportError:
        return None
    return module


def appointments_available() -> bool:
    module = appointments_service()
    return module is not None and hasattr(module, "create_appointment")


def _create_appointment(
    db: Database, entry: EntryInput, *, owner: str, zone: ZoneInfo
) -> str:
    module = appointments_service()
    create = getattr(module, "create_appointment", None)
    if create is None or entry.appointment_at is None:
        raise AppointmentsUnavailableError()
    values = entry.values
    subject = values["title"] or values["content"].split("\n", 1)[0]
    starts = entry.appointment_at
    appointment = {
        "contact_uuid": values["contact_uuid"],
        "title": _("Follow up: %(subject)s", subject=subject)[:TITLE_MAX],
        "starts_at_local": starts,
        "ends_at_local": starts + timedelta(minutes=APPOINTMENT_MINUTES),
        "location": "",
        "notes": values["content"],
        "reminder_minutes": None,
    }
    try:
        return str(create(db, appointment, owner=owner, zone=zone))
    except UserError as error:
        # The appointment's own fields are not on this form, so its problem
        # is reported next to the follow-up time.
        raise LogEntryInvalidError({"follow_up_time": error.message}) from error


def create_entry(db: Database, entry: EntryInput, *, owner: str, zone: ZoneInfo) -> int:
    """Store a new entry, and its follow-up appointment if asked; return its id.

    The entry is shared as the share_default setting chooses.
    """
    shares = sharing.default_shares(db)

    def work(db: Database) -> int:
        row = {**new_record(owner), **entry.values}
        if entry.appointment_at is not None:
            row["appointment_uuid"] = _create_appointment(
                db, entry, owner=owner, zone=zone
            )
        entry_id = log_data.insert_log(db, row)
        sharing.share_new_records(db, [row["uuid"]], shares)
        return entry_id

    entry_id = db.write(work)
    log.info("Log entry %s created", entry_id)
    return entry_id


def update_entry(
    db: Database,
    entry_id: int,
    entry: EntryInput,
    *,
    version: int,
    owner: str,
    zone: ZoneInfo,
) -> None:
    """Save an edited entry, refusing if someone saved it meanwhile.

    A new or cleared follow-up date makes the follow-up open again. On a
    version conflict the whole transaction rolls back, so no follow-up
    appointment is created or moved either.
    """
    current = require_entry(db, entry_id)
    visibility.require_may_edit(current, entry_label(current))

    def work(db: Database) -> None:
        values = {**entry.values, "updated_at": utcnow()}
        if entry.values["follow_up_on"] != current["follow_up_on"]:
            values["follow_up_done"] = False
        if entry.appointment_at is not None and not current["appointment_uuid"]:
            values["appointment_uuid"] = _create_appointment(
                db, entry, owner=owner, zone=zone
            )
        new_day = entry.values.get("follow_up_on")
        if current["appointment_uuid"] and new_day and current["follow_up_on"]:
            _move_appointment(
                db, current["appointment_uuid"], current["follow_up_on"], new_day
            )
        if not log_data.update_log(db, entry_id, values, expected_version=version):
            raise VersionConflictError(entry_label(current))

    db.write(work)
    log.info("Log entry %s updated", entry_id)


def _move_appointment(db: Database, uuid: str, old_day: date, new_day: date) -> None:
    """Move a follow-up's appointment to the new follow-up day, same local time.

    The day shifts in the appointment's own zone, so 14:30 stays 14:30.
    """
    from crm_web.data import appointments as appointment_data

    if old_day == new_day:
        return
    row = appointment_data.get_appointment(db, uuid)
    if row is None or row["deleted"]:
        return
    shift = new_day - old_day
    appointment_zone = ZoneInfo(row["time_zone"])
    moved = {
        name: clock.to_utc(
            clock.to_local(row[name], appointment_zone).replace(tzinfo=None) + shift,
            appointment_zone,
        )
        for name in ("starts_at", "ends_at")
    }
    appointment_data.update_appointment(db, uuid, moved)
    log.info("Appointment %s moved with its follow-up to %s", uuid, new_day)


def set_deleted(db: Database, entry_id: int, *, deleted: bool) -> None:
    """Move an entry to the trash, or restore it from there."""
    current = require_entry(db, entry_id)
    visibility.require_may_edit(current, entry_label(current))

    def work(db: Database) -> None:
        now = utcnow()
        log_data.update_log(
            db,
            entry_id,
            {"deleted": deleted, "deleted_at": now if deleted else None},
        )

    db.write(work)
    log.info("Log entry %s %s", entry_id, "deleted" if deleted else "restored")


def set_follow_up_done(db: Database, entry_id: int, *, done: bool) -> None:
    """Mark an entry's follow-up done or open again; done needs a follow-up date."""
    current = require_entry(db, entry_id)
    if done and current["follow_up_on"] is None:
        raise NoFollowUpDateError(entry_label(current))

    def work(db: Database) -> None:
        log_data.update_log(
            db, entry_id, {"follow_up_done": done, "updated_at": utcnow()}
        )

    db.write(work)
    log.info("Follow-up of log entry %s %s", entry_id, "done" if done else "reopened")


# --- reading ----------------------------------------------------------------


def require_entry(db: Database, entry_id: int) -> dict[str, Any]:
    """Return an entry with its contact, or raise NotFoundError."""
    row = log_data.get_log(db, entry_id)
    if row is None:
        raise NotFoundError(_("Log entry"), entry_id)
    return row


def entry_label(row: Mapping[str, Any]) -> str:
    """Return the entry's title, or its content's first line when untitled."""
    if row.get("title"):
        return str(row["title"])
    first = str(row.get("content") or "").split("\n", 1)[0]
    return first[:80] or _("(no title)")


def entry_view(row: Mapping[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    """Return an entry with its local time, channel label and display title."""
    view = dict(row)
    view["occurred_local"] = clock.to_local(row["occurred_at"], zone)
    view["channel_label"] = CHANNELS.get(row["channel"], row["channel"])
    view["label"] = entry_label(row)
    return view


def log_query(db: Database, filters: LogFilters, *, zone: ZoneInfo) -> LogQuery:
    """Turn the user's filters into stored-time conditions."""
    start = end = None
    if filters.date_from:
        start = clock.to_utc(datetime.combine(filters.date_from, time()), zone)
    if filters.date_to:
        next_day = datetime.combine(filters.date_to + timedelta(days=1), time())
        end = clock.to_utc(next_day, zone)
    contact_uuid = ""
    if filters.contact_id is not None:
        contact = contact_data.get_contact(db, filters.contact_id)
        # An unknown contact id matches nothing rather than everything.
        contact_uuid = contact["uuid"] if contact else "-"
    category, contact_uuids = _category_condition(db, filters.category)
    is_few = True
    if text.clean(filters.contact_name):
        named = _named_contacts(db, filters.contact_name)
        if contact_uuids is not None:
            named = tuple(set(named).intersection(contact_uuids))
        contact_uuids = named
        is_few = len(named) <= _few_contacts(db)
    return LogQuery(
        start=start,
        end=end,
        contact_uuid=contact_uuid,
        contact_uuids=contact_uuids,
        is_few_contacts=is_few,
        category_uuid=category,
        channel=filters.channel if filters.channel in CHANNELS else "",
        words=tuple(text.fold(word) for word in filters.words.split()),
        follow_up=filters.follow_up if filters.follow_up in FOLLOW_UP_STATES else "",
    )


# A limit above any real contact count, so the contact filter takes every match.
CONTACTS_MAX = 10**9
# A category of at most this many contacts, or this percentage of all
# contacts if that is more, is filtered by its contacts' uuids. The
# contact filter's matches, when this few, are read through the contact
# index; more are tested entry by entry in list order.
FEW_CONTACTS = 50
FEW_CONTACTS_PERCENT = 2


def _few_contacts(db: Database) -> int:
    return max(
        FEW_CONTACTS, log_data.estimate_contacts(db) * FEW_CONTACTS_PERCENT // 100
    )


def _named_contacts(db: Database, typed: str) -> tuple[str, ...]:
    """Return the uuids of the contacts the smart query finds for ``typed``.

    The smart query matches pinyin, initials, phone digits and unaccented
    spellings, and keeps only the contacts the user may see. Contacts in
    the trash are not searched, so their entries are not found by name.
    """
    found = search_contacts(db, typed, limit=CONTACTS_MAX)
    return tuple(found.uuids)


def _category_condition(
    db: Database, category: str
) -> tuple[str, tuple[str, ...] | None]:
    """Return the category to join on, or the uuids of its contacts if few.

    The list reads a large category's entries newest first and stops at the
    page's end. For a small one that would scan most of the log (200 ms on
    SQLite at 100,000 entries for one contact of 2,000), so its entries are
    found through their contacts instead.
    """
    if not category:
        return "", None
    uuids = log_data.find_category_contacts(db, category, limit=_few_contacts(db))
    if uuids is None:
        return category, None
    return "", tuple(uuids)


# The list counts matching entries up to this many and shows "1,000+" past
# it: a full count of a word or category filter reads all 100,000 entries
# of a large log (about 200 ms), a capped one stops early (bench/comm_log.py).
COUNT_CAP = 1000


@dataclass
class LogPage:
    entries: list[dict[str, Any]]
    # The number of matching entries, or COUNT_CAP when is_total_capped.
    total: int
    is_total_capped: bool = False
    has_next: bool = False


def list_entries(
    db: Database,
    filters: LogFilters,
    *,
    zone: ZoneInfo,
    offset: int,
    limit: int,
    deleted: bool = False,
) -> LogPage:
    """Return one page of matching entries, newest first, and their count.

    The count is exact up to COUNT_CAP. The page reads one row more than it
    shows, to know whether a next page exists without counting.
    """
    query = log_query(db, filters, zone=zone)
    if deleted:
        query = LogQuery(deleted=True)
    rows = log_data.find_logs(db, query, limit=limit + 1, offset=offset)
    has_next = len(rows) > limit
    rows = rows[:limit]
    if not has_next and (rows or offset == 0):
        # On the last page the count is the entries before it plus its own.
        total, capped = offset + len(rows), False
    elif has_next and offset + limit + 1 > COUNT_CAP:
        total, capped = COUNT_CAP, True
    else:
        counted = log_data.count_logs(db, query, cap=COUNT_CAP)
        total, capped = min(counted, COUNT_CAP), counted > COUNT_CAP
    views = [entry_view(r, zone) for r in rows]
    return LogPage(views, total, is_total_capped=capped, has_next=has_next)


def neighbours(
    db: Database, filters: LogFilters, entry: Mapping[str, Any], *, zone: ZoneInfo
) -> tuple[int | None, int | None]:
    """Return the previous (newer) and next (older) entry ids in the list."""
    query = log_query(db, filters, zone=zone)
    return log_data.find_neighbours(
        db, query, occurred_at=entry["occurred_at"], log_id=entry["id"]
    )
