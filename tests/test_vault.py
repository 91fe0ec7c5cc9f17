"""The account vault's services and data, on SQLite and MariaDB."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select, text

from crm_web.data import schema
from crm_web.data import vault as vault_data
from crm_web.data.db import Database, connect
from crm_web.errors import (
    InvalidValueError,
    NoCharacterSetError,
    NotFoundError,
    PasswordMismatchError,
    PasswordTooShortError,
    VaultEntryDamagedError,
    VaultEntryInvalidError,
    VaultExistsError,
    VaultFileDamagedError,
    VaultFilePasswordError,
    VaultFileVersionError,
    VaultKeyChangedError,
    VersionConflictError,
    WrongMasterPasswordError,
)
from crm_web.services import contacts as contact_service
from crm_web.services import vault as vault_service
from crm_web.services import vault_crypto, vault_files, vault_passwords
from crm_web.services.vault import EntryFilters
from crm_web.services.vault_crypto import KdfParams
from crm_web.services.vault_form import EntryInput, parse_entry
from crm_web.services.vault_keys import KeyRing, UnlockedVault

# The cost the app really uses, kept before the fixture lowers it for speed.
REAL_KDF = vault_crypto.DEFAULT_KDF
MASTER = "马到成功 horse battery"
OWNER = "Admin"

# Values that must never reach the database or the log in plain text.
SECRETS = {
    "account": "acct-8f2e1d@qq.com",
    "password": "Pw-测试-9f3Kq!",
    "card_number": "6222 0212 3456 7890",
    "expiry": "2031-07",
    "notes": "安全问题答案：小黄狗 and the PIN hint",
}


@pytest.fixture(autouse=True)
def fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    # scrypt at n=2**14 needs 16 MiB and a few hundredths of a second, so the
    # many set-ups here stay quick; one test checks the real cost.
    monkeypatch.setattr(vault_crypto, "DEFAULT_KDF", KdfParams(n=2**14))


@pytest.fixture
def vault(db: Database) -> UnlockedVault:
    return vault_service.create_vault(db, OWNER, MASTER, MASTER)


def add(db: Database, vault: UnlockedVault, **values: str) -> str:
    raw = {"kind": "qq", "title": "Shop QQ", **values}
    return vault_service.create_entry(db, vault, parse_entry(db, raw))


def titles(db: Database, vault: UnlockedVault, **filters: str) -> list[str]:
    found = vault_service.list_entries(db, vault, EntryFilters(**filters))
    return [e["title"] for e in found]


def all_text(db: Database) -> str:
    """Return every value of every row of every table, as one string."""
    parts = []
    for table in sorted(inspect(db.conn).get_table_names()):
        for row in db.execute(text(f"SELECT * FROM {db.quote(table)}")):
            parts.extend(str(value) for value in row)
    db.release()
    return "\n".join(parts)


def sqlite_bytes(db: Database) -> bytes:
    """Return the raw bytes of the SQLite file and its write-ahead log."""
    path = Path(db.url.removeprefix("sqlite:///"))
    return b"".join(
        p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists()
    )


# --- master password ---------------------------------------------------------


def test_real_cost_is_scrypt_n_2_17() -> None:
    assert KdfParams(n=2**17, r=8, p=1) == REAL_KDF
    key = vault_crypto.derive_key(MASTER, vault_crypto.new_salt(), REAL_KDF)
    assert key.decrypt(key.encrypt(b"x")) == b"x"


def test_create_stores_salt_cost_and_verifier(db: Database) -> None:
    vault_service.create_vault(db, OWNER, MASTER, MASTER)
    row = vault_data.get_vault(db, OWNER)
    assert row is not None
    assert json.loads(row["kdf"]) == {"name": "scrypt", "n": 2**14, "r": 8, "p": 1}
    assert len(vault_crypto.base64.b64decode(row["salt"])) == 16
    assert MASTER not in all_text(db)


def test_each_vault_gets_its_own_salt(db: Database) -> None:
    vault_service.create_vault(db, "Admin", MASTER, MASTER)
    vault_service.create_vault(db, "Li Lei", MASTER, MASTER)
    first = vault_data.get_vault(db, "Admin")
    second = vault_data.get_vault(db, "Li Lei")
    assert first and second
    assert first["salt"] != second["salt"]
    assert first["verifier"] != second["verifier"]


def test_second_create_is_rejected(db: Database, vault: UnlockedVault) -> None:
    with pytest.raises(VaultExistsError):
        vault_service.create_vault(db, OWNER, "another password", "another password")


@pytest.mark.parametrize(
    ("password", "repeat", "error"),
    [
        ("short", "short", PasswordTooShortError),
        ("long enough 1", "long enough 2", PasswordMismatchError),
        ("", "", PasswordTooShortError),
    ],
)
def test_create_checks_new_password(
    db: Database, password: str, repeat: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        vault_service.create_vault(db, OWNER, password, repeat)
    assert not vault_service.has_vault(db, OWNER)


def test_unlock_with_right_password(db: Database, vault: UnlockedVault) -> None:
    add(db, vault, password="p1")
    unlocked = vault_service.unlock_vault(db, OWNER, MASTER)
    entry = vault_service.list_entries(db, unlocked)[0]
    assert vault_service.reveal(db, unlocked, entry["uuid"], "password") == "p1"


def test_unlock_normalises_unicode(db: Database) -> None:
    # "é" typed as one code point or as "e" plus a combining accent.
    vault_service.create_vault(db, OWNER, "caf\u00e9 au lait", "caf\u00e9 au lait")
    unlocked = vault_service.unlock_vault(db, OWNER, "cafe\u0301 au lait")
    assert unlocked.owner == OWNER


@pytest.mark.parametrize(
    "wrong", ["", "马到成功 horse batter", MASTER.upper(), MASTER + " "]
)
def test_wrong_password_is_rejected_and_harmless(
    db: Database, vault: UnlockedVault, wrong: str
) -> None:
    add(db, vault, **SECRETS)
    before = all_text(db)
    with pytest.raises(WrongMasterPasswordError):
        vault_service.unlock_vault(db, OWNER, wrong)
    assert all_text(db) == before
    unlocked = vault_service.unlock_vault(db, OWNER, MASTER)
    entry = vault_service.list_entries(db, unlocked)[0]
    assert entry["account"] == SECRETS["account"]


def test_wrong_password_message_names_no_secret(db: Database) -> None:
    vault_service.create_vault(db, OWNER, MASTER, MASTER)
    with pytest.raises(WrongMasterPasswordError) as caught:
        vault_service.unlock_vault(db, OWNER, "guess-guess")
    assert "guess-guess" not in caught.value.message
    assert "master password is wrong" in caught.value.message


def test_owners_do_not_share_entries(db: Database, vault: UnlockedVault) -> None:
    add(db, vault, title="Admin only")
    other = vault_service.create_vault(
        db, "Li Lei", "li lei's password", "li lei's password"
    )
    assert titles(db, other) == []
    assert titles(db, vault) == ["Admin only"]


# --- secrets at rest ---------------------------------------------------------


def test_secrets_never_stored_in_plain_text(db: Database, vault: UnlockedVault) -> None:
    entry_uuid = add(db, vault, **SECRETS)
    changed = dict(SECRETS, password="Second-Pw-测试-77")
    vault_service.update_entry(
        db, vault, entry_uuid, EntryInput("qq", "Shop QQ", **changed), version=1
    )
    rows = all_text(db)
    for name, value in {**SECRETS, "second": changed["password"]}.items():
        assert value not in rows, name
    assert SECRETS["card_number"].replace(" ", "") not in rows
    assert "Shop QQ" in rows  # the title stays plain, for the list
    if db.is_sqlite:
        raw = sqlite_bytes(db)
        for name, value in {**SECRETS, "second": changed["password"]}.items():
            assert value.encode("utf-8") not in raw, name
            assert value.encode("utf-16-le") not in raw, name


def test_ciphertext_length_is_padded(db: Database, vault: UnlockedVault) -> None:
    add(db, vault, title="a", password="x")
    add(db, vault, title="b", password="x" * 40)
    rows = vault_data.find_entries(db, vault.vault_uuid)
    assert len(rows[0]["secret"]) == len(rows[1]["secret"])


def test_entry_round_trip(db: Database, vault: UnlockedVault) -> None:
    entry_uuid = add(db, vault, **SECRETS)
    entry = vault_service.open_entry(db, vault, entry_uuid)
    assert {name: entry[name] for name in SECRETS} == SECRETS
    assert entry["kind"] == "qq"
    assert entry["title"] == "Shop QQ"


def test_list_hides_password_and_card(db: Database, vault: UnlockedVault) -> None:
    add(db, vault, **SECRETS)
    entry = vault_service.list_entries(db, vault)[0]
    assert SECRETS["password"] not in str(entry)
    assert SECRETS["card_number"] not in str(entry)
    assert SECRETS["notes"] not in entry.values()
    assert entry["card_end"] == "7890"
    assert entry["has_password"] is True
    assert entry["has_notes"] is True


@pytest.mark.parametrize("field", ["account", "password", "card_number"])
def test_reveal_returns_one_field(
    db: Database, vault: UnlockedVault, field: str
) -> None:
    entry_uuid = add(db, vault, **SECRETS)
    assert vault_service.reveal(db, vault, entry_uuid, field) == SECRETS[field]


def test_reveal_rejects_other_fields(db: Database, vault: UnlockedVault) -> None:
    entry_uuid = add(db, vault, **SECRETS)
    with pytest.raises(NotFoundError):
        vault_service.reveal(db, vault, entry_uuid, "secret")


def test_damaged_entry_is_flagged(db: Database, vault: UnlockedVault) -> None:
    entry_uuid = add(db, vault, **SECRETS)
    vault_data.update_secret(db, vault.vault_uuid, entry_uuid, "gAAAAAB-not-a-token")
    db.release()
    entry = vault_service.list_entries(db, vault)[0]
    assert entry["damaged"] is True
    with pytest.raises(VaultEntryDamagedError):
        vault_service.reveal(db, vault, entry_uuid, "password")


def test_list_filters_by_words_and_kind(db: Database, vault: UnlockedVault) -> None:
    add(db, vault, kind="qq", title="Shop QQ", account="10001")
    add(db, vault, kind="bank_card", title="工商银行 debit", account="zhang")
    add(db, vault, kind="alipay", title="Alipay", account="ZHANG@example.com")
    assert titles(db, vault, words="zhang") == ["Alipay", "工商银行 debit"]
    assert titles(db, vault, words="工商") == ["工商银行 debit"]
    assert titles(db, vault, kind="qq") == ["Shop QQ"]
    assert titles(db, vault, words="10001", kind="alipay") == []


def test_update_with_stale_version_conflicts(
    db: Database, vault: UnlockedVault
) -> None:
    entry_uuid = add(db, vault)
    entry = EntryInput("qq", "Renamed")
    vault_service.update_entry(db, vault, entry_uuid, entry, version=1)
    with pytest.raises(VersionConflictError):
        vault_service.update_entry(db, vault, entry_uuid, entry, version=1)


def test_trash_restore_and_purge(db: Database, vault: UnlockedVault) -> None:
    entry_uuid = add(db, vault)
    vault_service.set_deleted(db, vault, entry_uuid, deleted=True)
    assert titles(db, vault) == []
    trashed = vault_service.list_entries(db, vault, deleted=True)
    assert [e["title"] for e in trashed] == ["Shop QQ"]
    vault_service.set_deleted(db, vault, entry_uuid, deleted=False)
    assert titles(db, vault) == ["Shop QQ"]
    vault_service.set_deleted(db, vault, entry_uuid, deleted=True)
    vault_service.purge_entry(db, vault, entry_uuid)
    assert vault_data.find_entries(db, vault.vault_uuid, deleted=None) == []


def test_purge_needs_the_trash_first(db: Database, vault: UnlockedVault) -> None:
    entry_uuid = add(db, vault)
    with pytest.raises(NotFoundError):
        vault_service.purge_entry(db, vault, entry_uuid)
    assert titles(db, vault) == ["Shop QQ"]


# --- entry form --------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("12/27", "2027-12"),
        ("1/2030", "2030-01"),
        ("12-27", "2027-12"),
        ("2027-12", "2027-12"),
        ("2027/1", "2027-01"),
        ("2027年12月", "2027-12"),
        ("２０２７／１２", "2027-12"),
        ("2028-02-29", "2028-02-29"),
        ("2027年12月31日", "2027-12-31"),
        (" 2027.12.31 ", "2027-12-31"),
        ("", ""),
    ],
)
def test_expiry_forms(db: Database, typed: str, stored: str) -> None:
    entry = parse_entry(db, {"kind": "bank_card", "title": "Card", "expiry": typed})
    assert entry.expiry == stored


@pytest.mark.parametrize(
    "typed",
    ["13/27", "0/27", "2027-02-30", "2027-02-29", "next year", "12/3", "1899-01"],
)
def test_expiry_rejected(db: Database, typed: str) -> None:
    with pytest.raises(VaultEntryInvalidError) as caught:
        parse_entry(db, {"kind": "bank_card", "title": "Card", "expiry": typed})
    assert set(caught.value.errors) == {"expiry"}
    assert typed.strip() in caught.value.errors["expiry"]


def test_form_names_every_fault(db: Database) -> None:
    raw = {"kind": "fax", "title": " ", "password": "p" * 1001, "notes": "n" * 10_001}
    with pytest.raises(VaultEntryInvalidError) as caught:
        parse_entry(db, raw)
    assert set(caught.value.errors) == {"kind", "title", "password", "notes"}
    assert "p" * 20 not in caught.value.message


def test_password_kept_exactly(db: Database) -> None:
    typed = "  two  spaces\u3000and full-width "
    entry = parse_entry(db, {"kind": "other", "title": "x", "password": typed})
    assert entry.password == typed


def test_card_number_folds_full_width(db: Database) -> None:
    entry = parse_entry(
        db,
        {"kind": "bank_card", "title": "x", "card_number": "６２２２\u3000０２１２ "},
    )
    assert entry.card_number == "6222 0212"


def test_contact_linked_by_smart_query(db: Database, vault: UnlockedVault) -> None:
    contact = contact_service.parse_form({"name": "张晓明", "mobile": "13800138000"})
    contact_service.create_contact(db, contact, owner="Admin", region="CN")
    entry_uuid = add(db, vault, contact="zhangxiaoming")
    opened = vault_service.open_entry(db, vault, entry_uuid)
    assert opened["contact_name"] == "张晓明"


def test_contact_not_found_is_reported(db: Database) -> None:
    with pytest.raises(VaultEntryInvalidError) as caught:
        parse_entry(db, {"kind": "qq", "title": "x", "contact": "nobody-here"})
    assert "nobody-here" in caught.value.errors["contact"]


def test_empty_contact_unlinks(db: Database) -> None:
    entry = parse_entry(
        db, {"kind": "qq", "title": "x", "contact": "", "contact_uuid": "some-uuid"}
    )
    assert entry.contact_uuid is None


# --- master password change --------------------------------------------------


def test_change_master_password(db: Database, vault: UnlockedVault) -> None:
    first = add(db, vault, **SECRETS)
    second = add(db, vault, title="In the trash", password="trashed-pw")
    vault_service.set_deleted(db, vault, second, deleted=True)
    new = "新的主密码 2027"

    changed = vault_service.change_master_password(db, vault, MASTER, new, new)

    with pytest.raises(WrongMasterPasswordError):
        vault_service.unlock_vault(db, OWNER, MASTER)
    unlocked = vault_service.unlock_vault(db, OWNER, new)
    assert changed.salt == unlocked.salt
    assert vault_service.reveal(db, unlocked, first, "password") == SECRETS["password"]
    assert vault_service.reveal(db, unlocked, second, "password") == "trashed-pw"
    assert new not in all_text(db)


def test_change_needs_current_password(db: Database, vault: UnlockedVault) -> None:
    with pytest.raises(WrongMasterPasswordError):
        vault_service.change_master_password(
            db, vault, "not it", "new password", "new password"
        )
    assert vault_service.unlock_vault(db, OWNER, MASTER).salt == vault.salt


def test_interrupted_change_keeps_old_password(
    db: Database, vault: UnlockedVault, monkeypatch: pytest.MonkeyPatch
) -> None:
    for number in range(3):
        add(db, vault, title=f"Entry {number}", password=f"pw-{number}")
    written: list[str] = []
    original = vault_data.update_secret

    def fail_after_first(*args: Any) -> None:
        original(*args)
        written.append(args[2])
        if len(written) == 2:
            raise OSError("power cut")

    monkeypatch.setattr(vault_data, "update_secret", fail_after_first)
    with pytest.raises(OSError):
        vault_service.change_master_password(
            db, vault, MASTER, "new one 123", "new one 123"
        )
    monkeypatch.undo()
    db.release()

    assert len(written) == 2
    unlocked = vault_service.unlock_vault(db, OWNER, MASTER)
    for entry in vault_service.list_entries(db, unlocked):
        number = entry["title"][-1]
        assert vault_service.reveal(db, unlocked, entry["uuid"], "password") == (
            f"pw-{number}"
        )
    with pytest.raises(WrongMasterPasswordError):
        vault_service.unlock_vault(db, OWNER, "new one 123")


def test_stale_key_cannot_write(db: Database, vault: UnlockedVault) -> None:
    other_window = vault_service.unlock_vault(db, OWNER, MASTER)
    vault_service.change_master_password(
        db, vault, MASTER, "new one 123", "new one 123"
    )
    with pytest.raises(VaultKeyChangedError):
        add(db, other_window, title="Written with the old key")
    with pytest.raises(VaultKeyChangedError):
        vault_service.list_entries(db, other_window)
    assert vault_data.find_entries(db, vault.vault_uuid) == []


# --- export and import -------------------------------------------------------


def export(
    db: Database, vault: UnlockedVault, password: str = "file password"
) -> bytes:
    data, _count = vault_files.export_vault(db, vault, password, password)
    return data


def test_export_import_round_trip(db: Database, vault: UnlockedVault) -> None:
    add(db, vault, **SECRETS)
    add(db, vault, kind="website", title="Supplier portal", password="portal-pw")
    data = export(db, vault)
    other = vault_service.create_vault(
        db, "Li Lei", "li lei's password", "li lei's password"
    )

    summary = vault_files.import_vault(
        db, other, data, filename="backup.r9vault", password="file password"
    )

    assert (summary.added, summary.skipped) == (2, 0)
    imported = {e["title"]: e for e in vault_service.list_entries(db, other)}
    assert sorted(imported) == ["Shop QQ", "Supplier portal"]
    opened = vault_service.open_entry(db, other, imported["Shop QQ"]["uuid"])
    assert {name: opened[name] for name in SECRETS} == SECRETS
    assert titles(db, vault) == ["Shop QQ", "Supplier portal"]


def test_export_file_holds_no_plain_secret(db: Database, vault: UnlockedVault) -> None:
    add(db, vault, **SECRETS)
    data = export(db, vault)
    assert data.startswith(b"R9CRM-VAULT-EXPORT 1\n")
    for name, value in SECRETS.items():
        assert value.encode("utf-8") not in data, name
    assert b"Shop QQ" not in data


def test_import_twice_adds_nothing(db: Database, vault: UnlockedVault) -> None:
    add(db, vault, title="Once")
    data = export(db, vault)
    summary = vault_files.import_vault(
        db, vault, data, filename="x.r9vault", password="file password"
    )
    assert (summary.added, summary.skipped) == (0, 1)
    assert titles(db, vault) == ["Once"]


def test_import_with_wrong_password(db: Database, vault: UnlockedVault) -> None:
    add(db, vault)
    data = export(db, vault)
    other = vault_service.create_vault(
        db, "Li Lei", "li lei's password", "li lei's password"
    )
    with pytest.raises(VaultFilePasswordError) as caught:
        vault_files.import_vault(
            db, other, data, filename="备份.r9vault", password="nope"
        )
    assert "备份.r9vault" in caught.value.message
    assert titles(db, other) == []


def damaged_versions(data: bytes) -> dict[str, bytes]:
    magic, header, token = data.decode("ascii").rstrip("\n").split("\n")
    middle = len(token) // 2
    flipped = (
        token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    )
    huge = json.loads(header)
    huge["kdf"]["n"] = 2**30
    return {
        "truncated": data[: len(data) // 2],
        "flipped byte": f"{magic}\n{header}\n{flipped}\n".encode(),
        "no token": f"{magic}\n{header}\n".encode(),
        "other salt": f"{magic}\n{header.replace('salt', 'sal')}\n{token}\n".encode(),
        "huge cost": f"{magic}\n{json.dumps(huge)}\n{token}\n".encode(),
        "not ascii": data + "附加".encode(),
        "empty": b"",
        "xlsx": b"PK\x03\x04" + bytes(100),
    }


@pytest.mark.parametrize(
    "case",
    [
        "truncated",
        "flipped byte",
        "no token",
        "other salt",
        "huge cost",
        "not ascii",
        "empty",
        "xlsx",
    ],
)
def test_damaged_file_imports_nothing(
    db: Database, vault: UnlockedVault, case: str
) -> None:
    add(db, vault, title="Kept")
    data = damaged_versions(export(db, vault))[case]
    other = vault_service.create_vault(
        db, "Li Lei", "li lei's password", "li lei's password"
    )
    with pytest.raises((VaultFileDamagedError, VaultFilePasswordError)):
        vault_files.import_vault(
            db, other, data, filename="x.r9vault", password="file password"
        )
    assert titles(db, other) == []


def test_newer_file_version_is_named(db: Database, vault: UnlockedVault) -> None:
    data = export(db, vault).replace(b"EXPORT 1\n", b"EXPORT 2\n", 1)
    with pytest.raises(VaultFileVersionError) as caught:
        vault_files.import_vault(
            db, vault, data, filename="x", password="file password"
        )
    assert "version 2" in caught.value.message


def test_invalid_entry_in_file_imports_nothing(
    db: Database, vault: UnlockedVault
) -> None:
    good = {
        "uuid": "0b9cf3c6-5d3d-4f5c-9a53-8f5f4fb0f0a1",
        "kind": "qq",
        "title": "Good",
        "contact_uuid": None,
        "created_at": "2026-01-01T00:00:00",
        "updated_at": "2026-01-01T00:00:00",
        **SECRETS,
    }
    bad = {**good, "uuid": "1b9cf3c6-5d3d-4f5c-9a53-8f5f4fb0f0a1", "kind": "fax"}
    data = vault_crypto.write_vault_file({"entries": [good, bad]}, "file password")
    with pytest.raises(VaultFileDamagedError):
        vault_files.import_vault(
            db, vault, data, filename="x", password="file password"
        )
    assert titles(db, vault) == []


def test_failed_insert_imports_nothing(
    db: Database, vault: UnlockedVault, monkeypatch: pytest.MonkeyPatch
) -> None:
    for number in range(3):
        add(db, vault, title=f"Entry {number}")
    data = export(db, vault)
    other = vault_service.create_vault(
        db, "Li Lei", "li lei's password", "li lei's password"
    )
    calls: list[int] = []
    original = vault_data.insert_entry

    def fail_on_second(db: Database, row: dict[str, Any]) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        original(db, row)

    monkeypatch.setattr(vault_data, "insert_entry", fail_on_second)
    with pytest.raises(OSError):
        vault_files.import_vault(
            db, other, data, filename="x", password="file password"
        )
    monkeypatch.undo()
    db.release()
    assert titles(db, other) == []


def test_export_password_rules(db: Database, vault: UnlockedVault) -> None:
    with pytest.raises(PasswordTooShortError):
        vault_files.export_vault(db, vault, "short", "short")
    with pytest.raises(PasswordMismatchError):
        vault_files.export_vault(db, vault, "long enough 1", "long enough 2")


# --- key ring ----------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ring() -> Iterator[tuple[KeyRing, FakeClock]]:
    clock = FakeClock()
    keys = KeyRing(clock=clock)
    yield keys, clock
    keys.clear(reason="test finished")


def held(owner: str = OWNER) -> UnlockedVault:
    fernet = vault_crypto.derive_key("x", vault_crypto.new_salt(), KdfParams(n=2**14))
    return UnlockedVault(owner, "vault-uuid", "salt", fernet)


def test_key_ring_locks_after_idle_time(ring: tuple[KeyRing, FakeClock]) -> None:
    keys, clock = ring
    keys.put("token", held(), idle_seconds=300)
    clock.now += 299
    assert keys.get("token", idle_seconds=300) is not None
    clock.now += 299  # each use restarts the idle time
    assert keys.get("token", idle_seconds=300) is not None
    clock.now += 300
    assert keys.get("token", idle_seconds=300) is None
    assert len(keys) == 0


def test_key_ring_sweep_drops_idle_keys(ring: tuple[KeyRing, FakeClock]) -> None:
    keys, clock = ring
    keys.put("old", held(), idle_seconds=60)
    clock.now += 30
    keys.put("new", held("Li Lei"), idle_seconds=60)
    clock.now += 30
    assert keys.sweep() == 1
    assert keys.get("old", idle_seconds=60) is None
    assert keys.get("new", idle_seconds=60) is not None


def test_key_ring_drop_and_clear(ring: tuple[KeyRing, FakeClock]) -> None:
    keys, _clock = ring
    keys.put("a", held(), idle_seconds=60)
    keys.put("b", held(), idle_seconds=60)
    keys.put("c", held("Li Lei"), idle_seconds=60)
    assert keys.drop("a", reason="locked by the user") is not None
    assert keys.get("a", idle_seconds=60) is None
    assert keys.clear() == 2
    assert len(keys) == 0


def test_key_ring_drops_one_vault(ring: tuple[KeyRing, FakeClock]) -> None:
    keys, _clock = ring
    mine = held()
    keys.put("a", mine, idle_seconds=60)
    keys.put("b", mine, idle_seconds=60)
    keys.put(
        "c",
        UnlockedVault("Li Lei", "other-vault", "salt", mine.fernet),
        idle_seconds=60,
    )
    assert keys.drop_vault("vault-uuid", reason="master password changed") == 2
    assert keys.get("c", idle_seconds=60) is not None


def test_unlocked_vault_repr_hides_key() -> None:
    assert "fernet" not in repr(held())


# --- password generator ------------------------------------------------------


@pytest.mark.parametrize(
    ("sets", "alphabet"),
    [
        (("digits",), set("23456789")),
        (("lower", "digits"), set("abcdefghijkmnpqrstuvwxyz23456789")),
        (("symbols",), set("!#$%&*+-=?@^_~")),
    ],
)
def test_generator_uses_only_chosen_sets(
    sets: tuple[str, ...], alphabet: set[str]
) -> None:
    options = vault_passwords.GeneratorOptions(32, sets, avoid_look_alike=True)
    for _ in range(20):
        password = vault_passwords.generate_password(options)
        assert len(password) == 32
        assert set(password) <= alphabet


def test_generator_includes_every_set() -> None:
    options = vault_passwords.GeneratorOptions(8, tuple(vault_passwords.CHARACTER_SETS))
    for _ in range(50):
        password = vault_passwords.generate_password(options)
        for pool in vault_passwords.CHARACTER_SETS.values():
            assert set(password) & set(pool), password


def test_generator_passwords_differ() -> None:
    options = vault_passwords.GeneratorOptions()
    passwords = {vault_passwords.generate_password(options) for _ in range(20)}
    assert len(passwords) == 20


@pytest.mark.parametrize("length", ["7", "129", "", "twelve", "-16", "1e2"])
def test_generator_rejects_length(length: str) -> None:
    with pytest.raises(InvalidValueError):
        vault_passwords.parse_generator_options({"length": length, "lower": "1"})


def test_generator_reads_full_width_length() -> None:
    options = vault_passwords.parse_generator_options({"length": "１６", "digits": "1"})
    assert options.length == 16


def test_generator_needs_a_set() -> None:
    with pytest.raises(NoCharacterSetError):
        vault_passwords.parse_generator_options({"length": "16"})


# --- schema upgrade 8 --------------------------------------------------------


def test_upgrade_8_adds_tables_and_keeps_rows(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        schema, "UPGRADES", [(v, step) for v, step in schema.UPGRADES if v != 8]
    )
    old = connect(database_url)
    old.execute(schema.preferences.insert().values(name="page_size", value="20"))
    old.conn.commit()
    assert "vaults" not in schema.table_names(old.conn)
    old.release()
    old.close()
    monkeypatch.undo()

    database = connect(database_url)
    names = schema.table_names(database.conn)
    versions = list(database.execute(select(schema.migrations.c.version)).scalars())
    kept = database.query("SELECT value FROM preferences WHERE name = 'page_size'")
    with database.transaction():
        schema._create_vault_tables(database.conn)  # a second run changes nothing
    database.release()
    database.close()
    assert {"vaults", "vault_entries"} <= names
    assert 8 in versions
    assert kept == [{"value": "20"}]


def test_mysql_secret_column_is_mediumtext(mysql_url: str) -> None:
    database = connect(mysql_url)
    rows = database.query(
        "SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
        "DATABASE() AND TABLE_NAME = 'vault_entries' AND COLUMN_NAME = 'secret'"
    )
    database.close()
    assert rows == [{"DATA_TYPE": "mediumtext"}]


def test_longest_entry_fits(db: Database, vault: UnlockedVault) -> None:
    # Control characters are escaped as \\u0000 in JSON: six bytes each.
    values = {
        "title": "标" * 200,
        "account": "账" * 200,
        "password": "\x01" * 1000,
        "card_number": "9" * 64,
        "notes": "\x02" * 10_000,
    }
    entry_uuid = add(db, vault, **values)
    opened = vault_service.open_entry(db, vault, entry_uuid)
    assert opened["notes"] == values["notes"]
    assert opened["password"] == values["password"]
