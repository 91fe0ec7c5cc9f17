import datetime
from pathlib import Path

import openpyxl
import pytest
from builders import (
    make_html_xls,
    make_text,
    make_xls,
    make_xlsx,
    make_xlsx_with_hidden_sheet,
    make_xml2003_xls,
)

from crm_web.errors import CorruptFileError, UnknownEncodingError
from crm_web.services.importing.detect import detect
from crm_web.services.importing.readers import (
    TruncatedNumber,
    iter_rows,
    sample_rows,
)

HEADER = ["姓名", "公司", "手机", "城市"]
SIMPLIFIED = [
    HEADER,
    ["张三", "北京星辰科技有限公司", "15555500101", "北京"],
    ["李四", "上海海风贸易有限公司", "13800138000", "上海"],
]
TRADITIONAL = [
    ["姓名", "公司", "手機", "城市"],
    ["陳大文", "台北貿易股份有限公司", "0912345678", "台北"],
    ["林美玲", "高雄電子工業公司", "0987654321", "高雄"],
]


def read(path: Path, **overrides) -> list[list]:
    info = detect(path, filename=path.name, **overrides)
    return list(iter_rows(path, info))


# --- text files --------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "encoding", "bom", "delimiter"),
    [
        (SIMPLIFIED, "gbk", False, "\t"),
        (TRADITIONAL, "big5", False, ","),
        (SIMPLIFIED, "utf-8", True, ","),
        (SIMPLIFIED, "utf-16-le", True, "\t"),
        (SIMPLIFIED, "utf-16-le", False, "\t"),
        (SIMPLIFIED, "utf-8", False, ";"),
        (SIMPLIFIED, "utf-8", False, "|"),
    ],
    ids=[
        "gbk-tab",
        "big5-csv",
        "utf8-bom-csv",
        "excel-unicode-text",
        "utf16-no-bom",
        "semicolon",
        "pipe",
    ],
)
def test_text_rows(tmp_path, rows, encoding, bom, delimiter):
    path = make_text(
        tmp_path / "t.txt", rows, encoding=encoding, delimiter=delimiter, bom=bom
    )
    assert read(path) == rows


def test_text_bom_not_in_first_header(tmp_path):
    path = make_text(tmp_path / "t.csv", SIMPLIFIED, bom=True, delimiter=",")
    assert read(path)[0][0] == "姓名"


def test_text_bom_with_encoding_override(tmp_path):
    path = make_text(tmp_path / "t.csv", SIMPLIFIED, bom=True, delimiter=",")
    assert read(path, encoding="utf-8")[0][0] == "姓名"


def test_text_gb18030_only_characters(tmp_path):
    rows = [["姓名", "手机"], ["王𠀀", "13800138000"], ["李㐀", "13900139000"]]
    path = make_text(tmp_path / "t.txt", rows, encoding="gb18030")
    assert read(path) == rows


def test_text_quoted_fields(tmp_path):
    rows = [
        ["姓名", "地址", "备注"],
        ["张三", "北京市朝阳区\n建国路88号, 1号楼", 'He said "hi"'],
        ["李四", "上海", ""],
    ]
    path = make_text(tmp_path / "t.csv", rows, delimiter=",")
    assert read(path) == rows


def test_text_values_kept_as_typed(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(
        "编号,手机,日期,姓名\r\n00123,+86 155 5550 0101,1/2,  张三  \r\n",
        encoding="utf-8",
    )
    assert read(path)[1] == ["00123", "+86 155 5550 0101", "1/2", "张三"]


def test_text_scientific_number_is_truncated(tmp_path):
    path = make_text(
        tmp_path / "t.csv", [["身份证", "手机"], ["1.10101E+17", "15555500101"]]
    )
    rows = read(path)
    assert rows[1] == ["1.10101E+17", "15555500101"]
    assert isinstance(rows[1][0], TruncatedNumber)
    assert not isinstance(rows[1][1], TruncatedNumber)


def test_text_comment_line_is_a_row(tmp_path):
    rows = [["# 带 * 的列必填"], *SIMPLIFIED]
    path = make_text(tmp_path / "t.txt", rows)
    assert read(path)[0] == ["# 带 * 的列必填"]


def test_text_blank_line_keeps_row_numbers(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("姓名\t手机\r\n\r\n张三\t155\r\n\r\n\r\n", encoding="utf-8")
    assert read(path) == [["姓名", "手机"], [], ["张三", "155"]]


def test_text_decode_error_past_sample(tmp_path):
    path = tmp_path / "t.csv"
    body = "姓名,城市\r\n" + "张三,北京\r\n" * 100_000
    path.write_bytes(body.encode("utf-8") + "李四,上海\r\n".encode("gbk"))
    info = detect(path, filename=path.name)
    with pytest.raises(UnknownEncodingError):
        list(iter_rows(path, info))


def test_text_field_over_csv_limit(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('姓名,备注\r\n张三,"' + "x" * 200_000 + "\r\n", encoding="utf-8")
    info = detect(path, filename=path.name)
    with pytest.raises(CorruptFileError):
        list(iter_rows(path, info))


def test_tab_text_named_xls(tmp_path):
    path = make_text(tmp_path / "export.xls", SIMPLIFIED, encoding="gbk")
    assert read(path) == SIMPLIFIED


# --- HTML and XML posing as .xls ------------------------------------------------


def test_html_xls_gbk(tmp_path):
    path = make_html_xls(tmp_path / "bank.xls", SIMPLIFIED, encoding="gbk")
    assert read(path) == SIMPLIFIED


def test_html_xls_title_colspan(tmp_path):
    path = make_html_xls(tmp_path / "bank.xls", SIMPLIFIED, title="2024年客户名单")
    assert read(path)[0] == ["2024年客户名单", "", "", ""]


def test_html_xls_cell_markup(tmp_path):
    rows = [["姓名", "地址"], ["A&B 公司", "北京\n朝阳区"]]
    path = make_html_xls(tmp_path / "bank.xls", rows, encoding="utf-8")
    assert read(path)[1] == ["A&B 公司", "北京\n朝阳区"]


def test_html_xls_scientific_number(tmp_path):
    path = make_html_xls(tmp_path / "bank.xls", [["身份证"], ["1.23457E+17"]])
    assert isinstance(read(path)[1][0], TruncatedNumber)


def test_xml2003_rows(tmp_path):
    rows = [
        ["姓名", "手机", "生日", "积分"],
        ["张三", 5550102, datetime.date(1990, 3, 7), 12.5],
    ]
    path = make_xml2003_xls(tmp_path / "x.xls", rows)
    assert read(path) == [
        ["姓名", "手机", "生日", "积分"],
        ["张三", "00005550102", datetime.date(1990, 3, 7), "12.5"],
    ]


def test_xml2003_skips_hidden_sheet(tmp_path):
    path = make_xml2003_xls(tmp_path / "x.xls", SIMPLIFIED, hidden_first=True)
    assert read(path) == SIMPLIFIED


def test_xml2003_sparse_cells(tmp_path):
    path = tmp_path / "x.xls"
    path.write_text(
        '<?xml version="1.0"?>\n'
        '<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"'
        ' xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet">'
        '<Worksheet ss:Name="S"><Table>'
        '<Row><Cell ss:MergeAcross="2"><Data ss:Type="String">名单</Data></Cell></Row>'
        '<Row ss:Index="3"><Cell><Data ss:Type="String">姓名</Data></Cell>'
        '<Cell ss:Index="3"><Data ss:Type="String">手机</Data></Cell></Row>'
        "</Table></Worksheet></Workbook>",
        encoding="utf-8",
    )
    assert read(path) == [["名单", "", ""], [], ["姓名", "", "手机"]]


# --- Excel workbooks --------------------------------------------------------


def test_xls_real_dates(tmp_path):
    rows = [
        ["姓名", "生日", "拜访时间", "手机", "编号"],
        ["张三", datetime.date(1990, 3, 7), datetime.datetime(2024, 3, 1, 14, 30),
         15555500101, "001"],
    ]  # fmt: skip
    path = make_xls(tmp_path / "old.xls", rows)
    assert read(path)[1] == [
        "张三",
        datetime.date(1990, 3, 7),
        datetime.datetime(2024, 3, 1, 14, 30),
        "15555500101",
        "001",
    ]


STRING_STORAGE = pytest.mark.parametrize(
    "shared_strings", [False, True], ids=["inline-strings", "shared-strings"]
)


@STRING_STORAGE
def test_xlsx_title_row(tmp_path, shared_strings):
    path = make_xlsx(
        tmp_path / "a.xlsx",
        SIMPLIFIED,
        title="2024年客户名单",
        shared_strings=shared_strings,
    )
    rows = read(path)
    assert rows[0] == ["2024年客户名单", "", "", ""]
    assert rows[1] == HEADER


def test_xlsx_phone_stored_as_number(tmp_path):
    path = make_xlsx(tmp_path / "a.xlsx", [["姓名", "手机"], ["张三", 15555500101]])
    assert read(path)[1] == ["张三", "15555500101"]


@pytest.mark.parametrize(
    ("value", "number_format", "expected"),
    [
        (5550102, "00000000000", "00005550102"),
        (80, "000000", "000080"),
        (1234.5, "#,##0.00", "1,234.50"),
        (0.25, "0%", "25%"),
        (15555500101, "General", "15555500101"),
    ],
)
@STRING_STORAGE
def test_xlsx_number_format(tmp_path, value, number_format, expected, shared_strings):
    rows = [["姓名", "值"], ["张三", value], ["李四", value]]
    path = make_xlsx(
        tmp_path / "a.xlsx",
        rows,
        number_formats={1: number_format},
        shared_strings=shared_strings,
    )
    assert [row[1] for row in read(path)[1:]] == [expected, expected]


def test_xlsx_format_sampled_per_column(tmp_path):
    rows = [["手机", "邮编"], [5550102, 80]]
    formats = {0: "00000000000", 1: "000000"}
    path = make_xlsx(tmp_path / "a.xlsx", rows, number_formats=formats)
    assert read(path)[1] == ["00005550102", "000080"]


def test_xlsx_long_id_is_truncated(tmp_path):
    path = make_xlsx(tmp_path / "a.xlsx", [["身份证"], [110101199003071234]])
    cell = read(path)[1][0]
    assert isinstance(cell, TruncatedNumber)
    assert cell == "110101199003071000"


def test_xlsx_dates_and_times(tmp_path):
    rows = [
        ["生日", "拜访", "时刻"],
        [datetime.date(1990, 3, 7), datetime.datetime(2024, 3, 1, 14, 30),
         datetime.time(9, 15)],
    ]  # fmt: skip
    path = make_xlsx(tmp_path / "a.xlsx", rows)
    assert read(path)[1] == [
        datetime.date(1990, 3, 7),
        datetime.datetime(2024, 3, 1, 14, 30),
        datetime.time(9, 15),
    ]


def test_xlsx_duration_and_boolean(tmp_path):
    rows = [["时长", "已成交"], [datetime.timedelta(hours=36, minutes=30), True]]
    path = make_xlsx(tmp_path / "a.xlsx", rows)
    assert read(path)[1] == ["36:30:00", "TRUE"]


def test_xlsx_serial_number_stays_number(tmp_path):
    path = make_xlsx(tmp_path / "a.xlsx", [["生日"], [45352]])
    assert read(path)[1] == ["45352"]


@STRING_STORAGE
def test_xlsx_huge_declared_dimension(tmp_path, shared_strings):
    rows = [HEADER, *SIMPLIFIED[1:], ["王五", "某公司", 13700137000, "广州"]]
    path = make_xlsx(
        tmp_path / "a.xlsx",
        rows,
        declared_dimension="A1:Z1048576",
        shared_strings=shared_strings,
    )
    assert read(path) == [*SIMPLIFIED, ["王五", "某公司", "13700137000", "广州"]]


def test_xlsx_keeps_sheet_positions(tmp_path):
    path = tmp_path / "a.xlsx"
    book = openpyxl.Workbook()
    book.active["B3"] = "姓名"
    book.active["B5"] = "张三"
    book.save(path)
    assert read(path) == [["", ""], ["", ""], ["", "姓名"], ["", ""], ["", "张三"]]


def test_xlsx_trailing_blank_rows_dropped(tmp_path):
    path = tmp_path / "a.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["姓名"])
    book.active["A4"] = "   "
    book.save(path)
    assert read(path) == [["姓名"]]


def test_xlsx_first_visible_sheet(tmp_path):
    path = make_xlsx_with_hidden_sheet(tmp_path / "a.xlsx", SIMPLIFIED, [["秘密"]])
    assert read(path) == SIMPLIFIED


def test_xlsx_named_sheet(tmp_path):
    path = make_xlsx_with_hidden_sheet(tmp_path / "a.xlsx", SIMPLIFIED, [["秘密"]])
    info = detect(path, filename=path.name)
    assert list(iter_rows(path, info, sheet="Hidden")) == [["秘密"]]


def test_xlsx_unknown_sheet(tmp_path):
    path = make_xlsx(tmp_path / "a.xlsx", SIMPLIFIED)
    info = detect(path, filename=path.name)
    with pytest.raises(ValueError, match="Missing"):
        list(iter_rows(path, info, sheet="Missing"))


def test_sample_rows_limit(tmp_path):
    rows = [HEADER] + [[f"客户{i}", "公司", "155", "北京"] for i in range(100)]
    path = make_xlsx(tmp_path / "a.xlsx", rows)
    info = detect(path, filename=path.name)
    sample = sample_rows(path, info, limit=5)
    assert len(sample) == 5
    assert sample[4] == ["客户3", "公司", "155", "北京"]


def test_sample_rows_text(tmp_path):
    path = make_text(tmp_path / "t.txt", SIMPLIFIED)
    info = detect(path, filename=path.name)
    assert sample_rows(path, info, limit=2) == SIMPLIFIED[:2]
