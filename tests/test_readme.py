"""The README's settings tables list exactly the settings the code has."""

from __future__ import annotations

import re
from pathlib import Path

from crm_web.config import ENVIRONMENT
from crm_web.services.preferences import SETTINGS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(
    encoding="utf-8"
)


def table(name: str) -> list[list[str]]:
    match = re.search(
        rf"<!-- settings-table: {name} -->\n(.*?)<!-- /settings-table -->", README, re.S
    )
    assert match, f"README has no settings table {name}"
    lines = match.group(1).strip().splitlines()[2:]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def test_environment_table_matches_config() -> None:
    rows = table("environment")
    assert [r[1].strip("`") for r in rows] == [name for name, _w, _d in ENVIRONMENT]
    assert [r[3] for r in rows] == [what for _n, what, _d in ENVIRONMENT]
    assert [r[2] for r in rows] == [default for _n, _w, default in ENVIRONMENT]


def test_preferences_table_matches_settings() -> None:
    rows = table("preferences")
    assert [r[0].strip("`") for r in rows] == [s.name for s in SETTINGS]
    assert [r[1].strip("`") or "" for r in rows] == [
        s.default or "(empty)" for s in SETTINGS
    ]
    assert [r[2] for r in rows] == [str(s.help) for s in SETTINGS]
