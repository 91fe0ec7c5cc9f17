"""Export and import of a vault, only ever as an encrypted file.

The file's password is chosen at export time and is independent of the
master password; ``vault_crypto`` defines the file format.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crm_web.data import vault as vault_data
from crm_web.data.db import Database
from crm_web.data.records import new_record
from crm_web.data.schema import utcnow
from crm_web.errors import VaultFileDamagedError
from crm_web.services import vault_crypto
from crm_web.services.vault import check_key, decrypt_entry, lock_key
from crm_web.services.vault_form import SECRET_FIELDS, EntryInput, clean_fields
from crm_web.services.vault_keys import UnlockedVault
from crm_web.services.vault_passwords import check_new_password

log = logging.getLogger(__name__)

# Plain fields an exported entry carries besides its secrets.
RECORD_FIELDS = ("uuid", "kind", "title", "contact_uuid", "created_at", "updated_at")


@dataclass(frozen=True)
class ImportSummary:
    added: int
    # Entries whose uuid this vault already has, from an earlier import.
    skipped: int


def export_vault(
    db: Database, vault: UnlockedVault, password: str, repeat: str
) -> tuple[bytes, int]:
    """Return the encrypted export file of the live entries, and their count."""
    check_new_password(password, repeat)
    check_key(db, vault)
    rows = vault_data.find_entries(db, vault.vault_uuid, deleted=False)
    entries = [_export_entry(vault, row) for row in rows]
    payload = {"exported_at": utcnow().isoformat(), "entries": entries}
    data = vault_crypto.write_vault_file(payload, password)
    log.info("Vault of %s exported: %s entries", vault.owner, len(entries))
    return data, len(entries)


def _export_entry(vault: UnlockedVault, row: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {name: row[name] for name in RECORD_FIELDS}
    for name in ("created_at", "updated_at"):
        entry[name] = row[name].isoformat()
    return {**entry, **decrypt_entry(vault, row)}


def import_vault(
    db: Database, vault: UnlockedVault, data: bytes, *, filename: str, password: str
) -> ImportSummary:
    """Add the entries of an export file, all or none.

    Every entry is decrypted and checked before the first is written. An
    entry whose uuid this vault already has is skipped, so importing the
    same file twice adds nothing. An entry whose uuid another vault uses
    gets a new uuid.
    """
    payload = vault_crypto.read_vault_file(data, password, filename=filename)
    entries = _entries_of(payload, filename)

    def work(db: Database) -> ImportSummary:
        lock_key(db, vault)
        mine = {
            r["uuid"]
            for r in vault_data.find_entries(db, vault.vault_uuid, deleted=None)
        }
        used_elsewhere = vault_data.find_entry_uuids(db, [e["uuid"] for e in entries])
        live_contacts = set(
            vault_data.find_contact_names(db, [e["contact_uuid"] for e in entries])
        )
        added = 0
        for entry in entries:
            if entry["uuid"] in mine:
                continue
            row = _import_row(vault, entry, live_contacts)
            if entry["uuid"] in used_elsewhere:
                row["uuid"] = str(uuid.uuid4())
            vault_data.insert_entry(db, row)
            mine.add(entry["uuid"])
            added += 1
        return ImportSummary(added=added, skipped=len(entries) - added)

    summary = db.write(work)
    log.info(
        "Vault of %s: %s entries imported from %s, %s already there",
        vault.owner,
        summary.added,
        filename,
        summary.skipped,
    )
    return summary


def _entries_of(payload: Any, filename: str) -> list[dict[str, Any]]:
    """Return the checked entries of a decrypted file; raise if any is invalid."""
    raw = payload.get("entries") if isinstance(payload, dict) else None
    if not isinstance(raw, list):
        raise VaultFileDamagedError(filename)
    entries = []
    for number, item in enumerate(raw, start=1):
        entry = _checked_entry(item) if isinstance(item, dict) else None
        if entry is None:
            # Only the position is logged: the entry's fields may be secret.
            log.warning("Vault file %s: entry %s is not valid", filename, number)
            raise VaultFileDamagedError(filename)
        entries.append(entry)
    return entries


def _checked_entry(item: dict[str, Any]) -> dict[str, Any] | None:
    errors: dict[str, str] = {}
    text_fields = {k: v for k, v in item.items() if isinstance(v, str)}
    values = clean_fields(text_fields, errors)
    try:
        entry_uuid = str(uuid.UUID(str(item.get("uuid"))))
        created = datetime.fromisoformat(str(item.get("created_at")))
        updated = datetime.fromisoformat(str(item.get("updated_at")))
    except ValueError:
        return None
    contact = item.get("contact_uuid")
    if errors or not (contact is None or isinstance(contact, str)):
        return None
    return {
        **values,
        "uuid": entry_uuid,
        "contact_uuid": contact or None,
        "created_at": created.replace(tzinfo=None, microsecond=0),
        "updated_at": updated.replace(tzinfo=None, microsecond=0),
    }


def _import_row(
    vault: UnlockedVault, entry: dict[str, Any], live_contacts: set[str]
) -> dict[str, Any]:
    contact = entry["contact_uuid"] if entry["contact_uuid"] in live_contacts else None
    secrets = EntryInput(
        kind=entry["kind"],
        title=entry["title"],
        **{name: entry[name] for name in SECRET_FIELDS},
    ).secrets()
    return {
        **new_record(vault.owner),
        "uuid": entry["uuid"],
        "created_at": entry["created_at"],
        "updated_at": entry["updated_at"],
        "vault_uuid": vault.vault_uuid,
        "kind": entry["kind"],
        "title": entry["title"],
        "contact_uuid": contact,
        "secret": vault_crypto.encrypt_json(vault.fernet, secrets),
    }
