"""Concurrent edits of the same records: each save is kept or reported.

Eight clients edit a few shared records at once, each appending a unique
token to a text field after reading the record's form with its version.
A save either keeps every earlier saved token (its version was current) or
gets a 409 response with the conflict message and changes nothing. The run
lasts a few seconds per backend and asserts no time.
"""

from __future__ import annotations

import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import lxml.html
import pytest
from flask import Flask
from sqlalchemy import event

from crm_web import create_app, server
from crm_web.config import load_settings
from crm_web.data.db import Database
from crm_web.errors import VersionConflictError
from crm_web.server import Server
from crm_web.services import accounts, search, sharing
from crm_web.services import comm_log as log_service
from crm_web.services import contacts as contact_service
from crm_web.services import sales as sale_service

PASSWORD = "a good password"
CLIENTS = 8
# Each backend runs for this long, or until each client made its max edits.
SECONDS = 4.0
MAX_EDITS_PER_CLIENT = 400
# A pause between reading the form and posting it, as a person typing
# makes, so that the clients' edits overlap.
MAX_THINK_SECONDS = 0.02
CONFLICT_TEXT = "was changed by someone else after you opened it"
SHANGHAI = ZoneInfo("Asia/Shanghai")
# The field each kind of record gets its tokens appended to.
TEXT_FIELD = {"contacts": "notes", "sales": "notes", "log": "content"}
# Users signed in by the clients, in turn: two administrators, two users.
SIGN_INS = ("Admin", "Boss", "Lily", "Tom")


@dataclass(frozen=True)
class Record:
    kind: str  # "contacts", "sales" or "log": the URL prefix
    id: int
    contact_id: int  # the contact itself, or the one the record is about

    @property
    def edit_path(self) -> str:
        return f"/{self.kind}/{self.id}/edit"


@dataclass(frozen=True)
class Outcome:
    record: Record
    token: str
    status: int
    body: str


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class WebClient:
    """One browser: its own cookie jar, signed in through the login form."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(CookieJar()), NoRedirect()
        )

    def request(
        self, path: str, fields: list[tuple[str, str]] | None = None
    ) -> tuple[int, str]:
        """GET ``path``, or POST ``fields`` to it, and return status and body."""
        data = None if fields is None else urllib.parse.urlencode(fields).encode()
        request = urllib.request.Request(
            self.base_url + path, data=data, headers={"Accept-Language": "en-US"}
        )
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode("utf-8")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8", "replace")

    def form(self, path: str, field: str) -> list[tuple[str, str]]:
        """Return what the page's form with ``field`` would submit."""
        status, page = self.request(path)
        assert status == HTTPStatus.OK, f"GET {path}: {status} {page[:300]}"
        forms = lxml.html.fromstring(page).forms
        form = next(f for f in forms if field in f.fields)
        return list(form.form_values())

    def sign_in(self, name: str) -> None:
        fields = dict(self.form("/login", "password"))
        fields.update(name=name, password=PASSWORD)
        status, page = self.request("/login", list(fields.items()))
        assert status == HTTPStatus.FOUND, f"sign-in of {name}: {status} {page[:300]}"


def append_token(fields: list[tuple[str, str]], name: str, token: str) -> list:
    """Return the fields with `` token`` added to the field ``name``."""
    return [(k, f"{v} {token}" if k == name else v) for k, v in fields]


def edit_until(
    client: WebClient, records: list[Record], number: int, deadline: float
) -> list[Outcome]:
    """Edit randomly chosen records until ``deadline`` and return the outcomes."""
    chance = random.Random(number)
    outcomes = []
    for edit in range(MAX_EDITS_PER_CLIENT):
        if time.monotonic() >= deadline:
            break
        record = chance.choice(records)
        token = f"tok{number}x{edit}"
        fields = client.form(record.edit_path, "version")
        time.sleep(chance.uniform(0, MAX_THINK_SECONDS))
        posted = append_token(fields, TEXT_FIELD[record.kind], token)
        status, body = client.request(record.edit_path, posted)
        outcomes.append(Outcome(record, token, status, body))
    return outcomes


# --- the team and its records ------------------------------------------------


def add_team(db: Database) -> None:
    """Add Boss (administrator), Lily and Tom, and turn protection on."""
    accounts.create_user(db, "Boss", PASSWORD, "admin", by="test")
    for name in ("Lily", "Tom"):
        accounts.create_user(db, name, PASSWORD, "user", by="test")
    admin = next(u for u in accounts.list_users(db) if u["name"] == "Admin")
    accounts.set_password(db, admin["uuid"], PASSWORD, by="test")
    accounts.set_protection(db, True, by="test")


def add_shared_contact(db: Database, owner: str, name: str) -> dict[str, Any]:
    """Add a contact owned by ``owner`` and shared with everyone."""
    contact = contact_service.parse_form({"name": name, "notes": "start"})
    contact_id = contact_service.create_contact(
        db, contact, owner=owner, region="CN", allow_duplicate=True
    )
    sharing.set_contact_sharing(
        db,
        contact_id,
        by=accounts.CurrentUser("", owner, "user"),
        everyone=True,
        users=[],
    )
    return contact_service.require_contact(db, contact_id)


def sale_input(contact: dict[str, Any], notes: str) -> sale_service.SaleInput:
    return sale_service.parse_form(
        {
            "sold_on": "2026-03-15",
            "currency": "CNY",
            "status": "ordered",
            "item": "阀门",
            "quantity": "2",
            "unit_price": "12.50",
            "notes": notes,
            "contact_uuid": contact["uuid"],
        }
    )


def entry_input(
    db: Database, contact: dict[str, Any], content: str
) -> log_service.EntryInput:
    raw = {
        "contact_id": str(contact["id"]),
        "occurred_at": "2026-03-15T10:30",
        "channel": "phone",
        "title": "询价",
        "content": content,
    }
    return log_service.parse_entry(db, raw, zone=SHANGHAI)


def add_records(db: Database) -> list[Record]:
    """Add two shared contacts with a sales record and a log entry each."""
    records = []
    for owner, name in (("Lily", "共享客户甲"), ("Tom", "共享客户乙")):
        contact = add_shared_contact(db, owner, name)
        sale_id = sale_service.create_sale(
            db, sale_input(contact, "start"), owner="Admin"
        )
        entry_id = log_service.create_entry(
            db, entry_input(db, contact, "start"), owner=owner, zone=SHANGHAI
        )
        records += [
            Record(kind, record_id, contact["id"])
            for kind, record_id in (
                ("contacts", contact["id"]),
                ("sales", sale_id),
                ("log", entry_id),
            )
        ]
    return records


def stored(db: Database, record: Record) -> tuple[str, int]:
    """Return the record's text field and version as stored."""
    reader: dict[str, Callable[[Database, int], dict[str, Any]]] = {
        "contacts": contact_service.require_contact,
        "sales": sale_service.require_sale,
        "log": log_service.require_entry,
    }
    row = reader[record.kind](db, record.id)
    return str(row[TEXT_FIELD[record.kind]]), int(row["version"])


def stored_tokens(db: Database, record: Record) -> list[str]:
    text, _version = stored(db, record)
    return [word for word in text.split() if word.startswith("tok")]


@pytest.fixture
def team_app(tmp_path: Path, database_url: str) -> Iterator[Flask]:
    """The app over a database with four users and shared records."""
    settings = load_settings(data_dir=tmp_path / "data", database_url=database_url)
    app = create_app(settings)
    db: Database = app.extensions["crm_db"]
    add_team(db)
    app.extensions["test_records"] = add_records(db)
    db.release()
    yield app
    search.index_for(db).forget()
    db.close()


# --- over HTTP ----------------------------------------------------------------


def edit_over_http(app: Flask, records: list[Record]) -> list[Outcome]:
    """Serve ``app``, let the clients edit ``records`` and return the outcomes."""
    server = Server(app, port=0)
    server.start_in_thread()
    try:
        clients = [WebClient(server.url.rstrip("/")) for _ in range(CLIENTS)]
        for number, client in enumerate(clients):
            client.sign_in(SIGN_INS[number % len(SIGN_INS)])
        deadline = time.monotonic() + SECONDS
        with ThreadPoolExecutor(CLIENTS) as pool:
            runs = [
                pool.submit(edit_until, client, records, number, deadline)
                for number, client in enumerate(clients)
            ]
            return [outcome for run in runs for outcome in run.result()]
    finally:
        server.close()


def test_concurrent_edits_save_or_conflict(team_app: Flask) -> None:
    db: Database = team_app.extensions["crm_db"]
    records: list[Record] = team_app.extensions["test_records"]
    versions = {record: stored(db, record)[1] for record in records}
    db.release()

    outcomes = edit_over_http(team_app, records)

    counts = Counter(o.status for o in outcomes)
    unexpected = [
        (o.record, o.status, o.body[:300])
        for o in outcomes
        if o.status not in (HTTPStatus.FOUND, HTTPStatus.CONFLICT)
    ]
    assert unexpected == []
    assert counts[HTTPStatus.FOUND] > 0, counts
    assert counts[HTTPStatus.CONFLICT] > 0, counts
    silent = [
        (o.record, o.body[:300])
        for o in outcomes
        if o.status == HTTPStatus.CONFLICT and CONFLICT_TEXT not in o.body
    ]
    assert silent == []
    for record in records:
        saved = [
            o.token
            for o in outcomes
            if o.record == record and o.status == HTTPStatus.FOUND
        ]
        tokens = stored_tokens(db, record)
        assert len(tokens) == len(set(tokens)), f"{record}: a token twice"
        assert set(saved) - set(tokens) == set(), f"{record}: saved but lost"
        assert set(tokens) - set(saved) == set(), f"{record}: stored, not reported"
        assert stored(db, record)[1] == versions[record] + len(saved), record
    db.release()


# --- one level down: the services from threads -----------------------------


@dataclass
class ServiceEdits:
    saved: set[str]
    conflicts: int


def _service_update(db: Database, record: Record, token: str) -> Callable[[], None]:
    """Read the record now and return the call that saves it with ``token``."""
    text, version = stored(db, record)
    new_text = f"{text} {token}"
    contact = contact_service.require_contact(db, record.contact_id)
    if record.kind == "contacts":
        values = {"name": contact["name"], "notes": new_text}
        return lambda: contact_service.update_contact(
            db,
            record.id,
            contact_service.parse_form(values),
            version=version,
            region="CN",
            allow_duplicate=True,
        )
    if record.kind == "sales":
        sale = sale_input(contact, new_text)
        return lambda: sale_service.update_sale(
            db, record.id, sale, version=version, owner="Admin"
        )
    entry = entry_input(db, contact, new_text)
    return lambda: log_service.update_entry(
        db, record.id, entry, version=version, owner="Admin", zone=SHANGHAI
    )


def service_edits_until(
    app: Flask, records: list[Record], number: int, deadline: float
) -> ServiceEdits:
    """Edit through the services, each edit in a request context of its own."""
    chance = random.Random(1000 + number)
    db: Database = app.extensions["crm_db"]
    edits = ServiceEdits(set(), 0)
    for edit in range(MAX_EDITS_PER_CLIENT):
        if time.monotonic() >= deadline:
            break
        record = chance.choice(records)
        token = f"tok{number}y{edit}"
        # A request context, because error messages need the request's
        # language; leaving it releases the thread's connection.
        with app.test_request_context():
            save = _service_update(db, record, token)
            time.sleep(chance.uniform(0, MAX_THINK_SECONDS))
            try:
                save()
            except VersionConflictError:
                edits.conflicts += 1
            else:
                edits.saved.add(token)
    return edits


def test_service_edits_keep_every_save(team_app: Flask) -> None:
    db: Database = team_app.extensions["crm_db"]
    records: list[Record] = team_app.extensions["test_records"]
    deadline = time.monotonic() + SECONDS / 2
    with ThreadPoolExecutor(CLIENTS) as pool:
        runs = [
            pool.submit(service_edits_until, team_app, records, number, deadline)
            for number in range(CLIENTS)
        ]
        results = [run.result() for run in runs]
    saved = set().union(*(r.saved for r in results))
    tokens = [t for record in records for t in stored_tokens(db, record)]
    db.release()
    assert sum(r.conflicts for r in results) > 0
    assert len(tokens) == len(set(tokens))
    assert set(tokens) == saved


def test_pool_keeps_a_connection_per_server_thread(db: Database) -> None:
    # Each of waitress's threads uses a connection of its own for a whole
    # request and returns it at the end. The pool must keep them all open
    # rather than close some and connect again on the next request.
    engine = db.ds.engine
    assert engine is not None
    closed: list[object] = []
    event.listen(engine, "close", lambda *_args: closed.append(True))
    barrier = threading.Barrier(server.THREADS)

    def request_like() -> None:
        db.query("SELECT 1 AS one")
        barrier.wait(timeout=30)
        db.release()

    for _burst in range(2):
        with ThreadPoolExecutor(server.THREADS) as pool:
            for done in [pool.submit(request_like) for _ in range(server.THREADS)]:
                done.result()
    assert closed == []
