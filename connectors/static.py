"""The `static` connector: fixed requisites configured on the service.

There is no provider to ask: a confirmation leaves the invoice waiting, and
the payment is approved by an operator (or a provider notification).
Settings: `{"requisites": {...}}`, checked against the service's display kind.
"""

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest

from connectors.base import (
    InvoiceData,
    IssuedRequisites,
    ProviderNotification,
    ProviderRejected,
    ProviderStatus,
)
from connectors.requisites import requisites_problems


class StaticConnector:
    name = "static"
    # No provider to ask: polling would only ever hear the status back.
    polls_status = False

    def settings_problems(self, *, settings: Mapping[str, Any], display_kind: str) -> list[str]:
        requisites = settings.get("requisites")
        if not isinstance(requisites, Mapping):
            return ["settings need a 'requisites' object"]
        return requisites_problems(display_kind, requisites)

    def issue_requisites(self, invoice: InvoiceData) -> IssuedRequisites:
        return IssuedRequisites(requisites=dict(invoice.settings["requisites"]))

    def forward_confirmation(
        self, invoice: InvoiceData, payload: Mapping[str, str]
    ) -> ProviderStatus:
        return ProviderStatus(status="processing")

    def fetch_status(self, invoice: InvoiceData) -> ProviderStatus:
        return ProviderStatus(status=invoice.status)

    def parse_notification(self, request: HttpRequest) -> ProviderNotification:
        raise ProviderRejected("The static connector has no provider to notify us.")
