"""Formula guard for text cells in exported .txt and .csv files.

Excel, WPS and LibreOffice may run a cell of an opened text table as a
formula, such as ``=HYPERLINK(...)`` or a DDE call, which can leak data or
start a program. CWE-1236 lists "=", "+", "-" and "@" as the risky first
characters, and OWASP's ASVS 1.2.10 adds a leading tab. Exported text cells
that start with one of these, or with a carriage return, get a leading
apostrophe, which the importer removes again with ``unguard_formula``. Cells
in .xlsx files need no guard, because a string cell is never evaluated.
"""

from __future__ import annotations

import re

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"

# A phone number or a plain signed number cannot call a function, so values
# such as "+86 155 5550 0102" or "-5" are written as typed.
_PHONE_LIKE = re.compile(r"\+?[0-9 ().-]*[0-9][0-9 ().-]*")


def guard_formula(value: str) -> str:
    """Prefix ``value`` with an apostrophe if a spreadsheet could run it.

    A value that already starts with an apostrophe before a trigger or before
    another apostrophe gets one more, so that ``unguard_formula`` restores
    every string exactly.
    """
    if _is_formula_risk(value) or _has_guard_prefix(value):
        return QUOTE + value
    return value


def unguard_formula(value: str) -> str:
    """Remove the apostrophe that ``guard_formula`` added, if any."""
    if _has_guard_prefix(value):
        return value[1:]
    return value


def _is_formula_risk(value: str) -> bool:
    if not value.startswith(FORMULA_TRIGGERS):
        return False
    return not _PHONE_LIKE.fullmatch(value)


def _has_guard_prefix(value: str) -> bool:
    return value[:1] == QUOTE and value[1:2] in (*FORMULA_TRIGGERS, QUOTE)
