"""The waitress server wrapper: loopback only, free ports, clean shutdown."""

from __future__ import annotations

import threading
import urllib.request

import pytest
from flask import Flask

from crm_web.server import ExposedServerError, Server, is_loopback


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("127.0.0.2", True),
        ("0.0.0.0", False),
        ("192.168.1.10", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


def test_server_refuses_lan_address(app: Flask) -> None:
    with pytest.raises(ExposedServerError):
        Server(app, host="0.0.0.0", port=0)


def test_server_serves_then_closes_threads(app: Flask) -> None:
    before = threading.active_count()
    for _round in range(3):
        server = Server(app, port=0)
        thread = server.start_in_thread()
        with urllib.request.urlopen(server.url + "contacts/", timeout=10) as reply:
            assert reply.status == 200
        server.close()
        thread.join(timeout=10)
    assert threading.active_count() <= before + 1
