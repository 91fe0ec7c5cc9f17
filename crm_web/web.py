"""Request helpers shared by the blueprints: database, settings, locale."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from flask import current_app, g, request, session, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from crm_web import i18n
from crm_web.config import Settings
from crm_web.data.db import Database
from crm_web.i18n import LANGUAGES, match_language, system_language
from crm_web.services import clock
from crm_web.services.preferences import load_preferences

# Sidebar entries: endpoint, label, icon name.
AREAS = (
    ("home.index", _l("Home"), "home"),
    ("contacts.index", _l("Contacts"), "contacts"),
    ("log.index", _l("Communication log"), "log"),
    ("sales.index", _l("Sales & service"), "sales"),
    ("appointments.index", _l("Appointments"), "calendar"),
    ("vault.index", _l("Account vault"), "vault"),
    ("files.index", _l("Files"), "files"),
    ("imports.index", _l("Import"), "import"),
    ("exports.index", _l("Export"), "export"),
    ("settings.index", _l("Settings"), "settings"),
)


def db() -> Database:
    database: Database = current_app.extensions["crm_db"]
    return database


def settings() -> Settings:
    value: Settings = current_app.extensions["crm_settings"]
    return value


def preferences() -> dict[str, str]:
    """Return the in-app settings, read once per request."""
    if "crm_preferences" not in g:
        g.crm_preferences = load_preferences(db())
    prefs: dict[str, str] = g.crm_preferences
    return prefs


def region() -> str:
    return preferences()["phone_region"]


def owner() -> str:
    """Return the name of the user this request acts as, the owner of new records."""
    from crm_web.auth import current_user

    return current_user().name


def select_locale() -> str:
    """Choose the language: the user's choice, then the system's.

    NOTE: Flask-Babel parses "zh_CN" into zh_Hans_CN, so the Chinese
    catalogue lives in translations/zh_Hans_CN.
    """
    chosen = session.get("language") or preferences().get("language")
    if chosen in LANGUAGES:
        return str(chosen)
    configured = match_language(settings().language)
    if configured:
        return configured
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
    return match_language(best) or system_language()


def current_language() -> str:
    """Return the request's language as one of the LANGUAGES codes."""
    return match_language(str(get_locale() or "")) or "en"


def static_url(filename: str) -> str:
    """Return a static file's URL with its mtime, so browsers never cache old files."""
    path = Path(current_app.static_folder or "") / filename
    try:
        stamp = int(path.stat().st_mtime)
    except OSError:
        stamp = 0
    return url_for("static", filename=filename, v=stamp)


def wants_json() -> bool:
    """Return whether the request came from the page's own JavaScript."""
    return request.headers.get("X-Requested-With") == "fetch" or (
        request.accept_mimetypes.best == "application/json"
    )


def format_local_datetime(value: datetime | None) -> str:
    """Format a stored UTC datetime in the user's time zone."""
    if value is None:
        return ""
    local = value.replace(tzinfo=UTC).astimezone(
        clock.user_zone(preferences()["time_zone"])
    )
    return format_moment(local.replace(tzinfo=None))


def format_moment(value: datetime) -> str:
    """Format a naive datetime that is already in the user's zone."""
    return i18n.format_moment(value)


def format_date(value: date | None) -> str:
    return i18n.format_date(value)


def safe_next(target: str | None, default: str) -> str:
    """Return ``target`` if it is a path on this server, else ``default``.

    "//host/..." and "/\\host" are other servers to a browser, so they
    are refused like full URLs.
    """
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    return target


def int_arg(name: str, default: int, *, low: int = 0, high: int = 10**9) -> int:
    """Read an integer query argument, clamped, ignoring junk."""
    raw: Any = request.args.get(name, "")
    try:
        value = int(raw)
    except ValueError:
        return default
    return max(low, min(high, value))
