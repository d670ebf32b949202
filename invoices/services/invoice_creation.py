"""Creating an invoice: checked, its requisites asked of the connector, then stored.

The provider is asked outside any transaction; the invoice and its first event are
then stored in one short write.
"""

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from connectors.base import Connector, InvoiceData, IssuedRequisites, ProviderError
from connectors.registry import get_connector
from connectors.requisites import requisites_problems
from invoices import keys, selectors
from invoices.combined_writes import Insert, write_together
from invoices.confirmation_schema import confirmation_schema_problems, is_confirmation_required
from invoices.models import Invoice, InvoiceEvent, Merchant, Service
from invoices.services.invoice_validation import InvoiceRejected, invoice_problems
from invoices.services.moves import invoice_move
from invoices.state_machine import Actor
from invoices.statuses import Resolution, Status

logger = logging.getLogger(__name__)


_REQUISITES_ATTEMPTS = 3


class DuplicateReference(Exception):
    """The merchant already has an invoice with this reference_id in this mode."""

    def __init__(self, existing_id: str):
        self.existing_id = existing_id
        super().__init__(f"reference_id already used by {existing_id}")


def invoice_create(
    *,
    merchant: Merchant,
    service_code: str,
    reference_id: str,
    amount: Decimal,
    currency: str,
    test_mode: bool,
    actor: Actor,
    description: str | None = None,
    descriptor: str | None = None,
    customer: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    callback_url: str | None = None,
    return_url: str | None = None,
    return_urls: Mapping[str, str] | None = None,
    locale: str | None = None,
    expires_at: datetime | None = None,
    options: Mapping[str, Any] | None = None,
) -> Invoice:
    """Store a new invoice with the requisites its connector issued.

    Raises `InvoiceRejected` for a request that cannot become an invoice and
    `DuplicateReference` when the reference is taken. When the connector fails,
    the invoice is still stored, moved to `process_failed` / `provider_error`.
    """
    now = timezone.now()
    service = selectors.service_enabled_for_merchant(merchant=merchant, service_code=service_code)
    expires_at = expires_at or (now + service.lifetime if service else None)
    if problems := invoice_problems(
        service=service,
        service_code=service_code,
        reference_id=reference_id,
        amount=amount,
        currency=currency,
        test_mode=test_mode,
        callback_url=callback_url,
        return_url=return_url,
        return_urls=return_urls,
        locale=locale,
        expires_at=expires_at,
        now=now,
    ):
        raise InvoiceRejected(problems)
    # invoice_problems refuses a missing service; with a service there is an expiry.
    assert service is not None and expires_at is not None
    connector = get_connector(service.connector)
    # A provider is never asked for requisites of an invoice that cannot be stored.
    # Requisites computed here cost nothing, and storing refuses a repeated
    # reference anyway (below): the round trip of the check is saved.
    if not connector.issues_locally and (
        existing_id := selectors.invoice_id_by_reference(
            merchant=merchant, test_mode=test_mode, reference_id=reference_id
        )
    ):
        raise DuplicateReference(existing_id)
    for attempt in range(1, _REQUISITES_ATTEMPTS + 1):
        invoice = Invoice(
            id=keys.new_invoice_id(),
            merchant=merchant,
            service=service,
            connector=connector.name,
            provider_polled=connector.polls_status,
            reference_id=reference_id,
            test_mode=test_mode,
            amount=amount,
            currency=currency,
            payment_amount=amount,
            description=description,
            descriptor=descriptor,
            customer=dict(customer) if customer else None,
            metadata=dict(metadata) if metadata else None,
            callback_url=callback_url or None,
            return_url=return_url or None,
            return_urls=dict(return_urls or {}),
            locale=locale,
            options=dict(options or {}),
            created_at=now,
            updated_at=now,
            expires_at=expires_at,
        )
        issued, failure = requisites_issue(connector, service, invoice)
        try:
            stored = _invoice_store(invoice, issued=issued, failure=failure, actor=actor)
        except IntegrityError:
            if existing_id := selectors.invoice_id_by_reference(
                merchant=merchant, test_mode=test_mode, reference_id=reference_id
            ):
                raise DuplicateReference(existing_id) from None
            # Otherwise the provider repeated a reference it gave another invoice
            # (or, astronomically rarely, the random id repeated): ask again.
            logger.warning("invoice %s: store conflict on attempt %s", invoice.id, attempt)
            if attempt == _REQUISITES_ATTEMPTS:
                raise
            continue
        logger.info(
            "invoice %s: %s, %s %s %s%s",
            stored.id,
            stored.status,
            service.code,
            stored.amount,
            stored.currency,
            " (test)" if stored.test_mode else "",
        )
        return stored
    raise AssertionError("unreachable")


def invoice_data(invoice: Invoice, service: Service) -> InvoiceData:
    return InvoiceData(
        id=invoice.id,
        reference_id=invoice.reference_id,
        amount=invoice.amount,
        currency=invoice.currency,
        test_mode=invoice.test_mode,
        display_kind=service.display_kind,
        expires_at=invoice.expires_at,
        settings=selectors.service_connector_settings(service=service),
        description=invoice.description,
        status=invoice.status,
        requisites=invoice.requisites,
        provider_reference=invoice.provider_reference,
        notify_url=selectors.service_notify_url(service=service),
    )


def requisites_issue(
    connector: Connector, service: Service, invoice: Invoice
) -> tuple[IssuedRequisites | None, str | None]:
    """The connector's requisites, or why there are none. Runs outside any transaction."""
    try:
        issued = connector.issue_requisites(invoice_data(invoice, service))
    except ProviderError as error:
        logger.warning(
            "invoice %s: %s could not issue requisites: %s", invoice.id, connector.name, error
        )
        return None, f"The provider could not issue payment details: {error}"
    problems = requisites_problems(service.display_kind, issued.requisites)
    schema = service.confirmation_schema
    if schema is None:
        schema = issued.confirmation_schema or {}
        problems += [f"confirmation schema: {p}" for p in confirmation_schema_problems(schema)]
    if problems:
        logger.warning("invoice %s: unusable requisites: %s", invoice.id, problems)
        return None, "The provider's payment details are unusable: " + "; ".join(problems)
    invoice.requisites = issued.requisites
    invoice.provider_reference = issued.provider_reference
    invoice.checkout_page = issued.checkout_page
    invoice.is_otp_flow = service.is_otp_flow or issued.is_otp_flow
    invoice.confirmation_schema_json = json.dumps(schema, separators=(",", ":"), ensure_ascii=False)
    invoice.confirmation_required = is_confirmation_required(schema)
    return issued, None


def invoice_created_event(
    invoice: Invoice, *, actor: Actor, details: dict[str, str] | None = None
) -> InvoiceEvent:
    """The first event of an invoice's timeline, to be inserted with the invoice."""
    return InvoiceEvent(
        invoice=invoice,
        sequence=invoice.sequence,
        from_status=None,
        to_status=invoice.status,
        resolution=invoice.resolution,
        cause="invoice_created",
        actor=str(actor),
        details=details or {},
        created_at=invoice.created_at,
    )


def _invoice_store(
    invoice: Invoice, *, issued: IssuedRequisites | None, failure: str | None, actor: Actor
) -> Invoice:
    created = invoice_created_event(invoice, actor=actor)
    if failure is None:
        write_together([Insert(invoice), Insert(created)])
        return invoice
    # Stored and failed together: never a created invoice without requisites.
    with transaction.atomic():
        write_together([Insert(invoice), Insert(created)])
        return invoice_move(
            invoice_id=invoice.id,
            expected_from={Status.CREATED},
            to_status=Status.PROCESS_FAILED,
            resolution=Resolution.PROVIDER_ERROR,
            resolution_message=failure,
            cause="requisites_not_issued",
            actor=Actor("connector", invoice.connector),
        )
