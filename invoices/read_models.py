"""What is derived from an invoice's status, kept in the shared cache by one owner.

Two read models per invoice live in Redis:
- the status box's fields, which every open checkout page polls for every few
  seconds (the most frequent request there is);
- the API document, the body of `GET /api/payment-invoices/{id}`, with the
  merchant and mode it belongs to.

They are written in one place, `refresh_after_commit`, which the services call
for a new invoice and after every move; a reader that finds no entry builds it
from PostgreSQL and offers it back. Each entry carries the invoice's
`sequence`, and Redis keeps a write only if it is newer than what it holds
(one Lua script: compare and set). So whichever write lands last, a newer move
is never replaced by an older one (the expiry sweep's `expired` delayed past a
payment's `processed`, or a reader's row from before a move).

An entry lives READ_MODEL_SECONDS: a status written outside the state machine
(a data fix in psql, a queryset `.update()`) does not bump `sequence` and is
not written here, so readers show it once the entry expires, and at once after
`manage.py invoice_cache_refresh`.

Redis is an accelerator, never a dependency: short timeouts, and after a
failure this process reads PostgreSQL without asking Redis for a while (see
`config.redis_circuit`). Without Redis (the zero-setup run) nothing is kept:
a cache per process would miss the moves other processes make.
"""

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

import redis
from django.conf import settings
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.db import DEFAULT_DB_ALIAS, transaction
from django.utils.module_loading import import_string
from django_redis.cache import RedisCache as DjangoRedisLibraryCache
from redis.backoff import NoBackoff
from redis.commands.core import Script
from redis.retry import Retry

from config.redis_circuit import REDIS_ERRORS, redis_circuit
from invoices.models import Invoice
from invoices.resources import invoice_document

# The fields of the status box: the poll reads these and nothing else.
STATUS_FIELDS = (
    "id",
    "sequence",
    "status",
    "test_mode",
    "amount",
    "currency",
    "processed_amount",
    "return_url",
    "return_urls",
    "locale",
    "merchant_id",
    # And what the hosted page needs beside them (see selectors.hosted_invoice_get).
    "service_id",
    "confirmation_schema_json",
    # And what the payer may ask for once it is final (invoices.services.second_chance).
    "payment_amount",
    "next_invoice_id",
    "reissue_count",
)
_DECIMAL_FIELDS = ("amount", "payment_amount", "processed_amount")

# For each key KEYS[i], keep ARGV[i + 2] for ARGV[2] ms unless the entry holds
# the sequence ARGV[1] or a newer one. An equal sequence is not rewritten
# either: the entry then expires on time, which is what bounds a status
# written around the state machine.
_KEEP_IF_NEWER = """
local written = 0
for i, key in ipairs(KEYS) do
    local kept = redis.call('GET', key)
    local sequence = kept and tonumber(string.match(kept, '^(%d+):'))
    if not (sequence and sequence >= tonumber(ARGV[1])) then
        redis.call('SET', key, ARGV[i + 2], 'PX', ARGV[2])
        written = written + 1
    end
end
return written
"""


@functools.cache
def _is_redis_backend(backend: str) -> bool:
    """django-redis or Django's own Redis cache, or one built on either."""
    return issubclass(import_string(backend), (DjangoRedisCache, DjangoRedisLibraryCache))


@functools.cache
def _client(location: str, *, for_a_move: bool = False) -> redis.Redis:
    # One client per process and location; timeouts short enough that a Redis
    # which accepts connections and never answers costs a request little. A
    # move's write may wait a little longer: every other process reads it.
    timeout = (
        settings.READ_MODEL_MOVE_TIMEOUT_SECONDS
        if for_a_move
        else settings.READ_MODEL_TIMEOUT_SECONDS
    )
    return redis.Redis.from_url(
        location,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), retries=0),  # a retry would double what a dead Redis costs
    )


@functools.cache
def _keep_if_newer(location: str, *, for_a_move: bool = False) -> Script:
    return _client(location, for_a_move=for_a_move).register_script(_KEEP_IF_NEWER)


def _shared() -> tuple[str, str] | None:
    """The default cache's Redis location and key prefix, when that cache is Redis."""
    config = settings.CACHES["default"]
    if not _is_redis_backend(config["BACKEND"]):
        return None
    location = config["LOCATION"]
    location = location[0] if isinstance(location, list | tuple) else location
    return location, config.get("KEY_PREFIX", "")


def enabled() -> bool:
    """Whether the default cache is one every process shares (Redis)."""
    return _shared() is not None


# Encoding: `<sequence>:<rest>`, so the script reads the sequence without decoding the rest.


def _status_encoded(invoice: Invoice) -> str:
    values = {name: getattr(invoice, name) for name in STATUS_FIELDS}
    values = {
        name: str(value) if isinstance(value, Decimal) else value for name, value in values.items()
    }
    return f"{invoice.sequence}:{json.dumps(values, separators=(',', ':'))}"


def _status_decoded(kept: bytes) -> Invoice:
    values = json.loads(kept.split(b":", 1)[1])
    for name in _DECIMAL_FIELDS:
        if values.get(name) is not None:
            values[name] = Decimal(values[name])
    # As if read from the database with only these fields: any other one loads
    # when touched, instead of silently holding its default.
    names = [f.attname for f in Invoice._meta.concrete_fields if f.attname in values]
    return Invoice.from_db(DEFAULT_DB_ALIAS, names, [values[name] for name in names])


@dataclass(frozen=True)
class InvoiceDocument:
    """The API document of one invoice, and whose it is."""

    merchant_id: int
    test_mode: bool
    body: bytes


def _document_encoded(invoice: Invoice, body: bytes) -> bytes:
    head = f"{invoice.sequence}:{invoice.merchant_id}:{int(invoice.test_mode)}:".encode()
    return head + body


def _document_decoded(kept: bytes) -> InvoiceDocument:
    _, merchant_id, test_mode, body = kept.split(b":", 3)
    return InvoiceDocument(merchant_id=int(merchant_id), test_mode=test_mode == b"1", body=body)


def _status_key(prefix: str, invoice_id: str) -> str:
    return f"{prefix}:invoice-status:{invoice_id}"


def _document_key(prefix: str, invoice_id: str) -> str:
    return f"{prefix}:invoice-document:{invoice_id}"


# The key of one read model of an invoice: (key prefix, invoice id) -> key.
_KeyOf = Callable[[str, str], str]


def _get(key_of: _KeyOf, invoice_id: str) -> bytes | None:
    if (shared := _shared()) is None or redis_circuit.open():
        return None
    location, prefix = shared
    try:
        kept = _client(location).get(key_of(prefix, invoice_id))
    except REDIS_ERRORS as error:
        redis_circuit.trip(error)
        return None
    # The client decodes nothing (no decode_responses): what Redis holds comes as bytes.
    assert not isinstance(kept, str)
    return kept


def _keep(
    invoice: Invoice, entries: Mapping[_KeyOf, str | bytes], *, for_a_move: bool = False
) -> None:
    """Keep these entries of one invoice, each unless it holds the invoice's sequence or a
    newer one. `entries` maps a key function to the encoded value.

    A reader's offer is skipped while this process leaves Redis alone; a move's
    write is always tried: other processes may be reading Redis meanwhile, and
    without it they would show the status before the move.
    """
    if (shared := _shared()) is None or (redis_circuit.open() and not for_a_move):
        return
    location, prefix = shared
    milliseconds = int(settings.READ_MODEL_SECONDS * 1000)
    try:
        _keep_if_newer(location, for_a_move=for_a_move)(
            keys=[key_of(prefix, invoice.id) for key_of in entries],
            args=[invoice.sequence, milliseconds, *entries.values()],
        )
    except REDIS_ERRORS as error:
        # Each entry keeps what it had, for at most READ_MODEL_SECONDS.
        redis_circuit.trip(error)


def status_get(invoice_id: str) -> Invoice | None:
    """The invoice with its status-box fields, if the shared cache holds them."""
    kept = _get(_status_key, invoice_id)
    return _status_decoded(kept) if kept is not None else None


def status_offer(invoice: Invoice) -> None:
    """A status box read from the row, for the next reader."""
    _keep(invoice, {_status_key: _status_encoded(invoice)})


def document_get(invoice_id: str) -> InvoiceDocument | None:
    kept = _get(_document_key, invoice_id)
    return _document_decoded(kept) if kept is not None else None


def document_offer(invoice: Invoice, body: bytes) -> None:
    _keep(invoice, {_document_key: _document_encoded(invoice, body)})


def refresh(invoice: Invoice) -> None:
    """Write every read model of this invoice as it now is (with its merchant and service
    loaded)."""
    _keep(
        invoice,
        {
            _status_key: _status_encoded(invoice),
            _document_key: _document_encoded(invoice, invoice_document(invoice)),
        },
        for_a_move=True,
    )


def refresh_after_commit(invoice: Invoice) -> None:
    """After the commit that wrote this state (at once outside a transaction): a reader must
    never see a move that may still roll back."""
    if enabled():
        transaction.on_commit(lambda: refresh(invoice))


def forget(invoice_ids: list[str]) -> int:
    """Drop these invoices' read models: the next readers rebuild them from their rows. For
    statuses written outside the state machine (see `manage.py invoice_cache_refresh`)."""
    if (shared := _shared()) is None or not invoice_ids:
        return 0
    location, prefix = shared
    keys = [key_of(prefix, i) for i in invoice_ids for key_of in (_status_key, _document_key)]
    return _client(location).delete(*keys)
