"""Logging set-up, called once at start-up (never on import)."""

from __future__ import annotations

import logging
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path

LOG_FILE_NAME = "r9crm.log"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(
    log_dir: Path, *, level: int = logging.INFO, console_level: int = logging.INFO
) -> Path:
    """Log to a rotating file in ``log_dir`` and to the console if one exists."""
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / LOG_FILE_NAME
    root = logging.getLogger()
    if any(getattr(h, "r9crm", False) for h in root.handlers):
        return path
    file_handler = RotatingFileHandler(
        path, maxBytes=2_000_000, backupCount=5, encoding="utf-8"
    )
    handlers: list[logging.Handler] = [file_handler]
    # A windowed (PyInstaller --noconsole) build has no stderr.
    if sys.stderr is not None:
        console = logging.StreamHandler()
        console.setLevel(console_level)
        handlers.append(console)
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.r9crm = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    # waitress logs every queue warning at WARNING; keep them, drop its INFO.
    logging.getLogger("waitress").setLevel(logging.WARNING)
    return path
