"""File repository pages: the list and search, upload, a file's page, trash."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from crm_web import web
from crm_web.errors import (
    FileTooLargeError,
    InvalidValueError,
    NotFoundError,
    UploadTooLargeError,
)
from crm_web.server import is_loopback
from crm_web.services import audit, file_names
from crm_web.services import files as file_service
from crm_web.services.file_store import MB, BlobStore
from crm_web.services.search import search_contacts

bp = Blueprint("files", __name__, url_prefix="/files")

# Room for the form fields and multipart headers around one file.
FORM_OVERHEAD_BYTES = MB
CONTACT_CHOICES = 10
TRASH_PAGE_SIZE = 100


def store() -> BlobStore:
    return BlobStore(web.settings().files_dir)


def limit_mb() -> int:
    return int(web.preferences()["files_max_mb"])


def request_limit_bytes() -> int:
    """Return the largest upload request: the app's, or one file at the limit."""
    app_limit = int(current_app.config["MAX_CONTENT_LENGTH"] or 0)
    return max(app_limit, file_service.limit_bytes(limit_mb()) + FORM_OVERHEAD_BYTES)


@bp.url_value_preprocessor
def _allow_large_uploads(endpoint: str | None, _values: Any) -> None:
    # URL value preprocessors run before the app's before_request handlers,
    # and CSRF protection reads the form there, so the limit is set first.
    if endpoint == "files.upload":
        request.max_content_length = request_limit_bytes()


@bp.errorhandler(RequestEntityTooLarge)
def upload_too_large(_error: RequestEntityTooLarge) -> Any:
    error = UploadTooLargeError(request_limit_bytes() // MB, limit_mb())
    if web.wants_json():
        return {"error": error.message}, error.status
    return render_template(
        "error.html", message=error.message, status=error.status
    ), error.status


@bp.app_template_filter("filesize")
def filesize(size: int) -> str:
    """Format a byte count as bytes, KB, MB or GB (1 KB = 1,024 bytes)."""
    if size < 1024:
        return ngettext("%(num)s byte", "%(num)s bytes", size)
    value = float(size)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1024
        if value < 1024 or unit == "TB":
            break
    return f"{format_decimal(value, '#,##0.#')} {unit}"


@bp.app_template_global()
def attached_files(kind: str, uuid: str) -> list[dict[str, Any]]:
    """Return the live files attached to a contact or log entry, for its page."""
    return file_service.attached_files(web.db(), file_service.Target(kind, uuid))


@bp.app_template_global()
def files_upload_texts() -> dict[str, Any]:
    """Return the limits and messages the upload form's script checks with.

    The script replaces {file} in the messages with each file's name.
    """
    return {
        "max_bytes": file_service.limit_bytes(limit_mb()),
        "request_max_bytes": request_limit_bytes(),
        "too_large": FileTooLargeError("{file}", limit_mb()).message,
        "request_too_large": UploadTooLargeError(
            request_limit_bytes() // MB, limit_mb()
        ).message,
        "none": _("Choose one or more files first."),
        "sending": _("Sending the files…"),
        "failed": _("The files could not be sent, so nothing was added. Try again."),
    }


def _target_from(values: Any) -> file_service.Target | None:
    return file_service.parse_target(values.get("kind"), values.get("to"))


def _back(default: str) -> str:
    return web.safe_next(request.values.get("next"), default)


@bp.get("/")
def index() -> str:
    words = request.args.get("q", "").strip()
    category = request.args.get("category", "").strip()
    page = web.int_arg("page", 1, low=1)
    size = int(web.preferences()["page_size"])
    query = file_service.query_for(words, category=category)
    found = file_service.list_files(
        web.db(), query, offset=(page - 1) * size, limit=size
    )
    target = _target_from(request.args)
    attach = None
    if target is not None:
        attach = file_service.describe_target(web.db(), target)
        attach["attached"] = file_service.attached_uuids(web.db(), target)
        attach["target"] = target
        attach["back"] = web.safe_next(request.args.get("next"), url_for(".index"))
    return render_template(
        "files/index.html",
        files=found.files,
        total=found.total,
        page=page,
        pages=max(1, -(-found.total // size)),
        words=words,
        category=category,
        categories=file_service.list_categories(web.db()),
        attach=attach,
        list_args=_list_args(),
    )


def _list_args() -> dict[str, str]:
    names = ("q", "category", "kind", "to", "next")
    return {name: request.args[name] for name in names if request.args.get(name)}


@bp.post("/upload")
def upload() -> Any:
    chosen = [f for f in request.files.getlist("file") if f.filename]
    uploads = [file_service.Upload(f.filename or "", f.stream) for f in chosen]
    return _add(uploads, local=False)


@bp.post("/add-local")
def add_local() -> Any:
    """Add files by path: the desktop window's native dialog returns paths.

    Only a request from this computer may name paths: served to the
    network, a colleague's browser would otherwise read this computer's
    files.
    """
    if not is_loopback(request.remote_addr or ""):
        abort(HTTPStatus.FORBIDDEN)
    return _add(request.form.getlist("path"), local=True)


def _add(chosen: list[Any], *, local: bool) -> Any:
    default = url_for(".index", **_attach_args())
    if not chosen:
        message = _("Choose one or more files first.")
        if web.wants_json():
            return {"error": message}, HTTPStatus.BAD_REQUEST
        flash(message, "error")
        return redirect(_back(default))
    options: dict[str, Any] = {
        "owner": web.owner(),
        "limit_bytes": file_service.limit_bytes(limit_mb()),
        "attach": _target_from(request.form),
    }
    if local:
        ids = file_service.add_local_files(web.db(), store(), chosen, **options)
    else:
        ids = file_service.add_files(web.db(), store(), chosen, **options)
    flash(ngettext("%(num)s file added.", "%(num)s files added.", len(ids)))
    if web.wants_json():
        return {"ids": ids, "next": _back(default)}
    return redirect(_back(default))


def _attach_args() -> dict[str, Any]:
    names = ("kind", "to", "next")
    return {name: request.form[name] for name in names if request.form.get(name)}


@bp.get("/<int:file_id>")
def show(file_id: int) -> str:
    row = file_service.require_file(web.db(), file_id)
    return _render_show(row, file_service.file_view(row))


def _render_show(
    row: dict[str, Any], values: dict[str, Any], *, message: str = ""
) -> str:
    view = file_service.with_links(web.db(), [row])[0]
    contact_query = request.args.get("contact_q", "").strip()
    choices: list[dict[str, Any]] = []
    if contact_query:
        found = search_contacts(web.db(), contact_query, limit=CONTACT_CHOICES)
        choices = file_service.contacts_by_ids(web.db(), found.ids)
    return render_template(
        "files/show.html",
        file=view,
        values=values,
        message=message,
        categories=file_service.list_categories(web.db()),
        contact_query=contact_query,
        contact_choices=choices,
        linked={c["target_uuid"] for c in view["contacts"]},
    )


@bp.post("/<int:file_id>")
def update(file_id: int) -> Any:
    row = file_service.require_file(web.db(), file_id)
    try:
        file_service.update_metadata(
            web.db(),
            file_id,
            request.form,
            version=request.form.get("version", type=int) or row["version"],
        )
    except InvalidValueError as error:
        values = {**row, **request.form.to_dict()}
        html = _render_show(row, values, message=error.message)
        return html, HTTPStatus.UNPROCESSABLE_ENTITY
    flash(_("File details saved."))
    return redirect(url_for(".show", file_id=file_id))


@bp.get("/<int:file_id>/open")
def open_file(file_id: int) -> Response:
    """Show the file in the browser when that is safe, else download it."""
    row = file_service.require_file(web.db(), file_id)
    return _send(row, inline=file_names.is_inline(row["content_type"]))


@bp.get("/<int:file_id>/download")
def download(file_id: int) -> Response:
    row = file_service.require_file(web.db(), file_id)
    return _send(row, inline=False)


def _send(row: dict[str, Any], *, inline: bool) -> Response:
    path = file_service.content_path(store(), row)
    mimetype = row["content_type"]
    is_text = inline and mimetype.startswith("text/")
    if is_text:
        # Shown as plain text, whatever the text is (XML, source code).
        mimetype = "text/plain"
    # send_file writes the name as RFC 6266 filename*=UTF-8'' when it is
    # not ASCII, with an ASCII fallback for old browsers.
    response = send_file(
        path,
        mimetype=mimetype,
        as_attachment=not inline,
        download_name=row["name"],
        etag=row["sha256"],
        conditional=True,
        max_age=0,
    )
    if is_text:
        charset = file_names.text_charset(path)
        response.headers["Content-Type"] = f"text/plain; charset={charset}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if inline and mimetype != "application/pdf":
        # Images and text need no scripts. PDF is left out because a
        # browser's built-in PDF viewer may refuse to run in a sandbox.
        response.headers["Content-Security-Policy"] = "sandbox"
    return response


@bp.post("/<int:file_id>/delete")
def delete(file_id: int) -> Response:
    row = file_service.set_deleted(web.db(), file_id, deleted=True)
    audit.record(web.db(), "delete", user=web.owner(), target=row["name"])
    flash(
        _(
            "“%(name)s” was moved to the trash. You can restore it from there.",
            name=row["name"],
        )
    )
    return redirect(_back(url_for(".index")))


@bp.post("/<int:file_id>/restore")
def restore(file_id: int) -> Response:
    row = file_service.set_deleted(web.db(), file_id, deleted=False)
    flash(_("“%(name)s” was restored.", name=row["name"]))
    return redirect(_back(url_for(".show", file_id=file_id)))


@bp.post("/<int:file_id>/purge")
def purge(file_id: int) -> Response:
    row = file_service.purge_file(web.db(), store(), file_id)
    audit.record(web.db(), "purge", user=web.owner(), target=row["name"])
    flash(_("“%(name)s” was removed for good.", name=row["name"]))
    return redirect(url_for(".trash"))


@bp.get("/trash")
def trash() -> str:
    page = web.int_arg("page", 1, low=1)
    found = file_service.list_files(
        web.db(),
        file_service.query_for("", deleted=True),
        offset=(page - 1) * TRASH_PAGE_SIZE,
        limit=TRASH_PAGE_SIZE,
    )
    return render_template(
        "files/trash.html",
        files=found.files,
        total=found.total,
        page=page,
        pages=max(1, -(-found.total // TRASH_PAGE_SIZE)),
    )


@bp.post("/trash/empty")
def empty_trash() -> Response:
    count = file_service.empty_trash(web.db(), store())
    audit.record(
        web.db(), "purge", user=web.owner(), detail=f"{count} files from the trash"
    )
    flash(
        ngettext(
            "%(num)s file was removed for good.",
            "%(num)s files were removed for good.",
            count,
        )
    )
    return redirect(url_for(".trash"))


@bp.post("/<int:file_id>/attach")
def attach(file_id: int) -> Response:
    target = _require_target()
    file_service.attach_file(web.db(), file_id, target, owner=web.owner())
    flash(_("File attached."))
    return redirect(_back(url_for(".show", file_id=file_id)))


@bp.post("/<int:file_id>/detach")
def detach(file_id: int) -> Response:
    target = _require_target()
    file_service.detach_file(web.db(), file_id, target)
    flash(_("File detached. It stays in the file repository."))
    return redirect(_back(url_for(".show", file_id=file_id)))


def _require_target() -> file_service.Target:
    target = _target_from(request.form)
    if target is None:
        raise NotFoundError(_("Contact"), request.form.get("to", ""))
    return target
