"""UPI payment links (NPCI UPI Linking Specifications): upi://pay?pa=...&pn=..."""

import re
from decimal import Decimal
from urllib.parse import quote

from connectors.codes import PaymentCodeError
from connectors.codes.amounts import checked_amount, two_decimals
from connectors.codes.texts import checked_text

# "Currently ONLY INR is the supported value" (UPI Linking Specifications, parameter cu).
UPI_CURRENCY = "INR"
# A virtual payment address is handle@psp: the handle is letters, digits, dots, hyphens and
# underscores; the PSP part is the bank's handle such as "okhdfcbank" or "ifsc.npci".
_VPA = re.compile(r"[A-Za-z0-9._-]{2,256}@[A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)*")
# Lengths of the UPI API fields each parameter maps to: Payee addr, Payee name, Txn note and
# Txn refId.
_MAX_VPA_LENGTH = 255
_MAX_NAME_LENGTH = 99
_MAX_NOTE_LENGTH = 50
_MAX_REFERENCE_LENGTH = 35
_REFERENCE = re.compile(r"[A-Za-z0-9]+")
# UPI apps cap a single payment well below this; it only keeps the number sane.
_MAX_AMOUNT = Decimal("99999999.99")


def upi_link(
    *,
    vpa: str,
    payee_name: str,
    amount: Decimal | None = None,
    currency: str = UPI_CURRENCY,
    note: str | None = None,
    reference: str | None = None,
) -> str:
    """The upi://pay link; absent optional parameters are left out, not sent empty."""
    vpa = checked_text(vpa, field="vpa", max_length=_MAX_VPA_LENGTH)
    if not _VPA.fullmatch(vpa):
        raise PaymentCodeError(f"vpa must look like handle@psp, got {vpa!r}")
    if currency != UPI_CURRENCY:
        raise PaymentCodeError(f"currency must be {UPI_CURRENCY}, the only one UPI supports")
    # The VPA's characters are all URL-safe apart from "@", which a query may hold as is;
    # NPCI's own samples write pa=nadeem@npci.
    parameters = [
        ("pa", vpa),
        ("pn", _encoded(checked_text(payee_name, field="payee_name", max_length=_MAX_NAME_LENGTH))),
    ]
    if amount is not None:
        amount = checked_amount(
            amount, field="amount", minimum=Decimal("0.01"), maximum=_MAX_AMOUNT
        )
        parameters.append(("am", two_decimals(amount)))
    parameters.append(("cu", currency))
    if note is not None:
        parameters.append(
            ("tn", _encoded(checked_text(note, field="note", max_length=_MAX_NOTE_LENGTH)))
        )
    if reference is not None:
        reference = checked_text(reference, field="reference", max_length=_MAX_REFERENCE_LENGTH)
        if not _REFERENCE.fullmatch(reference):
            raise PaymentCodeError(
                f"reference may only contain letters and digits, got {reference!r}"
            )
        parameters.append(("tr", reference))
    return "upi://pay?" + "&".join(f"{name}={value}" for name, value in parameters)


def _encoded(text: str) -> str:
    # Percent-encode everything but RFC 3986 unreserved characters, so a space is %20 (never
    # "+", which UPI apps show literally) and "&", "=", "#" cannot break the query apart.
    return quote(text, safe="")
