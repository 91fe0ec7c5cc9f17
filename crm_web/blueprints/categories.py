"""Category pages: list with counts, create, rename, delete."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.wrappers import Response

from crm_web import web
from crm_web.errors import UserError
from crm_web.services import categories as category_service

bp = Blueprint("categories", __name__, url_prefix="/categories")


@bp.get("/")
def index() -> str:
    return render_template(
        "categories/index.html",
        categories=category_service.list_categories(web.db()),
        uncategorised=category_service.count_uncategorised(web.db()),
    )


@bp.post("/new")
def create() -> Response:
    try:
        category_service.create_category(
            web.db(), request.form.get("name", ""), owner=web.owner()
        )
        flash(_("Category created."))
    except UserError as error:
        flash(error.message, "error")
    return redirect(url_for(".index"))


@bp.post("/<category_uuid>/rename")
def rename(category_uuid: str) -> Response:
    try:
        category_service.rename_category(
            web.db(), category_uuid, request.form.get("name", "")
        )
        flash(_("Category renamed."))
    except UserError as error:
        flash(error.message, "error")
    return redirect(url_for(".index"))


@bp.post("/<category_uuid>/delete")
def delete(category_uuid: str) -> Response:
    try:
        moved = category_service.delete_category(
            web.db(), category_uuid, move_to=request.form.get("move_to") or None
        )
        flash(
            ngettext(
                "Category deleted; %(num)s contact was moved.",
                "Category deleted; %(num)s contacts were moved.",
                moved,
            )
        )
    except UserError as error:
        flash(error.message, "error")
    return redirect(url_for(".index"))
