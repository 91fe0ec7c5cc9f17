"""Time zones, today's date and currencies, as the user sees them.

Stored times are naive UTC datetimes; calendar dates (a sale's date, a
follow-up day) are plain dates in the user's zone. The user's zone is the
``time_zone`` setting, or the computer's zone when that is empty.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import tzlocal
from babel.numbers import list_currencies

CURRENCIES = frozenset(list_currencies())


def is_zone(name: str) -> bool:
    """Return whether ``name`` is an IANA time zone such as Asia/Shanghai."""
    if name not in available_timezones():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def user_zone(setting: str = "") -> ZoneInfo:
    """Return the zone named by the setting, else the computer's zone."""
    if setting and is_zone(setting):
        return ZoneInfo(setting)
    try:
        return ZoneInfo(tzlocal.get_localzone_name() or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def now_utc() -> datetime:
    """Return the current time as a naive UTC datetime, as stored."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def to_local(value: datetime, zone: ZoneInfo) -> datetime:
    """Convert a stored naive UTC datetime to an aware local one."""
    return value.replace(tzinfo=UTC).astimezone(zone)


def to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """Convert a naive local wall-clock time to a stored naive UTC datetime."""
    return local.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


def today(zone: ZoneInfo) -> date:
    """Return today's date in ``zone``."""
    return datetime.now(zone).date()
