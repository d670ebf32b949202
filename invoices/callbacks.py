"""Callbacks to merchants (contract section 5): the delivery of what the outbox wrote.

Workers deliver what `outbox.callback_outbox_write` wrote, one invoice at a
time under a lease, outside any transaction; a sweeper re-enqueues whatever
is due, so a lost Celery message, a killed worker or a restarted broker only
delays a callback.
"""

import functools
import ipaddress
import logging
import random
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import Q
from django.utils import timezone
from requests.adapters import HTTPAdapter

from invoices import selectors, tasks
from invoices.combined_writes import Insert, Update, write_together
from invoices.models import CallbackAttempt, CallbackDelivery, Invoice, Merchant
from invoices.signing import legacy_signature, standard_webhook_signature, webhook_key

logger = logging.getLogger(__name__)

USER_AGENT = "invoice-checkout-callbacks/1.0"
RESPONSE_EXCERPT_BYTES = 1000


# Delivery --------------------------------------------------------------------


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


def _due_by():
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


@dataclass(frozen=True)
class PostResult:
    status_code: int | None
    error: str
    excerpt: str
    latency_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def signed_headers(delivery: CallbackDelivery, *, timestamp: int) -> dict[str, str]:
    credentials = selectors.merchant_credentials(merchant=delivery.merchant)
    secret_key = credentials.secret_key_test if delivery.test_mode else credentials.secret_key_live
    body = bytes(delivery.body)
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Signature": legacy_signature(secret_key=secret_key, body=body),
        "webhook-id": delivery.webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_webhook_signature(
            key=webhook_key(credentials.webhook_secret),
            webhook_id=delivery.webhook_id,
            timestamp=timestamp,
            body=body,
        ),
    }


def _attempt(delivery: CallbackDelivery) -> int:
    started_at = timezone.now()
    headers = signed_headers(delivery, timestamp=int(time.time()))
    result = post_callback(
        delivery.url, bytes(delivery.body), headers, allow_private=delivery.test_mode
    )
    _record_attempt(delivery, started_at=started_at, result=result)
    return 1 if result.ok else 0


def _record_attempt(
    delivery: CallbackDelivery, *, started_at: datetime, result: PostResult
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
    changes = {"attempts": attempts, "last_attempt_at": now}
    if result.ok:
        changes.update(state=CallbackDelivery.State.DELIVERED, delivered_at=now)
    elif now - delivery.pending_since >= timedelta(seconds=settings.CALLBACK_RETRY_WINDOW_SECONDS):
        changes.update(state=CallbackDelivery.State.FAILED)
        logger.warning("callback %s gave up after %s attempts", delivery.webhook_id, attempts)
    else:
        changes.update(next_attempt_at=now + retry_delay(attempts))
    write_together([Insert(attempt), Update(CallbackDelivery, delivery.pk, changes)])


def retry_delay(attempts: int) -> timedelta:
    """Exponential back-off, jittered in its upper half: 10 s, 20 s, 40 s ... at most an hour."""
    base = settings.CALLBACK_RETRY_BASE_SECONDS * 2 ** min(attempts - 1, 20)
    capped = min(base, settings.CALLBACK_RETRY_MAX_SECONDS)
    return timedelta(seconds=capped * random.uniform(0.5, 1.0))  # noqa: S311 (jitter, not secrecy)


# Sending ---------------------------------------------------------------------


class AddressNotAllowed(Exception):
    pass


def _public_addresses(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, refusing any that is not globally routable."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise AddressNotAllowed(f"cannot resolve {host}: {error}") from None
    addresses = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        # Loopback, private, link-local (cloud metadata), multicast, reserved,
        # shared and unspecified ranges are all not global.
        if not address.is_global or address.is_multicast:
            raise AddressNotAllowed(f"{host} resolves to {address}, which is not a public address")
        addresses.append(str(address))
    return addresses


class PinnedAddressAdapter(HTTPAdapter):
    """Connect to an address checked beforehand, keeping the URL's host for Host and TLS.

    Resolving once and connecting to what was checked is what stops DNS
    rebinding: a second lookup could answer with a private address.
    """

    def __init__(self, address: str):
        self._address = address
        super().__init__(max_retries=0)

    def add_headers(self, request, **kwargs):
        # The connection is to an address, so the name must travel in Host.
        request.headers.setdefault("Host", urlsplit(request.url).netloc)

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        hostname = host_params["host"]
        if host_params["scheme"] == "https":
            pool_kwargs = {**pool_kwargs, "server_hostname": hostname, "assert_hostname": hostname}
        return self.poolmanager.connection_from_host(
            **{**host_params, "host": self._address}, pool_kwargs=pool_kwargs
        )


# Connections are kept between callbacks: a merchant receiving many callbacks
# gets them over a few kept-alive connections instead of a new TCP (and TLS)
# handshake each. One session per (scheme, host, checked address): a host that
# now resolves elsewhere gets a new session, never the old connection.
_SESSIONS: OrderedDict[tuple[str, str, str | None], requests.Session] = OrderedDict()
_SESSIONS_KEPT = 64
_sessions_lock = threading.Lock()


def _session_for(scheme: str, netloc: str, address: str | None) -> requests.Session:
    key = (scheme, netloc, address)
    with _sessions_lock:
        session = _SESSIONS.get(key)
        if session is not None:
            _SESSIONS.move_to_end(key)
            return session
        session = requests.Session()
        session.trust_env = False  # no proxies from the environment: callbacks go where they say
        if address is not None:
            session.mount(f"{scheme}://", PinnedAddressAdapter(address))
        else:
            session.mount(f"{scheme}://", HTTPAdapter(max_retries=0))
        _SESSIONS[key] = session
        if len(_SESSIONS) > _SESSIONS_KEPT:
            _, oldest = _SESSIONS.popitem(last=False)
            oldest.close()
        return session


def post_callback(
    url: str, body: bytes, headers: dict[str, str], *, allow_private: bool
) -> PostResult:
    """POST once, never following redirects; every outcome becomes a `PostResult`."""
    started = time.monotonic()

    def result(status_code=None, error="", excerpt="") -> PostResult:
        latency = int((time.monotonic() - started) * 1000)
        return PostResult(status_code, error, excerpt, latency)

    parts = urlsplit(url)
    address = None
    if not allow_private:
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            address = _public_addresses(parts.hostname or "", port)[0]
        except (AddressNotAllowed, ValueError) as refused:
            return result(error=f"refused: {refused}")
    session = _session_for(parts.scheme, parts.netloc, address)
    try:
        # A short answer read to its end leaves the connection reusable; a
        # longer one is cut at the excerpt and its connection closed.
        with session.post(
            url,
            data=body,
            headers=headers,
            timeout=(settings.CALLBACK_CONNECT_TIMEOUT_SECONDS, settings.CALLBACK_TIMEOUT_SECONDS),
            allow_redirects=False,
            stream=True,
        ) as response:
            excerpt = response.raw.read(RESPONSE_EXCERPT_BYTES, decode_content=True) or b""
            return result(response.status_code, excerpt=excerpt.decode(errors="replace"))
    except requests.exceptions.SSLError as error:
        return result(error=f"TLS error: {error}")
    except requests.exceptions.Timeout:
        return result(error=f"timed out after {settings.CALLBACK_TIMEOUT_SECONDS} s")
    except requests.exceptions.ConnectionError as error:
        return result(error=f"connection failed: {error}")
    except requests.exceptions.RequestException as error:
        return result(error=f"request failed: {error}")


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
        tasks.deliver_callbacks.delay_on_commit(invoice_id=invoice_id)
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
