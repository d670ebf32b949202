"""EPC069-12 "Quick Response Code" for a SEPA Credit Transfer (also sold as GiroCode)."""

import re
from decimal import Decimal

from stdnum import iso11649

from connectors.codes import PaymentCodeError
from connectors.codes.amounts import checked_amount, two_decimals
from connectors.codes.iban import normalize_iban
from connectors.codes.texts import checked_text

# Version 002 lets the BIC be left out inside the EEA; character set 1 is UTF-8.
HEADER = ("BCD", "002", "1", "SCT")
MAX_PAYLOAD_BYTES = 331  # QR version 13 at error correction M
MIN_AMOUNT = Decimal("0.01")
MAX_AMOUNT = Decimal("999999999.99")
# EU member states plus Iceland, Liechtenstein and Norway: inside the EEA the payer's bank
# finds the beneficiary's bank from the IBAN, elsewhere the code must name it by BIC.
EEA_COUNTRIES = frozenset(
    """
    AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IS IT LI LT LU LV MT NL NO PL PT RO SE SI SK
    """.split()
)
_BIC = re.compile(r"[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")  # ISO 9362
_PURPOSE = re.compile(r"[A-Z]{4}")  # ISO 20022 ExternalPurpose1Code, such as GDDS or CHAR
_CREDITOR_REFERENCE = re.compile(r"RF[0-9]{2}[A-Z0-9]{1,21}")  # ISO 11649


def epc_qr_text(
    *,
    name: str,
    iban: str,
    amount: Decimal | None = None,
    bic: str | None = None,
    purpose: str | None = None,
    reference: str | None = None,
    text: str | None = None,
    information: str | None = None,
) -> str:
    """The EPC QR payload: one element a line, trailing empty elements left out.

    `reference` is the structured remittance information (an ISO 11649 RF creditor
    reference, or another structured reference), `text` the unstructured one; the
    standard allows one or the other, never both. `information` is shown to the payer.
    """
    iban = normalize_iban(iban)
    if reference is not None and text is not None:
        raise PaymentCodeError(
            "reference and text are alternatives: give a structured reference or a text"
        )
    elements = [
        *HEADER,
        _checked_bic(bic, iban=iban),
        checked_text(name, field="name", max_length=70),
        iban,
        "" if amount is None else _amount_element(amount),
        _checked_purpose(purpose),
        _checked_reference(reference),
        "" if text is None else checked_text(text, field="text", max_length=140),
        ""
        if information is None
        else checked_text(information, field="information", max_length=70),
    ]
    while not elements[-1]:
        elements.pop()
    payload = "\n".join(elements)
    size = len(payload.encode("utf-8"))
    if size > MAX_PAYLOAD_BYTES:
        raise PaymentCodeError(
            f"EPC QR payload is {size} bytes; at most {MAX_PAYLOAD_BYTES} fit, "
            "so shorten name, text or information"
        )
    return payload


def _amount_element(amount: Decimal) -> str:
    amount = checked_amount(amount, field="amount", minimum=MIN_AMOUNT, maximum=MAX_AMOUNT)
    # The standard's own examples write EUR12.3 and EUR1: no trailing zeros, no bare point.
    return "EUR" + two_decimals(amount).rstrip("0").rstrip(".")


def _checked_bic(bic: str | None, *, iban: str) -> str:
    if bic is None:
        if iban[:2] not in EEA_COUNTRIES:
            raise PaymentCodeError(f"bic is required for an account outside the EEA ({iban[:2]})")
        return ""
    bic = checked_text(bic, field="bic", max_length=11).upper()
    if not _BIC.fullmatch(bic):
        raise PaymentCodeError(f"bic must be 8 or 11 letters and digits (ISO 9362), got {bic!r}")
    return bic


def _checked_purpose(purpose: str | None) -> str:
    if purpose is None:
        return ""
    if not isinstance(purpose, str) or not _PURPOSE.fullmatch(purpose):
        raise PaymentCodeError(
            f"purpose must be a four-letter ISO 20022 purpose code such as GDDS, got {purpose!r}"
        )
    return purpose


def _checked_reference(reference: str | None) -> str:
    if reference is None:
        return ""
    reference = checked_text(reference, field="reference", max_length=35)
    if reference.startswith("RF"):
        if not _CREDITOR_REFERENCE.fullmatch(reference):
            raise PaymentCodeError(
                "reference starting with RF must be an ISO 11649 creditor reference: RF, "
                f"two check digits and 1 to 21 letters or digits, got {reference!r}"
            )
        if not iso11649.is_valid(reference):
            raise PaymentCodeError(f"reference check digits do not match: {reference}")
    return reference
