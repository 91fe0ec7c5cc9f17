"""Account vault pages: set-up, unlock, entries, generator, export and import."""

from __future__ import annotations

import atexit
import secrets
from datetime import date
from http import HTTPStatus
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.wrappers import Response

from crm_web import web
from crm_web.errors import (
    PasswordMismatchError,
    PasswordTooShortError,
    UserError,
    VaultEntryInvalidError,
    VaultKeyChangedError,
    VaultLockedError,
    WrongMasterPasswordError,
)
from crm_web.services import audit, sales_contacts, vault_files, vault_passwords
from crm_web.services import vault as vault_service
from crm_web.services.vault import EntryFilters
from crm_web.services.vault_crypto import MAX_FILE_BYTES
from crm_web.services.vault_form import CONTACT_SUGGESTIONS, KINDS, parse_entry
from crm_web.services.vault_keys import KeyRing, UnlockedVault

bp = Blueprint("vault", __name__, url_prefix="/vault")

# Seconds until a copied secret is cleared from the clipboard. The page
# reads it from a data attribute, which browser tests shorten.
CLIPBOARD_SECONDS = 30
_TOKEN = "vault_token"
EXPORT_SUFFIX = ".r9vault"


@bp.record_once
def _hold_keys(state: BlueprintSetupState) -> None:
    ring = KeyRing()
    state.app.extensions["crm_vault_keys"] = ring
    # Closing the window or stopping the server ends the process and with it
    # every key. Clearing the ring first also logs each vault as locked.
    atexit.register(ring.clear)


def vault_owner() -> str:
    """Return the name of the user whose vault this request opens.

    It is the user the request acts as (the signed-in user, or Admin while
    login protection is off). Every vault page calls this function and no other.
    """
    return web.owner()


def _ring() -> KeyRing:
    ring: KeyRing = current_app.extensions["crm_vault_keys"]
    return ring


def _idle_seconds() -> float:
    return int(web.preferences()["vault_idle_minutes"]) * 60


def unlocked() -> UnlockedVault | None:
    """Return this session's unlocked vault and restart its idle time."""
    token = session.get(_TOKEN)
    if not token:
        return None
    vault = _ring().get(token, idle_seconds=_idle_seconds())
    if vault is not None and vault.owner != vault_owner():
        # Another user now works in this browser session.
        lock_session("another user signed in")
        return None
    return vault


def require_unlocked() -> UnlockedVault:
    vault = unlocked()
    if vault is None:
        raise VaultLockedError()
    return vault


def lock_session(reason: str) -> None:
    """Drop the vault key of this session, if it has one."""
    token = session.pop(_TOKEN, None)
    if token:
        _ring().drop(token, reason=reason)


def _hold(vault: UnlockedVault) -> None:
    lock_session("unlocked again")
    # A fresh random token per unlock. The cookie carries only this token,
    # which means nothing outside this server process, never the key.
    token = secrets.token_urlsafe(32)
    session[_TOKEN] = token
    _ring().put(token, vault, idle_seconds=_idle_seconds())


@bp.errorhandler(VaultLockedError)
@bp.errorhandler(VaultKeyChangedError)
def _locked(error: UserError) -> Any:
    if isinstance(error, VaultKeyChangedError):
        lock_session("master password changed elsewhere")
    if web.wants_json():
        return {"error": error.message, "locked": True}, error.status
    flash(error.message, "error")
    return redirect(url_for(".index"))


@bp.after_request
def _no_store(response: Response) -> Response:
    # No cache may keep a vault page or a revealed secret.
    response.headers["Cache-Control"] = "no-store"
    return response


def _page(template: str, status: int = HTTPStatus.OK, **context: Any) -> Any:
    html = render_template(
        template,
        kinds=KINDS,
        clipboard_seconds=CLIPBOARD_SECONDS,
        idle_seconds=int(_idle_seconds()),
        # Every page but these two shows an unlocked vault, which the page's
        # script leaves once the idle time has passed.
        unlocked_page=template not in ("vault/setup.html", "vault/unlock.html"),
        **context,
    )
    return html, status


# --- set-up, unlock, lock ---------------------------------------------------------


@bp.get("/")
def index() -> Any:
    vault = unlocked()
    if vault is None and not vault_service.has_vault(web.db(), vault_owner()):
        return _page("vault/setup.html")
    if vault is None:
        return _page("vault/unlock.html", next=request.args.get("next", ""))
    filters = EntryFilters(
        words=request.args.get("q", "").strip(), kind=request.args.get("kind", "")
    )
    entries = vault_service.list_entries(web.db(), vault, filters)
    return _page("vault/index.html", entries=entries, filters=filters)


@bp.post("/setup")
def setup() -> Any:
    form = request.form
    try:
        vault = vault_service.create_vault(
            web.db(), vault_owner(), form.get("password", ""), form.get("repeat", "")
        )
    except (PasswordTooShortError, PasswordMismatchError) as error:
        return _page("vault/setup.html", error.status, message=error.message)
    _hold(vault)
    flash(_("Your account vault is ready and unlocked."))
    return redirect(url_for(".index"))


@bp.post("/unlock")
def unlock() -> Any:
    try:
        vault = vault_service.unlock_vault(
            web.db(), vault_owner(), request.form.get("password", "")
        )
    except WrongMasterPasswordError as error:
        next_url = request.form.get("next", "")
        return _page(
            "vault/unlock.html", error.status, message=error.message, next=next_url
        )
    _hold(vault)
    return redirect(web.safe_next(request.form.get("next"), url_for(".index")))


@bp.post("/lock")
def lock() -> Response:
    lock_session("locked by the user")
    flash(_("The account vault is locked."))
    return redirect(url_for(".index"))


@bp.post("/touch")
def touch() -> dict[str, Any]:
    """Restart the idle time while the user is working on a vault page."""
    return {"locked": unlocked() is None}


# --- entries -----------------------------------------------------------------


@bp.route("/new", methods=["GET", "POST"])
def new() -> Any:
    vault = require_unlocked()
    if request.method == "GET":
        return _form_page(None, {"kind": request.args.get("kind", "other")})
    try:
        entry = parse_entry(web.db(), request.form)
    except VaultEntryInvalidError as error:
        return _form_page(None, request.form, error)
    vault_service.create_entry(web.db(), vault, entry)
    flash(_("Vault entry “%(title)s” saved.", title=entry.title))
    return redirect(url_for(".index"))


@bp.route("/<uuid:entry_uuid>/edit", methods=["GET", "POST"])
def edit(entry_uuid: Any) -> Any:
    vault = require_unlocked()
    row = vault_service.open_entry(web.db(), vault, str(entry_uuid))
    if request.method == "GET":
        return _form_page(row, row)
    try:
        entry = parse_entry(web.db(), request.form)
    except VaultEntryInvalidError as error:
        return _form_page(row, request.form, error)
    version = request.form.get("version", type=int) or row["version"]
    vault_service.update_entry(web.db(), vault, row["uuid"], entry, version=version)
    flash(_("Vault entry “%(title)s” saved.", title=entry.title))
    return redirect(url_for(".index"))


def _form_page(
    row: dict[str, Any] | None, values: Any, error: VaultEntryInvalidError | None = None
) -> Any:
    return _page(
        "vault/form.html",
        HTTPStatus.UNPROCESSABLE_ENTITY if error else HTTPStatus.OK,
        entry=row,
        values=values,
        errors=error.errors if error else {},
        generator=vault_passwords.GeneratorOptions(),
        symbols=vault_passwords.CHARACTER_SETS["symbols"],
    )


@bp.post("/<uuid:entry_uuid>/delete")
def delete(entry_uuid: Any) -> Response:
    vault = require_unlocked()
    title = vault_service.set_deleted(web.db(), vault, str(entry_uuid), deleted=True)
    flash(
        _(
            "“%(title)s” was moved to the vault's trash. You can restore it "
            "from there.",
            title=title,
        )
    )
    return redirect(url_for(".index"))


@bp.post("/<uuid:entry_uuid>/restore")
def restore(entry_uuid: Any) -> Response:
    vault = require_unlocked()
    title = vault_service.set_deleted(web.db(), vault, str(entry_uuid), deleted=False)
    flash(_("“%(title)s” was restored.", title=title))
    return redirect(url_for(".trash"))


@bp.post("/<uuid:entry_uuid>/purge")
def purge(entry_uuid: Any) -> Response:
    vault = require_unlocked()
    title = vault_service.purge_entry(web.db(), vault, str(entry_uuid))
    flash(_("“%(title)s” was deleted for good.", title=title))
    return redirect(url_for(".trash"))


@bp.get("/trash")
def trash() -> Any:
    vault = require_unlocked()
    entries = vault_service.list_entries(web.db(), vault, deleted=True)
    return _page("vault/trash.html", entries=entries)


@bp.post("/<uuid:entry_uuid>/reveal")
def reveal(entry_uuid: Any) -> dict[str, Any]:
    """Return one secret field, for the page to show or copy."""
    vault = require_unlocked()
    field = request.form.get("field", "")
    value = vault_service.reveal(web.db(), vault, str(entry_uuid), field)
    return {"value": value}


@bp.post("/generate")
def generate() -> dict[str, Any]:
    options = vault_passwords.parse_generator_options(request.form)
    return {"password": vault_passwords.generate_password(options)}


@bp.get("/contacts")
def contact_suggestions() -> dict[str, Any]:
    """Return contacts matching the typed text, for the linked-contact field."""
    query = request.args.get("q", "").strip()
    if not query:
        return {"contacts": []}
    found = sales_contacts.suggest_contacts(web.db(), query, limit=CONTACT_SUGGESTIONS)
    return {"contacts": found}


# --- master password, export and import --------------------------------------


@bp.route("/password", methods=["GET", "POST"])
def password() -> Any:
    vault = require_unlocked()
    if request.method == "GET":
        return _page("vault/password.html")
    form = request.form
    try:
        changed = vault_service.change_master_password(
            web.db(),
            vault,
            form.get("current", ""),
            form.get("password", ""),
            form.get("repeat", ""),
        )
    except (
        WrongMasterPasswordError,
        PasswordTooShortError,
        PasswordMismatchError,
    ) as error:
        return _page("vault/password.html", error.status, message=error.message)
    # Other sessions hold the old key, which no longer opens anything.
    _ring().drop_vault(vault.vault_uuid, reason="master password changed")
    _hold(changed)
    flash(_("The master password was changed. Use the new one from now on."))
    return redirect(url_for(".index"))


@bp.get("/transfer")
def transfer() -> Any:
    require_unlocked()
    return _page("vault/transfer.html")


@bp.post("/export")
def export() -> Any:
    vault = require_unlocked()
    form = request.form
    try:
        data, count = vault_files.export_vault(
            web.db(), vault, form.get("password", ""), form.get("repeat", "")
        )
    except (PasswordTooShortError, PasswordMismatchError) as error:
        return _page("vault/transfer.html", error.status, export_message=error.message)
    name = f"r9crm-vault-{date.today().isoformat()}{EXPORT_SUFFIX}"
    audit.record(
        web.db(),
        "export",
        user=vault.owner,
        target=name,
        detail=f"vault entries: {count}",
    )
    return Response(
        data,
        mimetype="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.post("/import")
def import_file() -> Any:
    vault = require_unlocked()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        message = _("Choose the exported vault file to import first.")
        return _page(
            "vault/transfer.html", HTTPStatus.BAD_REQUEST, import_message=message
        )
    # The name is only shown, never used as a path.
    filename = Path(upload.filename.replace("\\", "/")).name
    try:
        summary = vault_files.import_vault(
            web.db(),
            vault,
            upload.stream.read(MAX_FILE_BYTES + 1),
            filename=filename,
            password=request.form.get("password", ""),
        )
    except UserError as error:
        if isinstance(error, VaultLockedError | VaultKeyChangedError):
            raise
        return _page("vault/transfer.html", error.status, import_message=error.message)
    audit.record(
        web.db(),
        "import",
        user=vault.owner,
        target=filename,
        detail=f"vault entries added: {summary.added}, skipped: {summary.skipped}",
    )
    flash(
        ngettext(
            "%(num)s entry imported from “%(file)s”; %(skipped)s were already "
            "in the vault.",
            "%(num)s entries imported from “%(file)s”; %(skipped)s were already "
            "in the vault.",
            summary.added,
            file=filename,
            skipped=summary.skipped,
        )
    )
    return redirect(url_for(".index"))
