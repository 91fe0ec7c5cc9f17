"""Native desktop notifications for the window, where the system has a service.

On Linux the window calls the desktop's notification service
(org.freedesktop.Notifications on the session D-Bus, which desktops such as
GNOME, KDE and Xfce provide) through QtDBus, which comes with the window's
Qt toolkit. Where there is no such service, ``notify`` returns False and
logs the reason once, and reminders show in the page only.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Protocol, cast

log = logging.getLogger(__name__)

APP_NAME = "R9 CRM"
# -1 lets the desktop decide how long a notification stays.
EXPIRE_TIMEOUT = -1
# Milliseconds to wait for the notification service to reply.
CALL_TIMEOUT_MS = 5000
# Longer texts are cut, because desktops show only a few lines of each.
MAX_TITLE = 200
MAX_BODY = 1000


class Notifier(Protocol):
    def notify(self, title: str, body: str) -> bool:
        """Show a notification and return whether the system accepted it."""
        ...


class _UnavailableLog:
    """The log line that notifications are unavailable, written once."""

    def __init__(self) -> None:
        # pywebview runs each API call in a thread of its own.
        self._lock = threading.Lock()
        self._written = False

    def write(self, reason: str) -> bool:
        """Log ``reason`` unless a line was logged before; return False."""
        with self._lock:
            if self._written:
                return False
            self._written = True
        log.info(
            "Native notifications are unavailable (%s); reminders show in "
            "the window only",
            reason,
        )
        return False


class UnavailableNotifier:
    """A notifier for systems without a notification service."""

    def __init__(self, reason: str) -> None:
        self._reason = reason
        self._unavailable = _UnavailableLog()

    def notify(self, title: str, body: str) -> bool:
        return self._unavailable.write(self._reason)


class FreedesktopNotifier:
    """Notifications through org.freedesktop.Notifications on the session bus."""

    SERVICE = "org.freedesktop.Notifications"
    PATH = "/org/freedesktop/Notifications"

    def __init__(self) -> None:
        self._unavailable = _UnavailableLog()

    def notify(self, title: str, body: str) -> bool:
        try:
            from qtpy.QtCore import QMetaType
            from qtpy.QtDBus import QDBus, QDBusArgument, QDBusConnection, QDBusMessage
        except ImportError as error:
            return self._unavailable.write(f"QtDBus cannot be loaded: {error}")

        bus = QDBusConnection.sessionBus()
        if not bus.isConnected():
            return self._unavailable.write(
                f"no session D-Bus: {bus.lastError().message()}"
            )
        message = QDBusMessage.createMethodCall(
            self.SERVICE, self.PATH, self.SERVICE, "Notify"
        )
        # Notify(app_name s, replaces_id u, app_icon s, summary s, body s,
        # actions as, hints a{sv}, expire_timeout i). A plain Python int
        # would go out as i and an empty list as av, so those two are typed.
        message.setArguments(
            [
                APP_NAME,
                QDBusArgument(0, cast(int, QMetaType.Type.UInt.value)),
                "",
                title[:MAX_TITLE],
                body[:MAX_BODY],
                QDBusArgument([], cast(int, QMetaType.Type.QStringList.value)),
                {},
                EXPIRE_TIMEOUT,
            ]
        )
        reply = bus.call(message, QDBus.CallMode.Block, CALL_TIMEOUT_MS)
        if reply.type() == QDBusMessage.MessageType.ErrorMessage:
            return self._unavailable.write(
                f"{reply.errorName()}: {reply.errorMessage()}"
            )
        return True


def system_notifier() -> Notifier:
    """Return the notifier for this system."""
    if sys.platform.startswith("linux"):
        return FreedesktopNotifier()
    # TODO: the Windows (WebView2) and macOS (WebKit) windows raise no
    # native notification yet; each needs its own service and a test there.
    return UnavailableNotifier(f"none is implemented for {sys.platform}")
