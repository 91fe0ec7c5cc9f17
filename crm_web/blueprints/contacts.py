"""Contact pages: the list with the smart query, cards, trash, merge."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from http import HTTPStatus
from typing import Any

from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.wrappers import Response

from crm_web import auth, web
from crm_web.data import contacts as contact_data
from crm_web.errors import SharingSelectionChangedError, VersionConflictError
from crm_web.i18n import join_sentences
from crm_web.services import (
    accounts,
    audit,
    clock,
    conflicts,
    contact_picker,
    saved_views,
)
from crm_web.services import categories as category_service
from crm_web.services import contacts as contact_service
from crm_web.services import sharing as sharing_service
from crm_web.services.contacts import ContactInvalidError, DuplicateContactError
from crm_web.services.fields import CONTACT_FIELDS, SORT_COLUMNS, Field
from crm_web.services.search import Filters, search_contacts
from crm_web.services.timeline import timeline_for_contact

bp = Blueprint("contacts", __name__, url_prefix="/contacts")

FILTER_ARGS = (
    "category",
    "country",
    "city",
    "tag",
    "created_from",
    "created_to",
    "missing",
)


def filters_from(args: Any) -> Filters:
    """Read the list filters from request arguments, ignoring bad dates."""
    return Filters(
        category=args.get("category", ""),
        country=args.get("country", ""),
        city=args.get("city", ""),
        tag=args.get("tag", ""),
        created_from=_date_arg(args.get("created_from")),
        created_to=_date_arg(args.get("created_to")),
        missing=args.get("missing", "")
        if args.get("missing") in ("phone", "email")
        else "",
    )


def _date_arg(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def list_state() -> dict[str, Any]:
    """Return query, filters, sort and paging of the list page."""
    sort = request.args.get("sort", "name")
    return {
        "q": request.args.get("q", "").strip(),
        "filters": filters_from(request.args),
        "sort": sort if sort in SORT_COLUMNS else "name",
        "descending": request.args.get("dir") == "desc",
        "page": web.int_arg("page", 1, low=1),
        "page_size": int(web.preferences()["page_size"]),
    }


@bp.get("/")
def index() -> str:
    state = list_state()
    size = state["page_size"]
    found = search_contacts(
        web.db(),
        state["q"],
        state["filters"],
        sort=state["sort"],
        descending=state["descending"],
        offset=(state["page"] - 1) * size,
        limit=size,
    )
    rows = contact_data.find_contacts_by_ids(web.db(), found.ids)
    categories = category_service.list_categories(web.db())
    names = {c["uuid"]: c["name"] for c in categories}
    return render_template(
        "contacts/index.html",
        **state,
        total=found.total,
        contacts=[contact_service.contact_view(web.db(), r, names) for r in rows],
        pages=max(1, -(-found.total // size)),
        categories=categories,
        views=saved_views.list_views(web.db()),
        fields=translated_fields(),
        row_text=row_text(),
        filter_args=FILTER_ARGS,
        can_share=bool(sharing_service.known_share_users(web.db())),
    )


def row_text() -> dict[str, str]:
    """Return the fixed words of a card row, translated once for the page."""
    return {
        "toggle": _("Show or hide the card"),
        "edit_here": _("Edit here"),
        "edit_page": _("Edit on its own page"),
        "delete": _("Delete"),
    }


def translated_fields() -> list[Field]:
    """Return the fields with their labels translated once for this request.

    A lazy label is translated again each time a template prints it, which
    for 50 cards of 22 fields costs more than the rest of the page.
    """
    return [replace(f, label=str(f.label)) for f in CONTACT_FIELDS]


@bp.get("/<int:contact_id>/inline-form")
def inline_form(contact_id: int) -> str:
    """Return the in-place edit form of one card (loaded when it is opened)."""
    row = contact_service.require_contact(web.db(), contact_id)
    return render_template(
        "contacts/_edit_form.html",
        c=contact_service.contact_view(web.db(), row),
        fields=translated_fields(),
        categories=category_service.list_categories(web.db()),
    )


@bp.route("/new", methods=["GET", "POST"])
def new() -> Any:
    if request.method == "GET":
        return _render_form(None, request.args)
    try:
        contact = contact_service.parse_form(request.form)
        target = request.form.get("merge_into", type=int)
        if target:
            contact_service.merge_input(web.db(), target, contact, region=web.region())
            flash(_("The new details were merged into the existing card."))
            return redirect(url_for(".show", contact_id=target))
        contact_id = contact_service.create_contact(
            web.db(),
            contact,
            owner=web.owner(),
            region=web.region(),
            allow_duplicate=bool(request.form.get("allow_duplicate")),
        )
    except (ContactInvalidError, DuplicateContactError) as error:
        return _render_form(None, request.form, error=error)
    flash(_("Contact saved."))
    return redirect(url_for(".show", contact_id=contact_id))


@bp.get("/<int:contact_id>")
def show(contact_id: int) -> str:
    row = contact_service.require_contact(web.db(), contact_id)
    zone = clock.user_zone(web.preferences()["time_zone"])
    return render_template(
        "contacts/show.html",
        contact=contact_service.contact_view(web.db(), row),
        fields=CONTACT_FIELDS,
        timeline=timeline_for_contact(web.db(), row["uuid"], zone=zone),
        sharing=sharing_service.sharing_of(web.db(), row["uuid"], row["owner"]),
        share_choices=sharing_service.known_share_users(web.db()),
        user_names=[u["name"] for u in accounts.list_users(web.db())],
        me=auth.current_user(),
        merged_into=(
            contact_data.get_contact_by_uuid(web.db(), row["merged_into"])
            if row["merged_into"]
            else None
        ),
    )


@bp.route("/<int:contact_id>/edit", methods=["GET", "POST"])
def edit(contact_id: int) -> Any:
    row = contact_service.require_contact(web.db(), contact_id)
    if request.method == "GET":
        return _render_form(row, contact_service.contact_view(web.db(), row))
    try:
        contact = _edited_input(row)
        contact_service.update_contact(
            web.db(),
            contact_id,
            contact,
            version=request.form.get("version", type=int) or row["version"],
            region=web.region(),
            allow_duplicate=bool(request.form.get("allow_duplicate")),
        )
    except (ContactInvalidError, DuplicateContactError) as error:
        if web.wants_json():
            return _json_error(error)
        return _render_form(row, request.form, error=error)
    except VersionConflictError as error:
        if web.wants_json():
            # The page's script posts the form again without JavaScript,
            # which returns the form with both versions.
            return {"error": error.message, "conflict": True}, error.status
        return _render_conflict(contact_id, contact)
    if web.wants_json():
        return _row_json(contact_id)
    flash(_("Contact saved."))
    default = url_for(".show", contact_id=contact_id)
    return redirect(web.safe_next(request.form.get("next"), default))


def _edited_input(row: dict[str, Any]) -> contact_service.ContactInput:
    extra = contact_service.decode_extra(row.get("extra"))
    for key in list(extra):
        if f"extra:{key}" in request.form:
            extra[key] = request.form[f"extra:{key}"]
    return contact_service.parse_form(request.form, extra=extra)


def _render_conflict(
    contact_id: int, contact: contact_service.ContactInput
) -> tuple[str, int]:
    """Return the form with the user's values and the version now saved."""
    saved = contact_service.require_contact(web.db(), contact_id)
    categories = category_service.list_categories(web.db())
    conflict = conflicts.compare_contact(
        saved, contact, category_names={c["uuid"]: c["name"] for c in categories}
    )
    html = render_template(
        "contacts/form.html",
        contact=saved,
        values={**request.form.to_dict(), "version": conflict.version},
        fields=CONTACT_FIELDS,
        categories=categories,
        errors={},
        duplicates=[],
        message="",
        conflict=conflict,
        extra=contact_service.decode_extra(saved.get("extra")),
    )
    return html, HTTPStatus.CONFLICT


def _json_error(error: ContactInvalidError | DuplicateContactError) -> Any:
    body: dict[str, Any] = {"error": error.message}
    if isinstance(error, ContactInvalidError):
        body["errors"] = error.errors
    else:
        body["duplicates"] = [
            {
                "id": m["id"],
                "name": m["name"] or m["company"],
                "detail": " ".join(
                    filter(None, [m["company"], m["mobile"] or m["phone"], m["email"]])
                ),
                "url": url_for(".show", contact_id=m["id"]),
            }
            for m in error.matches
        ]
    return body, HTTPStatus.UNPROCESSABLE_ENTITY


def _row_json(contact_id: int) -> dict[str, str]:
    row = contact_service.require_contact(web.db(), contact_id)
    view = contact_service.contact_view(web.db(), row)
    html = render_template(
        "contacts/_row.html",
        c=view,
        fields=translated_fields(),
        row_text=row_text(),
        categories=category_service.list_categories(web.db()),
        expanded=True,
    )
    return {"html": html, "message": _("Contact saved.")}


def _render_form(
    row: dict[str, Any] | None, values: Any, error: Exception | None = None
) -> tuple[str, int] | str:
    html = render_template(
        "contacts/form.html",
        contact=row,
        values=values,
        fields=CONTACT_FIELDS,
        categories=category_service.list_categories(web.db()),
        errors=getattr(error, "errors", {}),
        duplicates=getattr(error, "matches", []),
        message=error.message if error else "",  # type: ignore[attr-defined]
        extra=contact_service.decode_extra(row.get("extra")) if row else {},
    )
    return (html, HTTPStatus.UNPROCESSABLE_ENTITY) if error else html


@bp.post("/<int:contact_id>/sharing")
def sharing(contact_id: int) -> Response:
    choice = sharing_service.choice_of(request.form)
    sharing_service.set_contact_sharing(
        web.db(),
        contact_id,
        by=auth.current_user(),
        everyone=choice.everyone,
        users=choice.users,
        owner=request.form.get("owner", ""),
        follow=request.form.get("follow") == "1",
    )
    flash(_("Sharing saved."))
    return redirect(url_for(".show", contact_id=contact_id))


@bp.route("/share", methods=["GET", "POST"])
def share_listed() -> Any:
    """Share every contact of the list's query and filters, after a confirmation.

    GET shows the choice, a POST without ``confirmed`` the counts to
    confirm, and a POST with it stores the sharing.
    """
    source = request.form if request.method == "POST" else request.args
    state: dict[str, Any] = {
        "q": source.get("q", "").strip(),
        "filters": filters_from(source),
    }
    list_args: dict[str, Any] = {
        k: v for k in ("q", *FILTER_ARGS) if (v := source.get(k, ""))
    }
    if request.method == "GET":
        return _render_share_page(state, list_args)
    choice = sharing_service.choice_of(request.form)
    by = auth.current_user()
    if request.form.get("confirmed") == "1":
        try:
            done = sharing_service.share_listed_contacts(
                web.db(),
                state["q"],
                state["filters"],
                by=by,
                choice=choice,
                expected=request.form.get("expected", type=int) or 0,
            )
        except SharingSelectionChangedError as error:
            return _render_share_page(
                state, list_args, choice=choice, message=error.message
            ), error.status
        flash(shared_message(done))
        return redirect(url_for(".index", **list_args))
    return _render_share_page(state, list_args, choice=choice)


def _render_share_page(
    state: dict[str, Any],
    list_args: dict[str, Any],
    *,
    choice: sharing_service.ShareChoice | None = None,
    message: str = "",
) -> str:
    """Render the choice, or with ``choice`` the counts the user confirms."""
    by = auth.current_user()
    plan = None
    if choice is not None:
        plan = sharing_service.plan_bulk_sharing(
            web.db(), state["q"], state["filters"], by=by, choice=choice
        )
    total = search_contacts(web.db(), state["q"], state["filters"], limit=0).total
    return render_template(
        "contacts/share.html",
        list_args=list_args,
        total=total,
        choice=choice or sharing_service.ShareChoice(),
        plan=plan,
        message=message,
        share_choices=sharing_service.known_share_users(web.db()),
        me=by,
    )


def shared_message(done: sharing_service.BulkSharing) -> str:
    """Return the sentence that reports a finished bulk sharing."""
    changed = ngettext(
        "The sharing of %(num)s contact was changed.",
        "The sharing of %(num)s contacts was changed.",
        done.changed,
    )
    if not done.skipped:
        return changed
    skipped = ngettext(
        "%(num)s contact belongs to another user and was left as it was.",
        "%(num)s contacts belong to other users and were left as they were.",
        done.skipped,
    )
    return join_sentences([changed, skipped])


@bp.post("/<int:contact_id>/delete")
def delete(contact_id: int) -> Response:
    row = contact_service.require_contact(web.db(), contact_id)
    contact_service.set_deleted(web.db(), contact_id, deleted=True)
    audit.record(
        web.db(), "delete", user=web.owner(), target=row["name"] or row["company"]
    )
    flash(_("The contact was moved to the trash. You can restore it from there."))
    return redirect(web.safe_next(request.form.get("next"), url_for(".index")))


@bp.post("/<int:contact_id>/restore")
def restore(contact_id: int) -> Response:
    contact_service.set_deleted(web.db(), contact_id, deleted=False)
    flash(_("The contact was restored."))
    return redirect(url_for(".trash"))


@bp.get("/suggest")
def suggest() -> dict[str, Any]:
    """Return contacts matching the typed text, for the contact fields' lists."""
    query = request.args.get("q", "")
    if not query.strip():
        return {"contacts": []}
    return {"contacts": contact_picker.suggest_contacts(web.db(), query)}


@bp.get("/trash")
def trash() -> str:
    page = web.int_arg("page", 1, low=1)
    rows = contact_data.find_deleted(web.db(), limit=100, offset=(page - 1) * 100)
    total = contact_data.count_deleted(web.db())
    return render_template(
        "contacts/trash.html",
        contacts=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // 100)),
    )


@bp.post("/<int:contact_id>/merge")
def merge(contact_id: int) -> Response:
    source = request.form.get("source", type=int)
    if not source or source == contact_id:
        flash(_("Choose another contact to merge into this one."), "error")
        return redirect(url_for(".show", contact_id=contact_id))
    contact_service.merge_contacts(
        web.db(), target_id=contact_id, source_id=source, region=web.region()
    )
    flash(_("The contacts were merged. The other card is in the trash."))
    return redirect(url_for(".show", contact_id=contact_id))


@bp.post("/views")
def save_view() -> Response:
    params = {key: request.form.get(key, "") for key in ("q", *FILTER_ARGS)}
    saved_views.save_view(
        web.db(), request.form.get("name", ""), params, owner=web.owner()
    )
    flash(_("View saved."))
    chosen: dict[str, Any] = {k: v for k, v in params.items() if v}
    return redirect(url_for(".index", **chosen))


@bp.post("/views/<view_uuid>/delete")
def delete_view(view_uuid: str) -> Response:
    saved_views.delete_view(web.db(), view_uuid)
    flash(_("View deleted."))
    return redirect(url_for(".index"))
