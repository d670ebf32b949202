"""Celery tasks: each takes ids as keyword arguments and makes one call into services.

Their queues are declared in settings.CELERY_TASK_ROUTES. Every task is
idempotent: running it twice (a redelivery after a worker died) does no harm.

Services import this module to enqueue; a task imports its service in its
body. So imports run one way, from the services to the tasks, and nothing
imported here at module level may import a service.
"""

from celery import Task, shared_task
from django.db import transaction

from connectors.base import ProviderUnavailable


def enqueue_after_commit(task: Task[..., object], **kwargs: object) -> None:
    """Queue `task` once the current transaction commits (at once outside one).

    A broker that is down or hangs costs the caller one short timeout
    (BROKER_SOCKET_TIMEOUT_SECONDS) and a logged error, never its answer: what
    was committed stands, and the beat's sweeps queue callbacks, provider
    events and polls again from the database.
    """

    def enqueue() -> None:
        task.delay(**kwargs)

    # Named: Django's robust on_commit logs a failure with the function's qualified name.
    enqueue.__qualname__ = f"enqueue {task.name}"
    transaction.on_commit(enqueue, robust=True)


@shared_task(
    acks_late=True,
    autoretry_for=(ProviderUnavailable,),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=30,
)
def forward_confirmation(*, invoice_id: str) -> None:
    from invoices import services

    services.invoice_forward_confirmation(invoice_id=invoice_id)


@shared_task(acks_late=True)
def deliver_callbacks(*, invoice_id: str) -> None:
    from invoices import callback_delivery

    callback_delivery.invoice_callbacks_deliver(invoice_id=invoice_id)


@shared_task
def sweep_callbacks() -> None:
    from invoices import callback_delivery

    callback_delivery.callbacks_sweep()


@shared_task(acks_late=True)
def poll_invoice(*, invoice_id: str) -> None:
    from invoices import services

    services.invoice_poll(invoice_id=invoice_id)


@shared_task
def poll_due_invoices() -> None:
    from invoices import services

    for invoice_id in services.invoices_claim_due_polls():
        poll_invoice.delay(invoice_id=invoice_id)


@shared_task
def expire_overdue_invoices() -> None:
    from invoices import services

    services.invoices_expire_overdue()


@shared_task(acks_late=True)
def process_provider_event(*, event_pk: int) -> None:
    from invoices import services

    services.provider_event_process(event_pk=event_pk)


@shared_task
def sweep_provider_events() -> None:
    from invoices import services

    for event_pk in services.provider_events_sweep():
        process_provider_event.delay(event_pk=event_pk)


@shared_task
def purge_idempotency_keys() -> None:
    from invoices import services

    services.idempotency_keys_purge()
