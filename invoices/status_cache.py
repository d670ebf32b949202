"""The status box's fields in the shared cache, written when a move commits.

Every open checkout page polls its status every few seconds, so the poll is
the most frequent request there is. With a shared cache (Redis), a poll
reads the fields of the status box from it and touches no database. The
cache stays exact because the state machine writes the new fields when a move
commits (`remember`); a poll that found nothing reads the row and only *adds*
it, so a row read before a move can never overwrite what that move wrote.

A cache local to each process cannot hear of a move made in another (a
worker), so without a shared cache every poll reads the row.

With Redis, each web process also keeps its own copies of the entries it
read (`_TrackedCopies`), so a repeated poll makes no round trip at all. They
stay exact because Redis's client tracking tells the process of every change
to a key it read: a listener connection receives the key and drops the copy,
within the time a message takes on the wire. When either connection is lost,
the copies are dropped and polls read Redis until tracking is back.
"""

import functools
import logging
import os
import pickle
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import redis
from django.conf import settings
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.db import DEFAULT_DB_ALIAS
from django.utils.module_loading import import_string
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
# Says whether the copy an answer was made from is still the current entry.
Witness = Callable[[], bool]

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


class _TrackedCopies:
    """This process's copies of status entries, each dropped as soon as Redis says it changed.

    Redis (6+) tracks the keys read on the reader connection and sends the
    key of any change to the listener connection (CLIENT TRACKING ... REDIRECT).
    A read that an invalidation overtakes is not kept (the epoch moved), a
    copy is kept no longer than the entry itself (KEPT_SECONDS), and the
    oldest copies go first beyond MAX_ENTRIES. Both connections are watched:
    a closed one drops every copy. A network cut that closes neither is
    noticed by the listener's PING within 2 * LISTENER_IDLE_SECONDS.
    """

    MAX_ENTRIES = 10_000
    # Silence on the listener longer than this is answered with a PING; a
    # second silence means the connection is gone.
    LISTENER_IDLE_SECONDS = 5

    def __init__(self, location: str):
        self._location = location
        self._lock = threading.Lock()
        self._copies: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self._epoch = 0
        self._reader: redis.Redis | None = None  # set while tracking works
        threading.Thread(
            target=self._listen, name="status-cache-invalidations", daemon=True
        ).start()

    def get(self, key: str, fallback: redis.Redis) -> tuple[bytes | None, Witness | None]:
        """The entry, and while this process holds a copy of it, what tells if it still does."""
        with self._lock:
            reader = self._reader
            copy = self._copies.get(key) if reader is not None else None
            if copy is not None and copy[1] <= time.monotonic():
                copy = None
        if reader is None:
            return fallback.get(key), None
        with reader.single_connection_lock:
            # Held again after the connection check: a check that found the socket
            # closed and reconnected has dropped every copy (see _tracked_reader).
            if (
                copy is not None
                and self._reader_connected(reader)
                and self._holds(key, copy, reader)
            ):
                return copy[0], self._witness(key, copy, reader)
            epoch = self._epoch
            value = reader.get(key)  # from now on Redis tells us when this key changes
        if value is None:
            return None, None
        with self._lock:
            if self._epoch != epoch or self._reader is not reader:
                return value, None
            copy = self._copies[key] = (value, time.monotonic() + KEPT_SECONDS)
            while len(self._copies) > self.MAX_ENTRIES:
                self._copies.popitem(last=False)
        return value, self._witness(key, copy, reader)

    def _holds(self, key: str, copy: tuple[bytes, float], reader: redis.Redis) -> bool:
        with self._lock:
            return (
                self._reader is reader
                and self._copies.get(key) is copy
                and copy[1] > time.monotonic()
            )

    def _witness(self, key: str, copy: tuple[bytes, float], reader: redis.Redis) -> Witness:
        def still_current() -> bool:
            """While this very copy is held: no invalidation, expiry or lost connection since."""
            if not self._holds(key, copy, reader):
                return False
            with reader.single_connection_lock:
                return self._reader_connected(reader) and self._holds(key, copy, reader)

        return still_current

    def _reader_connected(self, reader: redis.Redis) -> bool:
        """Whether the reader's connection (and so its tracking) is intact.

        Redis forgets what a closed connection read, so no invalidation would
        come for it: a closed reader makes every copy suspect. This only looks
        at the socket (the reader is never sent anything unasked), no round trip.
        """
        connection = reader.connection
        try:
            intact = connection is not None and not connection.can_read(timeout=0)
        except (RedisError, OSError):
            intact = False
        if not intact:
            self.drop()
            if connection is not None:
                connection.disconnect()  # the next read reconnects, with tracking
        return intact

    def drop(self, key: str | None = None) -> None:
        """Forget one copy (or all): this process changed it, or Redis said so."""
        with self._lock:
            if key is None:
                self._copies.clear()
            else:
                self._copies.pop(key, None)
            self._epoch += 1

    def _stop_tracking(self) -> None:
        with self._lock:
            self._reader = None
            self._copies.clear()
            self._epoch += 1

    def _listen(self) -> None:
        failures = 0
        while True:
            # RESP2: invalidations arrive as ordinary pub/sub messages on a
            # connection of their own (REDIRECT), which works on any Redis 6+.
            pool = redis.ConnectionPool.from_url(
                self._location, socket_connect_timeout=1, socket_timeout=1, protocol=2
            )
            listener = pool.make_connection()
            try:
                listener.connect()
                listener.send_command("CLIENT", "ID")
                listener_id = listener.read_response()
                listener.send_command("SUBSCRIBE", "__redis__:invalidate")
                listener.read_response()
                reader = self._tracked_reader(listener_id)
                with self._lock:
                    self._copies.clear()
                    self._epoch += 1
                    self._reader = reader
                failures = 0
                self._receive(listener)
            except Exception as error:  # noqa: BLE001 - any failure: stop trusting copies
                self._stop_tracking()
                failures += 1
                if failures in (1, 10):
                    logger.warning("status cache: invalidations not received: %s", error)
            finally:
                listener.disconnect()
                pool.disconnect()
            time.sleep(min(30, 0.5 * 2**failures))

    def _tracked_reader(self, listener_id: int) -> redis.Redis:
        def track(connection) -> None:
            # On every (re)connect: a new connection has no tracking, and what
            # was read on the old one will not be announced.
            connection.on_connect()
            connection.send_command("CLIENT", "TRACKING", "ON", "REDIRECT", listener_id)
            if connection.read_response() not in (b"OK", "OK"):
                raise redis.RedisError("CLIENT TRACKING refused")
            self.drop()

        return redis.Redis.from_url(
            self._location,
            socket_connect_timeout=1,
            socket_timeout=1,
            redis_connect_func=track,
            single_connection_client=True,
            protocol=2,
        )

    def _receive(self, listener) -> None:
        unanswered_pings = 0
        while True:
            if not listener.can_read(timeout=self.LISTENER_IDLE_SECONDS):
                if unanswered_pings:
                    raise redis.ConnectionError("the invalidation listener went silent")
                listener.send_command("PING")
                unanswered_pings += 1
                continue
            message = listener.read_response()
            kind = message[0] if isinstance(message, list | tuple) and message else None
            if kind in (b"pong", "pong"):
                unanswered_pings = 0
            elif kind in (b"message", "message"):
                keys = message[2]
                if keys is None:  # the whole database was flushed
                    self.drop()
                else:
                    for key in keys:
                        self.drop(key.decode() if isinstance(key, bytes) else key)


# Per process (a forked child starts its own listener) and Redis location.
_tracked: dict[tuple[str, int], _TrackedCopies] = {}
_tracked_lock = threading.Lock()


def _tracked_copies(location: str) -> _TrackedCopies:
    key = (location, os.getpid())
    if (copies := _tracked.get(key)) is None:
        with _tracked_lock:
            copies = _tracked.get(key) or _TrackedCopies(location)
            _tracked[key] = copies
    return copies


@functools.cache
def _is_redis_backend(backend: str) -> bool:
    """Django's Redis cache or one built on it (config.redis_cache, as in production)."""
    return issubclass(import_string(backend), DjangoRedisCache)


def _shared() -> tuple[redis.Redis, str, str] | None:
    """The client of the default cache, its key prefix and location, when that cache is Redis."""
    config = settings.CACHES["default"]
    if not _is_redis_backend(config["BACKEND"]):
        return None
    location = config["LOCATION"]
    location = location[0] if isinstance(location, list | tuple) else location
    return _client(location), config.get("KEY_PREFIX", ""), location


def enabled() -> bool:
    return _shared() is not None


def status_fields(invoice: Invoice) -> dict:
    return {name: getattr(invoice, name) for name in STATUS_FIELDS}


@dataclass(frozen=True)
class StatusSnapshot:
    invoice: Invoice
    # Set while this process holds a copy of the entry: True until the entry changes.
    still_current: Witness | None


def remembered(invoice_id: str) -> StatusSnapshot | None:
    """The invoice's status-box fields from the shared cache, if it holds them."""
    if (shared := _shared()) is None:
        return None
    client, prefix, location = shared
    try:
        kept, still_current = _tracked_copies(location).get(
            f"{prefix}:invoice-status:{invoice_id}", fallback=client
        )
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
    invoice = Invoice.from_db(DEFAULT_DB_ALIAS, names, [fields[name] for name in names])
    return StatusSnapshot(invoice, still_current)


def remember(invoice_id: str, fields: dict, *, moved: bool) -> None:
    """Keep these fields; a move replaces what is kept, a poll's read only fills a gap."""
    if (shared := _shared()) is None:
        return
    client, prefix, location = shared
    key = f"{prefix}:invoice-status:{invoice_id}"
    try:
        client.set(key, pickle.dumps(fields), ex=KEPT_SECONDS, nx=not moved)
    except RedisError as error:
        logger.warning("status cache not written for %s: %s", invoice_id, error)
        if moved:
            _forget(client, key)
    if moved and (copies := _tracked.get((location, os.getpid()))) is not None:
        copies.drop(key)  # this process sees its own move at once, not after the message


def _forget(client: redis.Redis, key: str) -> None:
    try:
        client.delete(key)
    except RedisError as error:
        # Kept at most KEPT_SECONDS: the poll shows the old status until then.
        logger.error("status cache holds a stale %s: %s", key, error)
