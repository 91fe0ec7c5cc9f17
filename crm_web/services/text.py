"""Normalisation shared by storage, duplicate matching and search.

Pinyin and phone numbers are computed for every contact on every import, so
both have fast paths. Pinyin is looked up per character in pypinyin's
dictionary (cached). Chinese mobiles and landlines skip the ``phonenumbers``
parser, which costs about 15 us a call. The tests check that both paths give
the same result as the libraries.
"""

from __future__ import annotations

import importlib.util
import json
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import phonenumbers

if TYPE_CHECKING:
    # Never run, but PyInstaller finds this import, so its pypinyin hook
    # bundles the pinyin_dict.json that _load_readings reads.
    import pypinyin  # noqa: F401


def _load_readings() -> dict[int, str]:
    """Read pypinyin's readings of single characters, keyed by code point.

    Importing ``pypinyin.pinyin_dict`` runs pypinyin's ``__init__``, which
    also loads its phrase dictionary and copies both dictionaries: 45 MB
    more RSS in every process with pypinyin 0.55, for phrases never used
    here. This reads the same file that module reads.
    """
    spec = importlib.util.find_spec("pypinyin")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("pypinyin is not installed", name="pypinyin")
    folder = Path(next(iter(spec.submodule_search_locations)))
    raw = json.loads((folder / "pinyin_dict.json").read_text(encoding="utf-8"))
    return {int(code): readings for code, readings in raw.items()}


pinyin_dict = _load_readings()

# Invisible characters that Excel, Word and web pages leave in cells.
# Zero-width joiners (U+200C, U+200D) are kept: emoji such as the family 👨‍👩‍👧
# and Persian or Indic names need them.
_INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u200b\u2060\u00ad"))
_SPACES = re.compile(r"\s+")
_NON_DIGITS = re.compile(r"[^0-9]")
_CN_MOBILE = re.compile(r"1[3-9]\d{9}")
# A mainland landline dialled nationally: trunk 0, area code, local number.
_CN_LANDLINE = re.compile(r"0[1-9]\d{8,10}")
_PHONE_QUERY = re.compile(r"\+?[\d\s\-().]*\d[\d\s\-().]*")
_TAG_SEPARATORS = re.compile(r"[,，;；、|/\n]+")

# Readings that surnames take where the character's first reading differs.
_SURNAME_READINGS = {
    "单": "shan",
    "曾": "zeng",
    "解": "xie",
    "仇": "qiu",
    "区": "ou",
    "朴": "piao",
    "查": "zha",
    "盖": "ge",
    "缪": "miao",
    "尉": "yu",
    "乐": "yue",
    "秘": "bi",
    "种": "chong",
    "翟": "zhai",
    "召": "shao",
    "覃": "qin",
    "沈": "shen",
    "重": "chong",
    "长": "chang",
    "万": "wan",
}

SEARCH_SEPARATOR = "\x1f"


def clean(value: object) -> str:
    """Return ``value`` as text without invisible characters or outer spaces.

    The text is otherwise kept as typed: full-width brackets, circled
    numbers and the like are the user's data. Matching keys fold them
    instead (see ``fold`` and ``normalize_phone``).
    """
    if value is None:
        return ""
    raw = str(value)
    if raw.isascii():
        # No invisible character is ASCII.
        return raw.strip()
    return raw.translate(_INVISIBLE).strip()


def fold(value: str) -> str:
    """Return the case- and width-insensitive form used for matching."""
    if value.isascii():
        return value.lower()
    return unicodedata.normalize("NFKC", value).casefold()


@lru_cache(maxsize=65536)
def _char_pinyin(char: str) -> str:
    readings = pinyin_dict.get(ord(char))
    if not readings:
        return ""
    return _toneless(readings.split(",")[0])


def _toneless(reading: str) -> str:
    # ü is typed as v on Chinese keyboards (lü -> lv); NFKD splits it into
    # u and a combining diaeresis, with or without a tone mark.
    decomposed = unicodedata.normalize("NFKD", reading).replace("u\u0308", "v")
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def is_cjk(char: str) -> bool:
    return bool(pinyin_dict.get(ord(char)))


def pinyin_syllables(text: str, *, is_name: bool = False) -> list[str]:
    """Return the toneless pinyin of each Chinese character in ``text``.

    Characters without a reading (Latin letters, digits) are kept as runs.
    For names, the first character takes its surname reading.
    """
    syllables: list[str] = []
    run = ""
    for index, char in enumerate(text):
        reading = _char_pinyin(char)
        if is_name and index == 0 and char in _SURNAME_READINGS:
            reading = _SURNAME_READINGS[char]
        if reading:
            if run.strip():
                syllables.append(run.strip().lower())
            run = ""
            syllables.append(reading)
        else:
            run += char
    if run.strip():
        syllables.append(run.strip().lower())
    return syllables


_NAME_MARKS = re.compile(r"[·・•\s.\-'’]+")


def loose_forms(parts: list[str], name: str) -> list[str]:
    """Return extra search forms: accents removed, and the name unpunctuated.

    "muller" then finds Müller, and "买买提艾力" finds 买买提·艾力.
    """
    forms = []
    for part in parts:
        if not part.isascii():
            plain = _without_marks(part)
            if plain != part:
                forms.append(plain)
    bare = _NAME_MARKS.sub("", fold(name))
    if bare and bare != fold(name):
        forms.append(bare)
    return forms


def _without_marks(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", stripped)


def has_chinese(text: str) -> bool:
    return any(_char_pinyin(char) for char in text)


def sort_key(text: str, *, is_name: bool = False) -> str:
    """Return the key that sorts Chinese by pinyin among Latin text."""
    if not text:
        # Empty values sort last.
        return "\uffff"
    if not has_chinese(text):
        return fold(text)
    return " ".join(pinyin_syllables(text, is_name=is_name)) + " " + text


def pinyin_search_forms(name: str) -> list[str]:
    """Return full pinyin and initials of a Chinese name, for search."""
    if not has_chinese(name):
        return []
    syllables = pinyin_syllables(name, is_name=True)
    full = "".join(syllables)
    initials = "".join(s[0] for s in syllables if s)
    forms = [full, initials]
    # Let a surname with several readings be found by each of them.
    alternatives = pinyin_dict.get(ord(name[0]), "").split(",")[1:]
    for alternative in alternatives:
        forms.append(_toneless(alternative) + "".join(syllables[1:]))
    if "v" in full:
        forms.append(full.replace("v", "u"))
    return forms


def digits(text: str) -> str:
    """Return the ASCII digits of ``text`` (fold full-width digits first)."""
    return _NON_DIGITS.sub("", text)


@lru_cache(maxsize=4096)
def normalize_phone(raw: str, region: str = "CN") -> str:
    """Return the E.164 form of a phone number, or '' if it has none.

    A number that ``phonenumbers`` cannot parse normalises to its digits,
    so that two copies of the same odd number still match each other.
    """
    # NFKC turns full-width digits (１３８) into ASCII before matching.
    text = unicodedata.normalize("NFKC", clean(raw))
    only_digits = digits(text)
    if len(only_digits) < 5:
        return ""
    fast = _fast_cn_mobile(text, only_digits, region)
    if fast:
        return fast
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return only_digits
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _fast_cn_mobile(text: str, only_digits: str, region: str) -> str:
    # Handles the most common shapes only; anything else goes to the parser.
    if region == "CN" and text[0] != "+" and _is_plain_number(text):
        if _CN_MOBILE.fullmatch(only_digits):
            return "+86" + only_digits
        if _CN_LANDLINE.fullmatch(only_digits):
            return "+86" + only_digits[1:]
    is_cn = text.startswith("+") or region == "CN"
    if is_cn and only_digits.startswith("86") and _CN_MOBILE.fullmatch(only_digits[2:]):
        return "+" + only_digits
    if only_digits.startswith("0086") and _CN_MOBILE.fullmatch(only_digits[4:]):
        return "+" + only_digits[2:]
    return ""


_PLAIN_NUMBER = re.compile(r"[\d\s\-().]+")


def _is_plain_number(text: str) -> bool:
    # Letters ("ext", "转") or other marks need the parser's rules.
    return bool(_PLAIN_NUMBER.fullmatch(text))


def phone_search_forms(raw: str, normalized: str) -> list[str]:
    """Return digit strings under which a stored phone number is found."""
    forms = []
    plain = digits(fold(raw))
    if plain:
        forms.append(plain)
    if normalized.startswith("+"):
        forms.append(normalized[1:])
        national = _national_digits(normalized)
        if national:
            forms.append(national)
    # The search is by substring, so a form inside another adds nothing but
    # length to every scan: 15555500102 is inside 8615555500102.
    unique = list(dict.fromkeys(forms))
    return [f for f in unique if not any(f != g and f in g for g in unique)]


@lru_cache(maxsize=4096)
def _country_code_of(e164_prefix: str) -> int:
    for length in (1, 2, 3):
        code = int(e164_prefix[:length])
        if phonenumbers.region_code_for_country_code(code) != "ZZ":
            return length
    return 0


def _national_digits(e164: str) -> str:
    body = e164[1:]
    if not body.isdigit() or len(body) < 4:
        return ""
    length = _country_code_of(body[:3])
    national = body[length:]
    if length and national:
        # Mainland numbers are dialled with a trunk 0 before the area code.
        if body.startswith("86") and not national.startswith("1"):
            return "0" + national
        return national
    return ""


def looks_like_phone_query(query: str) -> bool:
    """Return whether a query is a phone number or a fragment of one."""
    return bool(_PHONE_QUERY.fullmatch(query)) and len(digits(query)) >= 3


def normalize_email(raw: str) -> str:
    return clean(raw).casefold()


def split_tags(raw: str) -> list[str]:
    """Split a tag list typed with any common separator; keep first spelling."""
    seen: dict[str, str] = {}
    for part in _TAG_SEPARATORS.split(clean(raw)):
        tag = _SPACES.sub(" ", part.strip())
        if tag and fold(tag) not in seen:
            seen[fold(tag)] = tag
    return list(seen.values())
