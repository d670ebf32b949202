"""Payment card numbers (ISO/IEC 7812) for a card-to-card transfer."""

import re

from stdnum import luhn

from connectors.codes import PaymentCodeError

_DIGITS = re.compile(r"[0-9]+")


def luhn_valid(number: str) -> bool:
    """Whether `number` (digits only) passes the Luhn check (ISO/IEC 7812-1 annex B)."""
    if not isinstance(number, str) or not _DIGITS.fullmatch(number):
        return False
    return luhn.is_valid(number)


def normalize_card_number(text: str) -> str:
    """The card number as digits, once it has 12 to 19 of them and passes the Luhn check."""
    if not isinstance(text, str):
        raise PaymentCodeError(f"card number must be a string, not {type(text).__name__}")
    # People copy card numbers with the spaces or dashes printed between the groups.
    number = re.sub(r"[ -]", "", text)
    if re.search(r"[^0-9]", number):
        raise PaymentCodeError("card number may only contain digits, spaces and dashes")
    if not 12 <= len(number) <= 19:
        raise PaymentCodeError(f"card number must have 12 to 19 digits, got {len(number)}")
    if not luhn_valid(number):
        raise PaymentCodeError("card number fails the Luhn check: a digit is mistyped")
    return number


def card_number_grouped(number: str) -> str:
    """The card number as printed on the card: "4111 1111 1111 1111", American Express
    15 digits as 4-6-5 and (Diners Club) 14 digits as 4-6-4."""
    digits = normalize_card_number(number)
    sizes: tuple[int, ...]
    if len(digits) == 15 and digits[:2] in ("34", "37"):
        sizes = (4, 6, 5)
    elif len(digits) == 14:
        sizes = (4, 6, 4)
    else:
        sizes = (4,) * (len(digits) // 4) + ((len(digits) % 4,) if len(digits) % 4 else ())
    groups, start = [], 0
    for size in sizes:
        groups.append(digits[start : start + size])
        start += size
    return " ".join(groups)
