"""Celery tasks: each takes ids as keyword arguments and makes one call into services.

Their queues are declared in settings.CELERY_TASK_ROUTES.
"""

from celery import shared_task

from connectors.base import ProviderUnavailable
from invoices import services


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


@shared_task
def purge_idempotency_keys() -> None:
    services.idempotency_keys_purge()
