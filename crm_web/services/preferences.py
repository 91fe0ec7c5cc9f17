"""Settings the user changes inside the app, stored in the database.

One table of settings: name, default, and what it sets. The settings page
and the README list them from here.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

from flask_babel import lazy_gettext as _l

from crm_web.data import preferences as preference_data
from crm_web.data.db import Database
from crm_web.errors import InvalidValueError, UserError
from crm_web.i18n import LANGUAGES, format_list, join_sentences
from crm_web.services import clock


class SettingsInvalidError(UserError):
    """Several settings have bad values; the message lists each one."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(join_sentences(problems))
        self.problems = problems


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: object
    choices: tuple[str, ...] = ()
    # Short name of the setting for messages; the help text is the label.
    label: object = ""


SETTINGS = (
    Setting(
        "language",
        "",
        _l("Interface language; empty follows the system."),
        ("", *LANGUAGES),
        _l("Language"),
    ),
    Setting(
        "phone_region",
        "CN",
        _l(
            "Region assumed for phone numbers typed without a country "
            "code (two-letter code, such as CN, HK, US)."
        ),
    ),
    Setting("page_size", "50", _l("Contacts shown per page (10 to 500).")),
    Setting(
        "session_idle_minutes",
        "30",
        _l(
            "With login protection on, minutes without activity after which "
            "a user must sign in again (5 to 1440)."
        ),
    ),
    Setting(
        "time_zone",
        "",
        _l(
            "Time zone for dates and appointments (such as Asia/Shanghai); "
            "empty uses the computer's."
        ),
    ),
    Setting(
        "week_start",
        "monday",
        _l("First day of the week in appointment views."),
        ("monday", "sunday"),
        _l("First day of the week"),
    ),
    Setting(
        "default_currency",
        "CNY",
        _l("Currency of new sales records (three-letter code, such as CNY, USD, EUR)."),
    ),
    Setting(
        "share_default",
        "private",
        _l(
            "Who sees new contacts, sales records and log entries, typed or "
            "imported: only their owner (private) or every user (everyone)."
        ),
        ("private", "everyone"),
        _l("Sharing of new records"),
    ),
    Setting("sales_custom1", "", _l("Label of sales custom field 1 (empty hides it).")),
    Setting("sales_custom2", "", _l("Label of sales custom field 2 (empty hides it).")),
    Setting("sales_custom3", "", _l("Label of sales custom field 3 (empty hides it).")),
    Setting("sales_custom4", "", _l("Label of sales custom field 4 (empty hides it).")),
    Setting(
        "files_max_mb",
        "100",
        _l("Largest file the file repository accepts, in MB (1 to 1000)."),
    ),
    Setting(
        "vault_idle_minutes",
        "5",
        _l(
            "Minutes without use after which the account vault locks and asks "
            "for its master password again (1 to 240)."
        ),
    ),
    Setting(
        "backup_folder",
        "",
        _l(
            "Folder for backups, as a full path; empty uses the backups folder "
            "inside the data folder."
        ),
    ),
    Setting(
        "backup_every_days",
        "0",
        _l("Days between automatic backups (0 turns them off, up to 365)."),
    ),
    Setting(
        "backup_keep",
        "7",
        _l("Automatic backups kept; older ones are deleted (1 to 1000)."),
    ),
)
SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}

# Labels of the choices that are not languages.
CHOICE_LABELS = {
    "monday": _l("Monday"),
    "sunday": _l("Sunday"),
    "private": _l("Private: only the owner"),
    "everyone": _l("Everyone"),
}


def load_preferences(db: Database) -> dict[str, str]:
    """Return every setting, with defaults for those never saved."""
    stored = preference_data.find_preferences(db)
    return {s.name: stored.get(s.name, s.default) for s in SETTINGS}


def save_preferences(db: Database, values: dict[str, str]) -> None:
    """Validate and store the given settings in one transaction.

    Every bad value is reported at once, and then nothing is stored.
    """
    cleaned: dict[str, str] = {}
    problems: list[InvalidValueError] = []
    for name, value in values.items():
        try:
            cleaned[name] = _validate(name, value.strip())
        except InvalidValueError as error:
            problems.append(error)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise SettingsInvalidError([error.message for error in problems])

    def work(db: Database) -> None:
        for name, value in cleaned.items():
            preference_data.upsert_preference(db, name, value)

    db.write(work)


# Settings that hold a whole number: lowest, highest, name, hint.
WHOLE_NUMBERS: dict[str, tuple[int, int, object, object]] = {
    "page_size": (
        10,
        500,
        _l("Page size"),
        _l("type a whole number from 10 to 500."),
    ),
    "session_idle_minutes": (
        5,
        1440,
        _l("Minutes without activity"),
        _l("type a whole number from 5 to 1440."),
    ),
    # The server (waitress) rejects a request body over 1 GiB on its own.
    "files_max_mb": (
        1,
        1000,
        _l("Largest file size"),
        _l("type a whole number of MB from 1 to 1000."),
    ),
    "vault_idle_minutes": (
        1,
        240,
        _l("Vault idle time"),
        _l("type a whole number of minutes from 1 to 240."),
    ),
    "backup_every_days": (
        0,
        365,
        _l("Days between automatic backups"),
        _l("type a whole number from 0 (off) to 365."),
    ),
    "backup_keep": (
        1,
        1000,
        _l("Automatic backups kept"),
        _l("type a whole number from 1 to 1000."),
    ),
}


def _is_number(value: str) -> bool:
    """Return whether ``value`` is a whole number typed in ASCII digits."""
    return value.isascii() and value.isdigit()


def _choice_list(setting: Setting) -> str:
    labels = [
        LANGUAGES.get(choice) or str(CHOICE_LABELS.get(choice, choice))
        for choice in setting.choices
        if choice
    ]
    return format_list(labels, style="or")


def _validate(name: str, value: str) -> str:
    import phonenumbers

    setting = SETTINGS_BY_NAME[name]
    if setting.choices and value not in setting.choices:
        raise InvalidValueError(
            str(setting.label or name),
            value,
            str(_l("choose one of: %(choices)s", choices=_choice_list(setting))),
        )
    if name == "phone_region":
        value = value.upper()
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise InvalidValueError(
                str(_l("Phone region")),
                value,
                str(_l("use a two-letter region code such as CN or US.")),
            )
    if name == "time_zone" and value and not clock.is_zone(value):
        raise InvalidValueError(
            str(_l("Time zone")),
            value,
            str(
                _l(
                    "use a zone name such as Asia/Shanghai or Europe/Berlin, or "
                    "leave it empty."
                )
            ),
        )
    if name == "default_currency":
        value = value.upper()
        if value not in clock.CURRENCIES:
            raise InvalidValueError(
                str(_l("Currency")),
                value,
                str(_l("use a three-letter currency code such as CNY or USD.")),
            )
    if name in WHOLE_NUMBERS:
        return _whole_number(name, value)
    if name.startswith("backup_"):
        return _validate_backup(name, value)
    return value


def _whole_number(name: str, value: str) -> str:
    """Return ``value`` as ASCII digits within the setting's range, or raise."""
    low, high, label, hint = WHOLE_NUMBERS[name]
    # Full-width digits from a Chinese input method become ASCII.
    value = unicodedata.normalize("NFKC", value)
    if not (_is_number(value) and low <= int(value) <= high):
        raise InvalidValueError(str(label), value, str(hint))
    return str(int(value))


def _validate_backup(name: str, value: str) -> str:
    if name == "backup_folder" and value:
        folder = Path(value).expanduser()
        if not folder.is_absolute() or folder.is_file():
            raise InvalidValueError(
                str(_l("Backup folder")),
                value,
                str(
                    _l(
                        "type the full path of a folder, such as D:\\Backups "
                        "or /home/li/Backups, or leave it empty."
                    )
                ),
            )
        return str(folder)
    return value
