"""Communication log list and filters at scale, against raw SQL floors.

``run(rows)`` fills a fresh database per backend with ``rows`` generated log
entries over 2,000 contacts in five large categories and a small one of ten
contacts (about 500 entries at 100,000), then times one list page
(entries and count, as the page asks) through the service, unfiltered, deep
in the list and with each filter. Each floor is the same rows selected with
one hand-written SQL statement, without the contact join or the count.
One entry in ten has a follow-up date, and half of those are done.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.backends import BACKENDS, open_backend
from bench.report import Figure, Target, format_table, time_runs
from crm_web.data import comm_logs as log_data
from crm_web.data.db import Database, connect
from crm_web.data.records import new_record
from crm_web.data.schema import categories, contacts
from crm_web.services import comm_log as log_service
from crm_web.services.comm_log import CHANNELS, LogFilters
from crm_web.services.contacts import derived_columns

CONTACTS = 2000
CATEGORIES = 5
SMALL_CATEGORY_CONTACTS = 10
PAGE_SIZE = 50  # the page_size preference's default
DEEP_PAGE = 1000
DEFAULT_RUNS = 20
SEED = 20261204
ZONE = ZoneInfo("Asia/Shanghai")
START = datetime(2020, 1, 1)
SPAN_MINUTES = 5 * 365 * 24 * 60
WORDS = ("报价", "样品", "订单", "发货", "付款", "展会", "price", "sample", "FOB")
P95_LIMIT_MS = 50.0
INSERT_CHUNK = 5000

FLOOR_PAGE = (
    "SELECT * FROM comm_logs WHERE deleted = 0 "
    "ORDER BY occurred_at DESC, id DESC LIMIT :limit OFFSET :offset"
)
FLOOR_WORDS = (
    "SELECT * FROM comm_logs WHERE deleted = 0 AND search_text LIKE :p "
    "ORDER BY occurred_at DESC, id DESC LIMIT :limit"
)
FLOOR_CATEGORY = (
    "SELECT l.* FROM comm_logs l JOIN contacts c ON c.uuid = l.contact_uuid "
    "WHERE l.deleted = 0 AND c.category_uuid = :category "
    "ORDER BY l.occurred_at DESC, l.id DESC LIMIT :limit"
)
FLOOR_CONTACT = (
    "SELECT l.* FROM comm_logs l JOIN contacts c ON c.uuid = l.contact_uuid "
    "WHERE l.deleted = 0 AND (c.name LIKE :p OR c.company LIKE :p) "
    "ORDER BY l.occurred_at DESC, l.id DESC LIMIT :limit"
)
FLOOR_CHANNEL = (
    "SELECT * FROM comm_logs WHERE deleted = 0 AND channel = :channel "
    "ORDER BY occurred_at DESC, id DESC LIMIT :limit"
)
FLOOR_FOLLOW_UPS = (
    "SELECT * FROM comm_logs WHERE deleted = 0 AND follow_up_on IS NOT NULL "
    "AND follow_up_done = 0 ORDER BY occurred_at DESC, id DESC LIMIT :limit"
)
FLOOR_DATES = (
    "SELECT * FROM comm_logs WHERE deleted = 0 AND occurred_at >= :start AND "
    "occurred_at < :end ORDER BY occurred_at DESC, id DESC LIMIT :limit"
)


def fill(db: Database, rows: int, seed: int = SEED) -> dict[str, Any]:
    """Insert contacts, categories and ``rows`` log entries; return samples."""
    chance = random.Random(seed)
    category_uuids = [new_record("Bench")["uuid"] for _ in range(CATEGORIES + 1)]
    small_category = category_uuids[CATEGORIES]
    contact_rows = []
    for number in range(CONTACTS):
        if number < SMALL_CATEGORY_CONTACTS:
            category = small_category
        else:
            category = category_uuids[number % CATEGORIES]
        values = {"name": f"客户{number:04d}", "company": f"公司{number % 300:03d}"}
        contact_rows.append(
            {
                **new_record("Bench"),
                **values,
                **derived_columns(values, {}, region="CN"),
                "category_uuid": category,
            }
        )

    def work(db: Database) -> None:
        db.execute(
            categories.insert(),
            [
                {**new_record("Bench"), "uuid": u, "name": f"分类{i}"}
                for i, u in enumerate(category_uuids)
            ],
        )
        db.execute(contacts.insert(), contact_rows)
        batch: list[dict[str, Any]] = []
        for number in range(rows):
            batch.append(_entry(chance, contact_rows, number))
            if len(batch) >= INSERT_CHUNK:
                log_data.insert_logs(db, batch)
                batch = []
        log_data.insert_logs(db, batch)

    db.write(work)
    db.release()
    return {"category": category_uuids[0], "small_category": small_category}


def _entry(
    chance: random.Random, contact_rows: list[dict[str, Any]], number: int
) -> dict[str, Any]:
    word = chance.choice(WORDS)
    occurred = START + timedelta(minutes=chance.randrange(SPAN_MINUTES))
    title = f"沟通 {number} {word}"
    content = f"第{number}次联系。\n客户询问{chance.choice(WORDS)}的情况。"
    follow_up = (occurred + timedelta(days=7)).date()
    has_follow_up = chance.random() < 0.1
    return {
        **new_record("Bench"),
        "deleted": chance.random() < 0.05,
        "contact_uuid": chance.choice(contact_rows)["uuid"],
        "occurred_at": occurred,
        "channel": chance.choice(list(CHANNELS)),
        "title": title,
        "content": content,
        "search_text": log_service.search_text_of(title, content),
        "follow_up_on": follow_up if has_follow_up else None,
        "follow_up_done": has_follow_up and chance.random() < 0.5,
        "appointment_uuid": None,
    }


def _service_page(
    db: Database, filters: LogFilters, offset: int = 0
) -> Callable[[], object]:
    def call() -> object:
        page = log_service.list_entries(
            db, filters, zone=ZONE, offset=offset, limit=PAGE_SIZE
        )
        db.release()
        return page

    return call


def _floor(db: Database, sql: str, **params: Any) -> Callable[[], object]:
    def call() -> object:
        rows = db.query(sql, limit=PAGE_SIZE, **params)
        db.release()
        return rows

    return call


def measure(db: Database, backend: str, samples: dict, runs: int) -> list[Figure]:
    """Time the list page with each filter and its floor on one database."""
    month = (date(2023, 6, 1), date(2023, 6, 30))
    start = datetime(2023, 5, 31, 16, 0)  # 2023-06-01 00:00 in Shanghai
    cases = [
        ("log page 1", LogFilters(), 0, FLOOR_PAGE, {"offset": 0}),
        (
            f"log page {DEEP_PAGE}",
            LogFilters(),
            (DEEP_PAGE - 1) * PAGE_SIZE,
            FLOOR_PAGE,
            {"offset": (DEEP_PAGE - 1) * PAGE_SIZE},
        ),
        ("log words «报价»", LogFilters(words="报价"), 0, FLOOR_WORDS,
         {"p": "%报价%"}),
        ("log words «ｆｏｂ»", LogFilters(words="ｆｏｂ"), 0, FLOOR_WORDS,
         {"p": "%fob%"}),
        ("log rare word «54321»", LogFilters(words="54321"), 0, FLOOR_WORDS,
         {"p": "%54321%"}),
        ("log category", LogFilters(category=samples["category"]), 0,
         FLOOR_CATEGORY, {"category": samples["category"]}),
        ("log small category", LogFilters(category=samples["small_category"]),
         0, FLOOR_CATEGORY, {"category": samples["small_category"]}),
        ("log contact «客户0042»", LogFilters(contact_name="客户0042"), 0,
         FLOOR_CONTACT, {"p": "%客户0042%"}),
        ("log contact «公司»", LogFilters(contact_name="公司"), 0,
         FLOOR_CONTACT, {"p": "%公司%"}),
        ("log channel", LogFilters(channel="wechat"), 0, FLOOR_CHANNEL,
         {"channel": "wechat"}),
        ("log open follow-ups", LogFilters(follow_up="open"), 0,
         FLOOR_FOLLOW_UPS, {}),
        ("log one month", LogFilters(date_from=month[0], date_to=month[1]), 0,
         FLOOR_DATES, {"start": start, "end": start + timedelta(days=30)}),
    ]  # fmt: skip
    figures = []
    for name, filters, offset, sql, params in cases:
        call = _service_page(db, filters, offset)
        page = log_service.list_entries(db, filters, zone=ZONE, offset=0, limit=1)
        count_text = f"{page.total}+" if page.is_total_capped else str(page.total)
        figures.append(
            Figure(
                backend,
                name,
                "ms",
                time_runs(call, runs),
                time_runs(_floor(db, sql, **params), runs),
                Target(P95_LIMIT_MS, "p95"),
                note=f"{count_text} matching entries; floor: one SELECT of 50 rows",
            )
        )
    return figures


def run(
    rows: int, *, backends: tuple[str, ...] = BACKENDS, runs: int = DEFAULT_RUNS
) -> list[Figure]:
    """Fill a database per backend with ``rows`` entries and time the list."""
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="bench-log-") as work:
        for name in backends:
            with open_backend(name, Path(work)) as backend:
                db = connect(backend.url)
                try:
                    samples = fill(db, rows)
                    figures.extend(measure(db, name, samples, runs))
                finally:
                    db.release()
                    db.close()
    return figures


if __name__ == "__main__":
    import sys

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    print(format_table(run(count)))
