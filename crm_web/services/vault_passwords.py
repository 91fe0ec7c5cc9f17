"""The vault's password generator, and the rules for new passwords."""

from __future__ import annotations

import secrets
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

from crm_web.errors import (
    InvalidValueError,
    NoCharacterSetError,
    PasswordMismatchError,
    PasswordTooShortError,
)

CHARACTER_SETS = {
    "lower": string.ascii_lowercase,
    "upper": string.ascii_uppercase,
    "digits": string.digits,
    # Symbols that most sites accept and that need no quoting in a form.
    "symbols": "!#$%&*+-=?@^_~",
}
# Characters that many fonts show alike, so a password read aloud or copied
# by hand goes wrong.
LOOK_ALIKE = frozenset("Il1|O0o")
MIN_LENGTH = 8
MAX_LENGTH = 128
DEFAULT_LENGTH = 20
# Applies to master passwords and export file passwords.
MIN_PASSWORD_LENGTH = 8


@dataclass(frozen=True)
class GeneratorOptions:
    length: int = DEFAULT_LENGTH
    sets: tuple[str, ...] = tuple(CHARACTER_SETS)
    avoid_look_alike: bool = True


def parse_generator_options(raw: Mapping[str, Any]) -> GeneratorOptions:
    """Read the generator's length and character sets from a form."""
    # Full-width digits from a Chinese input method become ASCII.
    typed = unicodedata.normalize("NFKC", str(raw.get("length", ""))).strip()
    if not (typed.isascii() and typed.isdigit()) or not (
        MIN_LENGTH <= int(typed) <= MAX_LENGTH
    ):
        raise InvalidValueError(
            _("Length"),
            typed,
            _(
                "type a whole number from %(low)s to %(high)s.",
                low=MIN_LENGTH,
                high=MAX_LENGTH,
            ),
        )
    sets = tuple(name for name in CHARACTER_SETS if raw.get(name))
    if not sets:
        raise NoCharacterSetError()
    return GeneratorOptions(int(typed), sets, bool(raw.get("avoid_look_alike")))


def generate_password(options: GeneratorOptions) -> str:
    """Return a random password with at least one character of each set.

    Candidates missing a set are drawn again rather than patched, so every
    password that meets the rule is equally likely.
    """
    pools = [
        "".join(c for c in CHARACTER_SETS[name] if c not in LOOK_ALIKE)
        if options.avoid_look_alike
        else CHARACTER_SETS[name]
        for name in options.sets
    ]
    alphabet = "".join(pools)
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(options.length))
        if all(any(c in pool for c in candidate) for pool in pools):
            return candidate


def check_new_password(password: str, repeat: str) -> None:
    """Raise unless a new master or file password is long enough and repeated."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordTooShortError(len(password), MIN_PASSWORD_LENGTH)
    if password != repeat:
        raise PasswordMismatchError()
