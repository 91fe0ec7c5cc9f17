"""Desktop shell: the app's pages in a native pywebview window.

The window shows pages of the local server and adds what a page cannot do
alone: native file dialogs, saving downloads to a folder the user picks,
and native notifications for reminders. Pages reach those through
``window.pywebview.api`` (see ``WindowApi``).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import platformdirs
import webview
from webview.guilib import GUIType

from ui.notifications import Notifier, system_notifier

log = logging.getLogger(__name__)

ICON_PATH = Path(__file__).resolve().parent.parent / "assets" / "r9crm.png"
LOCAL_HOST = "127.0.0.1"

# Seconds one socket operation may take. The server builds an export whole
# before it sends the first byte, so this is generous: it only ends a fetch
# from a server that hangs.
FETCH_TIMEOUT = 600.0

# Characters Windows forbids in file names, plus control characters.
UNSAFE_NAME_CHARACTERS = re.compile(r'[<>:"/\\|?*\x00-\x1f]')


class DownloadError(Exception):
    """A download that cannot be saved. The page's promise rejects with its message."""


class WindowApi:
    """Methods that pages call as ``window.pywebview.api.<name>(...)``.

    pywebview exposes every public attribute to the page, so state is kept in
    underscored names.
    """

    def __init__(self, app_url: str, notifier: Notifier | None = None) -> None:
        self._app_url = app_url
        self._window: webview.Window | None = None
        self._notifier = notifier or system_notifier()

    def save_download(self, url: str, suggested_name: str) -> str:
        """Ask where to save ``url`` of the local server, then fetch it there.

        Return the saved path, or '' when the user cancels the dialog.
        """
        source = resolve_local_url(self._app_url, url)
        window = self._require_window()
        target = ask_save_path(window, safe_file_name(suggested_name, source))
        if not target:
            return ""

        fetch_to_file(source, Path(target), cookie_header(window.get_cookies()))
        log.info("Download saved to %s", target)
        return target

    def open_files_dialog(self, file_types: Sequence[str] | None = None) -> list[str]:
        """Ask for files to open and return their paths (none when cancelled).

        ``file_types`` entries read like ``"Excel (*.xlsx;*.xls)"``.
        """
        chosen = self._require_window().create_file_dialog(
            webview.FileDialog.OPEN,
            allow_multiple=True,
            file_types=tuple(file_types or ()),
        )
        return [str(path) for path in chosen or ()]

    def notify(self, title: str, body: str = "") -> bool:
        """Raise a native notification; return False where the system has none.

        reminders.js calls this for each due reminder, once per occurrence.
        """
        return self._notifier.notify(str(title), str(body))

    def _require_window(self) -> webview.Window:
        if self._window is None:
            raise RuntimeError("WindowApi is used before its window exists")
        return self._window


def has_display() -> bool:
    """Return whether a window can be shown, which is always so on Windows and macOS."""
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def open_window(
    url: str,
    *,
    title: str = "R9 CRM",
    width: int = 1280,
    height: int = 800,
    on_start: Callable[[webview.Window], None] | None = None,
) -> None:
    """Show ``url`` in a native window and block until the user closes it.

    ``on_start`` runs in a background thread once the GUI loop has started,
    with the window as its argument.
    """
    gui = _choose_gui()
    if gui == "qt":
        _prepare_qt_environment()
    # pywebview 6.2's own Qt download handler calls setPath(), which Qt 6
    # removed, so the save dialog appears and then nothing is saved.
    # _connect_qt_downloads replaces it on that backend.
    webview.settings["ALLOW_DOWNLOADS"] = gui != "qt"

    api = WindowApi(url)
    window = webview.create_window(
        title, url, js_api=api, width=width, height=height, min_size=(800, 560)
    )
    if window is None:
        raise RuntimeError("pywebview did not create the window")
    api._window = window
    if gui == "qt":
        window.events.before_show += _connect_qt_downloads

    icon = str(ICON_PATH) if ICON_PATH.exists() else None
    start_args = (window,) if on_start else None
    log.info("Opening the window on %s", url)
    webview.start(on_start, start_args, gui=gui, icon=icon)
    log.info("Window closed")


def ask_save_path(window: webview.Window, suggested_name: str) -> str:
    """Show the native save dialog and return the chosen path ('' when cancelled)."""
    downloads = platformdirs.user_downloads_dir()
    chosen = window.create_file_dialog(
        webview.FileDialog.SAVE,
        directory=downloads if os.path.isdir(downloads) else "",
        save_filename=suggested_name,
    )
    # The backends differ: some return the path, others a one-item sequence.
    if not chosen:
        return ""
    if isinstance(chosen, str):
        return chosen
    return str(chosen[0])


def resolve_local_url(app_url: str, url: str) -> str:
    """Resolve ``url`` against the app's URL and reject any other server.

    Only the app's own origin on 127.0.0.1 is allowed, because the fetch
    carries the window's session cookies.
    """
    absolute = urllib.parse.urljoin(app_url, url)
    parts = urllib.parse.urlsplit(absolute)
    app = urllib.parse.urlsplit(app_url)
    is_app_origin = (parts.scheme, parts.netloc) == (app.scheme, app.netloc)
    if not is_app_origin or parts.scheme != "http" or parts.hostname != LOCAL_HOST:
        raise DownloadError(
            f"Download rejected: {absolute} is not on the app's server "
            f"http://{LOCAL_HOST}:{app.port}/"
        )
    return absolute


def safe_file_name(suggested_name: str, url: str) -> str:
    """Turn a page's suggested name into a bare file name for the dialog."""
    name = suggested_name.replace("\\", "/").rsplit("/", 1)[-1]
    if not name:
        path = urllib.parse.urlsplit(url).path
        name = urllib.parse.unquote(path.rstrip("/").rsplit("/", 1)[-1])
    name = UNSAFE_NAME_CHARACTERS.sub("_", name).strip(" .")
    return name or "download"


def cookie_header(cookies: Sequence[SimpleCookie] | None) -> str:
    """Build a Cookie header from the window's cookies for the local host."""
    pairs: dict[str, str] = {}
    for jar in cookies or ():
        for name, morsel in jar.items():
            if morsel["domain"].lstrip(".") in ("", LOCAL_HOST):
                pairs[name] = morsel.value
    return "; ".join(f"{name}={value}" for name, value in pairs.items())


def fetch_to_file(url: str, target: Path, cookie: str) -> None:
    """Fetch ``url`` into ``target``, replacing it only once the body is complete."""
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    # An empty ProxyHandler keeps a system proxy (HTTP_PROXY, Windows
    # settings) away from the local server.
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), _LocalRedirectHandler(url)
    )
    # Plain open() rather than tempfile, so the file gets the usual
    # permissions instead of 0600.
    partial = target.with_name(f".{target.name}.part")
    try:
        with (
            opener.open(request, timeout=FETCH_TIMEOUT) as response,
            partial.open("wb") as output,
        ):
            shutil.copyfileobj(response, output)
        os.replace(partial, target)
    except urllib.error.HTTPError as error:
        raise DownloadError(
            f"Download of {url} failed: the server returned HTTP {error.code}"
        ) from error
    except (urllib.error.URLError, TimeoutError) as error:
        raise DownloadError(f"Download of {url} failed: {error}") from error
    finally:
        partial.unlink(missing_ok=True)


class _LocalRedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follow redirects only within the app's server."""

    def __init__(self, app_url: str) -> None:
        self._app_url = app_url

    def redirect_request(
        self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        resolve_local_url(self._app_url, newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _choose_gui() -> GUIType | None:
    # Named explicitly on Linux because pywebview tries GTK first, and GTK's
    # Python bindings do not install into a virtual environment here.
    return "qt" if sys.platform.startswith("linux") else None


def _prepare_qt_environment() -> None:
    # QtWebEngine's Chromium sandbox fails to start as root (CI, Docker), so it
    # is turned off for root only.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
        os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--no-sandbox")


def _connect_qt_downloads(window: webview.Window) -> None:
    """Save in-page downloads through the save dialog on the Qt backend.

    Runs in the GUI thread before the window is shown.
    """
    native: Any = window.native  # webview.platforms.qt.BrowserView
    profile = native.webview.page().profile()
    profile.downloadRequested.connect(
        lambda request: _save_qt_download(window, request)
    )


def _save_qt_download(window: webview.Window, request: Any) -> None:
    # Qt cancels a request that is not accepted before this slot returns, and
    # the save dialog runs its own event loop, so asking here is safe. PyQt6
    # aborts the whole process on an exception in a slot, hence the catch-all.
    try:
        target = ask_save_path(window, request.suggestedFileName())
        if not target:
            request.cancel()
            return

        request.setDownloadDirectory(os.path.dirname(target))
        request.setDownloadFileName(os.path.basename(target))
        request.isFinishedChanged.connect(lambda: _log_qt_download(request, target))
        request.accept()
    except Exception:
        log.exception("Download of %s failed", request.url().toString())
        request.cancel()


def _log_qt_download(request: Any, target: str) -> None:
    state = request.state()
    if state == type(request).DownloadState.DownloadCompleted:
        log.info("Download saved to %s", target)
    else:
        log.error("Download to %s failed: %s", target, request.interruptReasonString())
