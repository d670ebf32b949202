"""The shared cache as config/settings.py configures it with Redis, for tests that point it
elsewhere (another key prefix, a Redis that is down or hangs)."""

import secrets

from redis.backoff import NoBackoff
from redis.retry import Retry

REDIS_BACKEND = "django_redis.cache.RedisCache"


def redis_cache(location: str) -> dict:
    return {
        "BACKEND": REDIS_BACKEND,
        "LOCATION": location,
        # Each test its own keys: the Redis database is shared with others.
        "KEY_PREFIX": f"test-{secrets.token_hex(4)}",
        "OPTIONS": {
            "SOCKET_CONNECT_TIMEOUT": 0.1,
            "SOCKET_TIMEOUT": 0.1,
            "CONNECTION_POOL_KWARGS": {"retry": Retry(NoBackoff(), retries=0)},
        },
    }
