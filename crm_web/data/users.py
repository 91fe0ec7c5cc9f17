"""Queries on users and the audit log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from crm_web.data.db import Database
from crm_web.data.records import as_dicts, check_columns
from crm_web.data.schema import audit_log, users, utcnow


def find_users(db: Database) -> list[dict[str, Any]]:
    return as_dicts(db.execute(select(users).order_by(users.c.name)))


def get_user(db: Database, name: str) -> dict[str, Any] | None:
    """Return the user whose sign-in name is ``name``, compared exactly."""
    row = db.execute(select(users).where(users.c.name == name)).first()
    return None if row is None else dict(row._mapping)


def get_user_by_uuid(db: Database, user_uuid: str) -> dict[str, Any] | None:
    row = db.execute(select(users).where(users.c.uuid == user_uuid)).first()
    return None if row is None else dict(row._mapping)


def find_user_folded(db: Database, name: str) -> dict[str, Any] | None:
    """Return a user whose name equals ``name`` ignoring ASCII case."""
    row = db.execute(
        select(users).where(func.lower(users.c.name) == name.lower())
    ).first()
    return None if row is None else dict(row._mapping)


def insert_user(db: Database, *, name: str, password_hash: str, role: str) -> str:
    now = utcnow()
    user_uuid = str(uuid.uuid4())
    db.execute(
        users.insert().values(
            uuid=user_uuid,
            name=name,
            password_hash=password_hash,
            role=role,
            disabled=False,
            failed_logins=0,
            created_at=now,
            updated_at=now,
        )
    )
    return user_uuid


def update_user(db: Database, user_uuid: str, **values: Any) -> None:
    check_columns(users, values)
    db.execute(
        update(users)
        .where(users.c.uuid == user_uuid)
        .values(**values, updated_at=utcnow())
    )


def count_admins(db: Database) -> int:
    """Return how many enabled admins there are."""
    return int(
        db.execute(
            select(func.count())
            .select_from(users)
            .where(users.c.role == "admin", users.c.disabled == False)  # noqa: E712
        ).scalar_one()
    )


def insert_audit(
    db: Database,
    *,
    user: str,
    action: str,
    target: str = "",
    detail: str = "",
    address: str = "",
) -> None:
    db.execute(
        audit_log.insert().values(
            at=utcnow(),
            user=user[:64],
            action=action[:40],
            target=target[:200],
            detail=detail,
            address=address[:45],
        )
    )


def find_audit(
    db: Database,
    *,
    user: str = "",
    action: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Return one page of audit entries, newest first, and the total."""
    query = select(audit_log)
    conditions = []
    if user:
        conditions.append(audit_log.c.user == user)
    if action:
        conditions.append(audit_log.c.action == action)
    if since is not None:
        conditions.append(audit_log.c.at >= since)
    if until is not None:
        conditions.append(audit_log.c.at < until)
    if conditions:
        query = query.where(*conditions)
    total = db.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = db.execute(
        query.order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return as_dicts(rows), int(total)
