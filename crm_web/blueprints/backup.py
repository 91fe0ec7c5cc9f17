"""The Backup page: back up now, restore, and automatic backup settings."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import format_decimal
from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from crm_web import web
from crm_web.errors import BackupUploadTooLargeError, UserError
from crm_web.services import audit
from crm_web.services import backup as backup_service
from crm_web.services.backup_schedule import read_status
from crm_web.services.preferences import SETTINGS_BY_NAME, save_preferences

bp = Blueprint("backup", __name__, url_prefix="/backup")

# waitress rejects a request body over 1 GiB on its own (max_request_body_size).
RESTORE_UPLOAD_BYTES = 1024**3
MB = 1024 * 1024
BACKUP_SETTINGS = ("backup_folder", "backup_every_days", "backup_keep")


@bp.url_value_preprocessor
def _allow_large_uploads(endpoint: str | None, _values: Any) -> None:
    # Runs before CSRF protection reads the form, so the limit applies first.
    if endpoint == "backup.restore":
        request.max_content_length = RESTORE_UPLOAD_BYTES


@bp.errorhandler(RequestEntityTooLarge)
def upload_too_large(_error: RequestEntityTooLarge) -> Any:
    error = BackupUploadTooLargeError(RESTORE_UPLOAD_BYTES // MB, str(_folder()))
    return render_template(
        "error.html", message=error.message, status=error.status
    ), error.status


def _folder() -> Path:
    return backup_service.backup_folder(
        web.settings(), web.preferences()["backup_folder"]
    )


@bp.get("/")
def index() -> str:
    settings = web.settings()
    folder = _folder()
    safety = backup_service.safety_folder(settings)
    return render_template(
        "backup/index.html",
        folder=folder,
        backups=backup_service.list_backups(folder),
        safety_folder=safety,
        safety_backups=backup_service.list_backups(safety, backup_service.SAFETY),
        safety_keep=backup_service.SAFETY_KEEP,
        status=read_status(settings),
        settings=[SETTINGS_BY_NAME[name] for name in BACKUP_SETTINGS],
        values=web.preferences(),
        size_text=size_text,
    )


@bp.post("/create")
def create() -> Response:
    db = web.db()
    target = backup_service.new_backup_path(
        _folder(), backup_service.MANUAL, backup_service.local_now(db)
    )
    try:
        summary = backup_service.create_backup(db, web.settings(), target)
    except UserError as error:
        flash(error.message, "error")
        return redirect(url_for(".index"))
    audit.record(db, "backup", user=web.owner(), target=str(summary.path))
    flash(
        _(
            "Backup written to %(path)s: %(contacts)s contacts and %(files)s files.",
            path=summary.path,
            contacts=summary.tables.get("contacts", 0),
            files=summary.files,
        )
    )
    return redirect(url_for(".index"))


@bp.get("/download/<name>")
def download(name: str) -> Response:
    path = backup_service.find_backup(web.settings(), _folder(), name)
    return send_file(path, as_attachment=True, download_name=path.name)


@bp.post("/restore")
def restore() -> Response:
    db = web.db()
    upload = request.files.get("backup")
    try:
        if upload is not None and upload.filename:
            summary = _restore_upload(upload)
        else:
            source = backup_service.find_backup(
                web.settings(), _folder(), request.form.get("name", "")
            )
            summary = backup_service.restore_backup(db, web.settings(), source)
    except UserError as error:
        flash(error.message, "error")
        return redirect(url_for(".index"))
    audit.record(db, "restore", user=web.owner(), target=summary.name)
    flash(
        _(
            "Restored “%(name)s”, a backup written %(written)s. The data from "
            "before the restore is saved in %(path)s: restore that file to "
            "undo this.",
            name=summary.name,
            written=_written(summary.created_at),
            path=summary.safety_path,
        )
    )
    return redirect(url_for(".index"))


def _restore_upload(upload: FileStorage) -> backup_service.RestoreSummary:
    work_dir = web.settings().work_dir
    work_dir.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=work_dir, suffix=".zip")
    os.close(handle)
    temp = Path(temp_name)
    try:
        upload.save(temp)
        # The name is only shown in messages, never used as a path.
        name = Path(upload.filename or "").name[:200]
        return backup_service.restore_backup(web.db(), web.settings(), temp, name=name)
    finally:
        temp.unlink(missing_ok=True)


@bp.post("/settings")
def save_settings() -> Response:
    values = {name: request.form.get(name, "") for name in BACKUP_SETTINGS}
    try:
        save_preferences(web.db(), values)
    except UserError as error:
        flash(error.message, "error")
    else:
        flash(_("Backup settings saved."))
    return redirect(url_for(".index"))


def size_text(size: int) -> str:
    """Format a byte count in MB with one decimal, at least 0.1 MB."""
    return f"{format_decimal(max(size / MB, 0.1), '#,##0.0')} MB"


def _written(created_at: str) -> str:
    """Format a manifest's UTC creation time in the user's zone."""
    try:
        moment = datetime.fromisoformat(created_at.removesuffix("Z"))
    except ValueError:
        return created_at
    return web.format_local_datetime(moment.replace(tzinfo=None))
