"""The one-file executable: built from build_spec/r9crm.spec, started, queried.

The build here is the server-only variant (``-- --server-only``), without
pywebview and Qt, because it is three times faster and six times smaller.
On a 2-core Debian 12 machine with PyQt6-WebEngine installed, the release
build took 105 s for a 233 MiB file and the server-only one 34 s for
38 MiB (PyInstaller 6.22.3, one run each). The window is tested from
source in tests/test_window.py.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "build_spec" / "r9crm.spec"
BUILD_TIMEOUT = 900  # seconds; the build took 34 to 80 s on 2 busy cores
START_TIMEOUT = 60  # seconds until the port accepts, unpacking included
STOP_TIMEOUT = 15  # seconds from SIGTERM to exit, clean-up included


@dataclass
class Running:
    """One started executable."""

    process: subprocess.Popen[bytes]
    base_url: str
    unpack_dir: Path
    log: Path


@pytest.fixture(scope="module")
def executable(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the server-only one-file executable into a temporary folder."""
    work = tmp_path_factory.mktemp("pyinstaller")
    command = [
        sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
        "--distpath", str(work / "dist"), "--workpath", str(work / "build"),
        str(SPEC), "--", "--server-only",
    ]  # fmt: skip
    build = subprocess.run(
        command, cwd=work, capture_output=True, text=True, timeout=BUILD_TIMEOUT
    )
    assert build.returncode == 0, f"PyInstaller failed:\n{build.stderr[-6000:]}"
    return work / "dist" / ("r9crm.exe" if sys.platform == "win32" else "r9crm")


@pytest.fixture(scope="module")
def running(
    executable: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    """Start the executable with `serve` on a free port; stop it afterwards."""
    started = _start(executable, tmp_path_factory.mktemp("dist-run"))
    yield started
    _stop(started)


def test_dist_serves_contacts(running: Running) -> None:
    status, _ = _get(running.base_url + "contacts/")
    assert status == HTTPStatus.OK


def test_dist_serves_home(running: Running) -> None:
    status, page = _get(running.base_url, follow_redirects=False)
    assert status == HTTPStatus.OK
    assert 'id="home-appointments"' in page


def test_dist_serves_static(running: Running) -> None:
    _, page = _get(running.base_url + "contacts/")
    stylesheet = re.search(r'href="(/static/[^"?]+\.css)', page)
    assert stylesheet, "the contacts page links no stylesheet"
    status, _ = _get(running.base_url + stylesheet.group(1).lstrip("/"))
    assert status == HTTPStatus.OK


def test_dist_translates(running: Running) -> None:
    _, english = _get(running.base_url + "contacts/", language="en")
    _, chinese = _get(running.base_url + "contacts/", language="zh-CN")
    assert _title(chinese) != _title(english)


@pytest.mark.parametrize(
    "packaged",
    [
        "crm_web/templates/base.html",
        "crm_web/static/css/app.css",
        "assets/r9crm.png",
    ],
)
def test_dist_contains_file(executable: Path, packaged: str) -> None:
    assert packaged in _archive_names(executable)


def test_dist_contains_translations(executable: Path) -> None:
    catalogues = (ROOT / "crm_web" / "translations").glob("*/LC_MESSAGES/*.po")
    expected = {po.with_suffix(".mo").relative_to(ROOT).as_posix() for po in catalogues}
    assert expected <= _archive_names(executable)


def test_dist_leaves_no_gui_toolkit(executable: Path) -> None:
    names = _archive_names(executable)
    assert not {name for name in names if name.startswith(("PyQt6", "webview"))}


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM and TMPDIR are POSIX")
def test_dist_stops_cleanly(
    executable: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    started = _start(executable, tmp_path_factory.mktemp("dist-stop"))
    _stop(started)
    assert started.process.returncode is not None
    assert not _accepts_connections(started.base_url)
    assert list(started.unpack_dir.iterdir()) == []


# ---------------------------------------------------------------- helpers


def _start(executable: Path, folder: Path) -> Running:
    port = _free_port()
    unpack_dir = folder / "tmp"
    unpack_dir.mkdir()
    env = {
        key: value for key, value in os.environ.items() if not key.startswith("CRM_")
    }
    # The one-file bootloader unpacks into TMPDIR, so a stale unpack folder
    # after the stop shows up here instead of in the system's /tmp.
    env["TMPDIR"] = str(unpack_dir)
    log = folder / "serve.log"
    command = [
        str(executable), "--data-dir", str(folder / "data"),
        "serve", "--port", str(port),
    ]  # fmt: skip
    with log.open("wb") as output:
        # A session of its own, so _stop can reach the bootloader's child
        # even if the bootloader itself has to be killed.
        process = subprocess.Popen(
            command, env=env, cwd=folder, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    running = Running(process, f"http://127.0.0.1:{port}/", unpack_dir, log)
    _wait_until_serving(running)
    return running


def _stop(running: Running) -> None:
    # The bootloader forwards SIGTERM to the Python process it started and
    # deletes its unpack folder once that exits.
    running.process.terminate()
    try:
        running.process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(running.process.pid, signal.SIGKILL)
        running.process.wait(timeout=STOP_TIMEOUT)
        pytest.fail(f"the executable ignored SIGTERM for {STOP_TIMEOUT} s")


def _wait_until_serving(running: Running) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            output = running.log.read_text(errors="replace")
            pytest.fail(f"the executable exited with {running.process.returncode}:\n"
                        f"{output[-4000:]}")  # fmt: skip
        if _accepts_connections(running.base_url):
            return
        time.sleep(0.2)
    _stop(running)
    pytest.fail(f"the executable did not serve within {START_TIMEOUT} s")


def _get(
    url: str, *, language: str = "en", follow_redirects: bool = True
) -> tuple[int, str]:
    handlers = [urllib.request.ProxyHandler({})]
    if not follow_redirects:
        handlers.append(_NoRedirect())
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(url, headers={"Accept-Language": language})
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _title(page: str) -> str:
    found = re.search(r"<title>(.*?)</title>", page, re.S)
    assert found, "the page has no <title>"
    return found.group(1).strip()


def _archive_names(executable: Path) -> set[str]:
    listing = subprocess.run(
        [sys.executable, "-m", "PyInstaller.utils.cliutils.archive_viewer",
         "--list", "--brief", str(executable)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return {line.strip().strip("'") for line in listing.stdout.splitlines()}


def _accepts_connections(url: str) -> bool:
    port = int(url.rsplit(":", 1)[1].strip("/"))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
