"""The ``r9crm`` command: window, server, import, export, search, users, backup."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from flask import Flask

from crm_web import create_app
from crm_web.config import ENVIRONMENT, chosen_data_dir, load_settings
from crm_web.errors import DataFolderMissingError, UserError
from crm_web.logs import configure_logging
from crm_web.services.search import warm_index

log = logging.getLogger(__name__)

POLICIES = ("skip", "update", "overwrite", "create")
SYNC_EXIT_CODES = (
    "Exit status: 0 when done and no conflict is open; 1 when the sync could "
    "not run (the message says why); 2 for a usage error, such as an unknown "
    "action; 3 when conflicts remain to be resolved on the Network page."
)
# `r9crm sync` exits with this while conflicts remain; argparse uses 2.
SYNC_CONFLICTS_EXIT = 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="r9crm",
        description="R9 CRM: contacts, import and export, in a window or a browser.",
        epilog="Environment: "
        + "; ".join(
            f"{name}: {what} (default: {default})"
            for name, what, default in ENVIRONMENT
        ),
    )
    parser.add_argument(
        "--data-dir", help="folder for the database, files and logs (env CRM_DATA_DIR)"
    )
    parser.add_argument(
        "--database-url",
        help="sqlite:///FILE or "
        "mysql+pymysql://USER:PASSWORD@HOST/DB "
        "(env CRM_DATABASE_URL)",
    )
    commands = parser.add_subparsers(dest="command")

    run = commands.add_parser("run", help="open the desktop window (default)")
    run.add_argument(
        "--browser",
        action="store_true",
        help="serve for a browser instead of opening a window",
    )
    run.add_argument(
        "--port", type=int, default=0, help="port to listen on (default: a free one)"
    )

    serve = commands.add_parser("serve", help="serve the app for browsers")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    serve.add_argument(
        "--port",
        type=int,
        default=8765,
        help="port to listen on (default 8765; 0 picks a free one)",
    )

    imp = commands.add_parser("import", help="import contacts from a file")
    imp.add_argument("file", type=Path)
    imp.add_argument(
        "--on-duplicate",
        choices=POLICIES,
        default="update",
        help="what to do with a row whose phone or e-mail is "
        "already stored: skip it, fill the stored card's empty "
        "fields (update, the default), overwrite them, or create "
        "another card",
    )
    imp.add_argument(
        "--dry-run",
        action="store_true",
        help="check the file and print the summary without saving",
    )

    exp = commands.add_parser("export", help="export contacts to a file")
    exp.add_argument("file", type=Path, help="target; .xlsx, .txt or .csv")
    exp.add_argument(
        "--query", default="", help="only contacts matching this smart query"
    )

    user = commands.add_parser("user", help="list users, add one, set a password")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    user_commands.add_parser("list", help="print every user with role and state")
    add = user_commands.add_parser("add", help="add a user (asks for the password)")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="make it an administrator")
    passwd = user_commands.add_parser("passwd", help="set a user's password")
    passwd.add_argument("name")
    protect = user_commands.add_parser(
        "protect", help="turn login protection on or off"
    )
    protect.add_argument("state", choices=("on", "off"))
    for sub in (add, passwd):
        sub.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of standard input",
        )

    backup = commands.add_parser(
        "backup", help="write a backup zip of the database and the files area"
    )
    backup.add_argument(
        "file", type=Path, help="zip to write; a folder gets a new dated file in it"
    )
    restore = commands.add_parser(
        "restore", help="replace all data with a backup zip (keeps a safety backup)"
    )
    restore.add_argument("file", type=Path)
    restore.add_argument(
        "--yes", action="store_true", help="restore without asking for confirmation"
    )

    sync = commands.add_parser(
        "sync",
        help="upload to or download from the shared server",
        description="Upload this computer's changes to the shared server saved "
        "on the Network page, download the server's changes, or print the "
        "sync status. Progress goes to standard error.",
        epilog=SYNC_EXIT_CODES,
    )
    sync.add_argument(
        "action",
        choices=("upload", "download", "status"),
        help="upload: send local changes; download: fetch the server's; "
        "status: print what waits to be uploaded, open conflicts and the "
        "last runs",
    )

    search = commands.add_parser("search", help="print matching contacts")
    search.add_argument("text")
    search.add_argument(
        "--json", action="store_true", help="print a JSON array of contact objects"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = args.command or "run"
    handler: Callable[[argparse.Namespace], int] = COMMANDS[command]
    try:
        return handler(args)
    except UserError as error:
        print(error.message, file=sys.stderr)
        return 2
    except FileNotFoundError as error:
        print(
            f"File not found: {error.filename}. Check the path and try again.",
            file=sys.stderr,
        )
        return 2
    except BrokenPipeError:
        # The reader (such as `head`) closed the pipe, so nothing more is printed.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        return 130


def _app(args: argparse.Namespace) -> Flask:
    settings = load_settings(data_dir=args.data_dir, database_url=args.database_url)
    # One-shot commands print their own results; the log file has the rest.
    is_server = args.command in (None, "run", "serve")
    configure_logging(
        settings.log_dir, console_level=logging.INFO if is_server else logging.WARNING
    )
    app = create_app(settings)
    if is_server:
        warm_index(app.extensions["crm_db"])
    return app


def cmd_run(args: argparse.Namespace) -> int:
    from crm_web.server import Server

    app = _app(args)
    port = getattr(args, "port", 0)
    window = None if getattr(args, "browser", False) else _window_module()
    server = Server(app, port=port)
    _start_automatic_backups(app)
    if window is None:
        print(f"R9 CRM is running at {server.url}  (Ctrl+C stops it)", flush=True)
        server.serve_forever()
        return 0
    server.start_in_thread()
    try:
        window.open_window(server.url)
    finally:
        server.close()
    return 0


def _start_automatic_backups(app: Flask) -> None:
    from crm_web.services.backup_schedule import start_automatic_backups

    start_automatic_backups(app)


def _window_module() -> Any:
    try:
        from ui import window
    except ImportError as error:
        log.warning("No desktop window available (%s); serving instead", error)
        return None
    return window if window.has_display() else None


def cmd_serve(args: argparse.Namespace) -> int:
    from crm_web.server import Server

    app = _app(args)
    server = Server(app, host=args.host, port=args.port)
    _start_automatic_backups(app)
    print(f"Serving R9 CRM on {server.url}", flush=True)
    server.serve_forever()
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from crm_web import web
    from crm_web.services.importing.pipeline import import_file

    app = _app(args)
    with app.test_request_context():
        summary = import_file(
            web.db(),
            args.file,
            policy=args.on_duplicate,
            dry_run=args.dry_run,
            owner=web.owner(),
            region=web.region(),
            work_dir=web.settings().work_dir,
        )
        print(summary.describe())
        for problem in summary.rejected_reasons[:20]:
            print(f"  {problem}")
        if summary.rejected_file:
            print(summary.describe_rejected_file())
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from crm_web import web
    from crm_web.services.contact_export import export_to_path

    app = _app(args)
    with app.test_request_context():
        count = export_to_path(web.db(), args.file, query=args.query)
    print(f"{count} contacts exported to {args.file}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from crm_web import web
    from crm_web.services.contact_export import contacts_for_query

    app = _app(args)
    with app.test_request_context():
        found = list(contacts_for_query(web.db(), args.text))
    if args.json:
        print(json.dumps(found, ensure_ascii=False, indent=2, default=_json_value))
        return 0
    for contact in found:
        phones = " ".join(filter(None, [contact["mobile"], contact["phone"]]))
        print(
            "\t".join([contact["name"], contact["company"], phones, contact["email"]])
        )
    print(f"{len(found)} found", file=sys.stderr)
    return 0


def cmd_user(args: argparse.Namespace) -> int:
    from crm_web import web
    from crm_web.data import users as user_data
    from crm_web.services import accounts

    app = _app(args)
    with app.test_request_context():
        db = web.db()
        if args.user_command == "list":
            protection = "on" if accounts.protection_on(db) else "off"
            print(f"Login protection: {protection}")
            for row in accounts.list_users(db):
                state = "disabled" if row["disabled"] else "enabled"
                if not row["password_hash"]:
                    state += ", no password"
                print(f"{row['name']}\t{row['role']}\t{state}")
            return 0
        if args.user_command == "protect":
            accounts.set_protection(db, args.state == "on", by="command line")
            print(f"Login protection is {args.state}.")
            return 0
        password = _read_password(args.password_stdin)
        if args.user_command == "add":
            role = "admin" if args.admin else "user"
            accounts.create_user(db, args.name, password, role, by="command line")
            print(f"User {args.name} added ({role}).")
            return 0
        user = user_data.find_user_folded(db, args.name)
        if user is None:
            print(
                f"No user is named {args.name}; see r9crm user list.", file=sys.stderr
            )
            return 2
        accounts.set_password(db, user["uuid"], password, by="command line")
        print(f"Password of {user['name']} set.")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from crm_web import web
    from crm_web.services import audit
    from crm_web.services.backup import (
        MANUAL,
        create_backup,
        local_now,
        new_backup_path,
    )

    app = _app(args)
    with app.test_request_context():
        db = web.db()
        target = args.file
        if target.is_dir():
            target = new_backup_path(target, MANUAL, local_now(db))
        summary = create_backup(db, web.settings(), target)
        audit.record(db, "backup", user="command line", target=str(summary.path))
    print(
        f"Backup written to {summary.path} ({summary.size} bytes): "
        f"{summary.tables.get('contacts', 0)} contacts, {summary.files} files."
    )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from crm_web import web
    from crm_web.services import audit
    from crm_web.services.backup import restore_backup

    app = _app(args)
    if not args.yes:
        _confirm_restore(args.file, app.extensions["crm_settings"].data_dir)
    with app.test_request_context():
        db = web.db()
        summary = restore_backup(db, web.settings(), args.file)
        audit.record(db, "restore", user="command line", target=summary.name)
    print(
        f"Restored {args.file} (written {summary.created_at}). The data from "
        f"before the restore is in {summary.safety_path}."
    )
    return 0


def _confirm_restore(source: Path, data_dir: Path) -> None:
    question = (
        f"Replace all contacts, records and files of {data_dir} with the backup "
        f"{source}? Type yes to go on: "
    )
    if not sys.stdin.isatty():
        raise RestoreNotConfirmedError()
    if input(question).strip().lower() != "yes":
        raise RestoreNotConfirmedError()


class RestoreNotConfirmedError(UserError):
    def __init__(self) -> None:
        super().__init__(
            "Nothing was restored: confirm by typing yes, or add --yes to "
            "restore without asking."
        )


def _read_password(from_stdin: bool) -> str:
    import getpass

    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != first:
        raise PasswordMismatchError()
    return first


class PasswordMismatchError(UserError):
    def __init__(self) -> None:
        super().__init__("The two passwords differ; nothing was changed.")


def cmd_sync(args: argparse.Namespace) -> int:
    from flask import session

    from crm_web import web
    from crm_web.cli_sync import print_status, print_summary, run_sync

    data_dir = chosen_data_dir(args.data_dir)
    if not data_dir.is_dir():
        # A mistyped --data-dir would otherwise become a new, empty CRM.
        print(DataFolderMissingError(str(data_dir)).message, file=sys.stderr)
        return 1
    app = _app(args)
    with app.test_request_context():
        # r9crm sync prints English, whatever the app's language.
        session["language"] = "en"
        db = web.db()
        try:
            if args.action == "status":
                open_conflicts = print_status(db, web.settings().data_dir)
            else:
                result = run_sync(
                    db, web.settings().data_dir, args.action, local_owner=web.owner()
                )
                open_conflicts = print_summary(result)
        except UserError as error:
            print(error.message, file=sys.stderr)
            return 1
    return SYNC_CONFLICTS_EXIT if open_conflicts else 0


def _json_value(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": cmd_run,
    "serve": cmd_serve,
    "import": cmd_import,
    "export": cmd_export,
    "search": cmd_search,
    "user": cmd_user,
    "backup": cmd_backup,
    "restore": cmd_restore,
    "sync": cmd_sync,
}
