"""PostgreSQL, with Django's per-request health check run at most once per interval.

With CONN_HEALTH_CHECKS, Django sends `SELECT 1` before the first query of
every request: a whole round trip, which profiling showed as a large share
of a primary-key read. A connection that passed a check (or was opened)
less than `HEALTH_CHECK_INTERVAL` seconds ago skips it. After a database
restart, a connection idle for longer than the interval is still checked and
replaced before use; the check could never close the window in which the
database goes away between the check and the query, this widens it by at
most the interval. Celery tasks ask for the check before each task (see
`config.celery`): a task that fails costs a retry, and the check is small
next to a callback's HTTP call.
"""

import time

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.health_checked_at = float("-inf")

    def connect(self):
        super().connect()
        self.health_checked_at = time.monotonic()

    def check_health_before_next_query(self) -> None:
        self.health_checked_at = float("-inf")

    def close_if_health_check_failed(self):
        if self.health_check_done or self.connection is None:
            return
        interval = self.settings_dict.get("HEALTH_CHECK_INTERVAL", 0)
        if time.monotonic() - self.health_checked_at < interval:
            self.health_check_done = True
            return
        super().close_if_health_check_failed()
        if self.connection is not None:
            self.health_checked_at = time.monotonic()
