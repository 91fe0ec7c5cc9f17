"""Colleagues browsing one `r9crm serve` at once, against one at a time.

``run(rows)`` fills a fresh database per backend with ``rows`` generated
contacts (bench/generate.py) owned by five users, of whom two are
administrators, with some contacts shared. It starts ``r9crm serve`` with
login protection on, as a process of its own on 127.0.0.1, and signs in
``CLIENTS`` clients, each a thread with its own cookie jar. Every client
sends the same fixed number of GET requests, list pages and smart queries
in a shuffled order, with no pause between them, all clients at once. The
floor of each kind of request is the same requests sent by one client at
a time, measured in the same run against the same server.
"""

from __future__ import annotations

import argparse
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

from bench.backends import BACKENDS, Backend, open_backend
from bench.generate import CATEGORIES, HEADERS, ContactMaker
from bench.queries import choose_queries
from bench.report import Figure, Stats, Target, format_table
from crm_web.data import categories as category_data
from crm_web.data import contacts as contact_data
from crm_web.data import visibility
from crm_web.data.db import Database, connect
from crm_web.data.records import new_record, next_revision
from crm_web.services import accounts, text
from crm_web.services import categories as category_service
from crm_web.services import contacts as contact_service

SEED = 20261204
CLIENTS = 8
# Requests each client sends: ROUNDS of every kind of request.
ROUNDS = 10
# Rounds of the floor, sent by one client at a time, for each user in turn.
FLOOR_ROUNDS = 5
P95_LIMIT_MS = 200.0
# Rounds at a browsing pace, and the seconds a person reads each page before
# the next request (an estimate of office use, not a measurement).
PACED_ROUNDS = 5
READING_SECONDS = (0.5, 2.0)
PAGE_SIZE = 50  # the page_size preference's default
PASSWORD = "bench password 2026"
ADMINS = ("Admin", "Boss")
USERS = ("lily", "tom", "wang")
# The user each client signs in as: three administrators, five users.
SIGN_INS = ("Admin", "lily", "tom", "Boss", "wang", "lily", "Admin", "tom")
# One contact in 100 is shared with everyone, and one in 50 of lily's
# contacts with tom.
SHARED_WITH_EVERYONE = 100
SHARED_WITH_TOM = 50
INSERT_CHUNK = 5000
SERVE = Path(sys.executable).with_name("r9crm")
START_SECONDS = 120
STOP_SECONDS = 10
SERVING = re.compile(r"Serving R9 CRM on (http://\S+)/")
FIELD_OF_HEADER = dict(
    zip(
        HEADERS,
        ("name", "company", "job_title", "category", "mobile", "phone", "email",
         "wechat", "qq", "country", "city", "address", "postcode", "source",
         "notes", "birthday"),
        strict=True,
    )
)  # fmt: skip


# --- the data ------------------------------------------------------------------


def fill(db: Database, rows: int, seed: int = SEED) -> None:
    """Insert ``rows`` generated contacts, the users and the shares."""
    owners = (*ADMINS, *USERS)
    category_uuids = {
        name: category_service.create_category(db, name, owner="Admin")
        for name in CATEGORIES
    }
    maker = ContactMaker(seed)
    shared: dict[str, list[str]] = {visibility.EVERYONE: [], "tom": []}
    batch: list[dict[str, Any]] = []
    for number in range(rows):
        row = contact_row(maker.row(), category_uuids, owner=owners[number % 5])
        if number % SHARED_WITH_EVERYONE == 0:
            shared[visibility.EVERYONE].append(row["uuid"])
        elif row["owner"] == "lily" and number % SHARED_WITH_TOM == 2:
            shared["tom"].append(row["uuid"])
        batch.append(row)
        if len(batch) == INSERT_CHUNK or number == rows - 1:
            _insert(db, batch)
            batch = []

    def share(db: Database) -> None:
        for user, uuids in shared.items():
            visibility.set_shares(db, uuids, [user])

    db.write(share)
    add_users(db)
    db.release()


def contact_row(
    cells: tuple[object, ...], category_uuids: dict[str, str], *, owner: str
) -> dict[str, Any]:
    """Return the stored columns of one generated row, as a form would save it."""
    raw = {FIELD_OF_HEADER[h]: value for h, value in zip(HEADERS, cells, strict=True)}
    raw["category_uuid"] = category_uuids.get(str(raw.pop("category")), "")
    contact = contact_service.parse_form(raw, lenient=True)
    return {**new_record(owner), **contact_service.storable(contact, region="CN")}


def _insert(db: Database, rows: list[dict[str, Any]]) -> None:
    def work(db: Database) -> None:
        revision = next_revision(db, "contacts")
        contact_data.insert_contacts(db, [{**r, "revision": revision} for r in rows])

    db.write(work)


def add_users(db: Database) -> None:
    """Add the users with PASSWORD and turn login protection on."""
    for name in ADMINS[1:]:
        accounts.create_user(db, name, PASSWORD, "admin", by="bench")
    for name in USERS:
        accounts.create_user(db, name, PASSWORD, "user", by="bench")
    admin = next(u for u in accounts.list_users(db) if u["name"] == "Admin")
    accounts.set_password(db, admin["uuid"], PASSWORD, by="bench")
    accounts.set_protection(db, True, by="bench")


def request_kinds(db: Database, rows: int) -> dict[str, str]:
    """Return the path of each kind of request, built from stored contacts."""
    name = next(
        r["name"]
        for r in db.query("SELECT name FROM contacts ORDER BY id LIMIT 5000")
        if len(r["name"]) == 3 and all(text.is_cjk(c) for c in r["name"])
    )
    queries = dict(choose_queries(db)[1:])
    category = category_data.get_category_by_name(db, CATEGORIES[0])
    db.release()
    assert category is not None, "fill() creates every category"
    # A page near the end of the list of a user who is not an administrator
    # (a fifth of the contacts plus the shared ones).
    deep_page = max(2, rows // (PAGE_SIZE * 6))
    paths = {
        "list page 1": "/contacts/",
        f"list page {deep_page}": f"/contacts/?page={deep_page}",
        "category filter": "/contacts/?"
        + urllib.parse.urlencode({"category": category["uuid"]}),
        f"query Chinese name «{name[:2]}»": _query(name[:2]),
    }
    for label, query in queries.items():
        paths[f"query {label} «{query}»"] = _query(query)
    return paths


def _query(query: str) -> str:
    return "/contacts/?" + urllib.parse.urlencode({"q": query})


# --- the server and its clients -----------------------------------------------


@contextmanager
def serving(backend: Backend) -> Iterator[str]:
    """Run ``r9crm serve`` on the backend's database and yield its base URL."""
    log_path = backend.work_dir / "serve.log"
    command = [
        str(SERVE),
        "--data-dir",
        str(backend.work_dir / "data"),
        "--database-url",
        backend.url,
        "serve",
        "--port",
        "0",
    ]
    with log_path.open("w", encoding="utf-8") as log_file:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=log_file, text=True
        )
        try:
            yield _served_url(process, log_path)
        finally:
            process.terminate()
            try:
                process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_SECONDS)


def _served_url(process: subprocess.Popen[str], log_path: Path) -> str:
    found: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            match = SERVING.search(line)
            if match:
                found.append(match.group(1))
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(START_SECONDS)
    if not found:
        raise RuntimeError(
            f"r9crm serve printed no URL within {START_SECONDS} s; see {log_path}"
        )
    return found[0]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


@dataclass
class Client:
    """One signed-in browser session and the latencies of its requests."""

    base_url: str
    user: str
    samples: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(CookieJar()), _NoRedirect()
        )

    def sign_in(self) -> None:
        page = self.open("/login").decode("utf-8")
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        if match is None:
            raise RuntimeError("the sign-in page has no CSRF token")
        fields = {"csrf_token": match.group(1), "name": self.user}
        fields["password"] = PASSWORD
        try:
            self.open("/login", urllib.parse.urlencode(fields).encode())
        except urllib.error.HTTPError as error:
            if error.code != HTTPStatus.FOUND:
                raise
        else:
            raise RuntimeError(f"signing in {self.user} did not redirect")

    def timed_get(self, kind: str, path: str) -> None:
        """GET ``path`` and record its latency, or an error, under ``kind``."""
        start = time.perf_counter()
        try:
            self.open(path)
        except (urllib.error.URLError, OSError) as error:
            self.errors.append(f"{self.user} GET {path}: {error}")
            return
        elapsed = (time.perf_counter() - start) * 1000
        self.samples.setdefault(kind, []).append(elapsed)

    def open(self, path: str, data: bytes | None = None) -> bytes:
        """GET ``path``, or POST ``data`` to it, and return the body."""
        with self.opener.open(self.base_url + path, data, timeout=120) as response:
            body: bytes = response.read()
            return body


def browse(
    client: Client,
    paths: dict[str, str],
    rounds: int,
    seed: int,
    *,
    pause: tuple[float, float] | None = None,
) -> None:
    """Send every kind of request ``rounds`` times, in a shuffled order.

    ``pause`` is the range of seconds a person reads a page before the next
    request; without it the requests follow each other at once.
    """
    chance = random.Random(seed)
    order = [kind for _ in range(rounds) for kind in paths]
    chance.shuffle(order)
    for kind in order:
        client.timed_get(kind, paths[kind])
        if pause:
            time.sleep(chance.uniform(*pause))


@dataclass
class Measured:
    samples: dict[str, list[float]]
    errors: list[str]
    seconds: float

    @classmethod
    def of(cls, clients: list[Client], seconds: float) -> Measured:
        samples: dict[str, list[float]] = {}
        for client in clients:
            for kind, values in client.samples.items():
                samples.setdefault(kind, []).extend(values)
        errors = [e for c in clients for e in c.errors]
        return cls(samples, errors, seconds)

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.samples.values()) + len(self.errors)


def measure(
    base_url: str, paths: dict[str, str]
) -> tuple[Measured, Measured, Measured]:
    """Return the latencies at a browsing pace, with no pause, and one at a time."""
    clients = [Client(base_url, user) for user in SIGN_INS[:CLIENTS]]
    for client in clients:
        client.sign_in()
        # Untimed: the first query waits for the server's search index.
        for path in paths.values():
            client.open(path)

    floor_clients = [Client(base_url, user) for user in (ADMINS[0], USERS[0])]
    start = time.perf_counter()
    for number, client in enumerate(floor_clients):
        client.sign_in()
        browse(client, paths, FLOOR_ROUNDS, SEED + number)
    floor = Measured.of(floor_clients, time.perf_counter() - start)

    at_once = _all_clients(clients, paths, ROUNDS, pause=None)
    for client in clients:
        client.samples.clear()
        client.errors.clear()
    paced = _all_clients(clients, paths, PACED_ROUNDS, pause=READING_SECONDS)
    return paced, at_once, floor


def _all_clients(
    clients: list[Client],
    paths: dict[str, str],
    rounds: int,
    *,
    pause: tuple[float, float] | None,
) -> Measured:
    start = time.perf_counter()
    with ThreadPoolExecutor(len(clients)) as pool:
        runs = [
            pool.submit(browse, client, paths, rounds, SEED + number, pause=pause)
            for number, client in enumerate(clients)
        ]
        for run in runs:
            run.result()
    return Measured.of(clients, time.perf_counter() - start)


def figures_of(
    backend: str, together: Measured, floor: Measured, *, label: str, target_on: bool
) -> list[Figure]:
    """Return one figure per kind of request, one overall and the error count."""
    target = Target(P95_LIMIT_MS, "p95") if target_on else None
    figures = [
        Figure(
            backend,
            f"{CLIENTS} clients {label}, {kind}",
            "ms",
            Stats(tuple(values)),
            Stats(tuple(floor.samples.get(kind, [0.0]))),
            target,
        )
        for kind, values in together.samples.items()
    ]
    every = [v for values in together.samples.values() for v in values]
    floor_every = [v for values in floor.samples.values() for v in values]
    rate = together.requests / together.seconds
    floor_rate = floor.requests / floor.seconds
    figures.append(
        Figure(
            backend,
            f"{CLIENTS} clients {label}, every request",
            "ms",
            Stats(tuple(every)),
            Stats(tuple(floor_every)),
            target,
            note=(
                f"{together.requests} requests in {together.seconds:.1f} s "
                f"({rate:.1f}/s); one client at a time: {floor.requests} in "
                f"{floor.seconds:.1f} s ({floor_rate:.1f}/s)"
            ),
        )
    )
    errors = together.errors + floor.errors
    figures.append(
        Figure(
            backend,
            f"{CLIENTS} clients {label}, failed requests",
            "requests",
            Stats.single(len(errors)),
            target=Target(0, "p95"),
            note="; ".join(errors[:3]),
        )
    )
    return figures


def run(
    rows: int, *, backends: tuple[str, ...] = BACKENDS, seed: int = SEED
) -> list[Figure]:
    """Fill a database per backend with ``rows`` contacts and time the clients."""
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="bench-lan-") as work:
        for name in backends:
            with open_backend(name, Path(work)) as backend:
                db = connect(backend.url)
                try:
                    start = time.perf_counter()
                    fill(db, rows, seed)
                    print(
                        f"[{name}] {rows:,} contacts stored in "
                        f"{time.perf_counter() - start:.1f} s",
                        flush=True,
                    )
                    paths = request_kinds(db, rows)
                finally:
                    db.release()
                    db.close()
                with serving(backend) as base_url:
                    paced, at_once, floor = measure(base_url.rstrip("/"), paths)
                figures.extend(
                    figures_of(name, paced, floor, label="browsing", target_on=True)
                )
                figures.extend(
                    figures_of(
                        name, at_once, floor, label="without pause", target_on=False
                    )
                )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.lan", description=__doc__)
    parser.add_argument("rows", type=int, nargs="?", default=100_000)
    parser.add_argument("--backend", choices=(*BACKENDS, "both"), default="both")
    args = parser.parse_args(argv)
    backends = BACKENDS if args.backend == "both" else (args.backend,)
    figures = run(args.rows, backends=backends)
    print(format_table(figures))
    for figure in figures:
        if figure.note:
            print(f"  {figure.backend}, {figure.name}: {figure.note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
