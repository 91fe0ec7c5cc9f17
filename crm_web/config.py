"""Start-up settings: where the data lives and which database to use.

This is the only module that reads ``os.environ``. Settings that users change
inside the app (language, default phone region, page size) live in the
database instead; see ``crm_web.services.preferences``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

APP_NAME = "R9CRM"
APP_AUTHOR = "R9"

# One row per environment variable: name, what it sets, default.
ENVIRONMENT = (
    (
        "CRM_DATA_DIR",
        "folder for the SQLite file, files area and logs",
        "the platform's per-user data folder",
    ),
    (
        "CRM_DATABASE_URL",
        "SQLAlchemy URL of the database (sqlite:///... or mysql+pymysql://...)",
        "SQLite file in the data folder",
    ),
    (
        "CRM_LANGUAGE",
        "interface language when the user has not chosen one (en or zh_CN)",
        "the system language",
    ),
)


def default_data_dir() -> Path:
    """Return the platform's per-user data folder for the app."""
    return Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))


@dataclass(frozen=True)
class Settings:
    """Start-up settings; every path is absolute."""

    data_dir: Path
    database_url: str
    language: str | None = None
    testing: bool = False
    secret_key: str = field(default="", repr=False)

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def work_dir(self) -> Path:
        """Scratch folder for uploads that wait for the import wizard."""
        return self.data_dir / "work"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def chosen_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the absolute data folder: the argument, CRM_DATA_DIR or the default.

    Unlike ``load_settings`` it creates nothing.
    """
    chosen_dir = data_dir or os.environ.get("CRM_DATA_DIR") or default_data_dir()
    return Path(chosen_dir).expanduser().resolve()


def load_settings(
    *,
    data_dir: str | os.PathLike[str] | None = None,
    database_url: str | None = None,
    testing: bool = False,
) -> Settings:
    """Build settings from arguments, falling back to the environment.

    The data folder is created when missing.
    """
    folder = chosen_data_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)

    url = database_url or os.environ.get("CRM_DATABASE_URL")
    if not url:
        url = f"sqlite:///{folder / 'r9crm.sqlite3'}"

    return Settings(
        data_dir=folder,
        database_url=url,
        language=os.environ.get("CRM_LANGUAGE") or None,
        testing=testing,
        secret_key=_load_secret_key(folder),
    )


def _load_secret_key(folder: Path) -> str:
    """Read the session-signing key from the data folder, creating it once."""
    path = folder / "secret.key"
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    key = secrets.token_hex(32)
    path.write_text(key, encoding="ascii")
    with contextlib.suppress(OSError):  # Windows ignores POSIX modes.
        path.chmod(0o600)
    return key
