"""Checks shared by every builder that carries free text."""

import unicodedata

from connectors.codes import PaymentCodeError

# Control, format, private-use, unassigned and line/paragraph separator characters: none of
# them prints, and several would split a line-based payload into extra fields.
_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def checked_text(value: object, *, field: str, max_length: int) -> str:
    """`value` without surrounding spaces, when it is non-empty, printable and short enough."""
    if not isinstance(value, str):
        raise PaymentCodeError(f"{field} must be a string, not {type(value).__name__}")
    text = value.strip()
    if not text:
        raise PaymentCodeError(f"{field} must not be empty")
    for character in text:
        if unicodedata.category(character) in _INVISIBLE_CATEGORIES:
            raise PaymentCodeError(
                f"{field} contains the non-printable character U+{ord(character):04X}"
            )
    if len(text) > max_length:
        raise PaymentCodeError(
            f"{field} is {len(text)} characters long; at most {max_length} are allowed"
        )
    return text


def require_printable_ascii(text: str, *, field: str) -> str:
    """`text` when every character is printable ASCII (space to tilde)."""
    for character in text:
        if not " " <= character <= "~":
            raise PaymentCodeError(
                f"{field} may only contain printable ASCII characters, not {character!r}"
            )
    return text
