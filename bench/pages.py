"""The contact list page over real HTTP (waitress on 127.0.0.1, urllib)."""

from __future__ import annotations

import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http import HTTPStatus

from flask import Flask

from bench.backends import Backend
from bench.queries import CHINESE_QUERY
from bench.report import Figure, Target, time_runs
from crm_web.data.db import Database
from crm_web.server import Server

P95_LIMIT_MS = 50.0
PAGE_SIZE = 50  # the page_size preference's default
WARM_UP_REQUESTS = 3
PAGE_NUMBER = 50
PAGE_SQL = (
    "SELECT * FROM contacts WHERE deleted = 0 ORDER BY name_sort, id "
    "LIMIT :limit OFFSET :offset"
)


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """Serve ``app`` with waitress in a thread and yield its base URL."""
    server = Server(app)
    server.start_in_thread()
    try:
        yield server.url.rstrip("/")
    finally:
        server.close()


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        if response.status != HTTPStatus.OK:
            raise RuntimeError(f"GET {url} returned HTTP {response.status}")
        body: bytes = response.read()
        return body


def select_page(db: Database, offset: int) -> None:
    db.query(PAGE_SQL, limit=PAGE_SIZE, offset=offset)
    db.release()


def measure_pages(backend: Backend, app: Flask, runs: int) -> list[Figure]:
    """Time GET requests of three list pages and the SELECT of each page."""
    db: Database = app.extensions["crm_db"]
    query = urllib.parse.urlencode({"q": CHINESE_QUERY})
    pages = [
        ("/contacts/", 0),
        (f"/contacts/?{query}", 0),
        (f"/contacts/?page={PAGE_NUMBER}", (PAGE_NUMBER - 1) * PAGE_SIZE),
    ]
    figures = []
    with serving(app) as base:
        for path, offset in pages:
            url = base + path
            for _ in range(WARM_UP_REQUESTS):
                fetch(url)
            stats = time_runs(partial(fetch, url), runs)
            floor = time_runs(partial(select_page, db, offset), runs)
            figures.append(
                Figure(
                    backend.name,
                    f"list page GET {urllib.parse.unquote(path)}",
                    "ms",
                    stats,
                    floor,
                    Target(P95_LIMIT_MS, "p95") if not backend.is_mysql else None,
                    note=f"floor: SELECT of 50 rows at offset {offset}",
                )
            )
    return figures
