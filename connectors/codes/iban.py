"""ISO 13616 International Bank Account Numbers."""

import re

from connectors.codes import PaymentCodeError

# Length of the IBAN for every country in the SWIFT IBAN Registry (release 101). A country
# that is missing here does not issue IBANs, so a code for it could not be paid.
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24,
    "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27,
    "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
    "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20,
    "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
    "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
    "YE": 30,
}  # fmt: skip

_SHAPE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]+")


def normalize_iban(text: str) -> str:
    """The IBAN in electronic format (no spaces, upper case), once its check digits match."""
    if not isinstance(text, str):
        raise PaymentCodeError(f"IBAN must be a string, not {type(text).__name__}")
    iban = text.replace(" ", "").upper()
    if not _SHAPE.fullmatch(iban):
        raise PaymentCodeError(
            f"IBAN must be a country code, two check digits and letters or digits, got {text!r}"
        )
    country = iban[:2]
    if country not in IBAN_LENGTHS:
        raise PaymentCodeError(f"IBAN country {country} does not issue IBANs")
    if len(iban) != IBAN_LENGTHS[country]:
        raise PaymentCodeError(
            f"IBAN for {country} must have {IBAN_LENGTHS[country]} characters, got {len(iban)}"
        )
    if mod97(iban[4:] + iban[:4]) != 1:
        raise PaymentCodeError(f"IBAN check digits do not match: {iban}")
    return iban


def mod97(alphanumeric: str) -> int:
    """ISO 7064 MOD 97-10 remainder, letters counting as A=10 ... Z=35 (IBAN, ISO 11649)."""
    return int("".join(str(int(character, 36)) for character in alphanumeric)) % 97
