"""Test set-up shared by the whole suite.

With REQUIRE_SERVICES=1 (as in CI) PostgreSQL and Redis must be reachable:
the run stops at once, loudly, instead of skipping the tests that need them.
Without it, tests marked `postgres` or `redis` are skipped when the service is
not configured, so `make test` still runs anywhere.

TEST_THROUGH_POOLER=1 (`make test-pooled`) says DATABASE_URL leads to PgBouncer in
transaction mode: tests/test_database_pooler.py then proves it does.
"""

import os
import socket
import threading
import time
import uuid

import pytest
from django.conf import settings

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
THROUGH_POOLER = os.environ.get("TEST_THROUGH_POOLER") == "1"


def _database_is_postgres() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


def _connect_to_maintenance_database():
    """A plain psycopg connection to the `postgres` database, as the suite's user and address."""
    import psycopg

    db = settings.DATABASES["default"]
    return psycopg.connect(
        host=db.get("HOST") or None,
        port=db.get("PORT") or None,
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        dbname="postgres",
        connect_timeout=5,
        autocommit=True,
    )


def _postgres_problem() -> str | None:
    if not _database_is_postgres():
        return "DATABASE_URL does not point at PostgreSQL"
    import psycopg

    try:
        _connect_to_maintenance_database().close()
    except psycopg.Error as error:
        return f"PostgreSQL is unreachable: {error}"
    return None


def _redis_problem() -> str | None:
    if not settings.REDIS_URL:
        return "REDIS_URL is not set"
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=5).ping()
    except redis.RedisError as error:
        return f"Redis is unreachable at {settings.REDIS_URL}: {error}"
    return None


def pytest_sessionstart(session):
    if not REQUIRE_SERVICES:
        return
    problems = [problem for problem in (_postgres_problem(), _redis_problem()) if problem]
    if problems:
        pytest.exit("REQUIRE_SERVICES=1 but " + "; ".join(problems), returncode=1)


def pytest_collection_modifyitems(config, items):
    if REQUIRE_SERVICES:
        return
    missing = {
        "postgres": None if _database_is_postgres() else "needs PostgreSQL (set DATABASE_URL)",
        "redis": None if settings.REDIS_URL else "needs Redis (set REDIS_URL)",
    }
    for item in items:
        for marker, reason in missing.items():
            if reason and item.get_closest_marker(marker):
                item.add_marker(pytest.mark.skip(reason=reason))


def _end_pooler_connections_to(database_name: str) -> None:
    """PostgreSQL drops no database that anyone is connected to, and PgBouncer keeps its
    server connections to the test database open after the tests have left (until
    server_idle_timeout, ten minutes): Django's DROP DATABASE would fail. So a pooled run
    ends them before the test database is made (an earlier run may have left it) and
    before it is dropped; PgBouncer drops a dead server quietly and opens another."""
    with _connect_to_maintenance_database() as maintenance:
        maintenance.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            [database_name],
        )


@pytest.fixture(scope="session")
def _test_database_name(django_db_modify_db_settings_parallel_suffix) -> str:
    from django.db.backends.base.creation import TEST_DATABASE_PREFIX

    db = settings.DATABASES["default"]
    return db.get("TEST", {}).get("NAME") or TEST_DATABASE_PREFIX + db["NAME"]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings, _test_database_name):
    if THROUGH_POOLER:
        _end_pooler_connections_to(_test_database_name)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, _test_database_name):
    yield
    if THROUGH_POOLER:
        _end_pooler_connections_to(_test_database_name)


@pytest.fixture
def admin_client_logged_in(client, django_user_model):
    user = django_user_model.objects.create_superuser("operator", "", "a-long-operator-password")
    client.force_login(user)
    return client


@pytest.fixture
def shop(db):
    """A merchant with the seed's `test_uah_invoice` service switched on, seen through the API."""
    from tests.api import MerchantApi
    from tests.factories import MerchantServiceFactory, ServiceFactory

    service = ServiceFactory(
        code="test_uah_invoice", min_amount=None, max_amount=None, method_name="Test method"
    )
    return MerchantApi(merchant=MerchantServiceFactory(service=service).merchant)


@pytest.fixture(autouse=True)
def _isolated_cache(settings):
    """Each test counts rate limits and failed logins from zero and renders images afresh.

    Rate limits and images are kept in memory. Failed logins stay in the store
    axes is configured with (Redis, or the database table), so the lockout
    tests exercise it, under a key prefix of the test's own: clearing Redis
    would flush the whole database, Celery's queues included.
    """
    axes_cache = {**settings.CACHES["axes"], "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
    settings.CACHES = {
        alias: {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": alias}
        for alias in ("default", "images", "fragments")
    } | {"axes": axes_cache}
    from django.core.cache import caches

    for alias in ("default", "images", "fragments"):
        caches[alias].clear()
    # Axes' handler holds on to the cache object it was built with: build it on this test's.
    from axes.handlers.proxy import AxesProxyHandler

    AxesProxyHandler.get_implementation(force=True)
    # And with a process that has not given up on Redis after another test's failure.
    from config.redis_circuit import redis_circuit

    redis_circuit.reset()
    yield


class SilentRedis:
    """A server that accepts connections and never answers, as a hung Redis does."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.accepted.append(self.listener.accept()[0])
            except OSError:
                return

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.listener.getsockname()[1]}/0"

    def connections(self, *, at_least: int = 0, timeout: float = 2) -> int:
        """How many connections it accepted (waiting up to `timeout` for `at_least`)."""
        deadline = time.monotonic() + timeout
        while len(self.accepted) < at_least and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(self.accepted)

    def close(self):
        self.listener.close()
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def silent_redis_server():
    server = SilentRedis()
    yield server
    server.close()


@pytest.fixture
def silent_redis(silent_redis_server):
    """The URL of a Redis that accepts connections and never answers."""
    return silent_redis_server.url
