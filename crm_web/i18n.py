"""Supported interface languages and how one is chosen for a request."""

from __future__ import annotations

import locale
from datetime import date, datetime
from typing import Literal

# Locale code -> name shown in the language switcher (in its own language).
LANGUAGES = {"en": "English", "zh_CN": "简体中文"}
DEFAULT_LANGUAGE = "en"


def system_language() -> str:
    """Return the supported language closest to the operating system's."""
    try:
        code = locale.getlocale()[0] or ""
    except ValueError:
        code = ""
    return match_language(code) or DEFAULT_LANGUAGE


def match_language(code: str | None) -> str | None:
    """Map a locale code such as 'zh-CN', 'zh_Hans' or 'en_US' to a language."""
    if not code:
        return None
    code = code.replace("-", "_")
    if code in LANGUAGES:
        return code
    if code.lower().startswith("zh") or code.startswith("Chinese"):
        return "zh_CN"
    if code.lower().startswith("en") or code.startswith("English"):
        return "en"
    return None


def format_list(
    items: list[str], *, style: Literal["standard", "or"] = "standard"
) -> str:
    """Join ``items`` the way the language in use writes a list.

    English gives "a, b and c" ("a, b or c" with style "or"); Chinese
    gives "a、b和c" ("a、b或c").
    """
    from babel.lists import format_list as babel_format_list
    from flask_babel import get_locale

    return babel_format_list(items, style=style, locale=get_locale() or "en")


def join_sentences(sentences: list[str]) -> str:
    """Join whole sentences: with a space in English, directly in Chinese."""
    from flask_babel import get_locale

    locale = get_locale()
    separator = "" if locale is not None and locale.language == "zh" else " "
    return separator.join(sentences)


def format_moment(value: datetime) -> str:
    """Format a naive datetime that is already in the user's zone.

    The date reads as ``format_date`` writes it (Dec 4, 2026; 2026年12月4日)
    and the time without seconds, so every page writes dates one way.
    """
    from babel import Locale
    from flask_babel import format_time, get_locale

    locale = get_locale() or Locale.parse("en")
    pattern = locale.datetime_formats["medium"]
    return str(pattern).format(str(format_time(value, "short")), format_date(value))


def format_date(value: date | None) -> str:
    """Format a date in the language in use, or "" for None."""
    from flask_babel import format_date as babel_format_date

    if value is None:
        return ""
    day = value.date() if isinstance(value, datetime) else value
    return str(babel_format_date(day, "medium"))
