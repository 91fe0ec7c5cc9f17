"""Import rules: duplicates, policies, all-or-nothing, rejected file, undo."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from builders import make_text, make_xlsx

from crm_web.data import contacts as contact_data
from crm_web.data.db import Database
from crm_web.services import contacts as contact_service
from crm_web.services.contact_export import contacts_for_query
from crm_web.services.importing import pipeline


def run_import(
    db: Database, path: Path, policy: str = "update", **options: Any
) -> pipeline.ImportSummary:
    return pipeline.import_file(
        db,
        path,
        policy=policy,
        owner="Admin",
        region="CN",
        work_dir=path.parent / "work",
        **options,
    )


def records(db: Database) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in contacts_for_query(db)}


def add(db: Database, **values: str) -> int:
    return contact_service.create_contact(
        db,
        contact_service.parse_form(values),
        owner="Admin",
        region="CN",
        allow_duplicate=True,
    )


@pytest.fixture
def sheet(tmp_path: Path) -> Path:
    return make_xlsx(
        tmp_path / "list.xlsx",
        [
            ["姓名", "手机", "城市", "邮箱"],
            ["张小明", "+86 138-0013-8000", "宁波", ""],
            ["李华", "", "义乌", "LI@EXAMPLE.COM"],
        ],
    )


def test_update_fills_only_empty_fields(db: Database, sheet: Path) -> None:
    add(db, name="张小明", mobile="13800138000", city="杭州")
    summary = run_import(db, sheet, "update")
    found = records(db)
    assert (summary.inserted, summary.updated, summary.skipped) == (1, 0, 1)
    assert found["张小明"]["city"] == "杭州"


def test_overwrite_replaces_stored_fields(db: Database, sheet: Path) -> None:
    add(db, name="张小明", mobile="13800138000", city="杭州")
    summary = run_import(db, sheet, "overwrite")
    assert summary.updated == 1
    assert records(db)["张小明"]["city"] == "宁波"


def test_skip_leaves_stored_contact(db: Database, sheet: Path) -> None:
    add(db, name="张小明", mobile="13800138000")
    summary = run_import(db, sheet, "skip")
    assert (summary.inserted, summary.skipped) == (1, 1)
    assert records(db)["张小明"]["city"] == ""


def test_create_adds_second_card(db: Database, sheet: Path) -> None:
    add(db, name="张小明", mobile="13800138000")
    summary = run_import(db, sheet, "create")
    assert summary.inserted == 2
    assert len(list(contacts_for_query(db, "张小明"))) == 2


def test_email_match_ignores_case(db: Database, sheet: Path) -> None:
    add(db, name="李华", email="li@example.com")
    summary = run_import(db, sheet, "update")
    assert summary.updated == 1
    assert records(db)["李华"]["city"] == "义乌"


def test_duplicates_inside_file_merge(db: Database, tmp_path: Path) -> None:
    path = make_text(
        tmp_path / "dups.txt",
        [
            ["姓名", "手机", "城市", "QQ"],
            ["王五", "13900001111", "宁波", ""],
            ["王五", "139 0000 1111", "", "12345"],
        ],
    )
    summary = run_import(db, path, "update")
    found = records(db)
    assert summary.inserted == 1
    assert summary.updated == 1
    assert found["王五"]["qq"] == "12345"
    assert found["王五"]["city"] == "宁波"


def test_rows_without_phone_or_email_match_by_name(
    db: Database, tmp_path: Path
) -> None:
    path = make_text(tmp_path / "names.txt", [["姓名", "公司"], ["赵六", "东方"]])
    run_import(db, path)
    summary = run_import(db, path)
    assert summary.inserted == 0
    assert len(records(db)) == 1


def test_rejected_rows_file_keeps_layout(db: Database, tmp_path: Path) -> None:
    path = make_xlsx(
        tmp_path / "bad.xlsx",
        [
            ["姓名", "生日", "身份证号"],
            ["好人", datetime.date(1990, 1, 2), "110101199003071234"],
            ["长号码", "", 110101199003071234],
            ["", "", ""],
            ["", "", "无名"],
        ],
    )
    summary = run_import(db, path)
    assert (summary.inserted, summary.rejected) == (1, 2)
    assert summary.rejected_file is not None
    sheet = openpyxl.load_workbook(summary.rejected_file).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0][:3] == ["姓名", "生日", "身份证号"]
    assert rows[1][0] == "长号码"
    assert "Excel" in rows[1][3]
    assert rows[2][2] == "无名"
    assert len(rows) == 3


def test_bad_birthday_kept_as_extra_with_warning(db: Database, tmp_path: Path) -> None:
    path = make_text(
        tmp_path / "d.txt",
        [["姓名", "生日"], ["坏日期", "3月1日"], ["无生日", "0/0/00"]],
    )
    summary = run_import(db, path)
    found = records(db)
    assert summary.inserted == 2
    assert summary.warnings == 1
    assert found["坏日期"]["birthday"] == ""
    assert found["坏日期"]["extra"] == {"生日": "3月1日"}
    assert found["无生日"]["extra"] == {}


def test_rejected_file_reimports_after_fix(db: Database, tmp_path: Path) -> None:
    path = make_text(tmp_path / "bad.txt", [["姓名", "手机"], ["", "13800000001"]])
    summary = run_import(db, path)
    assert summary.rejected_file is not None
    fixed = summary.rejected_file.read_text(encoding="utf-8-sig").replace(
        "\t13800000001", "补上姓名\t13800000001", 1
    )
    summary.rejected_file.write_text(fixed, encoding="utf-8-sig")
    again = run_import(db, summary.rejected_file)
    assert again.inserted == 1
    assert records(db)["补上姓名"]["mobile"] == "13800000001"


def test_taobao_text_formula_is_unwrapped(db: Database, tmp_path: Path) -> None:
    path = make_text(
        tmp_path / "q.csv",
        [
            ["收货人姓名", "联系手机", "订单编号"],
            ["钟女士", '="13987654323"', '="2394827349823498236"'],
        ],
        delimiter=",",
    )
    run_import(db, path)
    found = records(db)["钟女士"]
    assert found["mobile"] == "13987654323"
    assert found["extra"] == {"订单编号": "2394827349823498236"}


def test_name_parts_are_joined(db: Database, tmp_path: Path) -> None:
    path = make_text(
        tmp_path / "o.csv",
        [["Title", "First Name", "Last Name"], ["Mr.", "Ahmed", "Al-Farsi"]],
        delimiter=",",
    )
    run_import(db, path)
    assert records(db)["Ahmed Al-Farsi"]["extra"] == {"Title": "Mr."}


def test_family_emoji_survives(db: Database, tmp_path: Path) -> None:
    path = make_text(tmp_path / "e.txt", [["姓名"], ["👨\u200d👩\u200d👧 家庭"]])
    run_import(db, path)
    assert "👨\u200d👩\u200d👧 家庭" in records(db)


def test_failure_midway_leaves_database_unchanged(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add(db, name="原有", mobile="13700000000")
    rows = [["姓名", "手机"]] + [[f"人{i}", f"1380000{i:04d}"] for i in range(2500)]
    path = make_text(tmp_path / "big.txt", rows)
    original = pipeline._ImportRun._insert
    calls = {"n": 0}

    def failing_insert(self: Any, row: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2200:
            raise RuntimeError("disk full")
        original(self, row)

    monkeypatch.setattr(pipeline._ImportRun, "_insert", failing_insert)
    with pytest.raises(RuntimeError):
        run_import(db, path)
    assert list(records(db)) == ["原有"]
    assert pipeline.import_data.find_imports(db) == []


def test_undo_removes_inserted_and_restores_updated(db: Database, sheet: Path) -> None:
    add(db, name="张小明", mobile="13800138000", city="杭州")
    summary = run_import(db, sheet, "overwrite")
    pipeline.undo_import(db, summary.import_uuid, region="CN")
    found = records(db)
    assert list(found) == ["张小明"]
    assert found["张小明"]["city"] == "杭州"
    assert (
        contact_service.find_duplicates(
            db,
            contact_service.parse_form({"name": "x", "mobile": "13800138000"}),
            region="CN",
        )[0]["city"]
        == "杭州"
    )


def test_undo_twice_is_refused(db: Database, sheet: Path) -> None:
    summary = run_import(db, sheet)
    pipeline.undo_import(db, summary.import_uuid, region="CN")
    with pytest.raises(Exception, match="already undone"):
        pipeline.undo_import(db, summary.import_uuid, region="CN")


def test_unmapped_columns_kept_as_extra(db: Database, tmp_path: Path) -> None:
    path = make_text(
        tmp_path / "x.txt",
        [
            ["姓名", "客户联系电话（办公室）", "客户联系电话（家庭）", ""],
            ["张三", "111", "222", "无标题值"],
        ],
    )
    run_import(db, path)
    extra = records(db)["张三"]["extra"]
    assert extra["客户联系电话（办公室）"] == "111"
    assert extra["客户联系电话（家庭）"] == "222"
    assert extra["Column 4"] == "无标题值"


def test_mapping_to_notes(db: Database, tmp_path: Path) -> None:
    path = make_text(tmp_path / "x.txt", [["姓名", "订单号"], ["张三", "0012345"]])
    plan = pipeline.plan_import(path, mapping=["name", "notes+"])
    run_import(db, path, plan=plan)
    assert records(db)["张三"]["notes"] == "订单号: 0012345"


def test_category_column_creates_category(db: Database, tmp_path: Path) -> None:
    path = make_text(
        tmp_path / "x.txt", [["姓名", "分类"], ["张三", "展会"], ["李四", "展会"]]
    )
    run_import(db, path)
    found = records(db)
    assert found["张三"]["category"] == "展会"
    assert found["李四"]["category"] == "展会"


def test_preview_matches_stored_values(db: Database, sheet: Path) -> None:
    add(db, name="李华", email="li@example.com")
    plan = pipeline.plan_import(sheet)
    rows = pipeline.preview(db, plan, policy="update", region="CN")
    assert [r.action for r in rows] == ["insert", "update"]
    assert rows[0].row.contact is not None
    assert rows[0].row.contact.values["mobile"] == "+86 138-0013-8000"


def test_formula_guard_removed_from_text_sources(db: Database, tmp_path: Path) -> None:
    path = make_text(
        tmp_path / "x.csv", [["姓名", "备注"], ["张三", "'=1+1"]], delimiter=","
    )
    run_import(db, path)
    assert records(db)["张三"]["notes"] == "=1+1"


def test_import_stamps_record_columns(db: Database, sheet: Path) -> None:
    summary = run_import(db, sheet)
    row = contact_data.find_match_keys(db)[0]
    full = contact_data.get_contact_by_uuid(db, row["uuid"])
    assert full is not None
    assert full["import_uuid"] == summary.import_uuid
    assert full["version"] == 1
    assert full["owner"] == "Admin"


@pytest.mark.parametrize("kind", ["xlsx", "txt"])
def test_template_maps_every_column(kind: str, tmp_path: Path) -> None:
    from crm_web.services.fields import FIELD_NAMES
    from crm_web.services.templates_files import write_template

    path = tmp_path / f"template.{kind}"
    write_template(path, kind)
    plan = pipeline.plan_import(path)
    assert plan.mapping == list(FIELD_NAMES)


def test_template_example_row_skipped(db: Database, tmp_path: Path) -> None:
    from crm_web.services.templates_files import write_template

    path = tmp_path / "template.xlsx"
    write_template(path, "xlsx")
    summary = run_import(db, path)
    assert (summary.inserted, summary.skipped, summary.rejected) == (0, 1, 0)


def test_total_row_skipped(db: Database, tmp_path: Path) -> None:
    path = make_xlsx(
        tmp_path / "t.xlsx",
        [["客户名称", "成交金额"], ["东方贸易", 100], ["合计", 100]],
    )
    summary = run_import(db, path)
    assert (summary.inserted, summary.skipped) == (1, 1)
    assert list(records(db)) == [""]


def test_preview_names_card_and_unchanged(db: Database, tmp_path: Path) -> None:
    add(db, name="张小明", company="东方", mobile="13800138000", city="宁波")
    path = make_text(
        tmp_path / "p.txt",
        [
            ["姓名", "手机", "城市"],
            ["甲一", "138 0013 8000", "宁波"],
            ["乙", "13800138000", "杭州"],
        ],
    )
    rows = pipeline.preview(
        db, pipeline.plan_import(path), policy="overwrite", region="CN"
    )
    assert [r.action for r in rows] == ["update", "update"]
    assert rows[0].note == "张小明 (东方)"
    rows = pipeline.preview(
        db, pipeline.plan_import(path), policy="update", region="CN"
    )
    assert [r.action for r in rows] == ["skip", "skip"]
    assert rows[1].note == "no change to 张小明 (东方)"


@pytest.mark.parametrize("kind", ["txt", "xlsx"])
def test_progress_reports_estimated_total(
    db: Database, tmp_path: Path, kind: str
) -> None:
    rows = [["姓名", "手机"]] + [[f"人{i}", f"1390000{i:04d}"] for i in range(1200)]
    if kind == "txt":
        path = make_text(tmp_path / "many.txt", rows)
    else:
        path = make_xlsx(tmp_path / "many.xlsx", rows, title="名单")
    calls: list[tuple[int, int]] = []
    run_import(db, path, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (1000, 1200)


def test_undo_trashes_contacts_edited_since(db: Database, tmp_path: Path) -> None:
    path = make_text(
        tmp_path / "x.txt",
        [["姓名", "手机"], ["甲", "13588880001"], ["乙", "13588880002"]],
    )
    summary = run_import(db, path)
    edited = contact_service.find_duplicates(
        db,
        contact_service.parse_form({"name": "x", "mobile": "13588880001"}),
        region="CN",
    )[0]
    form = contact_service.parse_form(
        {"name": "甲", "mobile": "13588880001", "notes": "下周下单"}
    )
    contact_service.update_contact(db, edited["id"], form, version=1, region="CN")
    result = pipeline.undo_import(db, summary.import_uuid, region="CN")
    assert (result.removed, result.trashed) == (1, 1)
    assert list(records(db)) == []
    trashed = contact_data.find_deleted(db, limit=10, offset=0)
    assert [t["notes"] for t in trashed] == ["下周下单"]


def test_undo_keeps_fields_edited_since(db: Database, tmp_path: Path) -> None:
    contact_id = add(db, name="孙悟空", mobile="13312345678")
    path = make_text(
        tmp_path / "x.txt",
        [["姓名", "手机", "QQ", "城市"], ["孙悟空", "13312345678", "99999", "花果山"]],
    )
    summary = run_import(db, path)
    row = contact_data.get_contact(db, contact_id)
    assert row is not None
    values = {**{k: row[k] for k in ("name", "mobile", "city")}, "qq": "88888888"}
    contact_service.update_contact(
        db,
        contact_id,
        contact_service.parse_form(values),
        version=row["version"],
        region="CN",
    )
    result = pipeline.undo_import(db, summary.import_uuid, region="CN")
    after = contact_data.get_contact(db, contact_id)
    assert after is not None
    assert after["qq"] == "88888888"
    assert after["city"] == ""
    assert result.kept_fields == 1
