"""The shared cache on Redis, as configured: django-redis."""

import threading

import pytest
from django.conf import settings as django_settings
from django.core.cache import caches
from django_redis.cache import RedisCache

from invoices import ratelimit, read_models
from tests.caches import REDIS_BACKEND, redis_cache

pytestmark = pytest.mark.redis


@pytest.fixture
def shared_cache(settings):
    settings.CACHES = {
        **settings.CACHES,
        "default": redis_cache(settings.REDIS_URL),
    }
    cache = caches["default"]
    assert isinstance(cache, RedisCache)
    yield cache
    cache.delete_pattern("*")  # this test's keys only: Celery's queues share the database


def test_values_round_trip_and_counters_count(shared_cache):
    assert shared_cache.add("k", 1, timeout=60)
    assert not shared_cache.add("k", 5, timeout=60)  # add only creates
    assert shared_cache.incr("k") == 2
    shared_cache.set("image", b"<svg/>", timeout=60)
    assert shared_cache.get("image") == b"<svg/>"
    shared_cache.delete("image")
    assert shared_cache.get("image") is None


def test_a_rate_limit_counts_every_attempt_from_many_threads(shared_cache):
    # Each thread has its own cache object (Django's handler is per thread);
    # all of them count in the same Redis key.
    results: list[bool] = []
    lock = threading.Lock()

    def attempt():
        allowed = [ratelimit.allow("t", limit=30, window_seconds=60) for _ in range(10)]
        with lock:
            results.extend(allowed)

    threads = [threading.Thread(target=attempt) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 30 and results.count(False) == 20


def test_the_read_models_run_on_it(shared_cache):
    # The poll's cache needs the default cache to be Redis: a backend
    # the status cache did not recognise would silently send every poll to PostgreSQL.
    assert read_models.enabled()


@pytest.mark.skipif(not django_settings.REDIS_URL, reason="without Redis the cache is in memory")
def test_the_settings_use_it_when_redis_is_configured():
    from config import settings as configured  # the module, before any test's override

    assert configured.CACHES["default"]["BACKEND"] == REDIS_BACKEND
    assert configured.CACHES["axes"]["BACKEND"] == REDIS_BACKEND
