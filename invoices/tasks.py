"""Celery tasks: each takes ids as keyword arguments and makes one call into services.

Their queues are declared in settings.CELERY_TASK_ROUTES. Every task is
idempotent: running it twice (a redelivery after a worker died) does no harm.
"""

from celery import shared_task

from connectors.base import ProviderUnavailable
from invoices import callbacks, services


@shared_task(
    acks_late=True,
    autoretry_for=(ProviderUnavailable,),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=30,
)
def forward_confirmation(*, invoice_id: str) -> None:
    services.invoice_forward_confirmation(invoice_id=invoice_id)


@shared_task(acks_late=True)
def deliver_callbacks(*, invoice_id: str) -> None:
    callbacks.invoice_callbacks_deliver(invoice_id=invoice_id)


@shared_task
def sweep_callbacks() -> None:
    callbacks.callbacks_sweep()


@shared_task(acks_late=True)
def poll_invoice(*, invoice_id: str) -> None:
    services.invoice_poll(invoice_id=invoice_id)


@shared_task
def poll_due_invoices() -> None:
    for invoice_id in services.invoices_claim_due_polls():
        poll_invoice.delay(invoice_id=invoice_id)


@shared_task
def expire_overdue_invoices() -> None:
    services.invoices_expire_overdue()


@shared_task(acks_late=True)
def process_provider_event(*, event_pk: int) -> None:
    services.provider_event_process(event_pk=event_pk)


@shared_task
def sweep_provider_events() -> None:
    for event_pk in services.provider_events_sweep():
        process_provider_event.delay(event_pk=event_pk)


@shared_task
def purge_idempotency_keys() -> None:
    services.idempotency_keys_purge()
