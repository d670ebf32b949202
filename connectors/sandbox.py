"""The `test` connector: a deterministic sandbox (contract section 6).

Outcomes of a confirmation: a receipt number other than the issued one is
`invalid_details`; otherwise the `message` decides: `fail` declines, `partial`
pays half the amount (rounded down to the currency's minor unit), `pending`
answers pending and pays at the next poll, anything else pays in full.
"""

import secrets
from collections.abc import Mapping
from decimal import ROUND_DOWN
from typing import Any

from django.http import HttpRequest

from connectors.base import (
    InvoiceData,
    IssuedRequisites,
    ProviderNotification,
    ProviderRejected,
    ProviderStatus,
)
from invoices.currencies import currency_quantum
from invoices.statuses import DisplayKind

# The seed's schema, letter for letter.
CONFIRMATION_SCHEMA = {
    "invoice_receipt_number": {
        "required": True,
        "regexp": r"^\d{1,100}$",
        "type": "text",
        "example": None,
    },
    "message": {"required": True, "regexp": r"^.{1,100}$", "type": "text", "example": None},
}


class SandboxConnector:
    name = "test"
    # A pending sandbox payment settles at the next poll.
    polls_status = True
    issues_locally = True
    secret_settings: Mapping[str, str] = {}

    def settings_problems(self, *, settings: Mapping[str, Any], display_kind: str) -> list[str]:
        if display_kind != DisplayKind.TEST:
            return ["the test connector issues only the 'test' display kind"]
        return []

    def issue_requisites(self, invoice: InvoiceData) -> IssuedRequisites:
        # Ten digits, never starting with 0. The number doubles as the provider's
        # reference, whose unique constraint makes a (rare) repeat get re-issued.
        receipt_number = str(1_000_000_000 + secrets.randbelow(9_000_000_000))
        return IssuedRequisites(
            requisites={"invoice_receipt_number": receipt_number},
            provider_reference=receipt_number,
            confirmation_schema=CONFIRMATION_SCHEMA,
        )

    def forward_confirmation(
        self, invoice: InvoiceData, payload: Mapping[str, str]
    ) -> ProviderStatus:
        issued = invoice.requisites.get("invoice_receipt_number")
        if payload.get("invoice_receipt_number") != issued:
            return ProviderStatus(
                status="process_failed",
                resolution="invalid_details",
                message="The receipt number does not match the issued one.",
            )
        return self.simulate(invoice, outcome=payload.get("message", ""))

    def simulate(self, invoice: InvoiceData, *, outcome: str) -> ProviderStatus:
        """The answer the sandbox gives for `outcome` (also used by the test panel)."""
        if outcome == "fail":
            return ProviderStatus(
                status="process_failed", resolution="declined", message="Declined by the sandbox."
            )
        if outcome == "partial":
            half = (invoice.amount / 2).quantize(currency_quantum(invoice.currency), ROUND_DOWN)
            return ProviderStatus(
                status="partially_processed",
                resolution="insufficient_amount",
                message="The sandbox received half of the amount.",
                processed_amount=half,
            )
        if outcome == "pending":
            return ProviderStatus(status="process_pending")
        return ProviderStatus(status="processed", processed_amount=invoice.amount)

    def fetch_status(self, invoice: InvoiceData) -> ProviderStatus:
        # A pending sandbox payment settles at the next poll; nothing else changes.
        if invoice.status == "process_pending":
            return ProviderStatus(status="processed", processed_amount=invoice.amount)
        return ProviderStatus(status=invoice.status)

    def parse_notification(
        self, request: HttpRequest, settings: Mapping[str, Any]
    ) -> ProviderNotification:
        raise ProviderRejected("The test connector sends no notifications.")
