"""The network user a terminal is signed in as on the shared server."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NetworkUser:
    """A user of the shared server's ``users`` table and what they may do."""

    name: str
    role: str
    may_upload: bool
    may_download: bool
    may_edit_shared: bool
    # Category uuids whose shared contacts reach this user; empty for all.
    categories: tuple[str, ...] = ()

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"
