"""The Chinese catalogue: complete, current with the source, and used."""

from __future__ import annotations

import os
import re
import tempfile
from collections import Counter
from http import HTTPStatus
from pathlib import Path

import babel
import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po, write_po
from flask.testing import FlaskClient

from crm_web.translations_build import ensure_compiled

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "crm_web" / "translations"
CHINESE_PO = TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"

# A %-placeholder as Python's % operator reads it, or a stray "%", which
# would make that operator raise when the message is formatted.
PLACEHOLDER = re.compile(r"%\(\w+\)[#0 +-]*\d*(?:\.\d+)?[a-zA-Z]|%%|%")

MessageKey = tuple[str | None, str | tuple[str, ...]]


def load_catalog() -> Catalog:
    with CHINESE_PO.open("rb") as po_file:
        return read_po(po_file)


def translated_messages() -> list[Message]:
    return [message for message in load_catalog() if message.id]


def message_key(message: Message) -> MessageKey:
    msgid = message.id if isinstance(message.id, str) else tuple(message.id)
    return message.context, msgid


def extract_source_keys() -> set[MessageKey]:
    """Extract the messages as scripts/update_translations.sh does."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    found = extract_from_dir(ROOT, method_map, options_map)
    return {(context, message) for _path, _line, message, _comments, context in found}


def describe(key: MessageKey) -> str:
    context, msgid = key
    text = msgid if isinstance(msgid, str) else " | ".join(msgid)
    return f"{context}: {text}" if context else text


def translations_of(message: Message) -> list[str]:
    """Return the msgstr, or each msgstr[n] of a plural message."""
    if isinstance(message.string, str):
        return [message.string]
    return list(message.string or ())


def placeholders(text: str) -> Counter[str]:
    return Counter(PLACEHOLDER.findall(text))


def test_catalogue_has_no_fuzzy_header() -> None:
    assert not load_catalog().fuzzy


def test_catalogue_is_for_simplified_chinese() -> None:
    assert str(load_catalog().locale) == "zh_Hans_CN"


def test_every_message_is_translated() -> None:
    untranslated = [
        message.id
        for message in translated_messages()
        if not all(text.strip() for text in translations_of(message))
    ]
    assert untranslated == []


def test_no_message_is_fuzzy() -> None:
    fuzzy = [message.id for message in translated_messages() if message.fuzzy]
    assert fuzzy == [], "check these guesses and delete their fuzzy flag"


def test_catalogue_matches_source() -> None:
    # Older Babel ignores babel.cfg's keywords, so lazy_gettext messages
    # would be reported as stale.
    version = tuple(int(part) for part in babel.__version__.split(".")[:2])
    assert version >= (2, 18), "babel.cfg needs Babel 2.18 or newer"
    in_source = extract_source_keys()
    in_catalogue = {message_key(m) for m in translated_messages()}
    missing = sorted(map(describe, in_source - in_catalogue))
    assert missing == [], "run scripts/update_translations.sh and translate"
    stale = sorted(map(describe, in_catalogue - in_source))
    assert stale == [], "run scripts/update_translations.sh to drop these"


@pytest.mark.parametrize("message", translated_messages(), ids=lambda m: str(m.id)[:40])
def test_translation_keeps_placeholders(message: Message) -> None:
    # Chinese has one plural form, so msgstr[0] is compared with the plural.
    source = message.id if isinstance(message.id, str) else message.id[-1]
    for text in translations_of(message):
        assert placeholders(text) == placeholders(source)


@pytest.fixture
def compiled() -> None:
    """Compile the catalogue, for a test run without the build step."""
    ensure_compiled(TRANSLATIONS)


def switch_language(client: FlaskClient, language: str) -> None:
    response = client.post("/settings/language", data={"language": language})
    assert response.status_code == HTTPStatus.FOUND


@pytest.mark.usefixtures("compiled")
def test_contacts_page_in_chinese(client: FlaskClient) -> None:
    switch_language(client, "zh_CN")
    page = client.get("/contacts/").get_data(as_text=True)
    assert '<html lang="zh-CN">' in page
    assert ">联系人</a>" in page
    assert ">Contacts</a>" not in page


@pytest.mark.usefixtures("compiled")
def test_contacts_page_in_english(client: FlaskClient) -> None:
    switch_language(client, "zh_CN")
    switch_language(client, "en")
    page = client.get("/contacts/").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert ">Contacts</a>" in page
    assert "联系人" not in page


@pytest.mark.usefixtures("compiled")
def test_invalid_email_error_in_chinese(client: FlaskClient) -> None:
    switch_language(client, "zh_CN")
    response = client.post("/contacts/new", data={"name": "张小明", "email": "a@b"})
    page = response.get_data(as_text=True)
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert "邮箱“a@b”不是有效的邮箱地址" in page
    assert "is not a valid e-mail address" not in page


# --- ensure_compiled ---------------------------------------------------------


def write_catalogue(folder: Path, msgid: str, msgstr: str) -> Path:
    catalog = Catalog(locale="zh_Hans_CN")
    catalog.add(msgid, msgstr)
    po_path = folder / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
    po_path.parent.mkdir(parents=True, exist_ok=True)
    with po_path.open("wb") as po_file:
        write_po(po_file, catalog)
    return po_path


def read_translation(mo_path: Path, msgid: str) -> str:
    with mo_path.open("rb") as mo_file:
        message = read_mo(mo_file).get(msgid)
    assert message is not None
    return str(message.string)


def test_ensure_compiled_writes_missing_mo(tmp_path: Path) -> None:
    po_path = write_catalogue(tmp_path, "Contacts", "联系人")
    ensure_compiled(tmp_path)
    assert read_translation(po_path.with_suffix(".mo"), "Contacts") == "联系人"


def test_ensure_compiled_replaces_older_mo(tmp_path: Path) -> None:
    po_path = write_catalogue(tmp_path, "Contacts", "联系人")
    ensure_compiled(tmp_path)
    mo_path = po_path.with_suffix(".mo")
    os.utime(mo_path, (0, 0))
    write_catalogue(tmp_path, "Contacts", "通讯录")
    ensure_compiled(tmp_path)
    assert read_translation(mo_path, "Contacts") == "通讯录"


def test_ensure_compiled_keeps_newer_mo(tmp_path: Path) -> None:
    po_path = write_catalogue(tmp_path, "Contacts", "联系人")
    ensure_compiled(tmp_path)
    mo_path = po_path.with_suffix(".mo")
    stamp = po_path.stat().st_mtime + 60
    os.utime(mo_path, (stamp, stamp))
    write_catalogue(tmp_path, "Contacts", "通讯录")
    os.utime(po_path, (stamp - 30, stamp - 30))
    ensure_compiled(tmp_path)
    assert read_translation(mo_path, "Contacts") == "联系人"


def test_ensure_compiled_leaves_no_temporary_file(tmp_path: Path) -> None:
    po_path = write_catalogue(tmp_path, "Contacts", "联系人")
    ensure_compiled(tmp_path)
    assert sorted(p.name for p in po_path.parent.iterdir()) == [
        "messages.mo",
        "messages.po",
    ]


def test_ensure_compiled_skips_read_only_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests may run as root, which can write a read-only folder, so the
    # permission error is raised where the module creates its file.
    def deny_write(*_args: object, **_kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    po_path = write_catalogue(tmp_path, "Contacts", "联系人")
    monkeypatch.setattr(tempfile, "mkstemp", deny_write)
    ensure_compiled(tmp_path)
    assert not po_path.with_suffix(".mo").exists()
