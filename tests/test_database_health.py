"""A kept PostgreSQL connection is checked at most once per interval, and a cut one is
replaced before use once the interval has passed (config/postgresql/base.py)."""

import time

import pytest
from django.db import connections

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

INTERVAL = 0.3


@pytest.fixture
def kept_connection():
    """A connection of its own, set up as the web's: kept between requests, health-checked."""
    wrapper = connections.create_connection("default")
    wrapper.settings_dict = {
        **wrapper.settings_dict,
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
        "HEALTH_CHECK_INTERVAL": INTERVAL,
    }
    checks = []
    is_usable = wrapper.is_usable

    def counted_is_usable():
        checks.append(time.monotonic())
        return is_usable()

    wrapper.is_usable = counted_is_usable
    wrapper.checks = checks
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


def test_requests_within_the_interval_send_no_health_check(kept_connection):
    first_pid = _request(kept_connection)
    pids = {_request(kept_connection) for _ in range(20)}
    assert pids == {first_pid}  # one kept connection
    assert kept_connection.checks == []  # opened just now: known healthy


def test_a_request_after_the_interval_is_checked_once(kept_connection):
    _request(kept_connection)
    time.sleep(INTERVAL + 0.05)
    _request(kept_connection)
    _request(kept_connection)
    assert len(kept_connection.checks) == 1


def test_a_connection_cut_while_idle_is_replaced_before_the_next_request(kept_connection):
    first_pid = _request(kept_connection)
    _cut(first_pid)
    time.sleep(INTERVAL + 0.05)
    second_pid = _request(kept_connection)  # no error: the check found it dead and reconnected
    assert second_pid != first_pid
    assert len(kept_connection.checks) == 1


def test_a_worker_task_checks_whatever_the_interval(kept_connection):
    first_pid = _request(kept_connection)
    _cut(first_pid)
    kept_connection.check_health_before_next_query()  # what config.celery does before a task
    assert _request(kept_connection) != first_pid
