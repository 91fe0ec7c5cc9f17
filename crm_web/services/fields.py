"""The contact card's fields: names, labels, kinds and length limits.

Import, export, the card form and the search index all read this table, so a
field is added in one place. ``name`` is the database column and the key in
``r9crm search --json``; ``category`` is the category's name here, stored as
a reference to the category row.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class Field:
    name: str
    label: object  # a lazy string, translated when rendered
    kind: str  # text | longtext | phone | email | date | category | tags | url
    max_length: int | None = None
    is_searchable: bool = True


CONTACT_FIELDS: tuple[Field, ...] = (
    Field("name", _l("Name"), "text", 200),
    Field("company", _l("Company"), "text", 200),
    Field("job_title", _l("Job title"), "text", 100),
    Field("category", _l("Category"), "category", 100),
    Field("mobile", _l("Mobile"), "phone", 64),
    Field("phone", _l("Phone"), "phone", 64),
    Field("email", _l("E-mail"), "email", 254),
    Field("wechat", _l("WeChat"), "text", 100),
    Field("qq", _l("QQ"), "text", 32),
    Field("whatsapp", _l("WhatsApp"), "phone", 64),
    Field("skype", _l("Skype"), "text", 100),
    Field("country", _l("Country"), "text", 100),
    Field("province", _l("Province/State"), "text", 100),
    Field("city", _l("City"), "text", 100),
    Field("address", _l("Address"), "longtext", 2000),
    Field("postcode", _l("Postcode"), "text", 32),
    Field("website", _l("Website"), "url", 500),
    Field("source", _l("Source"), "text", 100),
    Field("level", _l("Level"), "text", 50),
    Field("birthday", _l("Birthday"), "date"),
    Field("notes", _l("Notes"), "longtext", 20000),
    Field("tags", _l("Tags"), "tags", 500),
)

FIELDS_BY_NAME = {field.name: field for field in CONTACT_FIELDS}
FIELD_NAMES: tuple[str, ...] = tuple(FIELDS_BY_NAME)
TEXT_FIELD_NAMES = tuple(
    f.name for f in CONTACT_FIELDS if f.kind not in ("date", "category")
)
PHONE_FIELD_NAMES = tuple(f.name for f in CONTACT_FIELDS if f.kind == "phone")

# Columns sortable on the list page, with the column that contains the sort key.
SORT_COLUMNS = {
    "name": "name_sort",
    "company": "company_sort",
    "city": "city",
    "created_at": "created_at",
    "updated_at": "updated_at",
}
