"""The `static` connector: fixed requisites configured on the service, codes built per invoice.

There is no provider to ask: a confirmation leaves the invoice waiting, and
the payment is approved by an operator. The service's display kind decides
which code is built from its settings, always with the invoice's own amount
and reference, so every customer scans exactly what they must pay:

    invoice        {"requisites": {receiver_name, iban | account_number, receiver_code,
                    bank_name, bank_code, purpose}, "national_qr": "nbu" | "epc" | null}
                   purpose may hold {reference_id} and {creditor_reference} (the invoice's
                   ISO 11649 RF reference, also issued as `creditor_reference`, which bank
                   statement imports match on); the NBU QR (UAH) or EPC069-12 QR (EUR) goes
                   to `qr_code`
    qr             {"scheme": "upi", "vpa", "payee_name"} or
                   {"scheme": "pix", "key", "merchant_name", "merchant_city"} or
                   {"requisites": {"qr_code": fixed text}}
    barcode        {"barcode_format": "code128", "reference_prefix": "93"} (prefix + invoice
                   serial) or {"requisites": {"barcode", "barcode_format"}} for a fixed one
    card_transfer  {"requisites": {card_number (Luhn-checked), card_holder, bank_name}}
    deeplink       {"requisites": {"deeplink": "...{amount}...{reference}..."}}
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from django.http import HttpRequest

from connectors.base import (
    InvoiceData,
    IssuedRequisites,
    ProviderNotification,
    ProviderRejected,
    ProviderStatus,
)
from connectors.codes import PaymentCodeError
from connectors.codes.barcodes import code128_value, ean13, itf_value
from connectors.codes.cards import normalize_card_number
from connectors.codes.creditor_reference import invoice_creditor_reference
from connectors.codes.epc import epc_qr_text
from connectors.codes.iban import normalize_iban
from connectors.codes.nbu import nbu_qr_link
from connectors.codes.pix import pix_static
from connectors.codes.upi import upi_link
from connectors.requisites import requisites_problems
from invoices.statuses import DisplayKind

# A link a banking app can open: any scheme but the ones a browser would run.
_DEEPLINK = re.compile(r"^(?!(?:javascript|data|vbscript|file):)[a-z][a-z0-9+.\-]*:\S+$", re.I)
_SAMPLE = InvoiceData(
    id="cpi_SAMPLE0000000000",
    reference_id="order-1",
    amount=Decimal("100.00"),
    currency="XXX",
    test_mode=True,
    display_kind="",
    expires_at=datetime(2030, 1, 1, tzinfo=UTC),
)


def _fixed(settings: Mapping[str, Any]) -> dict[str, str]:
    requisites = settings.get("requisites") or {}
    if not isinstance(requisites, Mapping):
        raise PaymentCodeError("'requisites' must be an object")
    return {str(key): str(value) for key, value in requisites.items() if value not in (None, "")}


def _serial(invoice: InvoiceData) -> str:
    return invoice.id.removeprefix("cpi_")


def _bank_transfer(settings: Mapping[str, Any], invoice: InvoiceData) -> dict[str, str]:
    requisites = _fixed(settings)
    # Issued with every bank transfer, so the page shows it and a payer can quote it
    # even where the purpose does not: statement imports settle the invoice by it.
    requisites["creditor_reference"] = invoice_creditor_reference(invoice.id)
    if "iban" in requisites:
        requisites["iban"] = normalize_iban(requisites["iban"])
    if "purpose" in requisites:
        requisites["purpose"] = (
            requisites["purpose"]
            .replace("{reference_id}", invoice.reference_id)
            .replace("{creditor_reference}", requisites["creditor_reference"])
        )
    national_qr = settings.get("national_qr")
    if national_qr == "nbu":
        requisites["qr_code"] = nbu_qr_link(
            receiver_name=requisites.get("receiver_name", ""),
            iban=requisites.get("iban", ""),
            amount=invoice.amount,
            receiver_code=requisites.get("receiver_code", ""),
            purpose=requisites.get("purpose", ""),
        )
    elif national_qr == "epc":
        requisites["qr_code"] = epc_qr_text(
            name=requisites.get("receiver_name", ""),
            iban=requisites.get("iban", ""),
            bic=requisites.get("bank_code"),
            amount=invoice.amount,
            text=requisites.get("purpose"),
        )
    elif national_qr is not None:
        raise PaymentCodeError("national_qr must be 'nbu', 'epc' or null")
    return requisites


def _qr(settings: Mapping[str, Any], invoice: InvoiceData) -> dict[str, str]:
    scheme = settings.get("scheme")
    if scheme == "upi":
        link = upi_link(
            vpa=str(settings.get("vpa", "")),
            payee_name=str(settings.get("payee_name", "")),
            amount=invoice.amount,
            reference=_serial(invoice),
            note=settings.get("note"),
        )
        # The same link opens the UPI app on a phone.
        return {"qr_code": link, "deeplink": link}
    if scheme == "pix":
        return {
            "qr_code": pix_static(
                key=str(settings.get("key", "")),
                merchant_name=str(settings.get("merchant_name", "")),
                merchant_city=str(settings.get("merchant_city", "")),
                amount=invoice.amount,
                txid=_serial(invoice),
            )
        }
    if scheme is not None:
        raise PaymentCodeError(
            "scheme must be 'upi' or 'pix' (or leave it out for a fixed qr_code)"
        )
    return _fixed(settings)


_BARCODE_VALUES: dict[str, Callable[[str], str]] = {
    "code128": code128_value,
    "ean13": ean13,
    "itf": itf_value,
}


def _barcode(settings: Mapping[str, Any], invoice: InvoiceData) -> dict[str, str]:
    if "reference_prefix" in settings:
        reference = str(settings["reference_prefix"]) + _serial(invoice).upper()
        return {"barcode": code128_value(reference), "barcode_format": "code128"}
    requisites = _fixed(settings)
    barcode_format = requisites.get("barcode_format")
    if barcode_format not in _BARCODE_VALUES:
        raise PaymentCodeError(f"barcode_format must be one of {', '.join(_BARCODE_VALUES)}")
    requisites["barcode"] = _BARCODE_VALUES[barcode_format](requisites.get("barcode", ""))
    return requisites


def _card_transfer(settings: Mapping[str, Any], invoice: InvoiceData) -> dict[str, str]:
    requisites = _fixed(settings)
    requisites["card_number"] = normalize_card_number(requisites.get("card_number", ""))
    return requisites


def _deeplink(settings: Mapping[str, Any], invoice: InvoiceData) -> dict[str, str]:
    requisites = _fixed(settings)
    link = (
        requisites.get("deeplink", "")
        .replace("{amount}", quote(str(invoice.amount), safe=""))
        .replace("{reference}", quote(_serial(invoice), safe=""))
    )
    if not _DEEPLINK.match(link):
        raise PaymentCodeError("deeplink must be a link such as https://... or bankapp://...")
    requisites["deeplink"] = link
    return requisites


_BUILDERS: dict[str, Callable[[Mapping[str, Any], InvoiceData], dict[str, str]]] = {
    DisplayKind.INVOICE: _bank_transfer,
    DisplayKind.QR: _qr,
    DisplayKind.BARCODE: _barcode,
    DisplayKind.CARD_TRANSFER: _card_transfer,
    DisplayKind.DEEPLINK: _deeplink,
}


class StaticConnector:
    name = "static"
    # No provider to ask: polling would only ever hear the status back.
    polls_status = False
    issues_locally = True
    secret_settings: Mapping[str, str] = {}

    def _requisites(self, settings: Mapping[str, Any], invoice: InvoiceData) -> dict[str, str]:
        builder = _BUILDERS.get(invoice.display_kind)
        if builder is None:
            raise PaymentCodeError(f"the static connector cannot show {invoice.display_kind!r}")
        return builder(settings, invoice)

    def settings_problems(self, *, settings: Mapping[str, Any], display_kind: str) -> list[str]:
        sample = replace(_SAMPLE, display_kind=display_kind)
        try:
            requisites = self._requisites(settings, sample)
        except PaymentCodeError as error:
            return [str(error)]
        return requisites_problems(display_kind, requisites)

    def issue_requisites(self, invoice: InvoiceData) -> IssuedRequisites:
        try:
            return IssuedRequisites(requisites=self._requisites(invoice.settings, invoice))
        except PaymentCodeError as error:
            raise ProviderRejected(f"cannot build the payment code: {error}") from None

    def forward_confirmation(
        self, invoice: InvoiceData, payload: Mapping[str, str]
    ) -> ProviderStatus:
        return ProviderStatus(status="processing")

    def fetch_status(self, invoice: InvoiceData) -> ProviderStatus:
        return ProviderStatus(status=invoice.status)

    def parse_notification(
        self, request: HttpRequest, settings: Mapping[str, Any]
    ) -> ProviderNotification:
        raise ProviderRejected("The static connector has no provider to notify us.")
