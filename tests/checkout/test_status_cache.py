"""The status poll with a shared cache (Redis): no database once cached, never a stale status."""

import secrets
from decimal import Decimal

import pytest
from django.conf import settings as django_settings

from invoices import selectors, status_cache
from invoices.demo import demo_load
from invoices.models import Invoice, Merchant
from invoices.services import invoice_create
from invoices.state_machine import Actor, invoice_move_status

pytestmark = [pytest.mark.redis, pytest.mark.django_db]


def _use_redis_cache(settings, location: str) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": location,
            # Each test its own keys: the Redis database is shared with others.
            "KEY_PREFIX": f"test-{secrets.token_hex(4)}",
        },
        "images": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }


@pytest.fixture
def invoice_id(settings):
    _use_redis_cache(settings, django_settings.REDIS_URL)
    demo_load()
    return invoice_create(
        merchant=Merchant.objects.get(name="Demo Shop"),
        service_code="test_uah_invoice",
        reference_id="order-1",
        amount=Decimal("2126.68"),
        currency="UAH",
        test_mode=True,
        actor=Actor("test"),
    ).id


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

    cached = selectors.invoice_status_get(invoice_id=invoice_id)
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
