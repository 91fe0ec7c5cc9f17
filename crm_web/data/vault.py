"""Queries on the account vault: the vaults table and their encrypted entries.

Entries are filtered by vault_uuid in every query, so one user's vault
never reads or changes another's rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import false, select, true, update

from crm_web.data.db import Database
from crm_web.data.records import as_dicts, check_columns
from crm_web.data.schema import contacts, utcnow, vault_entries, vaults

# Rows per IN (...) list, well under both backends' parameter limits.
IN_CHUNK = 500


def get_vault(db: Database, owner: str) -> dict[str, Any] | None:
    row = db.execute(select(vaults).where(vaults.c.owner == owner)).first()
    return dict(row._mapping) if row else None


def get_vault_for_update(db: Database, vault_uuid: str) -> dict[str, Any] | None:
    """Return the vault row, locked until the transaction ends.

    On MySQL ``FOR UPDATE`` makes writers of the same vault wait for each
    other; SQLite's BEGIN IMMEDIATE already serialises every writer.
    """
    statement = select(vaults).where(vaults.c.uuid == vault_uuid).with_for_update()
    row = db.execute(statement).first()
    return dict(row._mapping) if row else None


def insert_vault(db: Database, row: dict[str, Any]) -> None:
    check_columns(vaults, row)
    db.execute(vaults.insert().values(**row))


def update_vault(db: Database, vault_uuid: str, values: dict[str, Any]) -> None:
    """Change the vault row and bump its version."""
    check_columns(vaults, values)
    db.execute(
        update(vaults)
        .where(vaults.c.uuid == vault_uuid)
        .values(**values, updated_at=utcnow(), version=vaults.c.version + 1)
    )


def find_entries(
    db: Database, vault_uuid: str, *, deleted: bool | None = False
) -> list[dict[str, Any]]:
    """Return the vault's entries, live or deleted, or all for ``None``."""
    statement = select(vault_entries).where(vault_entries.c.vault_uuid == vault_uuid)
    if deleted is not None:
        flag = true() if deleted else false()
        statement = statement.where(vault_entries.c.deleted == flag)
    return as_dicts(db.execute(statement.order_by(vault_entries.c.id)))


def get_entry(db: Database, vault_uuid: str, entry_uuid: str) -> dict[str, Any] | None:
    statement = select(vault_entries).where(
        vault_entries.c.vault_uuid == vault_uuid,
        vault_entries.c.uuid == entry_uuid,
    )
    row = db.execute(statement).first()
    return dict(row._mapping) if row else None


def find_entry_uuids(db: Database, uuids: Sequence[str]) -> set[str]:
    """Return which of ``uuids`` are taken by an entry of any vault."""
    found: set[str] = set()
    for start in range(0, len(uuids), IN_CHUNK):
        chunk = list(uuids[start : start + IN_CHUNK])
        statement = select(vault_entries.c.uuid).where(vault_entries.c.uuid.in_(chunk))
        found.update(db.execute(statement).scalars())
    return found


def insert_entry(db: Database, row: dict[str, Any]) -> None:
    check_columns(vault_entries, row)
    db.execute(vault_entries.insert().values(**row))


def update_entry(
    db: Database,
    vault_uuid: str,
    entry_uuid: str,
    values: dict[str, Any],
    *,
    version: int | None = None,
) -> bool:
    """Change one entry and bump its version; False if ``version`` is stale."""
    check_columns(vault_entries, values)
    statement = update(vault_entries).where(
        vault_entries.c.vault_uuid == vault_uuid,
        vault_entries.c.uuid == entry_uuid,
    )
    if version is not None:
        statement = statement.where(vault_entries.c.version == version)
    result = db.execute(
        statement.values(
            **values, updated_at=utcnow(), version=vault_entries.c.version + 1
        )
    )
    return bool(result.rowcount)


def update_secret(db: Database, vault_uuid: str, entry_uuid: str, secret: str) -> None:
    """Replace an entry's ciphertext alone, as a master password change does.

    The version and times stay, because the entry's content is unchanged.
    """
    db.execute(
        update(vault_entries)
        .where(
            vault_entries.c.vault_uuid == vault_uuid,
            vault_entries.c.uuid == entry_uuid,
        )
        .values(secret=secret)
    )


def delete_entry(db: Database, vault_uuid: str, entry_uuid: str) -> None:
    db.execute(
        vault_entries.delete().where(
            vault_entries.c.vault_uuid == vault_uuid,
            vault_entries.c.uuid == entry_uuid,
        )
    )


def find_contact_names(db: Database, uuids: Sequence[str]) -> dict[str, str]:
    """Return contact uuid -> name (or company) of the live contacts given."""
    names: dict[str, str] = {}
    distinct = sorted({u for u in uuids if u})
    for start in range(0, len(distinct), IN_CHUNK):
        statement = select(contacts.c.uuid, contacts.c.name, contacts.c.company).where(
            contacts.c.uuid.in_(distinct[start : start + IN_CHUNK]),
            contacts.c.deleted == false(),
        )
        for row in db.execute(statement):
            names[row.uuid] = row.name or row.company
    return names
