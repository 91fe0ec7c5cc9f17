"""R9 CRM's Flask application."""

from __future__ import annotations

import importlib
import logging
from http import HTTPStatus
from pathlib import Path
from typing import Any

from flask import Flask, render_template, request
from flask_babel import Babel
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException, SecurityError

from crm_web import auth, web
from crm_web.config import Settings, load_settings
from crm_web.data.db import Database, connect
from crm_web.errors import UserError
from crm_web.i18n import LANGUAGES
from crm_web.logs import LOG_FILE_NAME
from crm_web.translations_build import ensure_compiled

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 200 * 1024 * 1024
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def create_app(
    settings: Settings | None = None, *, db: Database | None = None
) -> Flask:
    """Build the app; the database schema is upgraded before it serves."""
    settings = settings or load_settings()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=MAX_UPLOAD_BYTES,
        TESTING=settings.testing,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Every state-changing request carries a CSRF token, so no other web
        # page open in the same browser can post to the local server. Tokens
        # last as long as the session: the app stays open all day.
        WTF_CSRF_TIME_LIMIT=None,
        # A Host header other than the computer's own is refused, which stops
        # DNS-rebinding pages from reading the local server.
        TRUSTED_HOSTS=list(LOCAL_HOSTS),
    )
    for folder in (settings.files_dir, settings.work_dir, settings.log_dir):
        folder.mkdir(parents=True, exist_ok=True)
    app.extensions["crm_settings"] = settings
    app.extensions["crm_db"] = db or connect(settings.database_url)
    ensure_compiled(Path(app.root_path) / "translations")
    Babel(app, locale_selector=web.select_locale)
    CSRFProtect(app)
    _register_blueprints(app)
    _register_handlers(app)
    app.before_request(auth.guard)
    app.jinja_env.globals.update(
        static_url=web.static_url,
        LANGUAGES=LANGUAGES,
        areas=web.AREAS,
        current_language=web.current_language,
        current_user=auth.current_user,
        login_protection=auth.protection_on,
    )
    app.jinja_env.filters.update(
        local_datetime=web.format_local_datetime,
        local_date=web.format_date,
    )
    app.teardown_appcontext(_release_db)
    return app


# Modules of crm_web.blueprints, each with a blueprint named ``bp``.
BLUEPRINTS = (
    "appointments",
    "auth",
    "backup",
    "categories",
    "contacts",
    "exports",
    "files",
    "home",
    "imports",
    "log",
    "network",
    "sales",
    "settings",
    "sync",
    "users",
    "vault",
)


def _register_blueprints(app: Flask) -> None:
    for name in BLUEPRINTS:
        module = importlib.import_module(f"crm_web.blueprints.{name}")
        app.register_blueprint(module.bp)


def _register_handlers(app: Flask) -> None:
    @app.errorhandler(UserError)
    def user_error(error: UserError) -> Any:
        if web.wants_json():
            return {"error": error.message}, error.status
        return render_template(
            "error.html", message=error.message, status=error.status
        ), error.status

    @app.errorhandler(SecurityError)
    def untrusted_host(error: SecurityError) -> Any:
        # Pages cannot be built for a host that is not trusted, so the
        # response is plain text.
        log.warning("Rejected a request for an untrusted host: %s", error.description)
        return (
            "Bad request: this server only answers to its own address.",
            HTTPStatus.BAD_REQUEST,
            {"Content-Type": "text/plain; charset=utf-8"},
        )

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> Any:
        log.warning(
            "Rejected %s %s: %s", request.method, request.path, error.description
        )
        message = _(
            "This form has expired or came from another web page, so "
            "nothing was changed. Reload the page and try again."
        )
        if web.wants_json():
            return {"error": message}, HTTPStatus.BAD_REQUEST
        return render_template(
            "error.html", message=message, status=HTTPStatus.BAD_REQUEST
        ), HTTPStatus.BAD_REQUEST

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        message = _http_message(error)
        if web.wants_json():
            return {"error": message}, error.code
        return render_template(
            "error.html", message=message, status=error.code
        ), error.code

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Any:
        log.exception("Unexpected error on %s %s", request.method, request.path)
        log_path = web.settings().log_dir / LOG_FILE_NAME
        message = _(
            "Sorry, something went wrong and the action was not "
            "completed. The details are in the log file %(path)s.",
            path=log_path,
        )
        status = HTTPStatus.INTERNAL_SERVER_ERROR
        if web.wants_json():
            return {"error": message}, status
        return render_template("error.html", message=message, status=status), status


def _http_message(error: HTTPException) -> str:
    if error.code == HTTPStatus.NOT_FOUND:
        return _("This page does not exist. Use the menu on the left to go on.")
    if error.code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
        return _(
            "The file is larger than %(size)s MB, the largest R9 CRM "
            "accepts. Split it into smaller files and import each.",
            size=MAX_UPLOAD_BYTES // (1024 * 1024),
        )
    return str(error.description)


def _release_db(_error: BaseException | None) -> None:
    web.db().release()
