"""Fixed-window counters in the shared cache, for limits across all web processes."""

import time

from django.core.cache import cache


def allow(bucket: str, *, limit: int, window_seconds: int) -> bool:
    """Count one attempt in `bucket`; False once more than `limit` fall in this window."""
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
