"""Smart query latency through search_contacts, against a LIKE scan."""

from __future__ import annotations

import time
from typing import Any

from bench.backends import Backend
from bench.report import Figure, Stats, Target, time_runs
from crm_web.data.db import Database
from crm_web.services import text
from crm_web.services.search import index_for, parse_query, search_contacts

P95_LIMIT_MS = {"sqlite": 25.0, "mysql": 100.0}
CHINESE_QUERY = "科技"
# Rows searched for a name, mobile and e-mail to build the other queries.
PROBE_ROWS = 5000


def choose_queries(db: Database) -> list[tuple[str, str]]:
    """Return (label, query) pairs built from stored contacts."""
    rows = db.query(
        "SELECT name, mobile, email FROM contacts ORDER BY id LIMIT :limit",
        limit=PROBE_ROWS,
    )
    name = next(r["name"] for r in rows if _is_chinese_name(r["name"], 3))
    mobile = next(r["mobile"] for r in rows if _is_plain_mobile(r["mobile"]))
    email = next(r["email"] for r in rows if "@" in r["email"])
    return [
        ("2 Chinese chars", CHINESE_QUERY),
        ("pinyin initials", text.pinyin_search_forms(name)[1]),
        ("phone fragment", f"{mobile[3:7]} {mobile[7:9]}"),
        ("e-mail fragment", email.partition("@")[0]),
    ]


def _is_chinese_name(name: str, length: int) -> bool:
    return len(name) == length and all(text.is_cjk(c) for c in name)


def _is_plain_mobile(mobile: str) -> bool:
    return len(mobile) == 11 and mobile.isdigit()


def like_pattern(query: str) -> str:
    """Return the LIKE pattern of the query's first term, escaped with '!'."""
    term = parse_query(query)[0][0]
    escaped = term.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{escaped}%"


def like_scan(db: Database, pattern: str) -> list[dict[str, Any]]:
    return db.query(
        "SELECT id FROM contacts WHERE search_text LIKE :q ESCAPE '!'", q=pattern
    )


def measure_queries(backend: Backend, db: Database, runs: int) -> list[Figure]:
    """Time a cold first query, then each query warm, and their LIKE floors."""
    queries = choose_queries(db)
    db.release()
    index_for(db).forget()
    start = time.perf_counter()
    search_contacts(db, queries[0][1])
    cold_ms = (time.perf_counter() - start) * 1000
    figures = [
        Figure(
            backend.name,
            "smart query, first (index load)",
            "ms",
            Stats.single(cold_ms),
        )
    ]
    for label, query in queries:
        figures.append(_query_figure(backend, db, label, query, runs))
    db.release()
    return figures


def _query_figure(
    backend: Backend, db: Database, label: str, query: str, runs: int
) -> Figure:
    found = search_contacts(db, query)
    stats = time_runs(lambda: search_contacts(db, query), runs)
    pattern = like_pattern(query)
    floor_hits = len(like_scan(db, pattern))
    floor = time_runs(lambda: like_scan(db, pattern), runs)
    return Figure(
        backend.name,
        f"smart query, {label} «{query}»",
        "ms",
        stats,
        floor,
        Target(P95_LIMIT_MS[backend.name], "p95"),
        note=f"{found.total} hits; LIKE {pattern!r}: {floor_hits} hits",
    )
