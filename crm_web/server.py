"""Serving the app with waitress, on a free or a chosen port."""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading

from flask import Flask
from flask_babel import gettext as _
from waitress.server import create_server

from crm_web.errors import UserError
from crm_web.services import accounts

log = logging.getLogger(__name__)

THREADS = 8


class PortBusyError(UserError):
    def __init__(self, host: str, port: int) -> None:
        super().__init__(
            _(
                "Port %(port)s on %(host)s is already in use, perhaps by another "
                "copy of R9 CRM. Close it, or start with --port and a different "
                "number (or --port 0 to pick a free one).",
                port=port,
                host=host,
            )
        )


class ExposedServerError(UserError):
    def __init__(self, host: str) -> None:
        super().__init__(
            _(
                "Refusing to listen on %(host)s: login protection is off, so "
                "anyone on the network could read and change your contacts. "
                "Set Admin's password and turn protection on under Users (or "
                "with r9crm user passwd Admin and r9crm user protect on), or "
                "serve on 127.0.0.1 (the default).",
                host=host,
            )
        )


def is_loopback(host: str) -> bool:
    """Return whether ``host`` only accepts connections from this computer."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_port(host: str, port: int) -> None:
    """Raise PortBusyError if ``port`` cannot be bound on ``host``."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            raise PortBusyError(host, port) from error


class Server:
    """A waitress server bound to a socket, run in the foreground or a thread."""

    def __init__(self, app: Flask, *, host: str = "127.0.0.1", port: int = 0) -> None:
        if not is_loopback(host):
            if not accounts.protection_on(app.extensions["crm_db"]):
                raise ExposedServerError(host)
            # Colleagues reach the server by this computer's name or any of
            # its addresses; every request needs a signed-in user instead.
            app.config["TRUSTED_HOSTS"] = None
        check_port(host, port)
        self._server = create_server(
            app, host=host, port=port, threads=THREADS, ident="R9 CRM"
        )
        self.host = host
        self.port = int(self._server.effective_port)  # type: ignore[union-attr]
        self._closing = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def serve_forever(self) -> None:
        log.info("Serving on %s", self.url)
        try:
            self._server.run()
        except OSError:
            # close() from another thread pulls the socket out from under
            # the loop's select(); that is the normal way to stop.
            if not self._closing:
                raise

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(
            target=self.serve_forever, daemon=True, name="r9crm-server"
        )
        thread.start()
        return thread

    def close(self) -> None:
        """Stop listening and end waitress's worker threads."""
        self._closing = True
        self._server.close()
        # A single-socket waitress server leaves its task dispatcher (the
        # worker threads) running on close; shut it down as the
        # multi-socket server does.
        self._server.task_dispatcher.shutdown()  # type: ignore[union-attr]
