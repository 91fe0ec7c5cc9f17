"""Keys and ciphertext of the account vault, and its encrypted export file.

A vault key is derived from the master password with scrypt and a random
salt per vault, and used as a Fernet key (AES-128-CBC with HMAC-SHA256).
An export file carries its own salt and cost, so it opens with the
password chosen at export time on any R9 CRM.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from crm_web.errors import (
    VaultFileDamagedError,
    VaultFilePasswordError,
    VaultFileVersionError,
)

SALT_BYTES = 16
# A fixed text encrypted under the key: if it decrypts, the password is right.
VERIFIER_TEXT = b"R9 CRM vault verifier 1"
# Plaintext is padded to a multiple of this many bytes before encryption,
# so a ciphertext's length shows only roughly how long its secrets are.
PAD_BYTES = 64

FILE_MAGIC = "R9CRM-VAULT-EXPORT"
FILE_VERSION = 1
# An export of thousands of entries is a few MB; anything far larger is not one.
MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class KdfParams:
    """scrypt's cost parameters: n (CPU and memory), r (block size), p."""

    n: int
    r: int = 8
    p: int = 1

    def to_json(self) -> str:
        return json.dumps({"name": "scrypt", "n": self.n, "r": self.r, "p": self.p})

    @classmethod
    def from_json(cls, raw: str) -> KdfParams:
        """Parse stored parameters; raise ValueError for any other shape.

        The bounds keep a crafted file from asking for gigabytes of memory:
        scrypt needs 128 * n * r bytes, 128 MiB at the default cost.
        """
        value = json.loads(raw)
        if not isinstance(value, dict) or value.get("name") != "scrypt":
            raise ValueError("not scrypt parameters")
        n, r, p = value.get("n"), value.get("r"), value.get("p")
        # type() rather than isinstance(), because JSON's true is a bool,
        # which isinstance() counts as an int.
        if type(n) is not int or type(r) is not int or type(p) is not int:
            raise ValueError("scrypt parameters must be integers")
        if n not in ALLOWED_N or r != 8 or p != 1:
            raise ValueError("scrypt parameters out of range")
        return cls(n=n, r=r, p=p)


# The minimum the OWASP Password Storage Cheat Sheet (2023) gives for scrypt.
# One derivation took 0.27 to 0.37 s and 128 MiB on a two-core Debian 12
# machine with cryptography 50.
DEFAULT_KDF = KdfParams(n=2**17)
# Costs accepted from a stored vault or an imported file: 16 MiB to 1 GiB.
ALLOWED_N = frozenset(2**power for power in range(14, 21))


def new_salt() -> str:
    """Return a random salt, base64-encoded as stored."""
    return base64.b64encode(secrets.token_bytes(SALT_BYTES)).decode("ascii")


def derive_key(password: str, salt: str, params: KdfParams) -> Fernet:
    """Derive the Fernet key of ``password``.

    The password is NFC-normalised first, so the same characters typed
    through different input methods give the same key.
    """
    normalized = unicodedata.normalize("NFC", password).encode("utf-8")
    kdf = Scrypt(
        salt=base64.b64decode(salt), length=32, n=params.n, r=params.r, p=params.p
    )
    return Fernet(base64.urlsafe_b64encode(kdf.derive(normalized)))


def make_verifier(fernet: Fernet) -> str:
    return fernet.encrypt(VERIFIER_TEXT).decode("ascii")


def is_key_of(fernet: Fernet, verifier: str) -> bool:
    """Return whether ``fernet`` is the key the verifier was made with."""
    try:
        return fernet.decrypt(verifier.encode("ascii")) == VERIFIER_TEXT
    except (InvalidToken, UnicodeEncodeError):
        return False


def encrypt_json(fernet: Fernet, value: Any) -> str:
    """Encrypt a JSON-serialisable value, padded, as a Fernet token."""
    data = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    raw = data.encode("utf-8")
    # JSON ignores trailing whitespace, so spaces are safe padding.
    raw += b" " * (-len(raw) % PAD_BYTES)
    return fernet.encrypt(raw).decode("ascii")


def decrypt_json(fernet: Fernet, token: str) -> Any:
    """Decrypt a token from ``encrypt_json``; raise InvalidToken if it fails."""
    try:
        raw = fernet.decrypt(token.encode("ascii"))
    except UnicodeEncodeError as error:
        raise InvalidToken from error
    return json.loads(raw.decode("utf-8"))


# --- export file -------------------------------------------------------------
# Three lines of ASCII text:
#   R9CRM-VAULT-EXPORT 1
#   {"kdf": {"name": "scrypt", "n": 131072, "r": 8, "p": 1}, "salt": "..."}
#   <Fernet token of {"entries": [...]}>
# A changed header gives a different key, so the token fails to decrypt.


def write_vault_file(
    payload: dict[str, Any], password: str, *, params: KdfParams | None = None
) -> bytes:
    """Return the export file of ``payload``, encrypted under ``password``."""
    params = params or DEFAULT_KDF
    salt = new_salt()
    fernet = derive_key(password, salt, params)
    header = json.dumps({"kdf": json.loads(params.to_json()), "salt": salt})
    token = encrypt_json(fernet, payload)
    return f"{FILE_MAGIC} {FILE_VERSION}\n{header}\n{token}\n".encode("ascii")


def read_vault_file(data: bytes, password: str, *, filename: str) -> Any:
    """Decrypt an export file and return its payload.

    Raises VaultFileDamagedError, VaultFileVersionError or
    VaultFilePasswordError; nothing is returned unless the whole file
    decrypted and parsed.
    """
    if len(data) > MAX_FILE_BYTES:
        raise VaultFileDamagedError(filename)
    lines = _file_lines(data, filename)
    params, salt = _file_header(lines[1], filename)
    fernet = derive_key(password, salt, params)
    try:
        return decrypt_json(fernet, lines[2])
    except InvalidToken as error:
        raise VaultFilePasswordError(filename) from error
    except (UnicodeDecodeError, ValueError) as error:
        # Decrypted, so the password was right, but the content is not ours.
        raise VaultFileDamagedError(filename) from error


def _file_lines(data: bytes, filename: str) -> list[str]:
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as error:
        raise VaultFileDamagedError(filename) from error
    lines = text.replace("\r\n", "\n").rstrip("\n").split("\n")
    magic, _space, version = lines[0].partition(" ")
    if magic != FILE_MAGIC:
        raise VaultFileDamagedError(filename)
    if version != str(FILE_VERSION):
        raise VaultFileVersionError(filename, version[:20])
    if len(lines) != 3:
        raise VaultFileDamagedError(filename)
    return lines


def _file_header(line: str, filename: str) -> tuple[KdfParams, str]:
    try:
        header = json.loads(line)
        params = KdfParams.from_json(json.dumps(header["kdf"]))
        salt = header["salt"]
        if len(base64.b64decode(salt, validate=True)) != SALT_BYTES:
            raise ValueError("salt of the wrong length")
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise VaultFileDamagedError(filename) from error
    return params, str(salt)
