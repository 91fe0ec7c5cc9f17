"""Normalisation: phones, pinyin, tags, folding."""

from __future__ import annotations

import phonenumbers
import pytest

from crm_web.services import text


@pytest.mark.parametrize(
    "raw",
    [
        "15555500102",
        "155 5550 0102",
        "155-5550-0102",
        "+86 155 5550 0102",
        "8615555500102",
        "008615555500102",
        "+86-155-5550-0102",
        "(+86)15555500102",
        "１５５５５５００１０２",
    ],
)
def test_normalize_phone_fast_path_matches_library(raw: str) -> None:
    cleaned = text.clean(raw)
    expected = phonenumbers.format_number(
        phonenumbers.parse(
            cleaned if not cleaned.startswith("00") else "+" + cleaned[2:], "CN"
        ),
        phonenumbers.PhoneNumberFormat.E164,
    )
    assert text.normalize_phone(raw, "CN") == expected


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("0574-87654321", "CN", "+8657487654321"),
        ("+1 (415) 555-2671", "CN", "+14155552671"),
        ("415-555-2671", "US", "+14155552671"),
        ("+852 9123 4567", "CN", "+85291234567"),
        ("", "CN", ""),
        ("n/a", "CN", ""),
        ("1234", "CN", ""),
    ],
)
def test_normalize_phone_other_shapes(raw: str, region: str, expected: str) -> None:
    assert text.normalize_phone(raw, region) == expected


def test_phone_search_forms_find_national_number() -> None:
    forms = text.phone_search_forms("+86 155 5550 0102", "+8615555500102")
    assert any("15555500102" in form for form in forms)
    assert any("8615555500102" in form for form in forms)


def test_phone_search_forms_drop_contained_forms() -> None:
    forms = text.phone_search_forms("15555500102", "+8615555500102")
    assert forms == ["8615555500102"]


def test_phone_search_forms_landline_keeps_trunk_zero() -> None:
    forms = text.phone_search_forms("0574-87654321", "+8657487654321")
    assert "057487654321" in forms


@pytest.mark.parametrize(
    ("name", "full", "initials"),
    [
        ("张小明", "zhangxiaoming", "zxm"),
        ("吕布", "lvbu", "lb"),
        ("单田芳", "shantianfang", "stf"),
        ("曾国藩", "zengguofan", "zgf"),
    ],
)
def test_pinyin_search_forms(name: str, full: str, initials: str) -> None:
    forms = text.pinyin_search_forms(name)
    assert forms[0] == full
    assert forms[1] == initials


def test_pinyin_search_forms_latin_name_has_none() -> None:
    assert text.pinyin_search_forms("Alice Smith") == []


def test_sort_key_orders_chinese_by_pinyin_among_latin() -> None:
    names = ["张三", "Alice", "李四", "bob", "王五", "安娜"]
    ordered = sorted(names, key=lambda n: text.sort_key(n, is_name=True))
    assert ordered == ["Alice", "安娜", "bob", "李四", "王五", "张三"]


def test_sort_key_empty_sorts_last() -> None:
    assert text.sort_key("") > text.sort_key("zzz")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("VIP, 展会；老客户、vip", ["VIP", "展会", "老客户"]),
        ("  ", []),
        ("a|b/c\nd", ["a", "b", "c", "d"]),
    ],
)
def test_split_tags(raw: str, expected: list[str]) -> None:
    assert text.split_tags(raw) == expected


def test_clean_strips_invisible_and_keeps_text() -> None:
    assert text.clean("\ufeff\u3000（办公室）①ＡＢ\u200b ") == "（办公室）①ＡＢ"


def test_fold_makes_fullwidth_and_case_match() -> None:
    assert text.fold("ＡＢｃ１２３") == "abc123"


@pytest.mark.parametrize(
    ("query", "is_phone"),
    [
        ("155 5550", True),
        ("+86-155", True),
        ("12", False),
        ("zxm", False),
        ("5550-0102", True),
        ("东方", False),
    ],
)
def test_looks_like_phone_query(query: str, is_phone: bool) -> None:
    assert text.looks_like_phone_query(query) is is_phone


@pytest.mark.parametrize(
    "raw",
    [
        "0574-87654321",
        "010-12345678",
        "021 6123 4567",
        "(0755)86001234",
        "0571-8888 1234",
        "0898-66123456",
        "0311-8765432",
    ],
)
def test_normalize_phone_landline_fast_path_matches_library(raw: str) -> None:
    expected = phonenumbers.format_number(
        phonenumbers.parse(raw, "CN"), phonenumbers.PhoneNumberFormat.E164
    )
    assert text.normalize_phone(raw, "CN") == expected


@pytest.mark.parametrize("raw", ["0574-87654321 ext 8", "+86 574 8765 4321 x8"])
def test_normalize_phone_extension_goes_to_library(raw: str) -> None:
    expected = phonenumbers.format_number(
        phonenumbers.parse(raw, "CN"), phonenumbers.PhoneNumberFormat.E164
    )
    assert text.normalize_phone(raw, "CN") == expected
