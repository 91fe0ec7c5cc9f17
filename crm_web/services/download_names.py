"""Names for downloaded files: safe on Windows, macOS and Linux, Chinese kept.

A name built from user text (an appointment's title) may contain
characters that Windows forbids, invisible direction marks that disguise
the extension, or a reserved device name such as CON. ``safe_file_name``
removes those and keeps everything else, and ``content_disposition``
sends the result with an ASCII fallback and the UTF-8 name of RFC 6266.
"""

from __future__ import annotations

import re
import unicodedata
import urllib.parse

# Characters Windows forbids in file names.
WINDOWS_RESERVED_CHARACTERS = re.compile(r'[<>:"/\\|?*]')
# Names Windows keeps for devices, with or without an extension.
WINDOWS_DEVICE_NAMES = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"{kind}{n}" for kind in ("COM", "LPT") for n in "123456789¹²³"]
)
# ext4 and APFS allow 255 bytes of UTF-8 per name, NTFS 255 UTF-16 units,
# and a UTF-8 name is never shorter in bytes than in UTF-16 units.
MAX_NAME_BYTES = 255
# The ASCII characters at the end of a name, quotes and backslashes excepted.
TRAILING_ASCII = re.compile(r"[ !#-\[\]-~]+$")
# Characters that RFC 5987 lets stand unencoded in a filename* value.
ATTR_CHARACTERS = "!#$&+-.^_`|~"


def safe_file_name(stem: str, ending: str, *, fallback: str = "download") -> str:
    """Return ``stem`` + ``ending`` as a file name every system accepts.

    Control and format characters (such as U+202E, which shows text right
    to left) are dropped, characters Windows forbids become "_", runs of
    white space become one space, and leading and trailing dots and spaces
    go (Windows drops trailing ones, and a leading dot hides a file on
    Linux and macOS). A device name gets a leading "_". A long stem is cut
    so the name fits in MAX_NAME_BYTES. An empty stem becomes ``fallback``.
    ``ending``, such as "-2026-03-30.ics", is kept whole and must be safe.
    """
    text = unicodedata.normalize("NFC", stem)
    text = "".join(
        " " if char.isspace() else char
        for char in text
        if char.isspace() or unicodedata.category(char) not in ("Cc", "Cf")
    )
    text = WINDOWS_RESERVED_CHARACTERS.sub("_", text)
    text = " ".join(text.split()).strip(" .")
    budget = MAX_NAME_BYTES - len(ending.encode()) - 1  # 1 for a "_" added below
    while len(text.encode()) > budget:
        text = text[:-1]
    text = text.rstrip(" .") or fallback
    if text.split(".")[0].strip().upper() in WINDOWS_DEVICE_NAMES:
        text = f"_{text}"
    return f"{text}{ending}"


def content_disposition(name: str, *, ascii_stem: str) -> str:
    """Return an attachment Content-Disposition that keeps a non-ASCII name.

    Browsers read RFC 6266's ``filename*`` with the UTF-8 name. Older
    clients read ``filename``: ``ascii_stem`` followed by the name's
    ASCII ending, so "预约-2026-03-30.ics" falls back to
    "appointments-2026-03-30.ics".
    """
    if name.isascii() and not any(char in name for char in '"\\'):
        return f'attachment; filename="{name}"'
    ending = TRAILING_ASCII.search(name)
    fallback = ascii_stem + (ending.group().lstrip(" _") if ending else "")
    quoted = urllib.parse.quote(name, safe=ATTR_CHARACTERS)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quoted}"
