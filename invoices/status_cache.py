"""The status box's fields in the shared cache, written when a move commits.

Every open checkout page polls its status every few seconds, so the poll is
the most frequent request there is. With a shared cache (Redis), a poll
reads the fields of the status box from it and touches no database. The
cache stays exact because the state machine writes the new fields when a move
commits (`remember`); a poll that found nothing reads the row and only *adds*
it, so a row read before a move can never overwrite what that move wrote.

A cache local to each process cannot hear of a move made in another (a
worker), so without a shared cache every poll reads the row.
"""

import functools
import logging
import pickle

import redis
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS
from redis.exceptions import RedisError

from invoices.models import Invoice

logger = logging.getLogger(__name__)

# The fields of the status box: the poll reads these and nothing else.
STATUS_FIELDS = (
    "id",
    "status",
    "test_mode",
    "amount",
    "currency",
    "processed_amount",
    "return_url",
    "return_urls",
    "locale",
)
# Moves write through, so this only bounds how long an entry could outlive a
# failed write (Redis unreachable just as a move committed).
KEPT_SECONDS = 60


@functools.cache
def _client(location: str) -> redis.Redis:
    # One client per process and location: Django's cache builds a new client
    # on every call, which cost the poll more than the lookup itself. Short
    # timeouts: a Redis that hangs must not hang the poll, which then reads
    # the row instead.
    return redis.Redis.from_url(location, socket_connect_timeout=1, socket_timeout=1)


def _shared() -> tuple[redis.Redis, str] | None:
    """The client of the default cache and its key prefix, when that cache is Redis."""
    config = settings.CACHES["default"]
    if config["BACKEND"] != "django.core.cache.backends.redis.RedisCache":
        return None
    location = config["LOCATION"]
    location = location[0] if isinstance(location, list | tuple) else location
    return _client(location), config.get("KEY_PREFIX", "")


def enabled() -> bool:
    return _shared() is not None


def status_fields(invoice: Invoice) -> dict:
    return {name: getattr(invoice, name) for name in STATUS_FIELDS}


def remembered(invoice_id: str) -> Invoice | None:
    """The invoice's status-box fields from the shared cache, if it holds them."""
    if (shared := _shared()) is None:
        return None
    client, prefix = shared
    try:
        kept = client.get(f"{prefix}:invoice-status:{invoice_id}")
    except RedisError as error:
        logger.warning("status cache unreadable: %s", error)
        return None
    if kept is None:
        return None
    # Only this module writes these keys, in a Redis as trusted as the database.
    fields = pickle.loads(kept)  # noqa: S301
    # As if read from the database with only these fields: any other one loads
    # when touched, instead of silently holding its default.
    names = [f.attname for f in Invoice._meta.concrete_fields if f.attname in fields]
    return Invoice.from_db(DEFAULT_DB_ALIAS, names, [fields[name] for name in names])


def remember(invoice_id: str, fields: dict, *, moved: bool) -> None:
    """Keep these fields; a move replaces what is kept, a poll's read only fills a gap."""
    if (shared := _shared()) is None:
        return
    client, prefix = shared
    key = f"{prefix}:invoice-status:{invoice_id}"
    try:
        client.set(key, pickle.dumps(fields), ex=KEPT_SECONDS, nx=not moved)
    except RedisError as error:
        logger.warning("status cache not written for %s: %s", invoice_id, error)
        if moved:
            _forget(client, key)


def _forget(client: redis.Redis, key: str) -> None:
    try:
        client.delete(key)
    except RedisError as error:
        # Kept at most KEPT_SECONDS: the poll shows the old status until then.
        logger.error("status cache holds a stale %s: %s", key, error)
