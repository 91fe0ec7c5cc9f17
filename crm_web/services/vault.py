"""The account vault: set-up, unlocking, entries and master password changes.

Each user has one vault, keyed by their name. An entry's secrets are a
Fernet token under a key derived from the vault's master password (see
``vault_crypto``). Only kind, title and the linked contact are plain. Every
write first locks the vault row and checks that the session's key is still
the vault's, so no entry is written under a key that a master password
change has replaced.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import InvalidToken
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from crm_web.data import vault as vault_data
from crm_web.data.db import Database
from crm_web.data.records import new_record
from crm_web.data.schema import utcnow
from crm_web.errors import (
    NotFoundError,
    VaultEntryDamagedError,
    VaultExistsError,
    VaultKeyChangedError,
    VersionConflictError,
    WrongMasterPasswordError,
)
from crm_web.services import text, vault_crypto
from crm_web.services.vault_crypto import KdfParams
from crm_web.services.vault_form import KINDS, SECRET_FIELDS, EntryInput
from crm_web.services.vault_keys import UnlockedVault
from crm_web.services.vault_passwords import check_new_password

log = logging.getLogger(__name__)

# Fields a user may reveal or copy one at a time from the list.
REVEALABLE = ("account", "password", "card_number")


# --- the vault itself --------------------------------------------------------


def has_vault(db: Database, owner: str) -> bool:
    return vault_data.get_vault(db, owner) is not None


def create_vault(db: Database, owner: str, password: str, repeat: str) -> UnlockedVault:
    """Set up ``owner``'s vault with its master password; return it unlocked."""
    check_new_password(password, repeat)
    if has_vault(db, owner):
        raise VaultExistsError(owner)
    params = vault_crypto.DEFAULT_KDF
    salt = vault_crypto.new_salt()
    fernet = vault_crypto.derive_key(password, salt, params)
    row = {
        **new_record(owner),
        "kdf": params.to_json(),
        "salt": salt,
        "verifier": vault_crypto.make_verifier(fernet),
    }
    try:
        db.write(lambda db: vault_data.insert_vault(db, row))
    except IntegrityError as error:
        # Another window set up the same vault a moment earlier.
        raise VaultExistsError(owner) from error
    log.info("Vault of %s created", owner)
    return UnlockedVault(owner, row["uuid"], salt, fernet)


def unlock_vault(db: Database, owner: str, password: str) -> UnlockedVault:
    """Check the master password and return the vault with its key."""
    vault = _open_with(_require_vault(db, owner), password)
    log.info("Vault of %s unlocked", owner)
    return vault


def change_master_password(
    db: Database, vault: UnlockedVault, current: str, new: str, repeat: str
) -> UnlockedVault:
    """Re-encrypt every entry under a new master password, in one transaction.

    Until that transaction commits, the vault row and every entry still
    belong to the old password, so an interruption leaves it working.
    """
    check_new_password(new, repeat)
    old = _open_with(_require_vault(db, vault.owner), current)
    params = vault_crypto.DEFAULT_KDF
    salt = vault_crypto.new_salt()
    fernet = vault_crypto.derive_key(new, salt, params)

    def work(db: Database) -> int:
        lock_key(db, old)
        entries = vault_data.find_entries(db, old.vault_uuid, deleted=None)
        for row in entries:
            secret = vault_crypto.encrypt_json(fernet, decrypt_entry(old, row))
            vault_data.update_secret(db, old.vault_uuid, row["uuid"], secret)
        values = {
            "kdf": params.to_json(),
            "salt": salt,
            "verifier": vault_crypto.make_verifier(fernet),
        }
        vault_data.update_vault(db, old.vault_uuid, values)
        return len(entries)

    count = db.write(work)
    log.info(
        "Master password of the vault of %s changed; %s entries re-encrypted",
        vault.owner,
        count,
    )
    return UnlockedVault(vault.owner, vault.vault_uuid, salt, fernet)


def check_key(db: Database, vault: UnlockedVault) -> None:
    """Raise VaultKeyChangedError if the vault's master password has changed."""
    row = vault_data.get_vault(db, vault.owner)
    if row is None or row["uuid"] != vault.vault_uuid or row["salt"] != vault.salt:
        raise VaultKeyChangedError()


def lock_key(db: Database, vault: UnlockedVault) -> None:
    """Lock the vault row for this transaction and check the session's key."""
    row = vault_data.get_vault_for_update(db, vault.vault_uuid)
    if row is None or row["salt"] != vault.salt:
        raise VaultKeyChangedError()


def _open_with(row: dict[str, Any], password: str) -> UnlockedVault:
    """Derive the key of ``password`` and check it against the vault's verifier."""
    fernet = vault_crypto.derive_key(
        password, row["salt"], KdfParams.from_json(row["kdf"])
    )
    if not vault_crypto.is_key_of(fernet, row["verifier"]):
        log.warning("Wrong master password for the vault of %s", row["owner"])
        raise WrongMasterPasswordError()
    return UnlockedVault(row["owner"], row["uuid"], row["salt"], fernet)


def _require_vault(db: Database, owner: str) -> dict[str, Any]:
    row = vault_data.get_vault(db, owner)
    if row is None:
        raise NotFoundError(_("Account vault"), owner)
    return row


# --- entries -----------------------------------------------------------------


def create_entry(db: Database, vault: UnlockedVault, entry: EntryInput) -> str:
    """Store a new entry, its secrets encrypted; return its uuid."""
    row = {
        **new_record(vault.owner),
        "vault_uuid": vault.vault_uuid,
        **_plain_columns(entry),
        "secret": vault_crypto.encrypt_json(vault.fernet, entry.secrets()),
    }

    def work(db: Database) -> None:
        lock_key(db, vault)
        vault_data.insert_entry(db, row)

    db.write(work)
    return str(row["uuid"])


def update_entry(
    db: Database,
    vault: UnlockedVault,
    entry_uuid: str,
    entry: EntryInput,
    *,
    version: int,
) -> None:
    """Replace an entry's fields, unless someone saved it since ``version``."""
    values = {
        **_plain_columns(entry),
        "secret": vault_crypto.encrypt_json(vault.fernet, entry.secrets()),
    }

    def work(db: Database) -> None:
        lock_key(db, vault)
        row = _require_entry(db, vault, entry_uuid)
        if not vault_data.update_entry(
            db, vault.vault_uuid, entry_uuid, values, version=version
        ):
            raise VersionConflictError(row["title"])

    db.write(work)


def set_deleted(
    db: Database, vault: UnlockedVault, entry_uuid: str, *, deleted: bool
) -> str:
    """Move an entry to the vault's trash or back; return its title."""

    def work(db: Database) -> str:
        lock_key(db, vault)
        row = _require_entry(db, vault, entry_uuid)
        values = {"deleted": deleted, "deleted_at": utcnow() if deleted else None}
        vault_data.update_entry(db, vault.vault_uuid, entry_uuid, values)
        return str(row["title"])

    return db.write(work)


def purge_entry(db: Database, vault: UnlockedVault, entry_uuid: str) -> str:
    """Delete an entry from the trash for good; return its title."""

    def work(db: Database) -> str:
        lock_key(db, vault)
        row = _require_entry(db, vault, entry_uuid)
        if not row["deleted"]:
            raise NotFoundError(_("Deleted vault entry"), row["title"])
        vault_data.delete_entry(db, vault.vault_uuid, entry_uuid)
        return str(row["title"])

    return db.write(work)


@dataclass(frozen=True)
class EntryFilters:
    words: str = ""
    kind: str = ""


def list_entries(
    db: Database,
    vault: UnlockedVault,
    filters: EntryFilters | None = None,
    *,
    deleted: bool = False,
) -> list[dict[str, Any]]:
    """Return the vault's entries decrypted for the list, sorted by title.

    Passwords, card numbers and notes are left out: the list shows
    whether there is one, and the page fetches it on request.
    """
    check_key(db, vault)
    filters = filters or EntryFilters()
    rows = vault_data.find_entries(db, vault.vault_uuid, deleted=deleted)
    names = vault_data.find_contact_names(db, [r["contact_uuid"] for r in rows])
    views = [_list_view(vault, row, names) for row in rows]
    words = text.fold(filters.words.strip())
    views = [
        v
        for v in views
        if (not filters.kind or v["kind"] == filters.kind)
        and (not words or words in v["search"])
    ]
    return sorted(views, key=lambda v: (text.sort_key(v["title"]), v["uuid"]))


def open_entry(db: Database, vault: UnlockedVault, entry_uuid: str) -> dict[str, Any]:
    """Return one live entry with every field decrypted, for its form."""
    check_key(db, vault)
    row = _require_entry(db, vault, entry_uuid)
    secrets = decrypt_entry(vault, row)
    names = vault_data.find_contact_names(db, [row["contact_uuid"]])
    return {
        **row,
        **secrets,
        "contact_name": names.get(row["contact_uuid"] or "", ""),
    }


def reveal(db: Database, vault: UnlockedVault, entry_uuid: str, field: str) -> str:
    """Return one secret field of an entry, for showing or copying."""
    if field not in REVEALABLE:
        raise NotFoundError(_("Field"), field)
    check_key(db, vault)
    row = _require_entry(db, vault, entry_uuid)
    return str(decrypt_entry(vault, row)[field])


def _plain_columns(entry: EntryInput) -> dict[str, Any]:
    return {
        "kind": entry.kind,
        "title": entry.title,
        "contact_uuid": entry.contact_uuid,
    }


def _require_entry(
    db: Database, vault: UnlockedVault, entry_uuid: str
) -> dict[str, Any]:
    row = vault_data.get_entry(db, vault.vault_uuid, entry_uuid)
    if row is None:
        raise NotFoundError(_("Vault entry"), entry_uuid)
    return row


def decrypt_entry(vault: UnlockedVault, row: dict[str, Any]) -> dict[str, str]:
    """Return an entry's secret fields; raise VaultEntryDamagedError if unreadable."""
    try:
        value = vault_crypto.decrypt_json(vault.fernet, row["secret"])
    except (InvalidToken, ValueError) as error:
        log.error("Vault entry %s of %s cannot be decrypted", row["uuid"], vault.owner)
        raise VaultEntryDamagedError(row["title"]) from error
    if not isinstance(value, dict):
        raise VaultEntryDamagedError(row["title"])
    return {name: str(value.get(name) or "") for name in SECRET_FIELDS}


def _list_view(
    vault: UnlockedVault, row: dict[str, Any], names: dict[str, str]
) -> dict[str, Any]:
    try:
        secrets = decrypt_entry(vault, row)
        damaged = False
    except VaultEntryDamagedError:
        secrets = dict.fromkeys(SECRET_FIELDS, "")
        damaged = True
    contact_name = names.get(row["contact_uuid"] or "", "")
    kind_label = str(KINDS.get(row["kind"], row["kind"]))
    card = secrets["card_number"]
    return {
        "uuid": row["uuid"],
        "kind": row["kind"],
        "kind_label": kind_label,
        "title": row["title"],
        "account": secrets["account"],
        "has_password": bool(secrets["password"]),
        "has_card_number": bool(card),
        # The last four characters, as bank statements show a card.
        "card_end": card.replace(" ", "")[-4:] if len(card) > 4 else "",
        "expiry": secrets["expiry"],
        "has_notes": bool(secrets["notes"]),
        "contact_uuid": row["contact_uuid"],
        "contact_name": contact_name,
        "updated_at": row["updated_at"],
        "deleted_at": row["deleted_at"],
        "damaged": damaged,
        "search": text.fold(
            " ".join((row["title"], secrets["account"], contact_name, kind_label))
        ),
    }
