"""Formula guard for text cells: what gets a quote and the exact inverse."""

from __future__ import annotations

from itertools import product

import pytest

from crm_web.services.cells import FORMULA_TRIGGERS, guard_formula, unguard_formula

# Awkward values: triggers, quotes, phone numbers, control characters, text
# outside the Basic Multilingual Plane.
AWKWARD = (
    "",
    "'",
    "''",
    "'''",
    "'=x",
    "'+86",
    "'abc",
    "=1+1",
    "==",
    "+",
    "-",
    "@",
    "-5",
    "-5.25",
    "+86 155 5550 0102",
    "+1 (555) 010-0102",
    "+86+1",
    "-2+3",
    "@SUM(A1)",
    '=HYPERLINK("http://127.0.0.1","x")',
    "\t=1",
    "\r=1",
    "\t",
    "\r\n",
    "00123",
    "0571-8888",
    "张小明",
    "😀",
    "𠀀",
    " =1",
    "a=b",
)

SHORT_ALPHABET = "=+-@\t\r'0 (a"


def short_strings() -> list[str]:
    """Return every string of up to four characters over SHORT_ALPHABET."""
    return [
        "".join(chars)
        for length in range(5)
        for chars in product(SHORT_ALPHABET, repeat=length)
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("-1e5", "'-1e5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\t5", "'\t5"),
        ("\r=1", "'\r=1"),
        ("=", "'="),
        ("+", "'+"),
        ("-", "'-"),
        ("+86+1", "'+86+1"),
        ("+１２３", "'+１２３"),
        ("'=x", "''=x"),
        ("''", "'''"),
        ("'\t", "''\t"),
    ],
)
def test_guard_prefixes_quote(value: str, expected: str) -> None:
    assert guard_formula(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "+86 155 5550 0102",
        "+1 (555) 010-0102",
        "-5",
        "-5.25",
        "+8613800138000",
        "0571-8888",
        "00123",
        "'",
        "'abc",
        "'5",
        "",
        "张小明",
        "a=b",
        " =1",
        "#N/A",
    ],
)
def test_guard_keeps_harmless_value(value: str) -> None:
    assert guard_formula(value) == value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("'=1+1", "=1+1"),
        ("''", "'"),
        ("'''", "''"),
        ("'\r=1", "\r=1"),
        ("'abc", "'abc"),
        ("'5", "'5"),
        ("'", "'"),
        ("=1+1", "=1+1"),
    ],
)
def test_unguard_strips_one_quote(value: str, expected: str) -> None:
    assert unguard_formula(value) == expected


@pytest.mark.parametrize("value", AWKWARD)
def test_unguard_inverts_guard(value: str) -> None:
    assert unguard_formula(guard_formula(value)) == value


def test_unguard_inverts_guard_short_strings() -> None:
    broken = [s for s in short_strings() if unguard_formula(guard_formula(s)) != s]
    assert broken == []


def test_guard_leaves_no_formula_short_strings() -> None:
    # A guarded value may start with a trigger only as a plain phone number.
    phone_chars = set("+-0123456789 ().")
    risky = [
        guarded
        for guarded in map(guard_formula, short_strings())
        if guarded.startswith(FORMULA_TRIGGERS) and not set(guarded) <= phone_chars
    ]
    assert risky == []
