"""Fixed-window counters in the shared cache, for limits across all web processes."""

import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from config.redis_circuit import REDIS_ERRORS, redis_circuit


def client_address(request: HttpRequest) -> str:
    """The customer's address, seen through `TRUSTED_PROXY_COUNT` proxies of our own.

    Behind a load balancer every request comes from the balancer; the client
    is then the address the last trusted proxy appended to X-Forwarded-For.
    Addresses further left were written by the client and prove nothing.
    """
    hops = settings.TRUSTED_PROXY_COUNT
    if hops:
        forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    address: str = request.META.get("REMOTE_ADDR", "")
    return address


def allow(bucket: str, *, limit: int, window_seconds: int) -> bool:
    """Count one attempt in `bucket`; False once more than `limit` fall in this window.

    Without a working Redis nothing is counted and everything is allowed: a
    customer's confirmation must not fail because a counter is unreachable
    (each invoice still locks itself after five refused confirmations, in the
    database).
    """
    if redis_circuit.open():
        return True
    try:
        return _counted(bucket, limit=limit, window_seconds=window_seconds)
    except REDIS_ERRORS as error:
        redis_circuit.trip(error)
        return True


def _counted(bucket: str, *, limit: int, window_seconds: int) -> bool:
    window = int(time.time() // window_seconds)
    key = f"ratelimit:{bucket}:{window}"
    # add() is atomic and only creates; incr() is atomic on Redis.
    if cache.add(key, 1, timeout=window_seconds * 2):
        return True
    try:
        return cache.incr(key) <= limit
    except ValueError:  # expired between add() and incr()
        cache.add(key, 1, timeout=window_seconds * 2)
        return True
