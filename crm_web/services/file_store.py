"""Content-addressed storage of the file repository's contents.

Each content is stored once, at ``blobs/<first two hex digits>/<SHA-256>``
inside the files area. The path comes only from the hash, which is checked
to be 64 hex digits, so no file name can place or read a file elsewhere.
An upload is streamed into ``incoming/`` while it is hashed and counted,
then renamed into place; a rejected or failed upload leaves nothing behind.

NOTE: the files area is in this computer's data folder. Computers that
share one MySQL database share the records, but each has only the
contents added on it; opening another's file reports its content missing.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from crm_web.errors import FileTooLargeError

log = logging.getLogger(__name__)

CHUNK_BYTES = 1024 * 1024
MB = 1024 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Received:
    """Content streamed into the incoming folder, not yet in place."""

    path: Path
    sha256: str
    size: int


class BlobStore:
    """Contents kept under their SHA-256 in the files area ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs"
        self.incoming = root / "incoming"

    def path_for(self, sha256: str) -> Path:
        """Return where the content with this hash is stored."""
        if not _SHA256.fullmatch(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.blobs / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def receive(self, source: IO[bytes], *, name: str, limit_bytes: int) -> Received:
        """Copy ``source`` into the incoming folder in chunks, hashing it.

        Raise FileTooLargeError, keeping nothing, once it passes the limit.
        """
        self.incoming.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        handle, temp_name = tempfile.mkstemp(dir=self.incoming, prefix="upload-")
        temp = Path(temp_name)
        try:
            with os.fdopen(handle, "wb") as output:
                while chunk := source.read(CHUNK_BYTES):
                    size += len(chunk)
                    if size > limit_bytes:
                        raise FileTooLargeError(name, limit_bytes // MB)
                    digest.update(chunk)
                    output.write(chunk)
                output.flush()
                os.fsync(output.fileno())
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return Received(temp, digest.hexdigest(), size)

    def keep(self, received: Received) -> bool:
        """Move received content into place; return whether it was new.

        Content stored already stays as it is and the copy is dropped.
        """
        target = self.path_for(received.sha256)
        if target.is_file():
            received.path.unlink(missing_ok=True)
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(received.path, target)
        return True

    def discard(self, received: Received) -> None:
        """Drop content that was received but not kept."""
        received.path.unlink(missing_ok=True)

    def remove(self, sha256: str) -> None:
        """Delete stored content; the caller checks that no record uses it."""
        self.path_for(sha256).unlink(missing_ok=True)
        log.info("Removed stored content %s", sha256)
