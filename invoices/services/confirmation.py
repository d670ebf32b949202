"""A customer's confirmation of a transfer: checked against the invoice's schema,
stored by the move to `processing`, then forwarded to the provider by a task."""

from collections.abc import Mapping
from typing import Any

from django.db.models import F
from django.utils import timezone

from connectors.base import ProviderRejected, ProviderStatus
from connectors.registry import get_connector
from invoices import selectors, tasks
from invoices.confirmation_schema import PayloadProblem, confirmation_payload_problems
from invoices.models import Invoice
from invoices.services.invoice_creation import invoice_data
from invoices.services.moves import invoice_move
from invoices.services.provider_updates import invoice_apply_provider_status
from invoices.state_machine import Actor, StatusMoveRefused
from invoices.statuses import Resolution, Status

MAX_INVALID_CONFIRMATIONS = 5


class InvoiceNotFound(Exception):
    pass


class ConfirmationLocked(Exception):
    """Too many refused confirmations: the invoice takes no more."""


class InvoiceNotConfirmable(Exception):
    """Final, expired or already confirmed."""


class ConfirmationRejected(Exception):
    def __init__(self, problems: list[PayloadProblem]):
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.detail}" for p in problems))


def invoice_confirm(*, invoice_id: str, payload: Mapping[str, Any], actor: Actor) -> Invoice:
    """Check a customer's confirmation, move `created → processing`, forward it after commit.

    Refused confirmations are counted; after `MAX_INVALID_CONFIRMATIONS` the
    invoice is locked against guessing.
    """
    invoice = selectors.invoice_get(invoice_id=invoice_id)
    if invoice is None:
        raise InvoiceNotFound(invoice_id)
    if invoice.confirmation_failures >= MAX_INVALID_CONFIRMATIONS:
        raise ConfirmationLocked(invoice_id)
    _raise_unless_confirmable(invoice)

    values, problems = confirmation_payload_problems(invoice.confirmation_schema, payload)
    if problems:
        # Count the refusal only while under the limit, in one conditional
        # UPDATE: concurrent guesses cannot together get more than five 422s.
        counted = Invoice.objects.filter(
            pk=invoice_id, confirmation_failures__lt=MAX_INVALID_CONFIRMATIONS
        ).update(confirmation_failures=F("confirmation_failures") + 1)
        if not counted:
            raise ConfirmationLocked(invoice_id)
        raise ConfirmationRejected(problems)

    try:
        # The confirmation is stored by the move's own UPDATE: both or neither.
        confirmed = invoice_move(
            invoice_id=invoice_id,
            expected_from={Status.CREATED},
            to_status=Status.PROCESSING,
            resolution=Resolution.OK,
            cause="confirmation_received",
            actor=actor,
            details={"fields": sorted(values)},
            also_set={"confirmation_payload": values, "confirmed_at": timezone.now()},
        )
    except StatusMoveRefused as refused:
        raise InvoiceNotConfirmable(
            f"The invoice is {refused.current_status} and takes no confirmation."
        ) from None
    # After the move's commit (or the caller's, when it runs inside a transaction).
    tasks.enqueue_after_commit(tasks.forward_confirmation, invoice_id=invoice_id)
    return confirmed


def _raise_unless_confirmable(invoice: Invoice) -> None:
    if invoice.status != Status.CREATED:
        if invoice.status in (Status.PROCESSING, Status.PROCESS_PENDING):
            raise InvoiceNotConfirmable("The invoice is already confirmed.")
        raise InvoiceNotConfirmable(f"The invoice is {invoice.status} and takes no confirmation.")
    if invoice.expires_at <= timezone.now():
        raise InvoiceNotConfirmable("The invoice has expired.")


def invoice_forward_confirmation(*, invoice_id: str) -> Invoice | None:
    """Hand a stored confirmation to the provider and apply its answer.

    Safe to run twice: an invoice that has left `processing` is not forwarded
    again. `ProviderUnavailable` propagates so the task retries later.
    """
    invoice = selectors.invoice_get(invoice_id=invoice_id)
    if invoice is None or invoice.status != Status.PROCESSING:
        return invoice
    connector = get_connector(invoice.connector)
    try:
        answer = connector.forward_confirmation(
            invoice_data(invoice, invoice.service), invoice.confirmation_payload or {}
        )
    except ProviderRejected as rejected:
        answer = ProviderStatus(
            status=Status.PROCESS_FAILED,
            resolution=Resolution.PROVIDER_ERROR,
            message=f"The provider refused the confirmation: {rejected}",
        )
    return invoice_apply_provider_status(
        invoice_id=invoice_id,
        answer=answer,
        cause="provider_answered_confirmation",
        actor=Actor("connector", invoice.connector),
    )
