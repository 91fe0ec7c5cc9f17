"""Named smart-query views: a query and filters saved under a name."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask_babel import gettext as _

from crm_web.data import views as view_data
from crm_web.data.db import Database
from crm_web.data.records import new_record
from crm_web.errors import DuplicateNameError, InvalidValueError, NotFoundError
from crm_web.services import text

log = logging.getLogger(__name__)


def list_views(db: Database) -> list[dict[str, Any]]:
    """Return saved views with their parameters decoded."""
    views = view_data.find_views(db)
    for view in views:
        view["params"] = json.loads(view["params"] or "{}")
    return views


def save_view(
    db: Database, raw_name: str, params: dict[str, str], *, owner: str
) -> str:
    """Save the query and filters under a name; return the view's uuid."""
    name = " ".join(text.clean(raw_name).split())
    if not name or len(name) > 100:
        raise InvalidValueError(
            _("View name"), raw_name, _("type a name of 1 to 100 characters.")
        )
    if not any(params.values()):
        raise InvalidValueError(
            _("View"),
            name,
            _(
                "type a query or choose a filter first; an empty view would "
                "just list every contact."
            ),
        )

    def work(db: Database) -> str:
        if any(
            text.fold(v["name"]) == text.fold(name) for v in view_data.find_views(db)
        ):
            raise DuplicateNameError(_("view"), name)
        row = {
            **new_record(owner),
            "name": name,
            "params": json.dumps(params, ensure_ascii=False),
        }
        view_data.insert_view(db, row)
        return str(row["uuid"])

    view_uuid = db.write(work)
    log.info("Saved view %s created", view_uuid)
    return view_uuid


def delete_view(db: Database, view_uuid: str) -> None:
    """Delete a saved view the user can see; others' views stay."""
    if view_data.get_view(db, view_uuid) is None:
        raise NotFoundError(_("Saved view"), view_uuid)
    db.write(lambda db: view_data.delete_view(db, view_uuid))
