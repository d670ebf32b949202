"""A kept PostgreSQL connection the database dropped costs no failed request: Django's own
health check (CONN_HEALTH_CHECKS) finds it dead before the request's first query."""

import pytest
from django.conf import settings
from django.db import connections

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def kept_connection():
    """A connection of its own, set up as the web's: kept between requests, health-checked."""
    wrapper = connections.create_connection("default")
    wrapper.settings_dict = {**wrapper.settings_dict, "CONN_MAX_AGE": 60}
    yield wrapper
    wrapper.close()


def _request(wrapper) -> int:
    """What one request does with the connection: Django's start-of-request step, a query."""
    wrapper.close_if_unusable_or_obsolete()
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _cut(pid: int) -> None:
    with connections["default"].cursor() as cursor:  # as a restart or failover would
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])


def test_the_database_is_reached_with_djangos_own_backend_and_check():
    database = settings.DATABASES["default"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert database["CONN_HEALTH_CHECKS"] is True


def test_a_connection_kept_between_requests_is_reused(kept_connection):
    first_pid = _request(kept_connection)
    assert {_request(kept_connection) for _ in range(5)} == {first_pid}


def test_every_request_after_a_drop_is_answered(kept_connection):
    """Ten drops, ten requests: each finds its connection dead and opens another."""
    pids = []
    for _ in range(10):
        pids.append(_request(kept_connection))
        _cut(pids[-1])
    pids.append(_request(kept_connection))
    assert len(set(pids)) == 11
