"""Timings, the figures built from them, and the table they print as."""

from __future__ import annotations

import math
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Stats:
    """Repeated measurements of one thing, in one unit."""

    samples: tuple[float, ...]

    @classmethod
    def single(cls, value: float) -> Stats:
        return cls((value,))

    def percentile(self, share: float) -> float:
        """Return the nearest-rank percentile, e.g. ``share=0.95`` for p95."""
        ordered = sorted(self.samples)
        rank = max(1, math.ceil(share * len(ordered)))
        return ordered[rank - 1]

    @property
    def p50(self) -> float:
        return self.percentile(0.5)

    @property
    def p95(self) -> float:
        return self.percentile(0.95)

    @property
    def max(self) -> float:
        return max(self.samples)

    @property
    def runs(self) -> int:
        return len(self.samples)


def time_runs(call: Callable[[], object], runs: int) -> Stats:
    """Call ``call`` ``runs`` times and return the wall-clock times in ms."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return Stats(tuple(samples))


@dataclass(frozen=True)
class Target:
    """An upper limit on a figure's p95 (``kind="p95"``) or its ratio."""

    limit: float
    kind: str  # "p95" | "ratio"

    def describe(self, unit: str, *, runs: int) -> str:
        if self.kind == "ratio":
            return f"<= {self.limit:g}x floor"
        if runs == 1:
            return f"<= {self.limit:g} {unit}"
        return f"p95 <= {self.limit:g} {unit}"


@dataclass
class Figure:
    """One row of the table: a measurement, its floor and its target."""

    backend: str
    name: str
    unit: str
    value: Stats
    floor: Stats | None = None
    target: Target | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """Return p50 over the floor's p50."""
        if self.floor is None or self.floor.p50 <= 0:
            return None
        return self.value.p50 / self.floor.p50

    @property
    def verdict(self) -> str:
        if self.target is None:
            return ""
        measured = self.ratio if self.target.kind == "ratio" else self.value.p95
        if measured is None:
            return "?"
        return "PASS" if measured <= self.target.limit else "MISS"


COLUMNS = (
    "backend",
    "measure",
    "unit",
    "runs",
    "p50",
    "p95",
    "max",
    "floor p50",
    "ratio",
    "target",
    "result",
)


def table_rows(figures: list[Figure]) -> list[list[str]]:
    """Return the table's cells, one list per figure, header first."""
    rows = [list(COLUMNS)]
    for figure in figures:
        value, target = figure.value, figure.target
        several = value.runs > 1
        rows.append(
            [
                figure.backend,
                figure.name,
                figure.unit,
                str(value.runs),
                _number(value.p50),
                _number(value.p95) if several else "",
                _number(value.max) if several else "",
                _number(figure.floor.p50) if figure.floor else "",
                f"{figure.ratio:.2f}x" if figure.ratio is not None else "",
                target.describe(figure.unit, runs=value.runs) if target else "",
                figure.verdict,
            ]
        )
    return rows


def format_table(figures: list[Figure]) -> str:
    """Return the figures as an aligned plain-text table."""
    rows = table_rows(figures)
    widths = [max(_width(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = []
    for index, row in enumerate(rows):
        cells = [
            _pad(cell, width, left=column < 3 or column >= 9)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def format_markdown(figures: list[Figure]) -> str:
    """Return the figures as a Markdown table, for bench/README.md."""
    rows = table_rows(figures)
    lines = ["| " + " | ".join(rows[0]) + " |"]
    lines.append("|" + "|".join(" --- " for _ in rows[0]) + "|")
    for row in rows[1:]:
        lines.append("| " + " | ".join(cell or " " for cell in row) + " |")
    return "\n".join(lines)


def _width(cell: str) -> int:
    """Return the terminal width: Chinese characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in cell)


def _pad(cell: str, width: int, *, left: bool) -> str:
    padding = " " * (width - _width(cell))
    return cell + padding if left else padding + cell


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"
