"""Callbacks: the outbox row of each move, its signed delivery, retries and refusals."""

import json
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from invoices import callback_delivery, callback_http
from invoices.models import CallbackAttempt, CallbackDelivery, Invoice
from invoices.operator_actions import callbacks_operator_resend_failed
from invoices.selectors import merchant_credentials
from invoices.state_machine import Actor, invoice_move_status
from tests.api import API
from tests.merchant_verifier import verify_legacy, verify_standard_webhook
from tests.receiver import CallbackReceiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    server = CallbackReceiver()
    yield server
    server.close()


def _invoice(shop, url, reference="order-1", **attributes):
    response = shop.create(reference, callback_url=url, **attributes)
    assert response.status_code == 201, response.content
    return response.json()["data"]["id"]


def _move(invoice_id, to_status, **extra):
    amounts = {"processed": Decimal("2126.68"), "partially_processed": Decimal("1000.00")}
    return invoice_move_status(
        invoice_id=invoice_id,
        to_status=to_status,
        resolution=extra.pop("resolution", "ok"),
        processed_amount=amounts.get(to_status),
        cause="test",
        actor=Actor("test"),
        **extra,
    )


def test_each_move_writes_one_callback_whose_body_is_the_get_resource(shop, receiver):
    invoice_id = _invoice(shop, receiver.url)
    assert not CallbackDelivery.objects.exists(), "creation is not a move"

    _move(invoice_id, "processing")
    first_get = shop.get(f"{API}/{invoice_id}").content
    _move(invoice_id, "processed")
    final_get = shop.get(f"{API}/{invoice_id}").content

    deliveries = list(CallbackDelivery.objects.order_by("sequence"))
    assert [(d.sequence, d.state, d.url) for d in deliveries] == [
        (2, "pending", receiver.url),
        (3, "pending", receiver.url),
    ]
    assert bytes(deliveries[0].body) == first_get
    assert bytes(deliveries[1].body) == final_get
    assert json.loads(final_get)["data"]["attributes"]["sequence"] == 3


def test_only_final_callbacks_when_the_merchant_asks(shop, receiver):
    shop.merchant.callbacks_only_final = True
    shop.merchant.save()
    invoice_id = _invoice(shop, receiver.url)
    _move(invoice_id, "processing")
    _move(invoice_id, "process_pending")
    _move(invoice_id, "process_failed", resolution="declined")
    assert list(CallbackDelivery.objects.values_list("sequence", flat=True)) == [4]


def test_the_merchants_default_url_is_used_and_no_url_means_no_callback(shop):
    no_url = _invoice(shop, None, reference="a")
    _move(no_url, "processing")
    assert not CallbackDelivery.objects.exists()

    shop.merchant.callback_url = "https://shop.example/default"
    shop.merchant.save()
    _move(no_url, "processed")
    assert CallbackDelivery.objects.get().url == "https://shop.example/default"


def test_a_rolled_back_move_leaves_no_callback(shop, receiver):
    invoice_id = _invoice(shop, receiver.url)
    with pytest.raises(ValueError):
        # processed needs an amount: refused inside the move's transaction
        invoice_move_status(
            invoice_id=invoice_id,
            to_status="partially_processed",
            resolution="ok",
            processed_amount=Decimal("99999"),
            cause="test",
            actor="test",
        )
    assert not CallbackDelivery.objects.exists()


def test_delivery_is_signed_as_the_contract_says(shop, receiver):
    invoice_id = _invoice(shop, receiver.url)
    _move(invoice_id, "processing")

    assert callback_delivery.invoice_callbacks_deliver(invoice_id=invoice_id) == 1

    (request,) = receiver.received
    delivery = CallbackDelivery.objects.get()
    keys = merchant_credentials(merchant=shop.merchant)
    assert request.body == bytes(delivery.body)
    assert request.headers["Content-Type"] == "application/json"
    assert verify_legacy(
        secret_key=keys.secret_key_test,
        body=request.body,
        x_signature=request.headers["X-Signature"],
    )
    assert not verify_legacy(
        secret_key=keys.secret_key_live,
        body=request.body,
        x_signature=request.headers["X-Signature"],
    )
    assert verify_standard_webhook(
        webhook_secret=keys.webhook_secret, headers=request.headers, body=request.body
    )
    assert request.headers["webhook-id"] == delivery.webhook_id
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 5
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("delivered", 1)
    attempt = CallbackAttempt.objects.get()
    assert (attempt.status_code, attempt.error) == (200, "")
    assert attempt.response_excerpt == "answered 200"


def test_failures_are_retried_with_backoff_then_delivered(shop, settings, caplog):
    caplog.set_level("INFO", logger="invoices.callback_delivery")
    settings.CALLBACK_RETRY_BASE_SECONDS = 10
    receiver = CallbackReceiver(statuses=[500, 404])
    try:
        invoice_id = _invoice(shop, receiver.url)
        _move(invoice_id, "processing")
        delivery = CallbackDelivery.objects.get()

        assert callback_delivery.invoice_callbacks_deliver(invoice_id=invoice_id) == 0
        delivery.refresh_from_db()
        assert (delivery.state, delivery.attempts) == ("pending", 1)
        first_wait = (delivery.next_attempt_at - delivery.last_attempt_at).total_seconds()
        assert 5 <= first_wait <= 10.5

        # Not due yet: nothing is sent.
        assert callback_delivery.invoice_callbacks_deliver(invoice_id=invoice_id) == 0
        assert len(receiver.received) == 1

        CallbackDelivery.objects.update(next_attempt_at=timezone.now())
        callback_delivery.invoice_callbacks_deliver(invoice_id=invoice_id)
        delivery.refresh_from_db()
        second_wait = (delivery.next_attempt_at - delivery.last_attempt_at).total_seconds()
        assert 10 <= second_wait <= 20.5

        CallbackDelivery.objects.update(next_attempt_at=timezone.now())
        assert callback_delivery.invoice_callbacks_deliver(invoice_id=invoice_id) == 1
        codes = list(CallbackAttempt.objects.values_list("status_code", flat=True))
        assert codes == [500, 404, 200]
        ids = {r.headers["webhook-id"] for r in receiver.received}
        assert len(ids) == 1, "the webhook-id is stable across retries"
        # What an operator reading the log sees: each attempt, at INFO.
        webhook_id = delivery.webhook_id
        assert [
            (r.levelname, r.getMessage().split(" in ")[0])
            for r in caplog.records
            if r.name == "invoices.callback_delivery"
        ] == [
            (
                "INFO",
                f"callback {webhook_id} (invoice {invoice_id}, sequence 2) will be retried:"
                " HTTP 500",
            ),
            (
                "INFO",
                f"callback {webhook_id} (invoice {invoice_id}, sequence 2) will be retried:"
                " HTTP 404",
            ),
            (
                "INFO",
                f"callback {webhook_id} (invoice {invoice_id}, sequence 2) delivered: HTTP 200",
            ),
        ]
    finally:
        receiver.close()


def test_timeouts_and_refused_connections_are_recorded(shop, settings):
    settings.CALLBACK_TIMEOUT_SECONDS = 0.5
    slow = CallbackReceiver(delays=[2])
    try:
        invoice_id = _invoice(shop, slow.url)
        _move(invoice_id, "processing")
        callback_delivery.invoice_callbacks_deliver(invoice_id=invoice_id)
        attempt = CallbackAttempt.objects.get()
        assert attempt.status_code is None and "timed out" in attempt.error
    finally:
        slow.close()

    closed_port_url = "http://127.0.0.1:9/callbacks"
    other = _invoice(shop, closed_port_url, reference="order-2")
    _move(other, "processing")
    callback_delivery.invoice_callbacks_deliver(invoice_id=other)
    attempt = CallbackAttempt.objects.filter(delivery__invoice_id=other).get()
    assert "connection failed" in attempt.error


def test_tls_errors_are_recorded(shop, receiver):
    # An https URL to a server that speaks plain HTTP: the handshake fails.
    invoice_id = _invoice(shop, receiver.url.replace("http://", "https://"))
    _move(invoice_id, "processing")
    callback_delivery.invoice_callbacks_deliver(invoice_id=invoice_id)
    attempt = CallbackAttempt.objects.get()
    assert attempt.status_code is None and attempt.error.startswith("TLS error"), attempt.error


def test_after_the_retry_window_the_callback_is_marked_failed(shop, settings, caplog):
    settings.CALLBACK_RETRY_WINDOW_SECONDS = 3 * 86400
    invoice_id = _invoice(shop, "http://127.0.0.1:9/callbacks")
    _move(invoice_id, "processing")
    CallbackDelivery.objects.update(pending_since=timezone.now() - timedelta(days=3, seconds=1))
    callback_delivery.invoice_callbacks_deliver(invoice_id=invoice_id)
    assert CallbackDelivery.objects.get().state == "failed"
    (record,) = [r for r in caplog.records if r.name == "invoices.callback_delivery"]
    assert record.levelname == "WARNING"
    assert "failed for good: connection failed" in record.getMessage()


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:9/cb",
        "https://localhost/cb",
        "https://10.1.2.3/cb",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/cb",
        "https://[::ffff:127.0.0.1]/cb",
        "https://100.64.0.1/cb",
        "https://224.0.0.1/cb",
        "https://0.0.0.0/cb",
    ],
)
def test_live_callbacks_to_private_addresses_are_refused_after_resolution(shop, url):
    from tests.factories import MerchantServiceFactory

    MerchantServiceFactory(merchant=shop.merchant, service__code="live_uah_invoice")
    response = shop.create("r", live=True, service="live_uah_invoice", callback_url=url)
    assert response.status_code == 201, response.content
    invoice_id = response.json()["data"]["id"]
    _move(invoice_id, "processing")

    callback_delivery.invoice_callbacks_deliver(invoice_id=invoice_id)

    attempt = CallbackAttempt.objects.get()
    assert attempt.status_code is None
    assert attempt.error.startswith("refused:"), attempt.error


def test_the_pinned_adapter_connects_to_the_checked_address(receiver):
    # The URL names a host that does not resolve; the adapter still reaches
    # the address it was given, and the Host header keeps the name.
    url = receiver.url.replace("127.0.0.1", "merchant.invalid")
    import requests

    session = requests.Session()
    session.mount("http://", callback_http.PinnedAddressAdapter("127.0.0.1"))
    assert session.post(url, data=b"{}", timeout=5).status_code == 200
    assert receiver.received[0].headers["Host"].startswith("merchant.invalid:")


def test_test_mode_may_call_back_to_localhost(shop, receiver):
    invoice_id = _invoice(shop, receiver.url.replace("127.0.0.1", "localhost"))
    _move(invoice_id, "processing")
    assert callback_delivery.invoice_callbacks_deliver(invoice_id=invoice_id) == 1


def test_a_held_lease_keeps_a_second_worker_away(shop, receiver):
    invoice_id = _invoice(shop, receiver.url)
    _move(invoice_id, "processing")
    Invoice.objects.filter(pk=invoice_id).update(
        callbacks_lease_until=timezone.now() + timedelta(seconds=30)
    )
    assert callback_delivery.invoice_callbacks_deliver(invoice_id=invoice_id) == 0
    assert receiver.received == []
    # An expired lease (its worker died) is taken over.
    Invoice.objects.filter(pk=invoice_id).update(
        callbacks_lease_until=timezone.now() - timedelta(seconds=1)
    )
    assert callback_delivery.invoice_callbacks_deliver(invoice_id=invoice_id) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # as in a worker: no test transaction around it
def test_a_delivery_costs_four_statements(shop, receiver, django_assert_num_queries):
    """Take the lease, read what is due, record the attempt with the new state, give the
    lease back and learn whether more came meanwhile: the path every callback takes."""
    invoice_id = _invoice(shop, receiver.url)
    _move(invoice_id, "processing")
    with django_assert_num_queries(4):
        assert callback_delivery.invoice_callbacks_deliver(invoice_id=invoice_id) == 1
    delivery = CallbackDelivery.objects.get()
    assert (delivery.state, delivery.attempts) == ("delivered", 1)
    assert delivery.delivered_at == delivery.last_attempt_at
    attempt = CallbackAttempt.objects.get()
    assert (attempt.delivery_id, attempt.status_code, attempt.error) == (delivery.pk, 200, "")
    assert Invoice.objects.get(pk=invoice_id).callbacks_lease_until is None


def test_callbacks_to_one_merchant_share_a_kept_alive_connection(shop, receiver):
    ids = [_invoice(shop, receiver.url, reference=f"keep-{n}") for n in range(5)]
    for invoice_id in ids:
        _move(invoice_id, "processing")
        assert callback_delivery.invoice_callbacks_deliver(invoice_id=invoice_id) == 1

    arrived = receiver.wait_for(5)
    assert [json.loads(r.body)["data"]["id"] for r in arrived] == ids
    assert len({r.connection for r in arrived}) == 1, "one TCP connection for all five"


def test_a_long_answer_is_cut_at_the_excerpt_and_delivery_goes_on(shop, settings):
    """The excerpt stops reading; the next callback must not read the rest as its answer."""
    long_answer = "x" * (callback_http.RESPONSE_EXCERPT_BYTES * 5)
    receiver = CallbackReceiver(answers=[long_answer])
    try:
        first, second = (_invoice(shop, receiver.url, reference=r) for r in ("long", "next"))
        for invoice_id in (first, second):
            _move(invoice_id, "processing")
            assert callback_delivery.invoice_callbacks_deliver(invoice_id=invoice_id) == 1
        attempts = CallbackAttempt.objects.order_by("pk")
        assert [a.response_excerpt for a in attempts] == [
            long_answer[: callback_http.RESPONSE_EXCERPT_BYTES],
            "answered 200",
        ]
    finally:
        receiver.close()


def test_the_sweeper_enqueues_due_callbacks_of_unleased_invoices(shop, receiver, monkeypatch):
    from invoices import tasks

    sent = []
    monkeypatch.setattr(tasks.deliver_callbacks, "delay", lambda **kw: sent.append(kw))
    due, leased, later = (_invoice(shop, receiver.url, reference=r) for r in ("a", "b", "c"))
    for invoice_id in (due, leased, later):
        _move(invoice_id, "processing")
    Invoice.objects.filter(pk=leased).update(
        callbacks_lease_until=timezone.now() + timedelta(minutes=1)
    )
    CallbackDelivery.objects.filter(invoice_id=later).update(
        next_attempt_at=timezone.now() + timedelta(minutes=1)
    )
    assert callback_delivery.callbacks_sweep() == 1
    assert sent == [{"invoice_id": due}]


def test_resending_failed_callbacks_of_a_merchant_in_a_range(shop, receiver):
    ids = [_invoice(shop, receiver.url, reference=f"r{n}") for n in range(3)]
    for invoice_id in ids:
        _move(invoice_id, "processing")
    now = timezone.now()
    CallbackDelivery.objects.update(state="failed")
    CallbackDelivery.objects.filter(invoice_id=ids[2]).update(created_at=now - timedelta(days=5))

    count = callbacks_operator_resend_failed(
        merchant=shop.merchant,
        since=now - timedelta(days=1),
        until=now + timedelta(minutes=1),
        reason="their endpoint was down",
        operator="support",
    )

    assert count == 2
    assert set(
        CallbackDelivery.objects.filter(state="pending").values_list("invoice_id", flat=True)
    ) == set(ids[:2])
    for invoice_id in ids[:2]:
        callback_delivery.invoice_callbacks_deliver(invoice_id=invoice_id)
    assert len(receiver.received) == 2


def test_live_callbacks_are_signed_with_the_live_key(shop):
    from tests.factories import MerchantServiceFactory

    MerchantServiceFactory(merchant=shop.merchant, service__code="live_uah_invoice")
    response = shop.create(
        "r", live=True, service="live_uah_invoice", callback_url="https://shop.example/cb"
    )
    invoice_id = response.json()["data"]["id"]
    _move(invoice_id, "processing")
    delivery = CallbackDelivery.objects.select_related("merchant").get()
    headers = callback_http.signed_headers(delivery, timestamp=1_700_000_000)
    keys = merchant_credentials(merchant=shop.merchant)
    body = bytes(delivery.body)
    assert verify_legacy(
        secret_key=keys.secret_key_live, body=body, x_signature=headers["X-Signature"]
    )
    assert not verify_legacy(
        secret_key=keys.secret_key_test, body=body, x_signature=headers["X-Signature"]
    )
    assert verify_standard_webhook(webhook_secret=keys.webhook_secret, headers=headers, body=body)
    assert headers["webhook-timestamp"] == "1700000000"
