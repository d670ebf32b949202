"""The status box's fields in the shared cache (Redis), each entry versioned by `sequence`.

Every open checkout page polls its status every few seconds, so the poll is
the most frequent request there is. With Redis, a poll reads the status box's
fields from it and touches no database.

The entry stays exact because it carries the invoice's `sequence` and Redis
keeps it only if it is newer than what it holds (one Lua script: compare and
set). A move writes its fields after its commit; a poll that found nothing
reads the row and offers it the same way. So whichever write lands last, a
newer move is never replaced by an older one (the expiry sweep's `expired`
delayed past a payment's `processed`, or a poll's read from before a move).

An entry lives STATUS_CACHE_SECONDS: a status written outside the state
machine (a data fix in psql, a queryset `.update()`) does not bump `sequence`
and is not written here, so polls show it once the entry expires, and at once
after `manage.py invoice_cache_refresh`.

Redis is an accelerator, never a dependency: short timeouts, and after a
failure this process reads PostgreSQL without asking Redis for a while, so a
Redis that is down or hangs makes polls slower by at most a timeout, never
failing.
"""

import functools
import json
from decimal import Decimal

import redis
from django.conf import settings
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.db import DEFAULT_DB_ALIAS
from django.utils.module_loading import import_string
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from config.redis_circuit import redis_circuit
from invoices.models import Invoice

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
)
_DECIMAL_FIELDS = ("amount", "processed_amount")

# Keep the value (ARGV[2]) for ARGV[3] ms unless the entry holds this sequence
# (ARGV[1]) or a newer one. An equal sequence is not rewritten either: the
# entry then expires on time, which is what bounds a status written around
# the state machine.
_KEEP_IF_NEWER = """
local kept = redis.call('GET', KEYS[1])
if kept then
    local sequence = tonumber(string.match(kept, '^(%d+):'))
    if sequence and sequence >= tonumber(ARGV[1]) then
        return 0
    end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""


@functools.cache
def _is_redis_backend(backend: str) -> bool:
    """Django's Redis cache, or one built on it."""
    return issubclass(import_string(backend), DjangoRedisCache)


@functools.cache
def _client(location: str) -> redis.Redis:
    # One client per process and location; timeouts short enough that a Redis
    # which accepts connections and never answers costs a poll little.
    timeout = settings.STATUS_CACHE_TIMEOUT_SECONDS
    return redis.Redis.from_url(
        location,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), retries=0),  # a retry would double what a dead Redis costs
    )


@functools.cache
def _keep_if_newer(location: str):
    return _client(location).register_script(_KEEP_IF_NEWER)


def _shared() -> tuple[str, str] | None:
    """The default cache's Redis location and key prefix, when that cache is Redis."""
    config = settings.CACHES["default"]
    if not _is_redis_backend(config["BACKEND"]):
        return None
    location = config["LOCATION"]
    location = location[0] if isinstance(location, list | tuple) else location
    return location, config.get("KEY_PREFIX", "")


def enabled() -> bool:
    return _shared() is not None


def status_fields(invoice: Invoice) -> dict:
    return {name: getattr(invoice, name) for name in STATUS_FIELDS}


def _encoded(fields: dict) -> str:
    """`<sequence>:<JSON>`: the script reads the sequence without decoding the rest."""
    values = {
        name: str(value) if isinstance(value, Decimal) else value for name, value in fields.items()
    }
    return f"{fields['sequence']}:{json.dumps(values, separators=(',', ':'))}"


def _decoded(kept: bytes) -> Invoice:
    values = json.loads(kept.split(b":", 1)[1])
    for name in _DECIMAL_FIELDS:
        if values.get(name) is not None:
            values[name] = Decimal(values[name])
    # As if read from the database with only these fields: any other one loads
    # when touched, instead of silently holding its default.
    names = [f.attname for f in Invoice._meta.concrete_fields if f.attname in values]
    return Invoice.from_db(DEFAULT_DB_ALIAS, names, [values[name] for name in names])


def _key(prefix: str, invoice_id: str) -> str:
    return f"{prefix}:invoice-status:{invoice_id}"


def remembered(invoice_id: str) -> Invoice | None:
    """The invoice with its status-box fields from the shared cache, if it holds them."""
    if (shared := _shared()) is None or redis_circuit.open():
        return None
    location, prefix = shared
    try:
        kept = _client(location).get(_key(prefix, invoice_id))
    except RedisError as error:
        redis_circuit.trip(error)
        return None
    return _decoded(kept) if kept is not None else None


def remember(fields: dict) -> None:
    """Keep these fields of an invoice, unless the cache holds its sequence or a newer one."""
    if (shared := _shared()) is None or redis_circuit.open():
        return
    location, prefix = shared
    milliseconds = int(settings.STATUS_CACHE_SECONDS * 1000)
    try:
        _keep_if_newer(location)(
            keys=[_key(prefix, fields["id"])],
            args=[fields["sequence"], _encoded(fields), milliseconds],
        )
    except RedisError as error:
        # The entry keeps what it had, for at most STATUS_CACHE_SECONDS.
        redis_circuit.trip(error)


def forget(invoice_ids: list[str]) -> int:
    """Drop these invoices' entries: the next poll reads each row. For statuses written
    outside the state machine (see `manage.py invoice_cache_refresh`)."""
    if (shared := _shared()) is None or not invoice_ids:
        return 0
    location, prefix = shared
    return _client(location).delete(*(_key(prefix, invoice_id) for invoice_id in invoice_ids))
