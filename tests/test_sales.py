"""Sales records through the service layer, on SQLite and on MariaDB."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from crm_web.data import sales as sale_data
from crm_web.data.db import Database
from crm_web.errors import VersionConflictError
from crm_web.services import contacts as contact_service
from crm_web.services import money, sales_contacts
from crm_web.services import sales as sale_service
from crm_web.services.sales import SaleFilters, SaleInvalidError


def add_contact(db: Database, **values: str) -> str:
    contact = contact_service.parse_form(values)
    contact_id = contact_service.create_contact(
        db, contact, owner="Test", region="CN", allow_duplicate=True
    )
    return str(contact_service.require_contact(db, contact_id)["uuid"])


def add_sale(db: Database, **values: Any) -> int:
    form = {"sold_on": "2026-03-15", "currency": "CNY", "status": "ordered", **values}
    sale = sale_service.parse_form(form)
    return sale_service.create_sale(db, sale, owner="Test")


def stored(db: Database, sale_id: int) -> dict[str, Any]:
    return sale_service.require_sale(db, sale_id)


def ids(rows: list[dict[str, Any]]) -> list[int]:
    return [row["id"] for row in rows]


# --- money rules ---------------------------------------------------------------


def test_amount_is_quantity_times_price(db: Database) -> None:
    sale_id = add_sale(db, quantity="2.5", unit_price="19.99")
    row = stored(db, sale_id)
    assert row["quantity_milli"] == 2500
    assert row["unit_price_micro"] == 19_990_000
    assert row["amount_minor"] == 4998


def test_typed_amount_is_kept(db: Database) -> None:
    sale_id = add_sale(db, quantity="3", unit_price="100", amount="280")
    assert stored(db, sale_id)["amount_minor"] == 28000


def test_large_amount_stays_exact(db: Database) -> None:
    # MySQL FLOAT would read 1234567.89 back as 1234570.
    sale_id = add_sale(db, quantity="1", unit_price="1,234,567.89")
    assert stored(db, sale_id)["amount_minor"] == 123456789


def test_yen_amount_has_no_minor_unit(db: Database) -> None:
    sale_id = add_sale(db, quantity="3", unit_price="1,500", currency="JPY")
    assert stored(db, sale_id)["amount_minor"] == 4500


def test_too_many_decimals_rejected(db: Database) -> None:
    with pytest.raises(SaleInvalidError) as caught:
        add_sale(db, quantity="1", unit_price="0.0000001")
    assert "“0.0000001”" in caught.value.errors["unit_price"]
    assert "at most 6 decimal places" in caught.value.errors["unit_price"]


def test_amount_too_many_decimals_rejected(db: Database) -> None:
    with pytest.raises(SaleInvalidError) as caught:
        add_sale(db, quantity="1", unit_price="1", amount="12.345")
    assert "“12.345”" in caught.value.errors["amount"]


@pytest.mark.parametrize(
    ("quantity", "price", "currency", "micro", "amount"),
    [
        ("1000", "0.035", "USD", 35_000, 3500),
        ("1,000", "$0.035", "USD", 35_000, 3500),
        ("１０００", "０.０３５", "USD", 35_000, 3500),
        ("800", "¥0.0125", "CNY", 12_500, 1000),
        ("3", "0.125", "CNY", 125_000, 38),
        ("3", "0.5", "JPY", 500_000, 2),
        ("2", "12.345 ", "CNY", 12_345_000, 2469),
    ],
)
def test_fine_unit_price_stored_exactly(
    db: Database, quantity: str, price: str, currency: str, micro: int, amount: int
) -> None:
    sale_id = add_sale(db, quantity=quantity, unit_price=price, currency=currency)
    row = stored(db, sale_id)
    assert row["unit_price_micro"] == micro
    assert row["amount_minor"] == amount


def test_blank_quantity_and_price_stay_blank(db: Database) -> None:
    row = stored(db, add_sale(db, item="Samples", quantity="", unit_price=" "))
    assert row["quantity_milli"] is None
    assert row["unit_price_micro"] is None
    assert row["amount_minor"] is None


def test_blank_quantity_keeps_typed_amount(db: Database) -> None:
    row = stored(db, add_sale(db, unit_price="0.035", amount="120"))
    assert row["quantity_milli"] is None
    assert row["unit_price_micro"] == 35_000
    assert row["amount_minor"] == 12000


def test_blank_price_without_amount_is_blank(db: Database) -> None:
    row = stored(db, add_sale(db, quantity="5"))
    assert row["quantity_milli"] == 5000
    assert row["unit_price_micro"] is None
    assert row["amount_minor"] is None


def test_zero_quantity_is_not_blank(db: Database) -> None:
    row = stored(db, add_sale(db, quantity="0", unit_price="10"))
    assert row["quantity_milli"] == 0
    assert row["amount_minor"] == 0


def test_huge_line_amount_rejected(db: Database) -> None:
    with pytest.raises(SaleInvalidError) as caught:
        add_sale(db, quantity="999,999,999,999", unit_price="999,999,999,999")
    assert "too large" in caught.value.errors["amount"]


def test_missing_date_rejected(db: Database) -> None:
    with pytest.raises(SaleInvalidError) as caught:
        add_sale(db, sold_on="")
    assert "sold_on" in caught.value.errors


def test_unknown_status_rejected(db: Database) -> None:
    with pytest.raises(SaleInvalidError) as caught:
        add_sale(db, status="lost")
    assert "“lost”" in caught.value.errors["status"]


def test_full_width_space_folded_on_save(db: Database) -> None:
    sale_id = add_sale(db, item="\u3000钢材\u3000 A ", custom1=" 微信\u3000支付 ")
    row = stored(db, sale_id)
    assert row["item"] == "钢材 A"
    assert row["custom1"] == "微信 支付"


# --- editing -------------------------------------------------------------------


def plain(convert: Callable[[int], str], value: int | None) -> str:
    return "" if value is None else convert(value)


def edit(db: Database, sale_id: int, **changes: str) -> None:
    row = stored(db, sale_id)
    form = {
        "sold_on": row["sold_on"].isoformat(),
        "currency": row["currency"],
        "status": row["status"],
        "item": row["item"],
        "quantity": plain(money.plain_quantity, row["quantity_milli"]),
        "unit_price": plain(
            lambda micro: money.plain_unit_price(micro, row["currency"]),
            row["unit_price_micro"],
        ),
        "amount": plain(
            lambda minor: money.plain_money(minor, row["currency"]),
            row["amount_minor"],
        ),
        **changes,
    }
    sale = sale_service.parse_form(form)
    sale_service.update_sale(db, sale_id, sale, version=row["version"], owner="Test")


def test_edit_stores_amount_as_submitted(db: Database) -> None:
    # The amount in the box is saved. The page's script keeps it in
    # step with quantity × unit price until the user types over it.
    sale_id = add_sale(db, quantity="2", unit_price="10")
    edit(db, sale_id, quantity="3")
    assert stored(db, sale_id)["amount_minor"] == 2000


def test_edit_keeps_typed_amount_when_quantity_changes(db: Database) -> None:
    sale_id = add_sale(db, quantity="2", unit_price="100", amount="150")
    edit(db, sale_id, quantity="4")
    assert stored(db, sale_id)["amount_minor"] == 15000


def test_edit_blank_amount_recomputed(db: Database) -> None:
    sale_id = add_sale(db, quantity="2", unit_price="100", amount="150")
    edit(db, sale_id, quantity="4", amount="")
    assert stored(db, sale_id)["amount_minor"] == 40000


def test_edit_keeps_typed_amount_when_inputs_unchanged(db: Database) -> None:
    sale_id = add_sale(db, quantity="2", unit_price="10", amount="18")
    edit(db, sale_id, notes="discount agreed")
    assert stored(db, sale_id)["amount_minor"] == 1800


def test_edit_takes_newly_typed_amount(db: Database) -> None:
    sale_id = add_sale(db, quantity="2", unit_price="10")
    edit(db, sale_id, quantity="3", amount="25")
    assert stored(db, sale_id)["amount_minor"] == 2500


def test_edit_blanking_quantity_keeps_amount(db: Database) -> None:
    sale_id = add_sale(db, quantity="2", unit_price="10")
    edit(db, sale_id, quantity="")
    row = stored(db, sale_id)
    assert row["quantity_milli"] is None
    assert row["amount_minor"] == 2000


def test_edit_blank_record_stays_blank(db: Database) -> None:
    sale_id = add_sale(db, item="Samples")
    edit(db, sale_id, notes="sent by courier")
    row = stored(db, sale_id)
    assert row["quantity_milli"] is None
    assert row["unit_price_micro"] is None
    assert row["amount_minor"] is None


def test_edit_filling_blank_price_computes_amount(db: Database) -> None:
    sale_id = add_sale(db, quantity="1000")
    edit(db, sale_id, unit_price="0.035", currency="USD")
    assert stored(db, sale_id)["amount_minor"] == 3500


def test_edit_bumps_version(db: Database) -> None:
    sale_id = add_sale(db, quantity="1", unit_price="1")
    edit(db, sale_id, item="new")
    assert stored(db, sale_id)["version"] == 2


def test_stale_version_conflicts(db: Database) -> None:
    sale_id = add_sale(db, item="A")
    sale = sale_service.parse_form({"sold_on": "2026-03-15", "item": "B"})
    sale_service.update_sale(db, sale_id, sale, version=1, owner="Test")
    with pytest.raises(VersionConflictError):
        sale_service.update_sale(db, sale_id, sale, version=1, owner="Test")


# --- trash -----------------------------------------------------------------------


def test_deleted_record_leaves_list(db: Database) -> None:
    kept, gone = add_sale(db, item="kept"), add_sale(db, item="gone")
    sale_service.set_deleted(db, gone, deleted=True)
    rows, total = sale_service.list_sales(
        db, SaleFilters(), sort="sold_on", descending=True, page=1, page_size=50
    )
    assert ids(rows) == [kept]
    assert total == 1


def test_restored_record_returns(db: Database) -> None:
    sale_id = add_sale(db)
    sale_service.set_deleted(db, sale_id, deleted=True)
    sale_service.set_deleted(db, sale_id, deleted=False)
    row = stored(db, sale_id)
    assert row["deleted"] is False or row["deleted"] == 0
    assert row["deleted_at"] is None


# --- pick lists ------------------------------------------------------------------


def values_of(db: Database, kind: str) -> list[str]:
    return [row["value"] for row in sale_service.pick_values(db, kind)]


def test_new_item_joins_pick_list(db: Database) -> None:
    add_sale(db, item="Steel pipe", service_type="Installation")
    assert values_of(db, "item") == ["Steel pipe"]
    assert values_of(db, "service_type") == ["Installation"]


def test_case_variant_not_added_twice(db: Database) -> None:
    add_sale(db, item="Steel pipe")
    add_sale(db, item="STEEL PIPE")
    assert values_of(db, "item") == ["Steel pipe"]


def test_rename_pick_value_renames_records(db: Database) -> None:
    sale_id = add_sale(db, item="Stel pipe")
    entry = sale_service.pick_values(db, "item")[0]
    changed = sale_service.rename_pick_value(db, entry["uuid"], "Steel pipe")
    assert changed == 1
    assert stored(db, sale_id)["item"] == "Steel pipe"
    assert values_of(db, "item") == ["Steel pipe"]


def test_removed_pick_value_kept_in_records(db: Database) -> None:
    sale_id = add_sale(db, item="Old item")
    entry = sale_service.pick_values(db, "item")[0]
    sale_service.remove_pick_value(db, entry["uuid"])
    assert values_of(db, "item") == []
    assert stored(db, sale_id)["item"] == "Old item"


def test_duplicate_pick_value_rejected(db: Database) -> None:
    sale_service.add_pick_value(db, "item", "Pipe", owner="Test")
    with pytest.raises(Exception, match="already"):
        sale_service.add_pick_value(db, "item", " pipe ", owner="Test")


# --- contacts --------------------------------------------------------------------


def test_sales_for_contact_newest_first(db: Database) -> None:
    uuid = add_contact(db, name="张小明", mobile="13812345678")
    older = add_sale(db, contact_uuid=uuid, sold_on="2026-01-02", item="A")
    newer = add_sale(db, contact_uuid=uuid, sold_on="2026-02-03", item="B")
    add_sale(db, item="someone else")
    rows = sale_service.sales_for_contact(db, uuid)
    assert ids(rows) == [newer, older]
    assert set(rows[0]) == {
        "id", "uuid", "sold_on", "item", "service_type",
        "amount_minor", "currency", "status", "status_label", "notes",
    }  # fmt: skip
    assert rows[0]["status_label"] == "Ordered"


def test_relink_contact_moves_records(db: Database) -> None:
    source = add_contact(db, name="A")
    target = add_contact(db, name="B")
    sale_id = add_sale(db, contact_uuid=source)
    moved = db.write(lambda db: sale_data.relink_contact(db, source, target))
    assert moved == 1
    assert stored(db, sale_id)["contact_uuid"] == target


def test_month_totals_per_currency(db: Database) -> None:
    add_sale(db, sold_on="2026-03-01", unit_price="10", quantity="1")
    add_sale(db, sold_on="2026-03-31", unit_price="2.50", quantity="2")
    add_sale(db, sold_on="2026-03-15", unit_price="7", quantity="1", currency="USD")
    add_sale(db, sold_on="2026-04-01", unit_price="99", quantity="1")
    gone = add_sale(db, sold_on="2026-03-10", unit_price="50", quantity="1")
    sale_service.set_deleted(db, gone, deleted=True)
    totals = sale_service.month_totals(db, year=2026, month=3)
    assert totals == {"CNY": 1000 + 500, "USD": 700}


def test_month_totals_december(db: Database) -> None:
    add_sale(db, sold_on="2026-12-31", unit_price="1", quantity="1")
    assert sale_service.month_totals(db, year=2026, month=12) == {"CNY": 100}


@pytest.mark.parametrize(
    "typed", ["13812345678", "+86 138-1234-5678", "ZXM@example.com", "张小明"]
)
def test_resolve_contact_by_typed_text(db: Database, typed: str) -> None:
    uuid = add_contact(db, name="张小明", mobile="13812345678", email="zxm@example.com")
    found = sales_contacts.resolve_contact(db, {"contact": typed}, region="CN")
    assert found == uuid


def test_resolve_contact_ambiguous_name(db: Database) -> None:
    add_contact(db, name="王芳")
    add_contact(db, name="王芳")
    with pytest.raises(SaleInvalidError) as caught:
        sales_contacts.resolve_contact(db, {"contact": "王芳"}, region="CN")
    assert "2 contacts match “王芳”" in caught.value.errors["contact"]
    assert len(caught.value.candidates) == 2


def test_resolve_contact_unknown(db: Database) -> None:
    with pytest.raises(SaleInvalidError) as caught:
        sales_contacts.resolve_contact(db, {"contact": "nobody"}, region="CN")
    assert "“nobody”" in caught.value.errors["contact"]


# --- filters ---------------------------------------------------------------------


def listed(db: Database, **args: str) -> list[int]:
    filters, errors = sale_service.parse_filters(args)
    assert errors == []
    rows, _ = sale_service.list_sales(
        db, filters, sort="sold_on", descending=False, page=1, page_size=100
    )
    return ids(rows)


def test_filter_item_substring_ignores_case(db: Database) -> None:
    pipe = add_sale(db, item="Steel Pipe")
    add_sale(db, item="Valve")
    assert listed(db, item="pipe") == [pipe]


def test_filter_date_range(db: Database) -> None:
    add_sale(db, sold_on="2026-01-31")
    inside = add_sale(db, sold_on="2026-02-01")
    add_sale(db, sold_on="2026-03-01")
    assert listed(db, sold_from="2026-02-01", sold_to="2026-02-28") == [inside]


def test_filter_status_and_currency(db: Database) -> None:
    add_sale(db, status="paid", currency="CNY")
    wanted = add_sale(db, status="paid", currency="USD")
    add_sale(db, status="quoted", currency="USD")
    assert listed(db, status="paid", currency="usd") == [wanted]


def test_filter_amount_in_each_currency(db: Database) -> None:
    cny = add_sale(db, quantity="1", unit_price="100")
    yen = add_sale(db, quantity="1", unit_price="100", currency="JPY")
    add_sale(db, quantity="1", unit_price="99.99")
    add_sale(db, quantity="1", unit_price="99", currency="JPY")
    assert listed(db, amount_min="100") == [cny, yen]


def test_filter_contact_name_and_category(db: Database) -> None:
    from crm_web.services import categories as category_service

    vip = category_service.create_category(db, "VIP", owner="Test")
    contact = contact_service.parse_form({"name": "李华", "category_uuid": vip})
    contact_id = contact_service.create_contact(db, contact, owner="T", region="CN")
    uuid = contact_service.require_contact(db, contact_id)["uuid"]
    mine = add_sale(db, contact_uuid=uuid)
    add_sale(db)
    assert listed(db, contact="李") == [mine]
    assert listed(db, category=vip) == [mine]


def test_filter_custom_field(db: Database) -> None:
    wanted = add_sale(db, custom2="SF123456")
    add_sale(db, custom2="YT999")
    assert listed(db, custom2="sf123") == [wanted]


def test_bad_filter_value_reported(db: Database) -> None:
    filters, errors = sale_service.parse_filters({"amount_min": "abc"})
    assert filters.amount_min is None
    assert "“abc”" in errors[0]
