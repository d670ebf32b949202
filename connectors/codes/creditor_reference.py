"""ISO 11649 RF creditor references: the checkable token a transfer's remittance carries.

Each invoice gets one derived from its id, so a bank statement line names its
invoice without a lookup table, and the reference's MOD 97-10 check digits
catch every single typo and transposition before anything is matched.
The id's 16 characters are case-sensitive (A-Z, a-z, 0-9) while banks treat
references as case-insensitive (and often upper-case them), so the id is
written as a number in base 36 (0-9, A-Z): 19 characters, inside the 21 that
ISO 11649 allows after `RF` and the check digits.
"""

import re
import string

from stdnum import iso11649
from stdnum.exceptions import ValidationError
from stdnum.iso7064 import mod_97_10

from connectors.codes import PaymentCodeError

_ID_ALPHABET = string.ascii_letters + string.digits
_ID_LENGTH = 16
_BODY_ALPHABET = string.digits + string.ascii_uppercase
_BODY_LENGTH = 19
_LARGEST_ID = len(_ID_ALPHABET) ** _ID_LENGTH
_INVOICE_PREFIX = "cpi_"
_WORD = re.compile(r"[0-9A-Za-z]+")
_MAX_LENGTH = 25


def creditor_reference(body: str) -> str:
    """`RF` + check digits + `body` (1 to 21 letters or digits), in electronic format."""
    body = body.replace(" ", "").upper()
    if not 1 <= len(body) <= 21 or not body.isalnum() or not body.isascii():
        raise PaymentCodeError("a creditor reference body is 1 to 21 letters or digits")
    return "RF" + mod_97_10.calc_check_digits(body + "RF") + body


def invoice_creditor_reference(invoice_id: str) -> str:
    """The invoice's own RF reference: its id's 16 characters as 19 in base 36."""
    serial = invoice_id.removeprefix(_INVOICE_PREFIX)
    if len(serial) != _ID_LENGTH or any(c not in _ID_ALPHABET for c in serial):
        raise PaymentCodeError(f"not an invoice id: {invoice_id!r}")
    number = 0
    for character in serial:
        number = number * len(_ID_ALPHABET) + _ID_ALPHABET.index(character)
    digits = []
    for _ in range(_BODY_LENGTH):
        number, remainder = divmod(number, len(_BODY_ALPHABET))
        digits.append(_BODY_ALPHABET[remainder])
    return creditor_reference("".join(reversed(digits)))


def invoice_id_from_creditor_reference(reference: str) -> str | None:
    """The invoice id an RF reference was derived from; None for any other reference
    (a wrong check digit, another creditor's reference, a shape ours never has)."""
    try:
        compact = iso11649.validate(reference)
    except ValidationError:
        return None
    body = compact[4:]
    if len(body) != _BODY_LENGTH:
        return None
    number = int(body, 36)
    if number >= _LARGEST_ID:
        return None
    characters = []
    for _ in range(_ID_LENGTH):
        number, remainder = divmod(number, len(_ID_ALPHABET))
        characters.append(_ID_ALPHABET[remainder])
    return _INVOICE_PREFIX + "".join(reversed(characters))


def creditor_references_in(text: str) -> list[str]:
    """Every valid RF reference written in free text, compact, in order of appearance.

    Payers copy references with or without the groups of four (`RF18 5390 0754
    7034`) and banks add punctuation around them, so the words after an `RF..`
    are joined while the result could still be a reference, and the longest
    joining whose check digits hold is the reference.
    """
    words = _WORD.findall(text.upper())
    found = []
    for start, word in enumerate(words):
        if not (word.startswith("RF") and len(word) >= 4 and word[2:4].isdigit()):
            continue
        candidate, best = "", None
        for following in words[start:]:
            candidate += following
            if len(candidate) > _MAX_LENGTH:
                break
            if iso11649.is_valid(candidate):
                best = candidate
        if best and best not in found:
            found.append(best)
    return found
