"""A prepared shared server and terminals signed in to it, for the sync tests.

The server is a MariaDB database of its own. A terminal is an app's
SQLite database with the network settings saved as the Network page
saves them. Records are made through the services, as the pages make them.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.engine import make_url

from crm_web.data import users as user_data
from crm_web.data.db import Database, connect
from crm_web.data.preferences import upsert_preference
from crm_web.data.schema import contacts, sales
from crm_web.services import accounts, jobs, sync, sync_runs
from crm_web.services import contacts as contact_service
from crm_web.services import sales as sale_service
from crm_web.services.network_config import (
    NetworkConfig,
    ServerAddress,
    save_network_config,
)

# Network users on the server: name -> role. Each password is "password-" + name.
NETWORK_USERS = {"lily": "user", "boss": "admin"}
JOB_SECONDS = 30


def prepare_server(url: str) -> Database:
    """Return the server database at ``url`` with the schema, uuid and users."""
    server = connect(url)

    def work(db: Database) -> None:
        upsert_preference(db, sync.SERVER_PREFERENCE, str(uuid.uuid4()))
        for name, role in NETWORK_USERS.items():
            user_data.insert_user(
                db,
                name=name,
                password_hash=accounts.hash_password(password_of(name)),
                role=role,
            )

    server.write(work)
    return server


def password_of(name: str) -> str:
    return f"password-{name}"


def address_of(url: str) -> ServerAddress:
    parsed = make_url(url)
    return ServerAddress(
        host=parsed.host or "",
        port=parsed.port or 3306,
        database=parsed.database or "",
        user=parsed.username or "",
        password=parsed.password or "",
    )


def sign_in_terminal(db: Database, data_dir: Path, url: str, name: str) -> None:
    """Save the server and the network user ``name`` as the Network page does."""
    data_dir.mkdir(parents=True, exist_ok=True)
    config = NetworkConfig(address_of(url), name, password_of(name))
    save_network_config(db, data_dir, config)


def set_rights(server: Database, name: str, **values: Any) -> None:
    row = user_data.get_user(server, name)
    assert row is not None
    server.write(lambda db: user_data.update_user(db, row["uuid"], **values))


def run(direction: str, db: Database, data_dir: Path) -> sync_runs.SyncResult:
    """Upload or download as the terminal's saved network user."""
    server_db, user = sync_runs.open_sync(db, data_dir, direction)
    return sync_runs.run_sync(direction, db, server_db, user, local_owner="Admin")


def add_contact(db: Database, *, owner: str = "Admin", **values: Any) -> str:
    contact = contact_service.parse_form(values)
    contact_id = contact_service.create_contact(
        db, contact, owner=owner, region="CN", allow_duplicate=True
    )
    return str(contact_service.require_contact(db, contact_id)["uuid"])


def edit_contact(db: Database, contact_uuid: str, **values: Any) -> None:
    current = row_of(db, contacts, contact_uuid)
    assert current is not None
    form = {
        name: current[name]
        for name in ("name", "company", "mobile", "email", "notes", "category_uuid")
        if current[name]
    }
    form.update(values)
    contact_service.update_contact(
        db,
        current["id"],
        contact_service.parse_form(form),
        version=current["version"],
        region="CN",
        allow_duplicate=True,
    )


def delete_contact(db: Database, contact_uuid: str) -> None:
    current = row_of(db, contacts, contact_uuid)
    assert current is not None
    contact_service.set_deleted(db, current["id"], deleted=True)


def add_sale(db: Database, *, owner: str = "Admin", **values: Any) -> str:
    form = {"sold_on": "2026-11-20", "currency": "CNY", "status": "ordered"}
    form.update(values)
    sale_id = sale_service.create_sale(db, sale_service.parse_form(form), owner=owner)
    row = db.execute(select(sales.c.uuid).where(sales.c.id == sale_id))
    return str(row.scalar_one())


def edit_sale(db: Database, sale_uuid: str, **values: Any) -> None:
    current = row_of(db, sales, sale_uuid)
    assert current is not None
    form = {
        "sold_on": current["sold_on"].isoformat(),
        "currency": current["currency"],
        "status": current["status"],
        "item": current["item"],
    }
    form.update(values)
    sale_service.update_sale(
        db,
        current["id"],
        sale_service.parse_form(form),
        version=current["version"],
        owner=current["owner"],
    )


def row_of(db: Database, table: Table, record_uuid: str) -> dict[str, Any] | None:
    found = db.execute(select(table).where(table.c.uuid == record_uuid)).first()
    db.release()
    return None if found is None else dict(found._mapping)


def wait_for_job(job_id: str) -> jobs.Job:
    """Return the job once it is no longer running."""
    deadline = time.monotonic() + JOB_SECONDS
    while time.monotonic() < deadline:
        job = jobs.get_job(job_id)
        assert job is not None
        if job.state != "running":
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still running after {JOB_SECONDS} s")
