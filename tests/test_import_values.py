import datetime

import pytest

from crm_web.services.importing.values import (
    TruncatedNumber,
    cell_to_date,
    number_to_text,
    parse_date,
    parse_datetime,
    parse_time,
    text_to_cell,
)

BEIJING = datetime.timezone(datetime.timedelta(hours=8))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (15555500101.0, "15555500101"),
        (15555500101, "15555500101"),
        (110101199003071234, "110101199003071234"),
        (0.1, "0.1"),
        (1234.5, "1234.5"),
        (1e-07, "0.0000001"),
        (-5.25, "-5.25"),
        (0.0, "0"),
        (999999999999999.0, "999999999999999"),
        (0.1 + 0.2, "0.3"),
    ],
)
def test_number_general(value, expected):
    text = number_to_text(value)
    assert text == expected
    assert not isinstance(text, TruncatedNumber)


@pytest.mark.parametrize(
    ("value", "number_format", "expected"),
    [
        (5550102.0, "00000000000", "00005550102"),
        (100080.0, "000000", "100080"),
        (80.0, "000000", "000080"),
        (-123.0, "000000", "-000123"),
        (12.0, "0.00", "12.00"),
        (2.665, "0.00", "2.67"),
        (1234.5, "#,##0", "1,235"),
        (1234567.891, "#,##0.00", "1,234,567.89"),
        (0.125, "0%", "13%"),
        (0.1255, "0.0%", "12.6%"),
        (1234.5, "0.00_ ", "1234.50"),
        (15555500101.0, "General", "15555500101"),
        (15555500101.0, "@", "15555500101"),
        (15555500101.0, None, "15555500101"),
        (15555500101.0, "0.00E+00", "15555500101"),
        (5.0, "[Red]0", "5"),
        (5.0, '"$"#,##0', "5"),
        (45352.0, "yyyy-mm-dd", "45352"),
    ],
)
def test_number_with_format(value, number_format, expected):
    assert number_to_text(value, number_format) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (110101199003071234.0, "110101199003071000"),
        (123456789012345678.0, "123456789012346000"),
        (1000000000000000.0, "1000000000000000"),
        (-1234567890123456.0, "-1234567890123460"),
    ],
)
def test_number_truncated_by_excel(value, expected):
    text = number_to_text(value, "00000000000")
    assert isinstance(text, TruncatedNumber)
    assert text == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("  00123 ", "00123"),
        ("+86 155 5550 0101", "+86 155 5550 0101"),
        ("1/2", "1/2"),
        ("\ufeff姓名", "姓名"),
        ("1.5e-3", "1.5e-3"),
    ],
)
def test_text_cell_kept_as_typed(typed, expected):
    cell = text_to_cell(typed)
    assert cell == expected
    assert not isinstance(cell, TruncatedNumber)


@pytest.mark.parametrize("typed", ["1.10101E+17", "1.23457E+17", "4.6E+15", "2e+11"])
def test_text_cell_scientific_is_truncated(typed):
    cell = text_to_cell(typed)
    assert isinstance(cell, TruncatedNumber)
    assert cell == typed


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2024-03-01", datetime.date(2024, 3, 1)),
        ("2024/3/1", datetime.date(2024, 3, 1)),
        ("2024.03.01", datetime.date(2024, 3, 1)),
        ("2024年3月1日", datetime.date(2024, 3, 1)),
        ("2024年03月01号", datetime.date(2024, 3, 1)),
        ("２０２４年３月１日", datetime.date(2024, 3, 1)),
        ("20240301", datetime.date(2024, 3, 1)),
        (" 2024-03-01 ", datetime.date(2024, 3, 1)),
        ("13/1/2024", datetime.date(2024, 1, 13)),
        ("1/13/2024", datetime.date(2024, 1, 13)),
        ("3/3/2024", datetime.date(2024, 3, 3)),
    ],
)
def test_parse_date(typed, expected):
    assert parse_date(typed) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "3/1/2024",  # 1 March in the US, 3 January elsewhere
        "1/2",
        "2024-02-30",
        "2024-3",
        "18991231",
        "21010101",
        "20241301",
        "12345678",
        "45352",
        "24-03-01",
        "2024-03-01 14:30",
        "",
        "张三",
    ],
)
def test_parse_date_rejects(typed):
    assert parse_date(typed) is None


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("14:30", datetime.time(14, 30)),
        ("14:30:15", datetime.time(14, 30, 15)),
        ("9:05", datetime.time(9, 5)),
        ("下午2:30", datetime.time(14, 30)),
        ("下午 2:30", datetime.time(14, 30)),
        ("上午9点", datetime.time(9, 0)),
        ("晚上8点半", datetime.time(20, 30)),
        ("9点15分", datetime.time(9, 15)),
        ("中午12点", datetime.time(12, 0)),
        ("中午1点", datetime.time(13, 0)),
        ("凌晨12点", datetime.time(0, 0)),
        ("2:30 PM", datetime.time(14, 30)),
        ("2:30pm", datetime.time(14, 30)),
        ("12:00 AM", datetime.time(0, 0)),
        ("12:15 PM", datetime.time(12, 15)),
        ("11:59 a.m.", datetime.time(11, 59)),
    ],
)
def test_parse_time(typed, expected):
    assert parse_time(typed) == expected


@pytest.mark.parametrize("typed", ["25:00", "14:60", "13:00 PM", "1430", "Sam", ""])
def test_parse_time_rejects(typed):
    assert parse_time(typed) is None


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2024/3/1 下午2:30", datetime.datetime(2024, 3, 1, 14, 30)),
        ("2024-03-01 14:30:00", datetime.datetime(2024, 3, 1, 14, 30)),
        ("2024-03-01T14:30:00", datetime.datetime(2024, 3, 1, 14, 30)),
        ("2024年3月1日 14:30", datetime.datetime(2024, 3, 1, 14, 30)),
        ("2024年3月1日14:30", datetime.datetime(2024, 3, 1, 14, 30)),
        ("2024-03-01 2:30 PM", datetime.datetime(2024, 3, 1, 14, 30)),
        (
            "2024-03-01T14:30:00+08:00",
            datetime.datetime(2024, 3, 1, 14, 30, tzinfo=BEIJING),
        ),
    ],
)
def test_parse_datetime(typed, expected):
    assert parse_datetime(typed) == expected


@pytest.mark.parametrize(
    "typed", ["2024-03-01", "3/1/2024 14:30", "14:30", "张三 14:30"]
)
def test_parse_datetime_rejects(typed):
    assert parse_datetime(typed) is None


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (datetime.date(2024, 3, 1), datetime.date(2024, 3, 1)),
        (datetime.datetime(2024, 3, 1, 14, 30), datetime.date(2024, 3, 1)),
        ("2024/3/1", datetime.date(2024, 3, 1)),
        ("2024/3/1 下午2:30", datetime.date(2024, 3, 1)),
        (datetime.time(14, 30), None),
        ("45352", None),
        ("", None),
        (TruncatedNumber("20240301"), None),
    ],
)
def test_cell_to_date(cell, expected):
    assert cell_to_date(cell) == expected
