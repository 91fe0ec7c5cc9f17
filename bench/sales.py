"""Sales summaries at scale, against the raw SQL aggregate as floor.

``run(rows)`` fills a fresh database per backend with ``rows`` generated
sales records over 2,000 contacts in five categories, then times a summary
by each column through ``summarize_sales`` (SQL GROUP BY, then merging of
spellings and names in Python). Each floor is one hand-written GROUP BY of
the same column and currency with the same sums.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.backends import BACKENDS, open_backend
from bench.report import Figure, Target, format_table, time_runs
from crm_web.data import sales as sale_data
from crm_web.data.db import Database, connect
from crm_web.data.records import new_record
from crm_web.data.schema import categories, contacts
from crm_web.services import sales_summary
from crm_web.services.sales import STATUSES, SaleFilters

CONTACTS = 2000
CATEGORIES = 5
DEFAULT_RUNS = 20
SEED = 20261204
START = date(2021, 1, 1)
SPAN_DAYS = 5 * 365
P95_LIMIT_MS = 100.0
INSERT_CHUNK = 5000
LABELS = {"custom1": "Payment method", "custom2": "", "custom3": "", "custom4": ""}
# Spellings as people type them: the same item in several cases.
ITEMS = [
    f"{base} {n}" for base in ("Steel pipe", "钢管", "Valve", "阀门") for n in range(12)
]
SERVICES = ("安装", "维修", "保养", "Installation", "Repair", "")
PAYMENTS = ("WeChat Pay", "wechat pay", "支付宝", "Bank transfer", "")
CURRENCIES = ("CNY",) * 16 + ("USD",) * 3 + ("JPY",)

_SUMS = "COUNT(*) AS n, SUM(quantity_milli) AS q, SUM(amount_minor) AS a FROM sales s"
FLOORS = {
    "item": f"SELECT item, currency, {_SUMS} WHERE deleted = 0 GROUP BY item, currency",
    "service_type": (
        f"SELECT service_type, currency, {_SUMS} WHERE deleted = 0 "
        "GROUP BY service_type, currency"
    ),
    "status": (
        f"SELECT status, currency, {_SUMS} WHERE deleted = 0 GROUP BY status, currency"
    ),
    "contact": (
        f"SELECT contact_uuid, currency, {_SUMS} WHERE deleted = 0 "
        "GROUP BY contact_uuid, currency"
    ),
    "category": (
        f"SELECT c.category_uuid, s.currency, {_SUMS} LEFT JOIN contacts c "
        "ON c.uuid = s.contact_uuid WHERE s.deleted = 0 "
        "GROUP BY c.category_uuid, s.currency"
    ),
    "custom1": (
        f"SELECT custom1, currency, {_SUMS} WHERE deleted = 0 "
        "GROUP BY custom1, currency"
    ),
}
# The month expression is each backend's own.
FLOOR_MONTH = {
    "sqlite": (
        f"SELECT strftime('%Y-%m', sold_on) AS m, currency, {_SUMS} "
        "WHERE deleted = 0 GROUP BY m, currency"
    ),
    "mysql": (
        f"SELECT YEAR(sold_on) AS y, MONTH(sold_on) AS m, currency, {_SUMS} "
        "WHERE deleted = 0 GROUP BY y, m, currency"
    ),
}


def fill(db: Database, rows: int, seed: int = SEED) -> None:
    """Insert contacts, categories and ``rows`` sales records."""
    chance = random.Random(seed)
    category_uuids = [new_record("Bench")["uuid"] for _ in range(CATEGORIES)]
    contact_rows = [
        {
            **new_record("Bench"),
            "name": f"客户{number:04d}",
            "company": f"公司{number % 300:03d}",
            "category_uuid": category_uuids[number % CATEGORIES],
        }
        for number in range(CONTACTS)
    ]

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
        for _ in range(rows):
            batch.append(_record(chance, contact_rows))
            if len(batch) >= INSERT_CHUNK:
                sale_data.insert_sales(db, batch)
                batch = []
        sale_data.insert_sales(db, batch)

    db.write(work)
    db.release()


def _record(
    chance: random.Random, contact_rows: list[dict[str, Any]]
) -> dict[str, Any]:
    quantity = chance.randrange(1, 100_000)
    price = chance.randrange(1, 1_000_000) * 10_000  # in millionths, 0.01 to 10,000
    contact = chance.choice(contact_rows)["uuid"] if chance.random() < 0.9 else None
    return {
        **new_record("Bench"),
        "deleted": chance.random() < 0.05,
        "contact_uuid": contact,
        "sold_on": START + timedelta(days=chance.randrange(SPAN_DAYS)),
        "item": chance.choice(ITEMS),
        "service_type": chance.choice(SERVICES),
        "quantity_milli": quantity,
        "unit_price_micro": price,
        "amount_minor": quantity * price // 10**7,
        "currency": chance.choice(CURRENCIES),
        "status": chance.choice(list(STATUSES)),
        "notes": "",
        "custom1": chance.choice(PAYMENTS),
        "custom2": "",
        "custom3": "",
        "custom4": "",
    }


def _summary(db: Database, by: str) -> Callable[[], object]:
    def call() -> object:
        result = sales_summary.summarize_sales(
            db, by, SaleFilters(), custom_labels=LABELS
        )
        db.release()
        return result

    return call


def _floor(db: Database, sql: str) -> Callable[[], object]:
    def call() -> object:
        rows = db.query(sql)
        db.release()
        return rows

    return call


def measure(db: Database, backend: str, runs: int) -> list[Figure]:
    """Time a summary by each column and its GROUP BY floor on one database."""
    floors = {**FLOORS, "month": FLOOR_MONTH[backend]}
    figures = []
    for by in ("item", "service_type", "status", "month", "contact", "category",
               "custom1"):  # fmt: skip
        groups = len(_summary(db, by)().rows)  # type: ignore[attr-defined]
        figures.append(
            Figure(
                backend,
                f"sales summary by {by}",
                "ms",
                time_runs(_summary(db, by), runs),
                time_runs(_floor(db, floors[by]), runs),
                Target(P95_LIMIT_MS, "p95"),
                note=f"{groups} groups; floor: one GROUP BY column, currency",
            )
        )
    return figures


def run(
    rows: int, *, backends: tuple[str, ...] = BACKENDS, runs: int = DEFAULT_RUNS
) -> list[Figure]:
    """Fill a database per backend with ``rows`` records and time summaries."""
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="bench-sales-") as work:
        for name in backends:
            with open_backend(name, Path(work)) as backend:
                db = connect(backend.url)
                try:
                    fill(db, rows)
                    figures.extend(measure(db, name, runs))
                finally:
                    db.release()
                    db.close()
    return figures


if __name__ == "__main__":
    import sys

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    print(format_table(run(count)))
