"""Compile the .po catalogues to the .mo files gettext reads.

The build compiles them with ``pybabel compile``, but a clone run straight
from source has no .mo files, or has ones older than their .po. Compiling
those at start-up keeps the interface from falling back to English.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

log = logging.getLogger(__name__)


def ensure_compiled(translations_dir: Path) -> None:
    """Compile each <locale>/LC_MESSAGES/*.po whose .mo is missing or older.

    A folder that cannot be written is skipped without an error, because
    frozen builds ship compiled .mo files in a read-only folder.
    """
    for po_path in sorted(translations_dir.glob("*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        if _is_up_to_date(mo_path, po_path):
            continue
        try:
            _compile(po_path, mo_path)
        except OSError as error:
            log.debug("Not compiling %s: %s", po_path, error)
            continue
        log.info("Compiled %s", mo_path)


def _is_up_to_date(mo_path: Path, po_path: Path) -> bool:
    try:
        return mo_path.stat().st_mtime >= po_path.stat().st_mtime
    except FileNotFoundError:
        return False


def _compile(po_path: Path, mo_path: Path) -> None:
    """Write mo_path through a temporary file, so readers never see half of it."""
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file)
    handle, temp_name = tempfile.mkstemp(
        dir=mo_path.parent, prefix=f".{mo_path.name}.", suffix=".tmp"
    )
    try:
        # mkstemp makes the file readable by its owner only, but every user
        # who runs the app must read the .mo.
        os.chmod(temp_name, 0o644)
        with os.fdopen(handle, "wb") as mo_file:
            # Fuzzy entries are compiled too, as the build's
            # "pybabel compile -f" does, so both give the same file.
            write_mo(mo_file, catalog, use_fuzzy=True)
        os.replace(temp_name, mo_path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
