"""Each web process's copies of rows it read, dropped when PostgreSQL says they changed.

Merchants read the same invoice again and again until it is paid, and every
customer's page reads its invoice; creating an invoice reads the merchant and
the service. Each such read is a round trip for a row that nearly never
changed since the last one. With PostgreSQL, a process keeps what it read
and drops it when the database announces a change: triggers (migration
0008) send the invoice's id on any UPDATE that sets a column shown (or a
DELETE), and "everything" on any change to the catalog (merchants,
services, who may use which), on the channel this module listens to with a
connection of its own.

What keeps a copy exact:
- A copy is kept only if no announcement arrived between the moment before
  its read and the moment it is stored (an epoch counter), and only if the
  read ran outside a transaction: a row read inside one may be rolled back,
  or be older than what others committed since.
- Before a copy is handed out, whatever announcements already reached the
  listener's socket are applied first, so a copy is never older than the
  announcements the process could know of. The database signals listeners
  as it commits, before the writer hears that its commit succeeded.
- A process drops its own copy at once when it changes the row itself.
- A lost listener connection drops every copy, and nothing is kept until it
  is listening again; TCP keepalives notice a silent network cut within
  about ten seconds.
- Copies live no longer than `MAX_AGE_SECONDS` and the oldest go first
  beyond `MAX_ENTRIES`.

Copies are shared objects: callers must never change them.
Without PostgreSQL (the SQLite of `make run`), or with
`DB_LOCAL_COPIES=0`, nothing is kept and every read goes to the database.
"""

import functools
import logging
import os
import select
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction

logger = logging.getLogger(__name__)

# The channel the triggers of migration 0008 announce on.
CHANNEL = "invoices_row_changes"
EVERYTHING = "*"


class _Listener:
    """One process's copies and the connection that hears what changed."""

    # An invoice with its merchant and service is some 10 KB of Python objects.
    MAX_ENTRIES = 2_000
    MAX_AGE_SECONDS = 300

    def __init__(self, connection_parameters: dict):
        self._parameters = connection_parameters
        self._lock = threading.Lock()
        self._copies: OrderedDict[str, tuple[Any, float]] = OrderedDict()
        self._epoch = 0
        self._connection: psycopg.Connection | None = None  # set while listening
        self._closed = False
        threading.Thread(target=self._listen, name="local-copies-listener", daemon=True).start()

    def get(self, key: str) -> tuple[Any, float] | None:
        """The copy held for `key`: (value, monotonic time it expires)."""
        with self._lock:
            if self._connection is None:
                return None
            self._apply_arrived()
            copy = self._copies.get(key)
            if copy is None:
                return None
            if copy[1] <= time.monotonic():
                del self._copies[key]
                return None
            self._copies.move_to_end(key)
            return copy

    def holds(self, key: str, copy: tuple[Any, float]) -> bool:
        """Whether this very copy is still held: nothing announced or lost since it was kept."""
        with self._lock:
            if self._connection is None:
                return False
            self._apply_arrived()
            return self._copies.get(key) is copy and copy[1] > time.monotonic()

    def epoch(self) -> int | None:
        """Taken before a read: `keep` stores its result only if nothing changed since."""
        with self._lock:
            return self._epoch if self._connection is not None else None

    def keep(self, key: str, value: Any, *, epoch: int) -> tuple[Any, float] | None:
        """The copy kept, or None if an announcement came since `epoch`."""
        with self._lock:
            if self._connection is None:
                return None
            self._apply_arrived()
            if self._epoch != epoch:
                return None
            copy = self._copies[key] = (value, time.monotonic() + self.MAX_AGE_SECONDS)
            self._copies.move_to_end(key)
            while len(self._copies) > self.MAX_ENTRIES:
                self._copies.popitem(last=False)
            return copy

    def drop(self, key: str) -> None:
        with self._lock:
            self._drop(key)

    def _drop(self, key: str) -> None:
        """The lock is held."""
        self._epoch += 1
        if key == EVERYTHING:
            self._copies.clear()
        else:
            self._copies.pop(key, None)

    def _apply_arrived(self) -> None:
        """Apply the announcements waiting on the listener's socket; the lock is held."""
        connection = self._connection
        try:
            readable, _, _ = select.select([connection.pgconn.socket], [], [], 0)
            if readable:
                self._consume(connection)
        except (psycopg.Error, OSError, ValueError) as error:
            self._stop_listening(error)

    def _consume(self, connection: psycopg.Connection) -> None:
        """Read what arrived without waiting; the lock is held. Raises if the connection is gone."""
        pgconn = connection.pgconn
        pgconn.consume_input()
        if pgconn.status != psycopg.pq.ConnStatus.OK:
            raise psycopg.OperationalError("the listener's connection is closed")
        while (notification := pgconn.notifies()) is not None:
            self._drop(notification.extra.decode())

    def _stop_listening(self, error: BaseException) -> None:
        """The lock is held: every copy is suspect once announcements may have been missed."""
        if self._connection is not None:
            logger.warning("local copies: change announcements lost: %s", error)
        self._connection = None
        self._drop(EVERYTHING)

    def close(self) -> None:
        """Stop listening for good and forget every copy."""
        with self._lock:
            self._closed = True
            connection, self._connection = self._connection, None
            self._drop(EVERYTHING)
        if connection is not None:
            connection.close()

    def _listen(self) -> None:
        failures = 0
        while not self._closed:
            connection = None
            try:
                connection = psycopg.connect(**self._parameters, autocommit=True)
                connection.execute(f"LISTEN {CHANNEL}")
                with self._lock:
                    if self._closed:
                        return
                    self._drop(EVERYTHING)
                    self._connection = connection
                failures = 0
                self._receive(connection)
            except Exception as error:  # noqa: BLE001 - any failure: stop trusting copies
                with self._lock:
                    if self._closed:
                        return
                    if self._connection is connection:
                        self._stop_listening(error)
                failures += 1
                if failures in (1, 10):
                    logger.warning("local copies: cannot listen for changes: %s", error)
            finally:
                if connection is not None:
                    connection.close()
            time.sleep(min(30, 0.5 * 2**failures))

    def _receive(self, connection: psycopg.Connection) -> None:
        socket = connection.pgconn.socket
        while True:
            # Woken by what arrives; the timeout only notices a reader's decision to stop.
            select.select([socket], [], [], 5)
            with self._lock:
                if self._connection is not connection:
                    return  # a reader found it broken and stopped listening
                self._consume(connection)


_listeners: dict[tuple[str, int], _Listener] = {}
_listeners_lock = threading.Lock()


def _connection_parameters(alias: str) -> dict:
    parameters = connections[alias].get_connection_params()
    # Only what libpq takes: Django's cursor and adaptation settings are not needed
    # for LISTEN, and prepared statements are pointless on it.
    passed = {
        name: value
        for name, value in parameters.items()
        if name not in ("cursor_factory", "context", "prepare_threshold", "server_side_binding")
    }
    # A network cut that closes nothing is noticed within about ten seconds.
    passed.update(keepalives=1, keepalives_idle=5, keepalives_interval=2, keepalives_count=2)
    return passed


def _listener(alias: str) -> _Listener | None:
    """This process's listener (a forked child starts its own), or None where copies are off."""
    connection = connections[alias]
    if connection.vendor != "postgresql" or not settings.DB_LOCAL_COPIES:
        return None
    if connection.in_atomic_block:
        # What a transaction reads may be rolled back or older than what is committed.
        return None
    key = (alias, os.getpid())
    if (listener := _listeners.get(key)) is None:
        with _listeners_lock:
            listener = _listeners.get(key) or _Listener(_connection_parameters(alias))
            _listeners[key] = listener
    return listener


Witness = Callable[[], bool]


def read_through_watched(
    key: str, read: Callable[[], Any], *, using: str = DEFAULT_DB_ALIAS
) -> tuple[Any, Witness | None]:
    """This process's copy of `key`, else `read()` (kept unless it is None or something
    changed meanwhile), and while a copy is held, what tells whether it still is.

    `key` is what the triggers announce: "invoice:<id>", or any other name for
    what depends only on the catalog.
    """
    listener = _listener(using)
    if listener is None:
        return read(), None
    copy = listener.get(key)
    if copy is None:
        epoch = listener.epoch()
        value = read()
        if value is None or epoch is None:
            return value, None
        copy = listener.keep(key, value, epoch=epoch)
        if copy is None:
            return value, None
    return copy[0], functools.partial(listener.holds, key, copy)


def read_through(key: str, read: Callable[[], Any], *, using: str = DEFAULT_DB_ALIAS) -> Any:
    """As `read_through_watched`, without the witness."""
    return read_through_watched(key, read, using=using)[0]


def invoice_key(invoice_id: str) -> str:
    return f"invoice:{invoice_id}"


def close_all() -> None:
    """Stop this process's listeners (their connections would keep the database in use)."""
    with _listeners_lock:
        for key in [key for key in _listeners if key[1] == os.getpid()]:
            _listeners.pop(key).close()


def drop_after_commit(key: str, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """This process is changing what `key` names: once committed, it sees its change at
    once, before the announcement comes back. Nothing to do where it keeps no copies."""
    if (listener := _listeners.get((using, os.getpid()))) is not None:
        transaction.on_commit(lambda: listener.drop(key), using=using)
