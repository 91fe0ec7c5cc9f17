"""Lists, sentences and setting errors read naturally in both languages."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from crm_web import web
from crm_web.errors import InvalidValueError
from crm_web.i18n import format_list, join_sentences
from crm_web.services.importing import pipeline


def test_lists_and_sentences_follow_the_language(app: Flask) -> None:
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert format_list(["A", "B", "C"], style="or") == "A, B, or C"
        assert join_sentences(["One.", "Two."]) == "One. Two."
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert format_list(["甲", "乙", "丙"], style="or") == "甲、乙或丙"
        assert join_sentences(["第一。", "第二。"]) == "第一。第二。"


def test_week_start_error_names_label(client: FlaskClient) -> None:
    client.post("/settings/language", data={"language": "en", "next": "/"})
    response = client.post("/settings/", data={"week_start": "friday"})
    page = response.get_data(as_text=True)
    assert "First day of the week “friday” is not valid" in page
    assert "Monday or Sunday" in page
    assert "week_start" not in page.split("<main", 1)[-1].split("<form", 1)[0]


def test_bad_week_start_in_chinese(client: FlaskClient) -> None:
    client.post("/settings/language", data={"language": "zh_CN", "next": "/"})
    page = client.post("/settings/", data={"week_start": "friday"}).get_data(
        as_text=True
    )
    assert "“friday”" in page
    assert "星期一或星期日" in page


def test_unknown_import_policy_lists_the_choices_by_label(
    app: Flask, tmp_path: Path
) -> None:
    with (
        app.test_request_context(headers={"Accept-Language": "en"}),
        pytest.raises(InvalidValueError) as raised,
    ):
        pipeline.import_file(
            web.db(),
            tmp_path / "list.csv",
            policy="merge",
            owner="Admin",
            region="CN",
            work_dir=tmp_path,
        )
    message = raised.value.message
    assert "“merge”" in message
    assert "“Skip the row”" in message
    assert "skip, update" not in message


def test_date_formats_match(app: Flask) -> None:
    moment = datetime(2026, 12, 4, 10, 30)
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert web.format_date(moment.date()) == "Dec 4, 2026"
        assert web.format_moment(moment) == "Dec 4, 2026, 10:30\u202fAM"
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert web.format_date(moment.date()) == "2026年12月4日"
        assert web.format_moment(moment) == "2026年12月4日 10:30"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("３０", "30"),
        (" 45 ", "45"),
        ("045", "45"),
        ("²", None),
        ("4", None),
        ("3e1", None),
    ],
)
def test_whole_number_settings_accept_full_width_digits(
    app: Flask, typed: str, stored: str | None
) -> None:
    from crm_web.services.preferences import load_preferences, save_preferences

    with app.test_request_context(headers={"Accept-Language": "en"}):
        if stored is None:
            with pytest.raises(InvalidValueError) as raised:
                save_preferences(web.db(), {"session_idle_minutes": typed})
            assert "from 5 to 1440" in raised.value.message
        else:
            save_preferences(web.db(), {"session_idle_minutes": typed})
            assert load_preferences(web.db())["session_idle_minutes"] == stored


def test_settings_report_every_bad_value_and_store_none(client: FlaskClient) -> None:
    client.post("/settings/language", data={"language": "en", "next": "/"})
    page = client.post(
        "/settings/",
        data={"time_zone": "Mars/Base", "default_currency": "XYZ", "page_size": "20"},
    ).get_data(as_text=True)
    assert "Time zone “Mars/Base” is not valid" in page
    assert "Currency “XYZ” is not valid" in page
    saved = client.get("/settings/").get_data(as_text=True)
    assert 'value="20"' not in saved
