"""Sales and service pages: the list with filters, records, summaries, lists."""

from __future__ import annotations

import re
import tempfile
from datetime import date
from http import HTTPStatus
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    after_this_request,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from crm_web import auth, uploads, web
from crm_web.errors import VersionConflictError
from crm_web.services import (
    audit,
    clock,
    conflicts,
    contact_picker,
    money,
    sales_contacts,
    sales_io,
    sales_summary,
)
from crm_web.services import categories as category_service
from crm_web.services import sales as sale_service
from crm_web.services import sharing as sharing_service
from crm_web.services.clock import CURRENCIES
from crm_web.services.exporting import EXPORT_KINDS, content_type
from crm_web.services.sales import (
    CUSTOM_FIELDS,
    STATUSES,
    SaleFilters,
    SaleInvalidError,
)

bp = Blueprint("sales", __name__, url_prefix="/sales")

FILTER_ARGS = (
    "contact",
    "contact_uuid",
    "category",
    "sold_from",
    "sold_to",
    "item",
    "service_type",
    "quantity_min",
    "quantity_max",
    "amount_min",
    "amount_max",
    "currency",
    "status",
    "notes",
    *CUSTOM_FIELDS,
)


def _today() -> date:
    """Return today's date in the zone of the time_zone setting."""
    return clock.today(clock.user_zone(web.preferences()["time_zone"]))


def _locale() -> str:
    return str(get_locale() or "en")


@bp.app_template_filter("money")
def money_filter(minor: int | None, currency: str) -> str:
    """Format minor units as money, and a blank amount as an empty string."""
    if minor is None:
        return ""
    return money.format_money(minor, currency, _locale())


@bp.app_template_filter("unit_price")
def unit_price_filter(micro: int | None, currency: str) -> str:
    if micro is None:
        return ""
    return money.format_unit_price(micro, currency, _locale())


@bp.app_template_filter("quantity")
def quantity_filter(milli: int | None) -> str:
    if milli is None:
        return ""
    return money.format_quantity(milli, _locale())


def custom_labels() -> dict[str, str]:
    """Return the labels the user gave the custom fields; empty hides one."""
    prefs = web.preferences()
    return {name: prefs.get(f"sales_{name}", "") for name in CUSTOM_FIELDS}


def _filters() -> SaleFilters:
    filters, errors = sale_service.parse_filters(request.args)
    for error in errors:
        flash(error, "error")
    return sale_service.match_contact_filter(web.db(), filters)


def _chosen_filters() -> dict[str, str]:
    return {k: v for k in FILTER_ARGS if (v := request.args.get(k, "").strip())}


@bp.get("/")
def index() -> str:
    sort = request.args.get("sort", "sold_on")
    descending = request.args.get("dir", "desc") == "desc"
    page = web.int_arg("page", 1, low=1)
    size = int(web.preferences()["page_size"])
    rows, total = sale_service.list_sales(
        web.db(),
        _filters(),
        sort=sort,
        descending=descending,
        page=page,
        page_size=size,
    )
    return render_template(
        "sales/index.html",
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // size)),
        sort=sort,
        descending=descending,
        chosen=_chosen_filters(),
        **_choices(),
    )


def _choices() -> dict[str, Any]:
    labels = custom_labels()
    return {
        "statuses": STATUSES,
        "custom": {name: label for name, label in labels.items() if label},
        "groupings": sales_summary.grouping_labels(labels),
        "categories": category_service.list_categories(web.db()),
        "items": sale_service.pick_values(web.db(), "item"),
        "service_types": sale_service.pick_values(web.db(), "service_type"),
    }


# --- records -----------------------------------------------------------------


@bp.route("/new", methods=["GET", "POST"])
def new() -> Any:
    if request.method == "GET":
        return _render_form(None, _new_values())
    try:
        sale = _parse_request()
        sale_service.create_sale(web.db(), sale, owner=web.owner())
    except SaleInvalidError as error:
        return _render_form(None, _posted_values(), error)
    flash(_("Sales record saved."))
    return redirect(web.safe_next(request.form.get("next"), url_for(".index")))


def _new_values() -> dict[str, Any]:
    prefs = web.preferences()
    return {
        "sold_on": _today().isoformat(),
        "currency": prefs["default_currency"],
        "status": "quoted",
        **contact_picker.field_values(web.db(), request.args.get("contact", "")),
    }


def _parse_request() -> sale_service.SaleInput:
    sale = sale_service.parse_form(
        request.form, default_currency=web.preferences()["default_currency"]
    )
    sale.values["contact_uuid"] = sales_contacts.resolve_contact(
        web.db(), request.form, region=web.region()
    )
    return sale


@bp.route("/<int:sale_id>/edit", methods=["GET", "POST"])
def edit(sale_id: int) -> Any:
    row = sale_service.require_sale(web.db(), sale_id)
    if request.method == "GET":
        return _render_form(row, _form_values(row))
    try:
        sale = _parse_request()
        version = request.form.get("version", type=int) or row["version"]
        sale_service.update_sale(
            web.db(), sale_id, sale, version=version, owner=web.owner()
        )
    except SaleInvalidError as error:
        return _render_form(row, _posted_values(), error)
    except VersionConflictError:
        return _render_conflict(sale_id, sale)
    flash(_("Sales record saved."))
    return redirect(web.safe_next(request.form.get("next"), url_for(".index")))


def _render_conflict(sale_id: int, sale: sale_service.SaleInput) -> tuple[str, int]:
    """Return the form with the user's values and the version now saved."""
    saved = sale_service.require_sale(web.db(), sale_id)
    conflict = conflicts.compare_sale(
        web.db(), saved, sale, custom_labels=custom_labels()
    )
    values = {**_posted_values(), "version": conflict.version}
    html = render_template(
        "sales/form.html",
        sale=saved,
        values=values,
        errors={},
        candidates=[],
        message="",
        conflict=conflict,
        currencies=sorted(CURRENCIES),
        currency_digits=sale_service.currency_digits(),
        **_choices(),
        **_sharing_context(saved),
    )
    return html, HTTPStatus.CONFLICT


def _form_values(row: dict[str, Any]) -> dict[str, Any]:
    values = dict(row)
    values["sold_on"] = row["sold_on"].isoformat()
    currency = row["currency"]
    quantity, price, amount = (
        row["quantity_milli"],
        row["unit_price_micro"],
        row["amount_minor"],
    )
    values["quantity"] = "" if quantity is None else money.plain_quantity(quantity)
    values["unit_price"] = (
        "" if price is None else money.plain_unit_price(price, currency)
    )
    values["amount"] = "" if amount is None else money.plain_money(amount, currency)
    values.update(contact_picker.field_values(web.db(), row["contact_uuid"]))
    return values


def _posted_values() -> dict[str, Any]:
    """Return the posted values, showing a contact already picked as chosen."""
    values = request.form.to_dict()
    pick = contact_picker.pick_contact(web.db(), request.form, region=web.region())
    if pick.contact is not None:
        values.update(contact_picker.field_values(web.db(), pick.uuid))
    return values


def _render_form(
    row: dict[str, Any] | None, values: Any, error: SaleInvalidError | None = None
) -> tuple[str, int] | str:
    html = render_template(
        "sales/form.html",
        sale=row,
        values=values,
        errors=error.errors if error else {},
        candidates=error.candidates if error else [],
        message=error.message if error else "",
        currencies=sorted(CURRENCIES),
        currency_digits=sale_service.currency_digits(),
        **_choices(),
        **_sharing_context(row),
    )
    return (html, HTTPStatus.UNPROCESSABLE_ENTITY) if error else html


def _sharing_context(row: dict[str, Any] | None) -> dict[str, Any]:
    """Return what the sharing panel of a stored record shows."""
    if row is None:
        return {"share_choices": []}
    return {
        "sharing": sharing_service.sharing_of(web.db(), row["uuid"], row["owner"]),
        "share_choices": sharing_service.known_share_users(web.db()),
        "me": auth.current_user(),
    }


@bp.post("/<int:sale_id>/sharing")
def sharing(sale_id: int) -> Response:
    sharing_service.set_sale_sharing(
        web.db(),
        sale_id,
        by=auth.current_user(),
        choice=sharing_service.choice_of(request.form),
    )
    flash(_("Sharing saved."))
    return redirect(url_for(".edit", sale_id=sale_id))


@bp.post("/<int:sale_id>/delete")
def delete(sale_id: int) -> Response:
    sale = sale_service.require_sale(web.db(), sale_id)
    sale_service.set_deleted(web.db(), sale_id, deleted=True)
    audit.record(
        web.db(),
        "delete",
        user=web.owner(),
        target=f"{sale['sold_on']} {sale['item'] or sale['service_type']}",
    )
    flash(_("The record was moved to the trash. You can restore it from there."))
    return redirect(web.safe_next(request.form.get("next"), url_for(".index")))


@bp.post("/<int:sale_id>/restore")
def restore(sale_id: int) -> Response:
    sale_service.set_deleted(web.db(), sale_id, deleted=False)
    flash(_("The record was restored."))
    return redirect(url_for(".trash"))


@bp.get("/trash")
def trash() -> str:
    page = web.int_arg("page", 1, low=1)
    rows, total = sale_service.list_sales(
        web.db(),
        SaleFilters(),
        sort="updated_at",
        descending=True,
        page=page,
        page_size=100,
        deleted=True,
    )
    return render_template(
        "sales/trash.html", rows=rows, total=total, statuses=STATUSES
    )


# --- summaries ---------------------------------------------------------------


def _summary() -> sales_summary.Summary:
    filters = _filters() if request.args.get("scope") != "all" else None
    return sales_summary.summarize_sales(
        web.db(),
        request.args.get("by", "item"),
        filters or SaleFilters(),
        custom_labels=custom_labels(),
    )


@bp.get("/summary")
def summary() -> str:
    result = _summary()
    chart_currency = request.args.get("chart", "")
    if chart_currency not in result.currencies:
        chart_currency = result.currencies[0] if result.currencies else ""
    return render_template(
        "sales/summary.html",
        summary=result,
        chart_currency=chart_currency,
        bars=sales_summary.chart_bars(result, chart_currency),
        chart=sales_summary,
        chosen=_chosen_filters(),
        scope=request.args.get("scope", "filtered"),
        **_choices(),
    )


@bp.get("/summary.xlsx")
def summary_xlsx() -> Response:
    result = _summary()
    name = f"{_('summary')}-{result.label}-{_today().isoformat()}.xlsx"
    folder = Path(tempfile.mkdtemp(dir=web.settings().work_dir))
    path = folder / "summary.xlsx"
    sales_summary.export_summary(result, path)
    return _send(folder, path, name, "xlsx")


def _send(folder: Path, path: Path, name: str, kind: str) -> Response:
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


# --- import and export ---------------------------------------------------------

UPLOAD_AREA = "sales-uploads"


def _plan(token: str) -> sales_io.SalesImportPlan:
    path, filename = uploads.uploaded_file(UPLOAD_AREA, token)
    return sales_io.plan_import(path, filename=filename, custom_labels=custom_labels())


@bp.get("/import")
def import_page() -> str:
    return render_template("sales/import.html", plan=None)


@bp.post("/import")
def upload() -> Any:
    token = uploads.save_upload(UPLOAD_AREA)
    if token is None:
        flash(_("Choose a file to import first."), "error")
        return redirect(url_for(".import_page"))
    return redirect(url_for(".review_import", token=token))


@bp.get("/import/<token>")
def review_import(token: str) -> Any:
    plan = _plan(token)
    rows = sales_io.preview(
        web.db(),
        plan,
        region=web.region(),
        default_currency=web.preferences()["default_currency"],
    )
    labels = {**sale_service.FIELD_LABELS, **custom_labels()}
    matched = [
        (header, labels.get(name) or name)
        for header, name in zip(plan.headers, plan.mapping, strict=True)
        if name
    ]
    return render_template(
        "sales/import.html", plan=plan, rows=rows, token=token, matched=matched
    )


@bp.post("/import/<token>")
def run_import(token: str) -> Any:
    plan = _plan(token)
    summary = sales_io.import_sales(
        web.db(),
        plan,
        owner=web.owner(),
        region=web.region(),
        default_currency=web.preferences()["default_currency"],
        work_dir=web.settings().work_dir,
    )
    audit.record(
        web.db(),
        "import",
        user=web.owner(),
        target=plan.filename,
        detail=f"sales records: inserted={summary.inserted} "
        f"skipped={summary.skipped} rejected={summary.rejected}",
    )
    flash(summary.describe())
    rejected = summary.rejected_file.name if summary.rejected_file else None
    return render_template("sales/imported.html", summary=summary, rejected=rejected)


@bp.get("/import/rejected/<name>")
def rejected_file(name: str) -> Response:
    if not _REJECTED.fullmatch(name):
        abort(HTTPStatus.NOT_FOUND)
    path = web.settings().work_dir / name
    if not path.exists():
        abort(HTTPStatus.NOT_FOUND)
    kind = path.suffix.lstrip(".")
    return send_file(
        path,
        as_attachment=True,
        download_name=f"{_('Rejected rows')}.{kind}",
        mimetype=content_type(kind),
    )


_REJECTED = re.compile(r"rejected-sales-[0-9a-f-]{36}\.(xlsx|txt|csv)")


@bp.get("/export")
def export() -> Response:
    kind = request.args.get("format", "xlsx")
    if kind not in EXPORT_KINDS:
        kind = "xlsx"
    folder = Path(tempfile.mkdtemp(dir=web.settings().work_dir))
    path = folder / f"sales.{kind}"
    count = sales_io.export_sales(
        web.db(), path, _filters(), custom_labels=custom_labels()
    )
    audit.record(
        web.db(), "export", user=web.owner(), detail=f"{count} sales records ({kind})"
    )
    name = f"{_('sales')}-{_today().isoformat()}.{kind}"
    return _send(folder, path, name, kind)


# --- pick lists --------------------------------------------------------------


@bp.get("/lists")
def lists() -> str:
    return render_template(
        "sales/lists.html",
        kinds=sale_service.PICK_KINDS,
        values={
            k: sale_service.pick_values(web.db(), k) for k in sale_service.PICK_KINDS
        },
    )


@bp.post("/lists/<kind>")
def add_list_value(kind: str) -> Response:
    sale_service.add_pick_value(
        web.db(), kind, request.form.get("value", ""), owner=web.owner()
    )
    flash(_("Value added."))
    return redirect(url_for(".lists"))


@bp.post("/lists/values/<value_uuid>/rename")
def rename_list_value(value_uuid: str) -> Response:
    changed = sale_service.rename_pick_value(
        web.db(),
        value_uuid,
        request.form.get("value", ""),
        update_records=bool(request.form.get("update_records")),
    )
    flash(_("Value renamed; %(count)s records changed.", count=changed))
    return redirect(url_for(".lists"))


@bp.post("/lists/values/<value_uuid>/remove")
def remove_list_value(value_uuid: str) -> Response:
    sale_service.remove_pick_value(web.db(), value_uuid)
    flash(_("Value removed from the list. Records that use it keep it."))
    return redirect(url_for(".lists"))
