"""The connector interface and the plain data that crosses it."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from django.http import HttpRequest


class ProviderError(Exception):
    """The provider could not do what was asked."""


class ProviderUnavailable(ProviderError):
    """Timeout, refused connection, 5xx: the same call may succeed later."""


class ProviderRejected(ProviderError):
    """The provider refused the request, or sent something we refuse: do not retry."""


@dataclass(frozen=True)
class InvoiceData:
    """What a connector may know of an invoice."""

    id: str
    reference_id: str
    amount: Decimal
    currency: str
    test_mode: bool
    display_kind: str
    expires_at: datetime
    settings: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None
    status: str = "created"
    requisites: Mapping[str, str] = field(default_factory=dict)
    provider_reference: str | None = None
    # Where the provider should post notifications about this invoice.
    notify_url: str | None = None


@dataclass(frozen=True)
class IssuedRequisites:
    """A provider's answer to "where should this customer pay?"."""

    requisites: dict[str, str]
    provider_reference: str | None = None
    checkout_page: str | None = None
    # The fields the provider wants the customer to confirm with, if any.
    confirmation_schema: dict[str, dict[str, Any]] | None = None
    is_otp_flow: bool = False


@dataclass(frozen=True)
class ProviderStatus:
    """A provider's view of an invoice, in the platform's status words."""

    status: str
    resolution: str = "ok"
    message: str | None = None
    processed_amount: Decimal | None = None


@dataclass(frozen=True)
class ProviderNotification:
    """A verified notification pushed by a provider."""

    event_id: str
    provider_reference: str
    status: ProviderStatus


class Connector(Protocol):
    name: str
    # Whether asking the provider for the status (polling) can tell anything new.
    polls_status: bool
    # Whether issuing requisites is computed here, without asking a provider: a
    # repeated reference then needs no check before issuing (storing refuses it).
    issues_locally: bool
    # Settings kept encrypted and never shown (name: label); they reach the
    # connector in `settings` beside the others.
    secret_settings: Mapping[str, str]

    def settings_problems(self, *, settings: Mapping[str, Any], display_kind: str) -> list[str]:
        """Why these service settings cannot work; empty when they can."""

    def issue_requisites(self, invoice: InvoiceData) -> IssuedRequisites: ...

    def forward_confirmation(
        self, invoice: InvoiceData, payload: Mapping[str, str]
    ) -> ProviderStatus: ...

    def fetch_status(self, invoice: InvoiceData) -> ProviderStatus: ...

    def parse_notification(
        self, request: HttpRequest, settings: Mapping[str, Any]
    ) -> ProviderNotification:
        """Verify a notification with the secret of the service (`settings`) it was sent for."""
