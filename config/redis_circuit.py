"""A circuit that keeps a process away from a failed Redis for a while."""

import logging
import time

from django.conf import settings
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# What a failed or hung Redis raises: redis-py's own errors, and django-redis's
# wrapper of them around the cache framework's calls.
REDIS_ERRORS = (RedisError, ConnectionInterrupted)


class RedisCircuit:
    """After Redis failed, this process does not ask it again for a while.

    Redis only accelerates (the status poll) or counts (rate limits): when it
    is down or hangs, each request would otherwise wait out a timeout on every
    call. Tripped by the first failure, it keeps callers away from Redis for
    REDIS_PAUSE_SECONDS, then lets them try again.
    """

    def __init__(self) -> None:
        self.closed_until = 0.0

    def open(self) -> bool:
        return time.monotonic() < self.closed_until

    def trip(self, error: Exception) -> None:
        if not self.open():
            logger.warning("Redis failed, going on without it for a while: %s", error)
        self.closed_until = time.monotonic() + settings.REDIS_PAUSE_SECONDS

    def reset(self) -> None:
        self.closed_until = 0.0


redis_circuit = RedisCircuit()
