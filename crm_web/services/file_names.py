"""Names and content types of repository files.

A name is only ever shown and offered on download: the stored content is
found by its hash. So a name is made safe to show and to save on Windows,
macOS and Linux, and the type decides whether the browser may show the
file in the app or must download it.
"""

from __future__ import annotations

import codecs
import mimetypes
import re
from pathlib import Path, PurePosixPath

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm_web.errors import InvalidValueError
from crm_web.services import text

NAME_MAX = 255
FALLBACK_NAME = "file"
NAME_LABEL = _l("File name")

# --- names -------------------------------------------------------------------

# C0 and C1 control characters, NUL included.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Marks that reorder text: "invoice\u202efdp.exe" would show as "invoiceexe.pdf".
_BIDI_CONTROL = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Characters Windows forbids in file names, which the download would carry.
_WINDOWS_FORBIDDEN = re.compile(r'[<>:"|?*]')
_WINDOWS_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{port}{n}" for port in ("COM", "LPT") for n in "0123456789¹²³"]
)
_EXTENSION_MAX = 16


def display_name(raw: str) -> str:
    """Return a file's name as stored and shown: its last path part, made safe.

    Letters of every script are kept, Chinese included. Removed are
    the folders before the last slash or backslash, control characters and
    bidirectional marks, and the trailing dots and spaces Windows drops.
    Characters Windows forbids become "_", a Windows device name such as
    CON gets a leading "_", and a name past 255 characters is shortened
    before its extension.
    """
    name = raw.encode("utf-8", "replace").decode("utf-8")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _BIDI_CONTROL.sub("", _CONTROL.sub("", name))
    name = _WINDOWS_FORBIDDEN.sub("_", text.clean(name)).rstrip(". ")
    if name.split(".", 1)[0].rstrip(" ").upper() in _WINDOWS_DEVICES:
        name = "_" + name
    if len(name) > NAME_MAX:
        name = _shorten(name)
    return name or FALLBACK_NAME


def _shorten(name: str) -> str:
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension) > _EXTENSION_MAX:
        return name[:NAME_MAX].rstrip(". ")
    room = NAME_MAX - len(extension) - 1
    return f"{stem[:room].rstrip('. ')}.{extension}"


def validate_name(raw: str) -> str:
    """Return a name typed for renaming, or raise InvalidValueError."""
    typed = text.clean(raw)
    label = str(NAME_LABEL)
    if not typed.strip(". "):
        raise InvalidValueError(label, typed, _("type a name such as quote.xlsx."))
    if "/" in typed or "\\" in typed:
        raise InvalidValueError(
            label, typed, _("a file name cannot contain / or \\; remove them.")
        )
    if len(typed) > NAME_MAX:
        raise InvalidValueError(
            label,
            typed[:40] + "…",
            _(
                "it is %(length)s characters long; the limit is %(max)s.",
                length=len(typed),
                max=NAME_MAX,
            ),
        )
    return display_name(typed)


# --- types -------------------------------------------------------------------

# A table of its own: mimetypes' module functions also read the system's
# files (and the registry on Windows), so a type would differ by computer.
_TYPES = mimetypes.MimeTypes()
for _type, _extension in (
    ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ".docx",
    ),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ".pptx",
    ),
    ("application/vnd.ms-powerpoint", ".ppt"),
    ("image/webp", ".webp"),
    ("image/avif", ".avif"),
    ("application/xhtml+xml", ".xhtml"),
    ("text/markdown", ".md"),
    ("application/vnd.rar", ".rar"),
    ("application/x-7z-compressed", ".7z"),
    ("application/kswps", ".wps"),
    ("application/kset", ".et"),
    ("application/ksdps", ".dps"),
):
    _TYPES.add_type(_type, _extension)

OCTET_STREAM = "application/octet-stream"
_COMPRESSED = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "br": "application/x-brotli",
    "compress": "application/x-compress",
}
# Types shown in the browser's own viewer. Every other type is downloaded.
# HTML and SVG never open, because their scripts would run in the app's origin.
INLINE_TYPES = frozenset(
    [
        "application/pdf",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/bmp",
        "image/avif",
    ]
)
ACTIVE_TYPES = frozenset(["text/html", "application/xhtml+xml", "image/svg+xml"])


def guess_type(name: str) -> str:
    """Return the content type that the name's extension stands for."""
    suffixes = "".join(PurePosixPath(name).suffixes[-2:]).lower()
    found, encoding = _TYPES.guess_type("file" + suffixes, strict=False)
    if encoding:
        return _COMPRESSED.get(encoding, OCTET_STREAM)
    return found or OCTET_STREAM


def is_inline(content_type: str) -> bool:
    """Return whether the browser may show this type in the window."""
    if content_type in ACTIVE_TYPES:
        return False
    return content_type in INLINE_TYPES or content_type.startswith("text/")


def text_charset(path: Path) -> str:
    """Guess a text file's encoding from its first 64 KiB: UTF-8 or GB18030."""
    with path.open("rb") as handle:
        head = handle.read(65536)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        # final=False: the sample may end inside a character.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"
