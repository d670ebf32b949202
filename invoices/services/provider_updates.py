"""What providers tell us about an invoice, as an answer or as a notification,
turned into one guarded move each.

A notification is verified and kept first, then applied by a task: a provider
that repeats itself (the same event id) is applied once.
"""

import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from connectors.base import ProviderRejected, ProviderStatus
from connectors.registry import UnknownConnector, get_connector
from invoices import selectors, tasks
from invoices.models import Invoice, ProviderEvent, Service
from invoices.services.moves import invoice_move
from invoices.state_machine import Actor, StatusMoveRefused
from invoices.statuses import Status

logger = logging.getLogger(__name__)


def invoice_apply_provider_status(
    *, invoice_id: str, answer: ProviderStatus, cause: str, actor: Actor
) -> Invoice | None:
    """Turn a provider's answer into one guarded move; an answer that changes nothing is a no-op."""
    invoice = Invoice.objects.filter(pk=invoice_id).only("status").first()
    if invoice is None or answer.status == invoice.status:
        return invoice
    if answer.status not in Status.values or answer.status == Status.CREATED:
        logger.warning("invoice %s: ignoring provider status %r", invoice_id, answer.status)
        return invoice
    try:
        return invoice_move(
            invoice_id=invoice_id,
            to_status=answer.status,
            resolution=answer.resolution,
            resolution_message=answer.message,
            processed_amount=answer.processed_amount,
            cause=cause,
            actor=actor,
        )
    except StatusMoveRefused as refused:
        logger.warning("invoice %s: provider answer not applied: %s", invoice_id, refused)
        return None


class NotificationRefused(Exception):
    """Not a notification we accept: unknown connector, bad signature, malformed body."""


class NotificationEndpointUnknown(NotificationRefused):
    """No service with this code uses this connector."""


def provider_notification_receive(
    *, connector_name: str, request: HttpRequest, service_code: str | None = None
) -> bool:
    """Verify and keep a provider's notification; processing happens in a task.

    With `service_code` (the service's own notification URL) it is verified with
    that service's secret and applies to that service's invoices only; without,
    with the connector's process-wide settings (the URL of before per-service
    credentials, for orders created then).
    Returns False for an event id already received (the provider repeats itself).
    """
    service = None
    if service_code is not None:
        service = selectors.service_for_notifications(
            connector_name=connector_name, service_code=service_code
        )
        if service is None:
            raise NotificationEndpointUnknown(
                f"No service {service_code!r} uses the {connector_name!r} connector."
            )
    try:
        connector = get_connector(connector_name)
        notification = connector.parse_notification(
            request, selectors.service_connector_settings(service=service) if service else {}
        )
    except (UnknownConnector, ProviderRejected) as refused:
        raise NotificationRefused(str(refused)) from None
    answer = notification.status
    try:
        with transaction.atomic():
            event = ProviderEvent.objects.create(
                connector=connector.name,
                service=service,
                event_id=notification.event_id,
                provider_reference=notification.provider_reference,
                status=answer.status,
                resolution=answer.resolution,
                message=answer.message or "",
                processed_amount=answer.processed_amount,
            )
            tasks.enqueue_after_commit(tasks.process_provider_event, event_pk=event.pk)
    except IntegrityError:
        return False
    return True


def provider_event_process(*, event_pk: int) -> None:
    """Apply a kept notification to its invoice, once."""
    event = ProviderEvent.objects.filter(pk=event_pk, processed_at__isnull=True).first()
    if event is None:
        return
    # A secret speaks only for its own account: a service's notification for
    # that service's invoices, the process-wide secret's for services that
    # have no secrets of their own. Either way the lookup is by (service,
    # provider reference), the unique index.
    if event.service_id is not None:
        service_ids = [event.service_id]
    else:
        service_ids = list(
            Service.objects.filter(connector=event.connector, connector_secrets="").values_list(
                "id", flat=True
            )
        )
    invoices = Invoice.objects.filter(
        connector=event.connector,
        service_id__in=service_ids,
        provider_reference=event.provider_reference,
    )
    invoice_id = invoices.values_list("id", flat=True).first()
    if invoice_id is None:
        outcome = "no invoice has this provider reference"
    else:
        moved = invoice_apply_provider_status(
            invoice_id=invoice_id,
            answer=ProviderStatus(
                status=event.status,
                resolution=event.resolution,
                message=event.message or None,
                processed_amount=event.processed_amount,
            ),
            cause="provider_notified",
            actor=Actor("connector", event.connector),
        )
        outcome = f"applied to {invoice_id}" if moved else f"nothing to apply to {invoice_id}"
    ProviderEvent.objects.filter(pk=event_pk).update(processed_at=timezone.now(), outcome=outcome)


def provider_events_sweep(*, older_than_seconds: float = 30) -> list[int]:
    """Notifications kept but not processed (their task was lost): to process again."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return list(
        ProviderEvent.objects.filter(processed_at__isnull=True, received_at__lte=cutoff)
        .order_by("received_at")
        .values_list("pk", flat=True)[:500]
    )
