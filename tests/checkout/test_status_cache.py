"""The status poll with a shared cache (Redis): no database once cached, never a stale status."""

import secrets
import time
from decimal import Decimal

import pytest
from django.conf import settings as django_settings

from invoices import selectors, status_cache
from invoices.models import Invoice
from invoices.state_machine import Actor, invoice_move_status
from tests.factories import demo_shop_invoice

pytestmark = [pytest.mark.redis, pytest.mark.django_db]


def _use_redis_cache(settings, location: str) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "config.redis_cache.RedisCache",  # as in production
            "LOCATION": location,
            # Each test its own keys: the Redis database is shared with others.
            "KEY_PREFIX": f"test-{secrets.token_hex(4)}",
        },
        "images": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }


@pytest.fixture
def invoice_id(settings):
    _use_redis_cache(settings, django_settings.REDIS_URL)
    return demo_shop_invoice("test_uah_invoice", "UAH", "order-1").id


def _move(invoice_id: str, to_status: str, capture) -> None:
    with capture(execute=True):  # the move's commit, as outside a test transaction
        invoice_move_status(
            invoice_id=invoice_id,
            to_status=to_status,
            resolution="ok",
            processed_amount=Decimal("2126.68") if to_status == "processed" else None,
            cause="test",
            actor=Actor("test"),
        )


def test_a_cached_poll_reads_no_database_and_shows_every_move(
    client, invoice_id, django_assert_num_queries, django_capture_on_commit_callbacks
):
    with django_assert_num_queries(1):
        first = client.get(f"/hpp/{invoice_id}/status")
    with django_assert_num_queries(0):
        again = client.get(f"/hpp/{invoice_id}/status")
    assert again.content == first.content
    assert 'data-status="created"' in again.content.decode()

    _move(invoice_id, "processing", django_capture_on_commit_callbacks)
    with django_assert_num_queries(0):
        processing = client.get(f"/hpp/{invoice_id}/status")
    assert 'data-status="processing"' in processing.content.decode()

    cached = selectors.invoice_status_get(invoice_id=invoice_id).invoice
    with django_assert_num_queries(1):
        assert cached.reference_id == "order-1", "a field not kept loads, as from the database"

    _move(invoice_id, "processed", django_capture_on_commit_callbacks)
    with django_assert_num_queries(0):
        processed = client.get(f"/hpp/{invoice_id}/status", {"locale": "uk"})
    body = processed.content.decode()
    assert 'data-status="processed"' in body and "hx-get" not in body, "final: polling stops"


def test_a_row_read_before_a_move_never_replaces_what_the_move_wrote(
    client, invoice_id, django_capture_on_commit_callbacks
):
    before = status_cache.status_fields(Invoice.objects.get(pk=invoice_id))
    _move(invoice_id, "processing", django_capture_on_commit_callbacks)
    # A poll that read the row before the move commits only now:
    status_cache.remember(invoice_id, before, moved=False)
    assert 'data-status="processing"' in client.get(f"/hpp/{invoice_id}/status").content.decode()


def test_with_the_cache_unreachable_moves_and_polls_go_on(
    client, invoice_id, settings, django_capture_on_commit_callbacks
):
    _use_redis_cache(settings, "redis://127.0.0.1:1/0")  # nothing listens there
    _move(invoice_id, "processing", django_capture_on_commit_callbacks)
    response = client.get(f"/hpp/{invoice_id}/status")
    assert response.status_code == 200
    assert 'data-status="processing"' in response.content.decode()


def _redis():
    import redis

    return redis.Redis.from_url(django_settings.REDIS_URL)


def _gets_served_by_redis() -> int:
    return int(_redis().info("commandstats").get("cmdstat_get", {}).get("calls", 0))


def _written_by_another_process(invoice_id: str, status: str) -> None:
    """What a move's commit in a worker writes: this process hears of it only from Redis."""
    import pickle

    fields = status_cache.status_fields(Invoice.objects.get(pk=invoice_id))
    key = f"{django_settings.CACHES['default']['KEY_PREFIX']}:invoice-status:{invoice_id}"
    _redis().set(key, pickle.dumps({**fields, "status": status}), ex=60)


def _poll_until(client, invoice_id: str, text: str, *, within: float) -> float:
    started = time.monotonic()
    while text not in client.get(f"/hpp/{invoice_id}/status").content.decode():
        assert time.monotonic() - started < within, f"{text} not shown within {within} s"
        time.sleep(0.01)
    return time.monotonic() - started


def _poll_until_copied(client, invoice_id: str) -> None:
    """Tracking starts with the process's first poll: wait until a poll reads no Redis."""
    deadline = time.monotonic() + 5
    while True:
        before = _gets_served_by_redis()
        client.get(f"/hpp/{invoice_id}/status")
        if _gets_served_by_redis() - before == 0:
            return
        assert time.monotonic() < deadline, "polls never came from this process's copy"
        time.sleep(0.02)


def test_repeated_polls_come_from_this_process_and_hear_of_another_process_move(client, invoice_id):
    _poll_until_copied(client, invoice_id)
    before = _gets_served_by_redis()
    for _ in range(5):
        assert 'data-status="created"' in client.get(f"/hpp/{invoice_id}/status").content.decode()
    assert _gets_served_by_redis() - before == 0

    _written_by_another_process(invoice_id, "processing")
    assert _poll_until(client, invoice_id, 'data-status="processing"', within=1) < 1


@pytest.mark.parametrize("connection", ["pubsub", "normal"])
def test_a_lost_tracking_connection_never_leaves_a_stale_copy(client, invoice_id, connection):
    _poll_until_copied(client, invoice_id)
    # The listener (pubsub) or every ordinary connection, the reader among them, as a
    # Redis restart or a network cut would.
    _redis().client_kill_filter(_type=connection, skipme=True)
    _written_by_another_process(invoice_id, "processing")
    _poll_until(client, invoice_id, 'data-status="processing"', within=2)
    _poll_until_copied(client, invoice_id)  # tracking comes back by itself
    _written_by_another_process(invoice_id, "processed")
    _poll_until(client, invoice_id, 'data-status="processed"', within=1)
