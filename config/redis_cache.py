"""Django's Redis cache, with one client per connection pool instead of one per call.

Django's `RedisCacheClient.get_client` builds a new `redis.Redis` around the
pool on every cache call, and redis-py's constructor fills a table of some
five hundred response callbacks each time: profiling a confirmation showed
its rate-limit check (an add and an incr) spending more on building two
clients than on the two round trips. A client holds no connection of its
own (it takes one from the pool per command), so one per pool serves every
thread; Django keeps a cache object per thread anyway.
"""

import logging
import time

from django.conf import settings
from django.core.cache.backends import redis as django_redis

logger = logging.getLogger(__name__)


class _ClientPerPool(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients.setdefault(id(pool), self._client(connection_pool=pool))
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _ClientPerPool


class RedisCircuit:
    """After Redis failed, this process does not ask it again for a while.

    Redis only accelerates (the status poll) or counts (rate limits): when it
    is down or hangs, each request would otherwise wait out a timeout on every
    call. Tripped by the first failure, it keeps callers away from Redis for
    STATUS_CACHE_PAUSE_SECONDS, then lets them try again.
    """

    def __init__(self):
        self.closed_until = 0.0

    def open(self) -> bool:
        return time.monotonic() < self.closed_until

    def trip(self, error: Exception) -> None:
        if not self.open():
            logger.warning("Redis failed, going on without it for a while: %s", error)
        self.closed_until = time.monotonic() + settings.STATUS_CACHE_PAUSE_SECONDS

    def reset(self) -> None:
        self.closed_until = 0.0


redis_circuit = RedisCircuit()
