"""Export page: all contacts or the current query, chosen columns, a format."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

from flask import Blueprint, after_this_request, render_template, request, send_file
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from crm_web import web
from crm_web.blueprints.contacts import FILTER_ARGS, filters_from
from crm_web.services import audit
from crm_web.services.contact_export import export_to_path
from crm_web.services.exporting import EXPORT_KINDS, content_type
from crm_web.services.fields import CONTACT_FIELDS
from crm_web.services.search import search_contacts

bp = Blueprint("exports", __name__, url_prefix="/exports")


@bp.get("/")
def index() -> str:
    filters = filters_from(request.args)
    query = request.args.get("q", "")
    count = search_contacts(web.db(), query, filters, limit=0).total
    return render_template(
        "exports/index.html",
        q=query,
        filters=filters,
        count=count,
        fields=CONTACT_FIELDS,
        kinds=EXPORT_KINDS,
        filter_args=FILTER_ARGS,
    )


@bp.get("/download")
def download() -> Response:
    kind = request.args.get("format", "xlsx")
    if kind not in EXPORT_KINDS:
        kind = "xlsx"
    chosen = request.args.getlist("field") or None
    name = f"{_('contacts')}-{date.today().isoformat()}.{kind}"
    folder = Path(tempfile.mkdtemp(dir=web.settings().work_dir))
    path = folder / f"export.{kind}"
    count = export_to_path(
        web.db(),
        path,
        query=request.args.get("q", ""),
        filters=filters_from(request.args),
        fields=chosen,
        include_extra=bool(request.args.get("extra")),
    )
    audit.record(
        web.db(),
        "export",
        user=web.owner(),
        target=name,
        detail=f"{count} contacts; query={request.args.get('q', '')}",
    )

    @after_this_request
    def remove(response: Response) -> Response:
        response.call_on_close(lambda: _remove(folder))
        return response

    return send_file(
        path, as_attachment=True, download_name=name, mimetype=content_type(kind)
    )


def _remove(folder: Path) -> None:
    for child in folder.iterdir():
        child.unlink(missing_ok=True)
    folder.rmdir()
