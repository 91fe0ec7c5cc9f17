"""Keys of unlocked vaults, held in server memory only.

Each browser session that unlocks a vault gets a random token, which is all
its cookie carries; the key stays here under that token. A key is dropped
when the user locks the vault, when it has not been used for the idle
time, and when the app exits.

NOTE: Python cannot overwrite the memory of a dropped key. Dropping the
last reference frees it for reuse, so a memory dump taken soon after may
still contain it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.fernet import Fernet

log = logging.getLogger(__name__)

# How often the background sweep drops keys whose idle time has passed.
SWEEP_SECONDS = 10.0


@dataclass
class UnlockedVault:
    """An unlocked vault: whose it is, and the key of its master password."""

    owner: str
    vault_uuid: str
    # The salt the key was derived with. A master password change replaces
    # the stored salt, so a session holding the old key can see it is stale.
    salt: str
    fernet: Fernet = field(repr=False)


@dataclass
class _HeldKey:
    vault: UnlockedVault
    expires_at: float


class KeyRing:
    """Unlocked vault keys by session token, each with an idle deadline."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._held: dict[str, _HeldKey] = {}
        self._lock = threading.Lock()
        self._sweeper: threading.Thread | None = None
        self._stop = threading.Event()

    def put(self, token: str, vault: UnlockedVault, *, idle_seconds: float) -> None:
        """Hold ``vault`` for ``token`` until it has been idle that long."""
        with self._lock:
            self._held[token] = _HeldKey(vault, self._clock() + idle_seconds)
            self._start_sweeper()

    def get(self, token: str, *, idle_seconds: float) -> UnlockedVault | None:
        """Return the token's vault and restart its idle time; None if locked."""
        with self._lock:
            held = self._held.get(token)
            if held is None:
                return None
            now = self._clock()
            if now >= held.expires_at:
                del self._held[token]
                _log_locked(held.vault, "idle")
                return None
            held.expires_at = now + idle_seconds
            return held.vault

    def drop(self, token: str, *, reason: str) -> UnlockedVault | None:
        """Forget the token's key; return the vault it unlocked, if any."""
        with self._lock:
            held = self._held.pop(token, None)
        if held is not None:
            _log_locked(held.vault, reason)
        return held.vault if held else None

    def drop_vault(self, vault_uuid: str, *, reason: str) -> int:
        """Forget every session's key to one vault; return how many."""
        with self._lock:
            tokens = [
                t for t, h in self._held.items() if h.vault.vault_uuid == vault_uuid
            ]
            dropped = [self._held.pop(t) for t in tokens]
        for held in dropped:
            _log_locked(held.vault, reason)
        return len(dropped)

    def sweep(self) -> int:
        """Drop every key whose idle time has passed; return how many."""
        now = self._clock()
        with self._lock:
            expired = [t for t, h in self._held.items() if now >= h.expires_at]
            dropped = [self._held.pop(t) for t in expired]
        for held in dropped:
            _log_locked(held.vault, "idle")
        return len(dropped)

    def clear(self, *, reason: str = "app closed") -> int:
        """Drop every key, as when the app exits; return how many."""
        self._stop.set()
        with self._lock:
            dropped = list(self._held.values())
            self._held.clear()
        for held in dropped:
            _log_locked(held.vault, reason)
        return len(dropped)

    def __len__(self) -> int:
        with self._lock:
            return len(self._held)

    def _start_sweeper(self) -> None:
        # Without it a key would stay in memory past its idle time for as
        # long as no request arrives to notice.
        if self._sweeper is not None or self._stop.is_set():
            return
        self._sweeper = threading.Thread(
            target=self._sweep_until_stopped, daemon=True, name="r9crm-vault-sweep"
        )
        self._sweeper.start()

    def _sweep_until_stopped(self) -> None:
        while not self._stop.wait(SWEEP_SECONDS):
            self.sweep()
            with self._lock:
                # Nothing left to drop: end, and let the next put() start anew.
                if not self._held:
                    self._sweeper = None
                    return


def _log_locked(vault: UnlockedVault, reason: str) -> None:
    log.info("Vault of %s locked (%s)", vault.owner, reason)
