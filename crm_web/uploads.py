"""Files uploaded to the log and sales import wizards, kept until imported.

Each upload gets a random token and a folder in the work area holding the
file's bytes and its original name. The name is only ever shown, never used
as a path.
"""

from __future__ import annotations

import re
import secrets
from http import HTTPStatus
from pathlib import Path

from flask import abort, request

from crm_web import web

TOKEN = re.compile(r"[0-9a-f]{32}")
DATA_FILE = "upload.bin"
NAME_FILE = "filename.txt"


def upload_dir(area: str, token: str) -> Path:
    """Return the folder of upload ``token`` in ``area``; 404 for a bad token."""
    if not TOKEN.fullmatch(token):
        abort(HTTPStatus.NOT_FOUND)
    return web.settings().work_dir / area / token


def save_upload(area: str) -> str | None:
    """Save the request's "file" field in ``area``; return its token, or None."""
    file = request.files.get("file")
    if file is None or not file.filename:
        return None
    token = secrets.token_hex(16)
    folder = upload_dir(area, token)
    folder.mkdir(parents=True)
    file.save(folder / DATA_FILE)
    name = Path(file.filename.replace("\\", "/")).name
    (folder / NAME_FILE).write_text(name, encoding="utf-8")
    return token


def uploaded_file(area: str, token: str) -> tuple[Path, str]:
    """Return the path and original name of upload ``token``; 404 if missing."""
    folder = upload_dir(area, token)
    meta = folder / NAME_FILE
    if not meta.exists():
        abort(HTTPStatus.NOT_FOUND)
    return folder / DATA_FILE, meta.read_text(encoding="utf-8")
