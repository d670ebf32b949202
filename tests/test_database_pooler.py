"""`make test-pooled` really runs through PgBouncer in transaction mode.

With TEST_THROUGH_POOLER=1 the suite's DATABASE_URL leads to a pooler: these tests
prove that the server behind it is another port, that clients take turns on one
server connection between transactions (and keep it within one), and that the one
session setting Django makes, the time zone, follows a client onto whichever
server it gets. Skipped on a direct connection.
"""

import os

import psycopg
import pytest
from django.conf import settings
from django.db import connection

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        os.environ.get("TEST_THROUGH_POOLER") != "1",
        reason="only through a transaction-mode pooler (make test-pooled)",
    ),
]


@pytest.fixture
def pooled_client():
    """Another client of the pooler, on the test database, outside Django."""
    db = settings.DATABASES["default"]

    def connect():
        return psycopg.connect(
            host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], autocommit=True
        )

    opened = []

    def open_client():
        opened.append(connect())
        return opened[-1]

    yield open_client
    for client in opened:
        client.close()


def _server_pid(client) -> int:
    return client.execute("SELECT pg_backend_pid()").fetchone()[0]


def test_the_app_keeps_nothing_on_the_server_beyond_a_transaction():
    database = settings.DATABASES["default"]
    assert database["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert not database["OPTIONS"].get("prepare_threshold")
    assert not database["OPTIONS"].get("server_side_binding")


def test_postgresql_answers_on_another_port_than_the_one_the_app_dials():
    with connection.cursor() as cursor:
        cursor.execute("SELECT inet_server_port()")
        server_port = cursor.fetchone()[0]
    assert int(settings.DATABASES["default"]["PORT"]) != server_port


def test_clients_share_a_server_between_transactions_and_keep_it_within_one(pooled_client):
    first, second = pooled_client(), pooled_client()
    # The first client is idle: its server went back to the pool, and PgBouncer hands
    # out the server freed last. A session-mode pooler would open another.
    freed = _server_pid(first)
    assert _server_pid(second) == freed

    with first.transaction():
        held = _server_pid(first)
        assert _server_pid(second) != held
        assert _server_pid(first) == held


def test_djangos_time_zone_follows_it_onto_a_server_another_client_changed(pooled_client):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    other = pooled_client()
    other.execute("SET TIME ZONE 'Asia/Tokyo'")
    changed = _server_pid(other)

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid(), current_setting('TimeZone')")
        pid, time_zone = cursor.fetchone()
    assert pid == changed, "Django's next query should run on the server the other client freed"
    assert time_zone == settings.TIME_ZONE
