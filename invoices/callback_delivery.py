"""Callbacks to merchants (contract section 5): the delivery of what the outbox wrote.

Workers deliver what `outbox.callback_outbox_write` wrote, one invoice at a
time under a lease, outside any transaction, and record every attempt; the
request itself is `callback_http`'s. A sweeper re-enqueues whatever is due,
so a lost Celery message, a killed worker or a restarted broker only delays
a callback.
"""

import functools
import logging
import random
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import Q
from django.utils import timezone

from invoices import callback_http, tasks
from invoices.combined_writes import Insert, Update, write_together
from invoices.models import CallbackAttempt, CallbackDelivery, Invoice, Merchant

logger = logging.getLogger(__name__)


def invoice_callbacks_deliver(*, invoice_id: str) -> int:
    """Deliver the due callbacks of one invoice, oldest move first. Returns how many arrived.

    Holding the invoice's lease, no other worker sends this invoice's
    callbacks meanwhile; the lease expires by itself if this worker dies.
    """
    delivered = 0
    # After releasing the lease, look again: a callback written while we held
    # it was refused a lease by its own task and is ours to send.
    for _ in range(3):
        if not _lease_take(invoice_id):
            return delivered
        try:
            delivered += _deliver_due(invoice_id)
        finally:
            more_due = _lease_release(invoice_id)
        if not more_due:
            break
    return delivered


def _deliver_due(invoice_id: str) -> int:
    """One attempt at each callback due now, read in one query; renews the lease if it runs low."""
    lease_ends = time.monotonic() + settings.CALLBACK_LEASE_SECONDS
    # Twice the longest one attempt can take: with less left, renew before the next.
    attempt_span = 2 * (
        settings.CALLBACK_CONNECT_TIMEOUT_SECONDS + settings.CALLBACK_TIMEOUT_SECONDS
    )
    delivered = 0
    for delivery in _due_with_merchant(invoice_id):
        if lease_ends - time.monotonic() < attempt_span:
            _lease_take(invoice_id, renew=True)
            lease_ends = time.monotonic() + settings.CALLBACK_LEASE_SECONDS
        delivered += _attempt(delivery)
    return delivered


def _lease_take(invoice_id: str, *, renew: bool = False) -> bool:
    now = timezone.now()
    free = Q(callbacks_lease_until__isnull=True) | Q(callbacks_lease_until__lt=now)
    invoices = Invoice.objects.filter(pk=invoice_id)
    if not renew:
        invoices = invoices.filter(free)
    lease = timedelta(seconds=settings.CALLBACK_LEASE_SECONDS)
    return invoices.update(callbacks_lease_until=now + lease) == 1


# next_attempt_at is written by whichever process made the callback: the
# allowance keeps one written a moment ago due on a worker whose clock runs a
# little behind that process's. A retry, tens of seconds away, may leave a
# second early.
_DUE_ALLOWANCE = timedelta(seconds=1)


def _due_by() -> datetime:
    """The time up to which a pending callback is due: one answer for the worker's read
    and for the lease's release, which asks whether more became due meanwhile."""
    return timezone.now() + _DUE_ALLOWANCE


def _due_with_merchant(invoice_id: str) -> list[CallbackDelivery]:
    return list(
        CallbackDelivery.objects.filter(
            invoice_id=invoice_id,
            state=CallbackDelivery.State.PENDING,
            next_attempt_at__lte=_due_by(),
        )
        .select_related("merchant")
        .order_by("sequence", "pk")
    )


@functools.cache
def _lease_release_sql(alias: str) -> str:
    """The release's SQL for this database, built once per process: it runs for every delivery."""
    database = connections[alias]
    invoices, deliveries = Invoice._meta, CallbackDelivery._meta
    quote = database.ops.quote_name
    lease = quote(invoices.get_field("callbacks_lease_until").column)
    sql = (
        # Names from the models' metadata, values as parameters.
        f"UPDATE {quote(invoices.db_table)} SET {lease} = NULL "  # noqa: S608
        f"WHERE {quote(invoices.pk.column)} = %s "
        f"RETURNING EXISTS (SELECT 1 FROM {quote(deliveries.db_table)} "
        f"WHERE {quote(deliveries.get_field('invoice').column)} = %s "
        f"AND {quote(deliveries.get_field('state').column)} = %s "
        f"AND {quote(deliveries.get_field('next_attempt_at').column)} <= %s)"
    )
    return sql


def _lease_release(invoice_id: str) -> bool:
    """Give the lease up; True if a callback of the invoice is due meanwhile. One round trip.

    The EXISTS reads the statement's snapshot, which may predate a move that
    held the invoice's row while this UPDATE waited for it. That move's own
    task then still gets the lease: its lease UPDATE either runs after this
    one commits, or waits for this row lock and re-checks the lease on the
    released row (READ COMMITTED), so the callback is not left to the sweeper.
    """
    sql = _lease_release_sql(connection.alias)
    with connection.cursor() as cursor:
        cursor.execute(sql, [invoice_id, invoice_id, CallbackDelivery.State.PENDING, _due_by()])
        row = cursor.fetchone()
    return bool(row and row[0])


def _attempt(delivery: CallbackDelivery) -> int:
    started_at = timezone.now()
    headers = callback_http.signed_headers(delivery, timestamp=int(time.time()))
    result = callback_http.post_callback(
        delivery.url, bytes(delivery.body), headers, allow_private=delivery.test_mode
    )
    _record_attempt(delivery, started_at=started_at, result=result)
    return 1 if result.ok else 0


def _record_attempt(
    delivery: CallbackDelivery, *, started_at: datetime, result: callback_http.PostResult
) -> None:
    """The attempt's log row and the delivery's new state, together or not at all."""
    attempt = CallbackAttempt(
        delivery=delivery,
        started_at=started_at,
        latency_ms=result.latency_ms,
        status_code=result.status_code,
        error=result.error,
        response_excerpt=result.excerpt,
    )
    attempts = delivery.attempts + 1
    now = timezone.now()
    # Field values by name, of whichever type each field has, as `Update` takes them.
    changes: dict[str, Any] = {"attempts": attempts, "last_attempt_at": now}
    answer = f"HTTP {result.status_code}" if result.status_code is not None else result.error
    if result.ok:
        changes.update(state=CallbackDelivery.State.DELIVERED, delivered_at=now)
    elif now - delivery.pending_since >= timedelta(seconds=settings.CALLBACK_RETRY_WINDOW_SECONDS):
        changes.update(state=CallbackDelivery.State.FAILED)
    else:
        changes.update(next_attempt_at=now + retry_delay(attempts))
    write_together([Insert(attempt), Update(CallbackDelivery, delivery.pk, changes)])
    outcome = {
        CallbackDelivery.State.DELIVERED: "delivered",
        CallbackDelivery.State.FAILED: "failed for good",
    }.get(changes.get("state", ""), "will be retried")
    logger.log(
        logging.WARNING if changes.get("state") == CallbackDelivery.State.FAILED else logging.INFO,
        "callback %s (invoice %s, sequence %s) %s: %s in %s ms, attempt %s",
        delivery.webhook_id,
        delivery.invoice_id,
        delivery.sequence,
        outcome,
        answer,
        result.latency_ms,
        attempts,
    )


def retry_delay(attempts: int) -> timedelta:
    """Exponential back-off, jittered in its upper half: 10 s, 20 s, 40 s ... at most an hour."""
    base = settings.CALLBACK_RETRY_BASE_SECONDS * 2 ** min(attempts - 1, 20)
    capped = min(base, settings.CALLBACK_RETRY_MAX_SECONDS)
    return timedelta(seconds=capped * random.uniform(0.5, 1.0))  # noqa: S311 (jitter, not secrecy)


# Sweeping and resending --------------------------------------------------------


def callbacks_sweep(*, limit: int = 1000) -> int:
    """Enqueue delivery for every invoice with a due callback and no live lease."""
    now = timezone.now()
    invoice_ids = set(
        CallbackDelivery.objects.filter(
            state=CallbackDelivery.State.PENDING, next_attempt_at__lte=now
        )
        .exclude(invoice__callbacks_lease_until__gt=now)
        .order_by("next_attempt_at")
        .values_list("invoice_id", flat=True)[:limit]
    )

    for invoice_id in invoice_ids:
        tasks.deliver_callbacks.delay(invoice_id=invoice_id)
    return len(invoice_ids)


@transaction.atomic
def callbacks_resend(*, delivery_ids: list[int]) -> int:
    """Send these callbacks again now (same body, same webhook-id), with a fresh retry window."""
    now = timezone.now()
    deliveries = CallbackDelivery.objects.filter(pk__in=delivery_ids)
    invoice_ids = set(deliveries.values_list("invoice_id", flat=True))
    count = deliveries.update(
        state=CallbackDelivery.State.PENDING, next_attempt_at=now, pending_since=now
    )
    for invoice_id in invoice_ids:
        tasks.enqueue_after_commit(tasks.deliver_callbacks, invoice_id=invoice_id)
    return count


def callbacks_failed_ids(*, merchant: Merchant, since: datetime, until: datetime) -> list[int]:
    """Every callback of `merchant` written in [since, until) that was given up on."""
    failed = CallbackDelivery.objects.filter(
        merchant=merchant,
        state=CallbackDelivery.State.FAILED,
        created_at__gte=since,
        created_at__lt=until,
    )
    return list(failed.values_list("pk", flat=True))


def invoice_callback_resend(*, invoice_id: str) -> int:
    """The invoice's latest callback, sent again."""
    latest = CallbackDelivery.objects.filter(invoice_id=invoice_id).order_by("-sequence").first()
    return callbacks_resend(delivery_ids=[latest.pk]) if latest else 0
