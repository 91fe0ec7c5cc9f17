"""The desktop window: a real pywebview window (Qt) on a real or virtual X display.

Each window runs in a child process, this file run as a script, so a Qt
crash fails a test instead of killing pytest. The child drives Qt's own file
dialogs as a user would and prints its observations as one JSON line.

Reminder notifications go to a notification service of the test's own: a
private D-Bus daemon with this file, run as a script again, registered as
org.freedesktop.Notifications and writing each call it gets to a file.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import logging
import os
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.window

CHILD_TIMEOUT = 120  # seconds for one child: Qt start, page loads, dialogs
SERVER_TIMEOUT = 60  # seconds until `r9crm serve` returns its first page
RESULT_PREFIX = "WINDOW-RESULT "
SESSION_COOKIE = "session=window-test"
EXPORT_BODY = "name,phone\n张伟,013800000000\n".encode()
REMINDER_TITLE = "给王经理回电话"
REMINDER_LOCATION = "宁波港"
# A session bus address where nothing listens, for the window without a
# notification service. Without any address Qt would try to start a bus.
NO_BUS = "unix:path=/nonexistent/r9-test-bus"

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Window test page</title></head>
<body><p id="greeting">你好，R9</p>
<a id="export-link" href="/export.csv" download>Export</a></body></html>
"""


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def display_env() -> Iterator[dict[str, str]]:
    """Yield an environment with a display, starting Xvfb when there is none."""
    from ui.window import has_display

    env = dict(os.environ)
    if has_display():
        yield env
        return

    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.fail("No display and no Xvfb: install xvfb (`make test` does)")
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        [
            xvfb,
            "-displayfd",
            str(write_end),
            "-screen",
            "0",
            "1280x800x24",
            "-nolisten",
            "tcp",
        ],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        number = _read_display_number(read_end, timeout=30)
        env["DISPLAY"] = f":{number}"
        yield env
    finally:
        os.close(read_end)
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def page_server() -> Iterator[str]:
    """Serve the test page and its download on 127.0.0.1 and yield the base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _PageHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def page_result(
    display_env: dict[str, str], page_server: str, tmp_path_factory: Any
) -> dict[str, Any]:
    """Run the window checks against the test page once for the module."""
    out_dir = tmp_path_factory.mktemp("window-downloads")
    return _run_child(display_env, page_server, "page", out_dir)


@pytest.fixture(scope="module")
def app_result(
    display_env: dict[str, str], tmp_path_factory: Any
) -> Iterator[dict[str, Any]]:
    """Serve the real app with `r9crm serve` and look at it in the window."""
    data_dir = tmp_path_factory.mktemp("window-app-data")
    with _served_app(data_dir) as base:
        yield _run_child(display_env, base + "contacts/", "app", data_dir)


@pytest.fixture(scope="module")
def notification_bus(tmp_path_factory: Any) -> Iterator[tuple[str, Path]]:
    """Yield a private session bus address and the file its service writes."""
    daemon_path = shutil.which("dbus-daemon")
    if daemon_path is None:
        pytest.fail("dbus-daemon is missing: install dbus-daemon (`make test` does)")
    record = tmp_path_factory.mktemp("notifications") / "calls.jsonl"
    daemon = subprocess.Popen(
        [daemon_path, "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    service = None
    try:
        assert daemon.stdout is not None
        address = daemon.stdout.readline().strip()
        if not address:
            pytest.fail("dbus-daemon printed no address")
        env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": address}
        service = subprocess.Popen(
            [sys.executable, __file__, "notification-server", "", str(record)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert service.stdout is not None
        ready = service.stdout.readline().strip()
        if ready != "READY":
            service.kill()
            pytest.fail(f"notification service did not start: {service.stderr.read()}")
        yield address, record
    finally:
        for process in (service, daemon):
            if process is not None:
                process.terminate()
                process.wait(timeout=10)


@pytest.fixture(scope="module")
def reminder_app(tmp_path_factory: Any) -> Iterator[dict[str, str]]:
    """Serve the app with a reminder due now, in Chinese.

    Yield the page to open and the .ics file name of the appointment.
    """
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from crm_web.config import load_settings
    from crm_web.data.db import connect
    from crm_web.services import appointments, clock
    from crm_web.services.preferences import save_preferences

    data_dir = tmp_path_factory.mktemp("window-reminder-data")
    db = connect(load_settings(data_dir=data_dir).database_url)
    try:
        zone = ZoneInfo("Asia/Shanghai")
        save_preferences(db, {"language": "zh_CN", "time_zone": zone.key})
        soon = clock.to_local(clock.now_utc(), zone).replace(tzinfo=None)
        values = {
            "title": REMINDER_TITLE,
            "starts_at_local": soon + timedelta(minutes=5),
            "location": REMINDER_LOCATION,
            "reminder_minutes": 10,
        }
        appointments.create_appointment(db, values, owner="Test", zone=zone)
        day = values["starts_at_local"].date().isoformat()
    finally:
        db.release()
        db.close()
    with _served_app(data_dir) as base:
        page = base + "appointments/?view=all"
        yield {"page": page, "ics_name": f"{REMINDER_TITLE}-{day}.ics"}


@pytest.fixture(scope="module")
def notify_result(
    display_env: dict[str, str],
    notification_bus: tuple[str, Path],
    reminder_app: dict[str, str],
    tmp_path_factory: Any,
) -> dict[str, Any]:
    """Open the appointments page in the window, with a notification service."""
    env = {**display_env, "DBUS_SESSION_BUS_ADDRESS": notification_bus[0]}
    out_dir = tmp_path_factory.mktemp("window-notify")
    return _run_child(env, reminder_app["page"], "reminder", out_dir)


@pytest.fixture(scope="module")
def no_service_result(
    display_env: dict[str, str], reminder_app: dict[str, str], tmp_path_factory: Any
) -> dict[str, Any]:
    """Open the appointments page in the window, with no session bus at all."""
    env = {**display_env, "DBUS_SESSION_BUS_ADDRESS": NO_BUS}
    out_dir = tmp_path_factory.mktemp("window-no-notify")
    return _run_child(env, reminder_app["page"], "reminder", out_dir)


# ---------------------------------------------------------------- tests


def test_window_title(page_result: dict[str, Any]) -> None:
    assert page_result["window_title"] == "R9 CRM"


def test_window_icon(page_result: dict[str, Any]) -> None:
    assert page_result["has_icon"]


def test_window_shows_page(page_result: dict[str, Any]) -> None:
    assert page_result["document_title"] == "Window test page"


def test_window_renders_chinese(page_result: dict[str, Any]) -> None:
    assert page_result["greeting"] == "你好，R9"


def test_window_exposes_api(page_result: dict[str, Any]) -> None:
    assert page_result["api"] == {
        "save_download": "function",
        "open_files_dialog": "function",
        "notify": "function",
    }


def test_save_download_writes_file(page_result: dict[str, Any]) -> None:
    saved = page_result["save_download"]
    assert saved["result"] == {"value": saved["target"]}
    assert Path(saved["target"]).read_bytes() == EXPORT_BODY


def test_save_download_replaces_file(page_result: dict[str, Any]) -> None:
    saved = page_result["save_download_again"]
    assert saved["result"] == {"value": saved["target"]}
    assert Path(saved["target"]).read_bytes() == EXPORT_BODY


def test_save_download_cancelled(page_result: dict[str, Any]) -> None:
    assert page_result["save_download_cancelled"] == {"value": ""}


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("other_host", "Download rejected"),
        ("redirect_elsewhere", "Download rejected"),
        ("missing", "HTTP 404"),
    ],
)
def test_save_download_errors(
    page_result: dict[str, Any], case: str, message: str
) -> None:
    assert message in page_result["save_download_errors"][case]["error"]


def test_save_download_leaves_no_partial(page_result: dict[str, Any]) -> None:
    assert page_result["leftover_files"] == []


def test_download_link_saves_file(page_result: dict[str, Any]) -> None:
    link = page_result["download_link"]
    assert link["saved"], "the in-page download never reached the chosen path"
    assert Path(link["target"]).read_bytes() == EXPORT_BODY


def test_download_link_suggests_server_name(page_result: dict[str, Any]) -> None:
    assert page_result["download_link"]["suggested_name"] == "contacts.csv"


def test_open_files_dialog(page_result: dict[str, Any]) -> None:
    opened = page_result["open_files_dialog"]
    assert opened["result"] == {"value": [opened["target"]]}


def test_window_opens_contacts(app_result: dict[str, Any]) -> None:
    assert app_result["path"] == "/contacts/"


def test_window_contacts_title(app_result: dict[str, Any]) -> None:
    assert "R9 CRM" in app_result["document_title"]


def test_window_contacts_menu_active(app_result: dict[str, Any]) -> None:
    assert app_result["has_active_contacts_link"]


def test_reminder_calls_window_notify(notify_result: dict[str, Any]) -> None:
    (call,) = notify_result["page_calls"]

    assert call["title"] == f"提醒: {REMINDER_TITLE}"
    assert call["body"].endswith(f" · {REMINDER_LOCATION}")
    assert call["shown"] is True


def test_reminder_reaches_notification_service(
    notify_result: dict[str, Any], notification_bus: tuple[str, Path]
) -> None:
    lines = notification_bus[1].read_text(encoding="utf-8").splitlines()
    calls = [json.loads(line) for line in lines]

    assert [c["summary"] for c in calls] == [f"提醒: {REMINDER_TITLE}", "直接调用"]
    assert calls[0]["app"] == "R9 CRM"
    assert calls[0]["body"] == notify_result["page_calls"][0]["body"]
    assert calls[1]["body"] == "正文"


def test_reminder_notice_stays_in_page(notify_result: dict[str, Any]) -> None:
    assert notify_result["notice"] == f"提醒: {REMINDER_TITLE}"


def test_notify_without_service_returns_false(
    no_service_result: dict[str, Any],
) -> None:
    (call,) = no_service_result["page_calls"]

    assert call["shown"] is False
    assert no_service_result["direct"] == {"value": False}
    assert no_service_result["notice"] == f"提醒: {REMINDER_TITLE}"


def test_notify_without_service_logs_once(
    no_service_result: dict[str, Any],
) -> None:
    (message,) = no_service_result["log"]

    assert message.startswith("Native notifications are unavailable (no session D-Bus")


def test_ics_link_suggests_chinese_name(
    notify_result: dict[str, Any], reminder_app: dict[str, str]
) -> None:
    # The page's link goes through WindowApi.save_download with its
    # data-download name.
    assert notify_result["ics_link_name"] == reminder_app["ics_name"]


def test_ics_download_header_keeps_chinese_name(
    notify_result: dict[str, Any], reminder_app: dict[str, str]
) -> None:
    # A plain link is a QtWebEngine download, named from Content-Disposition.
    assert notify_result["ics_header_name"] == reminder_app["ics_name"]


# ---------------------------------------------------------------- helpers


class _PageHandler(http.server.BaseHTTPRequestHandler):
    """Test page, a download that needs the page's HttpOnly cookie, a redirect."""

    def do_GET(self) -> None:
        if self.path == "/":
            self._send(
                200,
                PAGE.encode(),
                "text/html; charset=utf-8",
                {"Set-Cookie": f"{SESSION_COOKIE}; HttpOnly; Path=/"},
            )
        elif self.path == "/export.csv":
            if SESSION_COOKIE not in self.headers.get("Cookie", ""):
                self._send(403, b"no session", "text/plain")
                return
            self._send(
                200,
                EXPORT_BODY,
                "text/csv",
                {"Content-Disposition": 'attachment; filename="contacts.csv"'},
            )
        elif self.path == "/elsewhere":
            self._send(
                302, b"", "text/plain", {"Location": "http://127.0.0.2:9/export.csv"}
            )
        else:
            self._send(404, b"not found", "text/plain")

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _read_display_number(fd: int, *, timeout: float) -> str:
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        pytest.fail(f"Xvfb printed no display number within {timeout} s")
    number = os.read(fd, 32).decode().strip()
    if not number:
        pytest.fail("Xvfb exited before it printed a display number")
    return number


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_http(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            output = log.read_text(errors="replace")
            pytest.fail(f"r9crm serve exited with {server.returncode}:\n{output}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"{url} did not respond within {SERVER_TIMEOUT} s")


@contextlib.contextmanager
def _served_app(data_dir: Path) -> Iterator[str]:
    """Run `r9crm serve` over ``data_dir`` and yield its base URL."""
    r9crm = Path(sys.executable).with_name("r9crm")
    if not r9crm.exists():
        pytest.fail(f"{r9crm} is missing: install the project (`make test` does)")
    port = _free_port()
    server_log = data_dir / "serve.log"
    with server_log.open("wb") as output:
        server = subprocess.Popen(
            [str(r9crm), "--data-dir", str(data_dir), "serve", "--port", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}/"
        _wait_for_http(base + "contacts/", server, server_log)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


def _run_child(
    env: dict[str, str], url: str, mode: str, out_dir: Path
) -> dict[str, Any]:
    """Run this file as the window child and return the JSON it prints."""
    command = [sys.executable, __file__, mode, url, str(out_dir)]
    try:
        child = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT
        )
    except subprocess.TimeoutExpired as error:
        output = (error.stderr or b"")[-4000:]
        pytest.fail(f"window child timed out after {CHILD_TIMEOUT} s:\n{output!r}")
    for line in child.stdout.splitlines():
        if not line.startswith(RESULT_PREFIX):
            continue
        result = dict(json.loads(line[len(RESULT_PREFIX) :]))
        if "child_error" in result:
            pytest.fail(
                f"window checks raised {result['child_error']}:\n{child.stderr[-4000:]}"
            )
        return result
    pytest.fail(
        f"window child exited with {child.returncode} and no result:\n"
        f"{child.stdout[-2000:]}\n{child.stderr[-4000:]}"
    )


# ---------------------------------------------------------------- child


class DialogDriver:
    """Responder to Qt's file dialogs that acts as a user would.

    The checks thread queues one response (a path, or None to cancel) before
    it triggers a dialog. A timer in the GUI thread finds the modal dialog, types
    the path and accepts, and confirms the overwrite question if one follows.
    """

    # Seconds a dialog stays untouched after it appears: QFileDialog fills in
    # its file name field late and would overwrite what was typed earlier.
    SETTLE = 0.5

    def __init__(self) -> None:
        self.responses: list[str | None] = []
        self.suggested_names: list[str] = []
        self._timer: Any = None
        self._pending: Any = None
        self._pending_since = 0.0

    def install(self, window: Any) -> None:
        from qtpy.QtCore import QTimer

        self._timer = QTimer(window.native)
        self._timer.timeout.connect(self._poll)
        self._timer.start(100)

    def _poll(self) -> None:
        # PyQt6 aborts the process on an exception in a slot, so this stays
        # with plain widget calls.
        from qtpy.QtCore import QTimer
        from qtpy.QtWidgets import QApplication, QFileDialog, QMessageBox

        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, QMessageBox):
            dialog.button(QMessageBox.StandardButton.Yes).click()
            return
        if not isinstance(dialog, QFileDialog) or not self.responses:
            return
        if dialog is not self._pending:
            self._pending, self._pending_since = dialog, time.monotonic()
            return
        if time.monotonic() - self._pending_since < self.SETTLE:
            return

        self._pending = None
        response = self.responses.pop(0)
        # Responds from a separate timer: accepting may open the overwrite
        # question in a nested event loop, and Qt does not re-enter this
        # timer's slot while it is still running.
        QTimer.singleShot(0, lambda: self._respond(dialog, response))

    def _respond(self, dialog: Any, response: str | None) -> None:
        from qtpy.QtWidgets import QDialogButtonBox, QLineEdit

        buttons = dialog.findChild(QDialogButtonBox)
        name_field = dialog.findChild(QLineEdit, "fileNameEdit")
        self.suggested_names.append(name_field.text())
        if response is None:
            buttons.button(QDialogButtonBox.StandardButton.Cancel).click()
            return
        name_field.setText(response)
        # QFileDialog.accept() is protected in PyQt6, so click the button.
        role = QDialogButtonBox.ButtonRole.AcceptRole
        next(b for b in buttons.buttons() if buttons.buttonRole(b) == role).click()


def _child_main(mode: str, url: str, out_dir: str) -> None:
    import webview

    from ui import window as shell

    driver = DialogDriver()
    observed: dict[str, Any] = {}
    notifier = RecordingNotifier()
    log_records = _capture_log("ui.notifications")

    def before_show(window: Any) -> None:
        observed["window_title"] = window.native.windowTitle()
        observed["has_icon"] = not window.native.windowIcon().isNull()
        driver.install(window)

    create_window = webview.create_window

    def create_watched_window(*args: Any, **kwargs: Any) -> Any:
        window = create_window(*args, **kwargs)
        window.events.before_show += before_show
        notifier.wrap(kwargs["js_api"])
        return window

    webview.create_window = create_watched_window

    def checks(window: Any) -> None:
        try:
            window.events.loaded.wait(60)
            if mode == "page":
                observed.update(_check_page(window, driver, Path(out_dir)))
            elif mode == "reminder":
                observed.update(_check_reminder(window, notifier, log_records))
                observed.update(_check_ics_names(window, driver))
            else:
                observed.update(_check_app(window))
        except Exception as error:  # reported to the parent, which fails
            observed["child_error"] = repr(error)
        finally:
            print(RESULT_PREFIX + json.dumps(observed), flush=True)
            window.destroy()

    shell.open_window(url, on_start=checks)


def _check_page(window: Any, driver: DialogDriver, out_dir: Path) -> dict[str, Any]:
    seen: dict[str, Any] = {
        "document_title": window.evaluate_js("document.title"),
        "greeting": window.evaluate_js(
            "document.getElementById('greeting').textContent"
        ),
        "api": window.evaluate_js(
            "({save_download: typeof window.pywebview.api.save_download,"
            " open_files_dialog: typeof window.pywebview.api.open_files_dialog,"
            " notify: typeof window.pywebview.api.notify})"
        ),
    }

    target = str(out_dir / "联系人.csv")
    driver.responses.append(target)
    seen["save_download"] = {
        "target": target,
        "result": _call_api(window, "save_download", "/export.csv", "联系人.csv"),
    }
    driver.responses.append(target)
    seen["save_download_again"] = {
        "target": target,
        "result": _call_api(window, "save_download", "/export.csv", "联系人.csv"),
    }
    driver.responses.append(None)
    seen["save_download_cancelled"] = _call_api(
        window, "save_download", "/export.csv", "x.csv"
    )

    errors = {}
    for case, path in [
        ("other_host", "http://example.com/export.csv"),
        ("redirect_elsewhere", "/elsewhere"),
        ("missing", "/missing.csv"),
    ]:
        if case != "other_host":
            driver.responses.append(str(out_dir / f"{case}.csv"))
        errors[case] = _call_api(window, "save_download", path, f"{case}.csv")
    seen["save_download_errors"] = errors

    link_target = out_dir / "link.csv"
    driver.responses.append(str(link_target))
    window.evaluate_js("document.getElementById('export-link').click()")
    seen["download_link"] = {
        "target": str(link_target),
        "saved": _wait_for_file(link_target, len(EXPORT_BODY)),
        "suggested_name": driver.suggested_names[-1] if driver.suggested_names else "",
    }

    driver.responses.append(target)
    seen["open_files_dialog"] = {
        "target": target,
        "result": _call_api(window, "open_files_dialog"),
    }
    seen["leftover_files"] = sorted(
        path.name for path in out_dir.iterdir() if path.name.endswith(".part")
    )
    return seen


def _check_app(window: Any) -> dict[str, Any]:
    return {
        "path": window.evaluate_js("location.pathname"),
        "document_title": window.evaluate_js("document.title"),
        "has_active_contacts_link": window.evaluate_js(
            "document.querySelector('a.active[href=\"/contacts/\"]') !== null"
        ),
    }


class RecordingNotifier:
    """Stand between WindowApi and its real notifier and record each call."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self._real: Any = None

    def wrap(self, api: Any) -> None:
        self._real, api._notifier = api._notifier, self

    def notify(self, title: str, body: str) -> bool:
        shown = bool(self._real.notify(title, body))
        self.calls.append({"title": title, "body": body, "shown": shown})
        return shown


def _capture_log(name: str) -> list[logging.LogRecord]:
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return records


def _check_reminder(
    window: Any, notifier: RecordingNotifier, records: list[logging.LogRecord]
) -> dict[str, Any]:
    """Wait for the page's reminder poll to call notify, then call it once more."""
    deadline = time.monotonic() + 30
    while not notifier.calls and time.monotonic() < deadline:
        time.sleep(0.2)
    # Long enough for the poll that pywebviewready starts to finish as well.
    time.sleep(2)
    page_calls = list(notifier.calls)
    return {
        "page_calls": page_calls,
        "notice": window.evaluate_js(
            "(document.querySelector('.reminder-title') || {}).textContent || ''"
        ),
        "direct": _call_api(window, "notify", "直接调用", "正文"),
        "log": [record.getMessage() for record in records],
    }


def _check_ics_names(window: Any, driver: DialogDriver) -> dict[str, str]:
    """Click an appointment's .ics link, then a plain copy of it; cancel both."""
    names = []
    link = "document.querySelector('tr.appointment a[data-download]')"
    plain = (
        "var plain = document.createElement('a');"
        f"plain.href = {link}.href; document.body.appendChild(plain); plain.click();"
    )
    for script in (f"{link}.click()", plain):
        driver.responses.append(None)
        count = len(driver.suggested_names)
        window.evaluate_js(script)
        deadline = time.monotonic() + 30
        while len(driver.suggested_names) == count and time.monotonic() < deadline:
            time.sleep(0.1)
        names.append(driver.suggested_names[-1] if driver.suggested_names else "")
    return {"ics_link_name": names[0], "ics_header_name": names[1]}


def _call_api(window: Any, name: str, *args: Any, timeout: float = 30) -> Any:
    """Call ``window.pywebview.api.<name>`` from the page and return its outcome."""
    window.evaluate_js(
        "window.__apiResult = null;"
        f"window.pywebview.api.{name}(...{json.dumps(args)}).then("
        " (value) => { window.__apiResult = {value: value}; },"
        " (error) => { window.__apiResult = {error: String(error.message)}; });"
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = window.evaluate_js("window.__apiResult")
        if result:
            return result
        time.sleep(0.1)
    return {"error": f"no response from {name} within {timeout} s"}


def _wait_for_file(path: Path, size: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size == size:
            return True
        time.sleep(0.1)
    return False


def _notification_server(record: str) -> None:
    """Serve org.freedesktop.Notifications on the session bus, writing each call."""
    from PyQt6.QtCore import pyqtClassInfo, pyqtSlot
    from qtpy.QtCore import QCoreApplication, QObject
    from qtpy.QtDBus import QDBusAbstractAdaptor, QDBusConnection

    output = open(record, "a", encoding="utf-8")  # noqa: SIM115 (open while serving)

    @pyqtClassInfo("D-Bus Interface", "org.freedesktop.Notifications")
    class Adaptor(QDBusAbstractAdaptor):  # type: ignore[misc]
        @pyqtSlot(
            str, "uint", str, str, str, "QStringList", "QVariantMap", int,
            result="uint",
        )  # fmt: skip
        def Notify(  # noqa: N802 (the D-Bus method's name)
            self,
            app: str,
            replaces: int,
            icon: str,
            summary: str,
            body: str,
            actions: list[str],
            hints: dict[str, Any],
            timeout: int,
        ) -> int:
            call = {"app": app, "summary": summary, "body": body, "timeout": timeout}
            output.write(json.dumps(call, ensure_ascii=False) + "\n")
            output.flush()
            return 1

    app = QCoreApplication([])
    holder = QObject()
    Adaptor(holder)
    bus = QDBusConnection.sessionBus()
    if not (
        bus.registerObject("/org/freedesktop/Notifications", holder)
        and bus.registerService("org.freedesktop.Notifications")
    ):
        sys.exit(f"cannot register the service: {bus.lastError().message()}")
    print("READY", flush=True)
    app.exec()


if __name__ == "__main__":
    if sys.argv[1] == "notification-server":
        _notification_server(sys.argv[3])
    else:
        _child_main(*sys.argv[1:4])
