"""The smart query: substring search over every field, in memory.

A LIKE scan of 100,000 contacts costs 40-120 ms on SQLite and about 150 ms
on MariaDB, and FTS5's trigram index cannot find the one- and two-character
words most Chinese queries are. So each process keeps every contact's
pre-built search text (stored in ``contacts.search_text``) in memory and
scans it with Python's substring search. That took 16-38 ms per query for
100,000 contacts on a two-core machine (bench/README.md).

Before each query the index reads the ``contacts`` revision counter and
reloads only the rows changed since. Results are therefore the same on
SQLite and MySQL, and never stale, even with several processes sharing
one MySQL database.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from crm_web.data import categories as category_data
from crm_web.data import contacts as contact_data
from crm_web.data import visibility
from crm_web.data.db import Database
from crm_web.data.records import get_revision
from crm_web.data.visibility import Viewer
from crm_web.services import text
from crm_web.services.fields import SORT_COLUMNS

log = logging.getLogger(__name__)

NO_CATEGORY = "none"
# Separates texts when a sort order copies them (see _Order).
_RECORD_SEPARATOR = "\x1e"


@dataclass(frozen=True)
class Filters:
    """Filters that narrow the smart query; empty values do not filter."""

    category: str = ""  # a category uuid, or NO_CATEGORY
    country: str = ""
    city: str = ""
    tag: str = ""
    created_from: date | None = None
    created_to: date | None = None
    missing: str = ""  # "phone" | "email" | ""

    def is_empty(self) -> bool:
        return self == Filters()


@dataclass(frozen=True)
class Page:
    ids: list[int]
    total: int
    uuids: list[str] = field(default_factory=list)  # in the order of ids


class _Entry:
    __slots__ = (
        "id",
        "uuid",
        "owner",
        "text",
        "keys",
        "country",
        "city",
        "category",
        "tags",
        "created_at",
        "has_phone",
        "has_email",
        "extra",
    )

    def __init__(self, row: dict[str, Any], category_name: str) -> None:
        self.id: int = row["id"]
        self.uuid: str = row["uuid"]
        self.owner: str = row["owner"]
        self.text = (
            row["search_text"] + text.SEARCH_SEPARATOR + text.fold(category_name)
        ).replace(_RECORD_SEPARATOR, " ")
        self.keys = {
            "name": row["name_sort"],
            "company": row["company_sort"],
            "city": text.sort_key(row["city"]),
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
        }
        self.country = text.fold(row["country"])
        self.city = text.fold(row["city"])
        self.category = row["category_uuid"]
        self.tags = {text.fold(t) for t in text.split_tags(row["tags"])}
        self.created_at: datetime = row["created_at"]
        self.has_phone = bool(row["mobile"] or row["phone"])
        self.has_email = bool(row["email"])
        # The extra fields' JSON, kept only when there are any: an export
        # learns its extra columns from here instead of reading every row.
        self.extra: str | None = (
            row["extra"] if row["extra"] not in ("", "{}") else None
        )


class _Order:
    """Entries in one sort order, with a copy of their texts made in that order.

    Scanning strings that lie in memory in scan order is about three times
    faster than scanning the entries' own strings, which were allocated in
    load order and are scattered once sorted (bench/README.md).
    """

    def __init__(self, entries: list[_Entry]) -> None:
        self.entries = entries
        # join() then split() allocates every string anew, one after another.
        # _Entry removes the separator from its text, so the lists align.
        texts = _RECORD_SEPARATOR.join(e.text for e in entries).split(_RECORD_SEPARATOR)
        self.texts = texts if len(texts) == len(entries) else [e.text for e in entries]


class ContactIndex:
    """In-memory search text of one database's live contacts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._revision = -1
        self._purged = -1
        self._entries: dict[int, _Entry] = {}
        # Keyed by sort, direction and the viewer ("" for all rows).
        self._orders: dict[tuple[str, bool, str], _Order] = {}

    def search(
        self,
        db: Database,
        query: str,
        filters: Filters,
        *,
        sort: str = "name",
        descending: bool = False,
        offset: int = 0,
        limit: int = 50,
        viewer: Viewer | None = None,
    ) -> Page:
        """Return one page of matching contact ids and the total count.

        A ``viewer`` gets only the contacts they own or that are shared
        with them.
        """
        order = self._ordered(db, sort, descending, viewer)
        matches = _match(order.entries, order.texts, query, filters)
        shown = matches[offset : offset + limit]
        return Page([e.id for e in shown], len(matches), [e.uuid for e in shown])

    def refresh(self, db: Database) -> None:
        """Load the rows changed since the last refresh."""
        revision = get_revision(db, "contacts")
        purged = get_revision(db, "contacts_purged")
        if purged != self._purged:
            # Rows were removed for good; only a full reload notices that.
            self._revision = -1
            self._entries.clear()
            self._purged = purged
        if revision == self._revision:
            return
        rows = contact_data.find_index_rows(db, since=self._revision)
        names = {c["uuid"]: c["name"] for c in category_data.find_categories(db)}
        for row in rows:
            if row["deleted"]:
                self._entries.pop(row["id"], None)
            else:
                category = names.get(row["category_uuid"] or "", "")
                self._entries[row["id"]] = _Entry(row, category)
        self._revision = revision
        self._orders.clear()

    def extra_labels(self, ids: list[int]) -> list[str]:
        """Return the extra-field labels the given contacts use, first seen first."""
        labels: dict[str, None] = {}
        for contact_id in ids:
            entry = self._entries.get(contact_id)
            if entry is not None and entry.extra:
                labels.update(dict.fromkeys(json.loads(entry.extra)))
        return list(labels)

    def load(self, db: Database) -> None:
        """Bring the index up to date now, under its lock."""
        with self._lock:
            self.refresh(db)

    def forget(self) -> None:
        """Drop everything, so the next query reloads all rows."""
        with self._lock:
            self._revision = -1
            self._entries.clear()
            self._orders.clear()

    def _ordered(
        self, db: Database, sort: str, descending: bool, viewer: Viewer | None
    ) -> _Order:
        """Return the entries in order, only the viewer's when one is given.

        A viewer's order is kept until the next change of any contact,
        which includes every change of a contact's sharing, so a user's
        query scans only the contacts they may see.
        """
        if sort not in SORT_COLUMNS:
            sort = "name"
        with self._lock:
            self.refresh(db)
            key = (sort, descending, "")
            if key not in self._orders:
                entries = sorted(
                    self._entries.values(),
                    key=lambda e: (e.keys[sort], e.id),
                    reverse=descending,
                )
                self._orders[key] = _Order(entries)
            if viewer is None:
                return self._orders[key]
            own_key = (sort, descending, repr(viewer))
            if own_key not in self._orders:
                shared = visibility.shared_uuids(db, viewer)
                limit = set(viewer.categories)
                self._orders[own_key] = _Order(
                    [
                        e
                        for e in self._orders[key].entries
                        if e.owner == viewer.name
                        or (e.uuid in shared and (not limit or e.category in limit))
                    ]
                )
            return self._orders[own_key]


def parse_query(query: str) -> list[tuple[str, ...]]:
    """Split a query into terms; each term lists the strings that satisfy it.

    A phone-like query is one term matched by its digits or as typed;
    other queries match when every space-separated word matches.
    """
    folded = text.fold(text.clean(query))
    if not folded:
        return []
    if text.looks_like_phone_query(folded):
        only_digits = text.digits(folded)
        return [(only_digits, folded) if only_digits != folded else (folded,)]
    return [(word,) for word in folded.split()]


def _match(
    entries: list[_Entry], texts: list[str], query: str, filters: Filters
) -> list[_Entry]:
    terms = parse_query(query)
    checks = _filter_checks(filters)
    result = [entries[i] for i in _scan(texts, terms[0])] if terms else entries
    for options in terms[1:]:
        if len(options) == 1:
            word = options[0]
            result = [e for e in result if word in e.text]
        else:
            first, second = options
            result = [e for e in result if first in e.text or second in e.text]
    for check in checks:
        result = [e for e in result if check(e)]
    return result


def _scan(texts: list[str], options: tuple[str, ...]) -> list[int]:
    """Return the positions of the texts that contain any of ``options``."""
    if len(options) == 1:
        word = options[0]
        return [i for i, text in enumerate(texts) if word in text]
    # Two spellings of one phone query. Written out, this is about three
    # times faster than any() over a generator.
    first, second = options
    return [i for i, text in enumerate(texts) if first in text or second in text]


def _filter_checks(filters: Filters) -> list[Callable[[_Entry], bool]]:
    checks: list[Callable[[_Entry], bool]] = []
    if filters.category == NO_CATEGORY:
        checks.append(lambda e: not e.category)
    elif filters.category:
        checks.append(lambda e: e.category == filters.category)
    if filters.country:
        country = text.fold(filters.country.strip())
        checks.append(lambda e: country in e.country)
    if filters.city:
        city = text.fold(filters.city.strip())
        checks.append(lambda e: city in e.city)
    if filters.tag:
        tag = text.fold(filters.tag.strip())
        checks.append(lambda e: tag in e.tags)
    if filters.created_from:
        start = local_day_start_utc(filters.created_from)
        checks.append(lambda e: e.created_at >= start)
    if filters.created_to:
        end = local_day_start_utc(filters.created_to + timedelta(days=1))
        checks.append(lambda e: e.created_at < end)
    if filters.missing == "phone":
        checks.append(lambda e: not e.has_phone)
    elif filters.missing == "email":
        checks.append(lambda e: not e.has_email)
    return checks


def local_day_start_utc(day: date) -> datetime:
    """Return local midnight of ``day`` as a naive UTC datetime (as stored)."""
    local = datetime.combine(day, time.min).astimezone()
    return local.astimezone(UTC).replace(tzinfo=None)


_indexes: dict[str, ContactIndex] = {}
_indexes_lock = threading.Lock()


def index_for(db: Database) -> ContactIndex:
    """Return this process's index of the database at ``db.url``."""
    with _indexes_lock:
        if db.url not in _indexes:
            _indexes[db.url] = ContactIndex()
        return _indexes[db.url]


def warm_index(db: Database) -> threading.Thread:
    """Load the index in the background, so the first page opens at once."""

    def load() -> None:
        try:
            index_for(db).load(db)
        except Exception:
            log.exception("Loading the search index failed")
        finally:
            db.release()

    thread = threading.Thread(target=load, name="r9crm-index", daemon=True)
    thread.start()
    return thread


def search_contacts(
    db: Database, query: str, filters: Filters | None = None, **options: Any
) -> Page:
    """Run the smart query against the database's index, as the request's user."""
    options.setdefault("viewer", visibility.current_viewer())
    return index_for(db).search(db, query, filters or Filters(), **options)
