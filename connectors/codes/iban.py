"""ISO 13616 International Bank Account Numbers, checked by schwifty.

schwifty keeps the SWIFT IBAN Registry (countries, lengths, the structure of
each country's BBAN) up to date with its releases, which a table of our own
would not; this module turns its verdicts into messages an operator can act on.
"""

import re

from schwifty import IBAN, registry
from schwifty.exceptions import (
    InvalidChecksumDigits,
    InvalidCountryCode,
    InvalidLength,
    SchwiftyException,
)

from connectors.codes import PaymentCodeError

_SHAPE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]+")


def normalize_iban(text: str) -> str:
    """The IBAN in electronic format (no spaces, upper case), once its check digits match."""
    if not isinstance(text, str):
        raise PaymentCodeError(f"IBAN must be a string, not {type(text).__name__}")
    compact = text.replace(" ", "").upper()
    # schwifty would also drop dashes and other separators; a value that carries
    # them was not copied from a statement or a contract, so it is refused.
    if not _SHAPE.fullmatch(compact):
        raise PaymentCodeError(
            f"IBAN must be a country code, two check digits and letters or digits, got {text!r}"
        )
    country = compact[:2]
    try:
        return IBAN(compact).compact
    except InvalidCountryCode:
        raise PaymentCodeError(f"IBAN country {country} does not issue IBANs") from None
    except InvalidLength:
        length = registry.get_iban_spec(country).iban_length
        raise PaymentCodeError(
            f"IBAN for {country} must have {length} characters, got {len(compact)}"
        ) from None
    except InvalidChecksumDigits:
        raise PaymentCodeError(f"IBAN check digits do not match: {compact}") from None
    except SchwiftyException as error:
        raise PaymentCodeError(f"IBAN {compact} is not one {country} issues: {error}") from None
