"""Polling the providers that do not notify, and expiring invoices past their time:
the beat's sweeps, each claiming its batch so that two workers never share one."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from connectors.base import ProviderError
from connectors.registry import get_connector
from invoices import selectors
from invoices.models import Invoice
from invoices.services.invoice_creation import invoice_data
from invoices.services.moves import invoice_move
from invoices.services.provider_updates import invoice_apply_provider_status
from invoices.state_machine import OPEN_STATUSES, WAITING_ON_PROVIDER, Actor, StatusMoveRefused
from invoices.statuses import Resolution, Status

logger = logging.getLogger(__name__)


POLL_CLAIM_BATCH = 100
EXPIRY_BATCH = 500


def poll_delay(attempts: int) -> timedelta:
    """10 s, 20 s, 40 s ... at most 10 minutes."""
    seconds = settings.POLL_FIRST_DELAY_SECONDS * 2 ** min(attempts, 20)
    return timedelta(seconds=min(seconds, settings.POLL_MAX_DELAY_SECONDS))


def invoices_claim_due_polls(*, limit: int = POLL_CLAIM_BATCH) -> list[str]:
    """Claim invoices whose poll is due, pushing each one's next poll out by its back-off.

    `FOR UPDATE SKIP LOCKED` over the partial index on `next_poll_at`: two
    sweepers never claim the same invoice, and the query never scans rows
    that are not due. Only the state machine sets `next_poll_at`, and only
    while an invoice waits on its provider, so the index alone is the filter
    (`invoice_poll` checks the status again before asking).
    """
    now = timezone.now()
    with transaction.atomic():
        due = list(
            Invoice.objects.select_for_update(skip_locked=True)
            .filter(next_poll_at__lte=now)
            .order_by("next_poll_at")
            .values_list("id", "poll_attempts")[:limit]
        )
        for invoice_id, attempts in due:
            Invoice.objects.filter(pk=invoice_id).update(
                poll_attempts=attempts + 1, next_poll_at=now + poll_delay(attempts + 1)
            )
    return [invoice_id for invoice_id, _ in due]


def invoice_poll(*, invoice_id: str, actor: Actor | None = None) -> Invoice | None:
    """Ask the provider for the invoice's status and apply what it says."""
    invoice = selectors.invoice_get(invoice_id=invoice_id)
    if invoice is None or invoice.status not in WAITING_ON_PROVIDER:
        return invoice
    connector = get_connector(invoice.connector)
    try:
        answer = connector.fetch_status(invoice_data(invoice, invoice.service))
    except ProviderError as error:
        # The next poll is already scheduled; this one is only logged.
        logger.warning("invoice %s: polling %s failed: %s", invoice_id, connector.name, error)
        return invoice
    return invoice_apply_provider_status(
        invoice_id=invoice_id,
        answer=answer,
        cause="provider_polled",
        actor=actor or Actor("connector", invoice.connector),
    )


def invoices_expire_overdue(*, batch: int = EXPIRY_BATCH, max_batches: int = 20) -> int:
    """Move open invoices past `expires` to `expired`, oldest first, in indexed batches."""
    expired = 0
    for _ in range(max_batches):
        overdue = list(
            Invoice.objects.filter(status__in=OPEN_STATUSES, expires_at__lte=timezone.now())
            .order_by("expires_at")
            .values_list("id", flat=True)[:batch]
        )
        for invoice_id in overdue:
            try:
                invoice_move(
                    invoice_id=invoice_id,
                    expected_from=OPEN_STATUSES,
                    to_status=Status.EXPIRED,
                    resolution=Resolution.EXPIRED,
                    cause="expired",
                    actor=Actor("system", "expiry"),
                )
                expired += 1
            except StatusMoveRefused:
                pass  # someone moved it first; the refusal is recorded
        if len(overdue) < batch:
            break
    return expired
