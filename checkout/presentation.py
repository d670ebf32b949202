"""How an invoice reads on the hosted page: labels, grouped numbers, amounts in the language."""

import functools
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from babel.numbers import format_currency
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from connectors.codes.cards import card_number_grouped
from invoices.currencies import amount_in_currency
from invoices.models import Invoice
from invoices.read_models import STATUS_FIELDS
from invoices.statuses import FINAL_STATUSES, DisplayKind, Status

if TYPE_CHECKING:
    # A lazily translated message (django-stubs' name for gettext_lazy's result).
    from django_stubs_ext import StrPromise

# Keyed by str: an invoice's status field holds the plain value.
STATUS_TEXT: dict[str, "StrPromise"] = {
    Status.CREATED: _("Waiting for your payment"),
    Status.PROCESSING: _("Checking your payment"),
    Status.PROCESS_PENDING: _("Your bank is confirming the payment"),
    Status.PROCESSED: _("Paid"),
    Status.PARTIALLY_PROCESSED: _("Partially paid"),
    Status.PROCESS_FAILED: _("Payment failed"),
    Status.EXPIRED: _("This invoice has expired"),
    Status.TERMINATED: _("This invoice was cancelled"),
}
STATUS_TONE: dict[str, str] = {
    Status.PROCESSED: "success",
    Status.PARTIALLY_PROCESSED: "warning",
    Status.PROCESS_FAILED: "error",
    Status.EXPIRED: "error",
    Status.TERMINATED: "error",
}

# Requisites in the order a customer reads them, with their labels.
REQUISITE_LABELS = {
    "receiver_name": _("Receiver"),
    "iban": _("IBAN"),
    "account_number": _("Account number"),
    "card_number": _("Card number"),
    "card_holder": _("Card holder"),
    "qr_code": _("Payment code"),
    "receiver_code": _("Receiver code"),
    "bank_name": _("Bank"),
    "bank_code": _("Bank code (BIC)"),
    "purpose": _("Payment purpose"),
    "creditor_reference": _("Payment reference (RF)"),
    "reference": _("Reference"),
    "barcode": _("Barcode number"),
    "invoice_receipt_number": _("Invoice receipt number"),
}
# Labels of confirmation fields a provider names but does not label.
FIELD_LABELS = {
    "invoice_receipt_number": _("Invoice receipt number"),
    "message": _("Message"),
}

# Shown as images or buttons rather than as rows of text.
_NOT_ROWS = {"qr_code", "deeplink", "barcode_format"}


@dataclass(frozen=True)
class RequisiteRow:
    key: str
    label: Promise | str
    shown: str  # for the eye: card numbers grouped in fours
    value: str  # for the clipboard: exactly what a bank form takes


def requisite_rows(invoice: Invoice) -> list[RequisiteRow]:
    requisites = invoice.requisites
    ordered = [key for key in REQUISITE_LABELS if key in requisites]
    ordered += sorted(key for key in requisites if key not in REQUISITE_LABELS)
    # A QR code no app link opens (Pix "copia e cola") is also typed or pasted:
    # on a phone the customer cannot scan their own screen.
    copyable_code = invoice.service.display_kind == DisplayKind.QR and "deeplink" not in requisites
    rows = []
    for key in ordered:
        if key in _NOT_ROWS and not (key == "qr_code" and copyable_code):
            continue
        value = requisites[key]
        shown = card_number_grouped(value) if key == "card_number" else value
        # Kept lazy: the page renders it in the page's language, decided later.
        label = REQUISITE_LABELS.get(key, key.replace("_", " ").capitalize())
        rows.append(RequisiteRow(key=key, label=label, shown=shown, value=value))
    return rows


# CLDR's currency spacing, which Babel does not apply: a currency sign that ends
# (or starts) with a letter is kept from the digits by a no-break space.
_LETTER_THEN_DIGIT = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")


@functools.lru_cache(maxsize=4096)  # babel's formatting is the status poll's costliest step
def money(amount: Decimal, currency: str, language: str) -> str:
    """2 126,68 ₴ in Ukrainian, UAH 2,126.68 in English: the reader's own way."""
    locale = {"uk": "uk_UA", "en": "en_US"}.get(language, "en_US")
    formatted = format_currency(amount_in_currency(amount, currency), currency, locale=locale)
    return _LETTER_THEN_DIGIT.sub("\u00a0", formatted)


def is_final(invoice: Invoice) -> bool:
    return invoice.status in FINAL_STATUSES


def qr_text(invoice: Invoice) -> str | None:
    """The text the page's QR code encodes, if the display kind has one."""
    return qr_text_of(invoice.service.display_kind, invoice.requisites)


def qr_text_of(display_kind: str, requisites: Mapping[str, str]) -> str | None:
    if display_kind == DisplayKind.DEEPLINK:
        return requisites.get("deeplink")
    return requisites.get("qr_code")


def fragment_key(*rendered_from: object) -> str:
    """The name of a cached page fragment: a digest of everything it is rendered from (model
    field values, language, ...), so any change is a new fragment, never a stale one."""
    return hashlib.blake2b(repr(rendered_from).encode(), digest_size=16).hexdigest()


def status_fragment_key(invoice: Invoice) -> str:
    return fragment_key([getattr(invoice, name) for name in STATUS_FIELDS])
