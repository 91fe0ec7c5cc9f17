"""The home page's summary of the day, on both backends."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from crm_web.data.db import Database
from crm_web.services import appointments, clock, comm_log, sales
from crm_web.services import contacts as contact_service
from crm_web.services.home import summarize_day

ZONE = ZoneInfo("Asia/Shanghai")


def test_summary_lists_each_area(db: Database) -> None:
    today = clock.today(ZONE)
    contact_id = contact_service.create_contact(
        db, contact_service.parse_form({"name": "张小明"}), owner="Admin", region="CN"
    )
    noon = datetime.combine(today, datetime.min.time()) + timedelta(hours=12)
    appointments.create_appointment(
        db, {"title": "拜访客户", "starts_at_local": noon}, owner="Admin", zone=ZONE
    )
    entry = comm_log.parse_entry(
        db,
        {
            "contact_id": str(contact_id),
            "occurred_at": f"{today.isoformat()}T09:00",
            "channel": "phone",
            "title": "报价",
            "follow_up_on": today.isoformat(),
        },
        zone=ZONE,
    )
    comm_log.create_entry(db, entry, owner="Admin", zone=ZONE)
    for amount in ("100.50", "20"):
        sale = sales.parse_form(
            {
                "sold_on": today.isoformat(),
                "item": "样品",
                "quantity": "1",
                "unit_price": amount,
                "currency": "CNY",
                "status": "paid",
            }
        )
        sales.create_sale(db, sale, owner="Admin")

    day = summarize_day(db, zone=ZONE, week_start="monday")

    assert [o.appointment["title"] for o in day.appointments] == ["拜访客户"]
    assert [e["title"] for e in day.follow_ups] == ["报价"]
    assert [e["title"] for e in day.recent] == ["报价"]
    assert day.month_totals == {"CNY": 12050}
