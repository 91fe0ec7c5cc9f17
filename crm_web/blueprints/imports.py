"""The import wizard: upload, preview and mapping, progress, history, undo."""

from __future__ import annotations

import io
import json
import re
import secrets
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from crm_web import auth, web
from crm_web.data import imports as import_data
from crm_web.data import visibility
from crm_web.errors import UserError
from crm_web.services import audit, jobs
from crm_web.services.fields import CONTACT_FIELDS
from crm_web.services.importing import pipeline
from crm_web.services.importing.rows import IGNORE, TO_EXTRA, TO_NOTES
from crm_web.services.templates_files import write_template

bp = Blueprint("imports", __name__, url_prefix="/imports")

_TOKEN = re.compile(r"[0-9a-f]{32}")
ENCODINGS = ("utf-8-sig", "gb18030", "big5", "utf-16", "cp1252")
DELIMITERS = {
    "\t": _l("Tab"),
    ",": _l("Comma (,)"),
    ";": _l("Semicolon (;)"),
    "|": _l("Vertical bar (|)"),
}


def _upload_dir(token: str) -> Path:
    if not _TOKEN.fullmatch(token):
        abort(404)
    return web.settings().work_dir / "uploads" / token


def _load_options(token: str) -> dict[str, Any]:
    path = _upload_dir(token) / "options.json"
    if not path.exists():
        abort(404)
    options: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return options


def _save_options(token: str, options: dict[str, Any]) -> None:
    path = _upload_dir(token) / "options.json"
    path.write_text(json.dumps(options, ensure_ascii=False), encoding="utf-8")


def _plan(token: str, options: dict[str, Any]) -> pipeline.ImportPlan:
    return pipeline.plan_import(
        _upload_dir(token) / "upload.bin",
        filename=options["filename"],
        encoding=options.get("encoding") or None,
        delimiter=options.get("delimiter") or None,
        sheet=options.get("sheet") or None,
        header_row=options.get("header_row"),
        mapping=options.get("mapping"),
        allow_unmatched=True,
    )


@bp.get("/")
def index() -> str:
    history = import_data.find_imports(web.db())
    for record in history:
        suffix = Path(record["rejected_file"] or "").suffix
        record["rejected_name"] = rejected_download_name(record["filename"], suffix)
    return render_template("imports/index.html", history=history)


@bp.post("/upload")
def upload() -> Response:
    file = request.files.get("file")
    if file is None or not file.filename:
        flash(_("Choose a file to import first."), "error")
        return redirect(url_for(".index"))
    token = secrets.token_hex(16)
    folder = _upload_dir(token)
    folder.mkdir(parents=True)
    file.save(folder / "upload.bin")
    # The original name is only ever shown, never used as a path.
    _save_options(
        token,
        {"filename": Path(file.filename.replace("\\", "/")).name, "policy": "update"},
    )
    return redirect(url_for(".review", token=token))


@bp.get("/<token>")
def review(token: str) -> Any:
    options = _load_options(token)
    if options.get("job_id"):
        # The browser's Back button must not offer to import the file twice.
        flash(_("This file was imported already; see the import history."))
        if jobs.get_job(options["job_id"]) is None:
            return redirect(url_for(".index"))
        return redirect(url_for(".job", job_id=options["job_id"]))
    try:
        plan = _plan(token, options)
    except UserError as error:
        return render_template(
            "imports/failed.html",
            message=error.message,
            options=options,
            token=token,
            encodings=ENCODINGS,
        ), error.status
    rows = pipeline.preview(
        web.db(), plan, policy=options["policy"], region=web.region()
    )
    return render_template(
        "imports/review.html",
        token=token,
        plan=plan,
        options=options,
        rows=rows,
        fields=CONTACT_FIELDS,
        encodings=ENCODINGS,
        delimiters=DELIMITERS,
        policy_labels=pipeline.POLICY_LABELS,
        extra_targets=(
            (TO_EXTRA, _("Keep as extra field")),
            (TO_NOTES, _("Add to notes")),
            (IGNORE, _("Do not import")),
        ),
    )


@bp.post("/<token>")
def update_options(token: str) -> Response:
    options = _load_options(token)
    form = request.form
    # A different encoding, delimiter, sheet or header row changes the
    # columns, so the mapping chosen for the old columns is dropped.
    reading = ("encoding", "delimiter", "sheet", "header_row")
    is_reread = any(form.get(k, "") != form.get(f"current_{k}", "") for k in reading)
    for key in ("encoding", "delimiter", "sheet", "policy"):
        if key in form:
            options[key] = form[key]
    if form.get("header_row", "").isdigit():
        # 0 means the file has no header row: its first row is data.
        options["header_row"] = int(form["header_row"]) - 1
    if is_reread:
        options.pop("mapping", None)
    else:
        width = form.get("columns", 0, int)
        options["mapping"] = [form.get(f"map-{i}", TO_EXTRA) for i in range(width)]
    _save_options(token, options)
    if form.get("action") == "start":
        return _start(token, options)
    return redirect(url_for(".review", token=token))


def _start(token: str, options: dict[str, Any]) -> Response:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    language = web.current_language()
    plan = _plan(token, options)
    database, settings = web.db(), web.settings()
    region, owner = web.region(), web.owner()
    user, viewer = auth.current_user(), visibility.current_viewer()

    def work(job: jobs.Job) -> dict[str, Any]:
        summary = pipeline.import_file(
            database,
            plan.path,
            policy=options["policy"],
            owner=owner,
            region=region,
            work_dir=settings.work_dir,
            plan=plan,
            progress=lambda count, total: _report(job, count, total),
        )
        audit.record(
            database,
            "import",
            user=owner,
            target=plan.filename,
            detail=f"inserted={summary.inserted} updated={summary.updated} "
            f"rejected={summary.rejected}",
        )
        return _summary_json(summary)

    def in_context(body: Any) -> None:
        with app.test_request_context():
            session["language"] = language
            # The import acts as the user who started it.
            g.crm_user, g.crm_viewer = user, viewer
            try:
                body()
            finally:
                database.release()

    options["job_id"] = "pending"
    _save_options(token, options)
    job = jobs.start_job(
        "import", work, wrap=in_context, info={"filename": plan.filename}
    )
    options["job_id"] = job.id
    _save_options(token, options)
    return redirect(url_for(".job", job_id=job.id))


def _report(job: jobs.Job, count: int, total: int) -> None:
    job.progress, job.total = count, total


def _summary_json(summary: pipeline.ImportSummary) -> dict[str, Any]:
    return {
        "import_uuid": summary.import_uuid,
        "message": summary.describe(),
        "inserted": summary.inserted,
        "updated": summary.updated,
        "skipped": summary.skipped,
        "rejected": summary.rejected,
        "reasons": summary.rejected_reasons[:50],
        "has_rejected_file": summary.rejected_file is not None,
        "rejected_name": rejected_download_name(
            summary.filename, summary.rejected_file.suffix
        )
        if summary.rejected_file
        else "",
    }


@bp.get("/jobs/<job_id>")
def job(job_id: str) -> str | dict[str, Any]:
    found = jobs.get_job(job_id)
    if found is None:
        abort(404)
    state = {
        "state": found.state,
        "progress": found.progress,
        "total": found.total,
        "result": found.result,
        "error": _job_error(found),
    }
    if web.wants_json():
        return state
    return render_template("imports/job.html", job=found, state=state)


def _job_error(job: jobs.Job) -> str:
    if job.error == "unexpected":
        return _(
            "The import failed and nothing was saved. The details are in "
            "the log file in %(path)s.",
            path=web.settings().log_dir,
        )
    if job.error:
        return _("The import failed and nothing was saved: %(error)s", error=job.error)
    return ""


@bp.get("/<import_uuid>/rejected")
def rejected(import_uuid: str) -> Response:
    record = import_data.get_import(web.db(), import_uuid)
    if record is None or not record["rejected_file"]:
        abort(404)
    path = web.settings().work_dir / Path(record["rejected_file"]).name
    if not path.exists():
        abort(404)
    return send_file(
        path,
        as_attachment=True,
        download_name=rejected_download_name(record["filename"], path.suffix),
    )


def rejected_download_name(filename: str, suffix: str) -> str:
    """Return the rejected rows' file name: the source's, with its own type."""
    return f"{Path(filename).stem}-rejected{suffix}"


@bp.post("/<import_uuid>/undo")
def undo(import_uuid: str) -> Response:
    summary = pipeline.undo_import(web.db(), import_uuid, region=web.region())
    audit.record(web.db(), "import_undone", user=web.owner(), target=import_uuid)
    flash(summary.describe())
    return redirect(url_for(".index"))


@bp.get("/template.<kind>")
def template(kind: str) -> Response:
    if kind not in ("xlsx", "txt"):
        abort(404)
    buffer = io.BytesIO()
    write_template(buffer, kind)
    buffer.seek(0)
    return send_file(
        buffer, as_attachment=True, download_name=f"{_('contacts-template')}.{kind}"
    )
