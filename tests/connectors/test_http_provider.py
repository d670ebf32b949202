"""The `http` connector against the provider emulator, run as a real process."""

import json
import socket
import time
from decimal import Decimal

import pytest
import requests

from connectors.base import ProviderUnavailable
from connectors.http import CircuitBreaker
from connectors.registry import get_connector
from invoices import services
from invoices.models import CallbackDelivery, Invoice, InvoiceEvent, ProviderEvent, RefusedMove
from tests.factories import MerchantServiceFactory
from tests.processes import LoggedProcess, celery_worker, project_env, worker_database_url
from tests.receiver import CallbackReceiver

PROJECT_MANAGE = ["manage.py", "run_provider_emulator"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def emulator():
    import sys

    port = free_port()
    process = LoggedProcess(
        [sys.executable, *PROJECT_MANAGE, "--port", str(port)], env=project_env()
    )
    assert process.wait_for("listening", timeout=30), process.output
    yield f"http://127.0.0.1:{port}"
    process.stop()


@pytest.fixture
def provider(emulator, settings):
    settings.PROVIDER_HTTP_URL = emulator
    settings.PROVIDER_HTTP_READ_TIMEOUT_SECONDS = 1.0
    connector = get_connector("http")
    connector.breaker_for({}).record(ok=True)  # every test starts with a closed circuit
    requests.post(
        f"{emulator}/_control/faults",
        json={
            "latency": 0,
            "fail_next": 0,
            "timeout_next": 0,
            "malformed_next": 0,
        },
        timeout=5,
    )

    class Provider:
        url = emulator

        def faults(self, **faults):
            requests.post(f"{emulator}/_control/faults", json=faults, timeout=5).raise_for_status()

        def plan(self, order_id, **plan):
            response = requests.post(f"{emulator}/_control/orders/{order_id}", json=plan, timeout=5)
            response.raise_for_status()

    return Provider()


@pytest.fixture
def http_shop(shop):
    for code, kind in (
        ("card_transfer_uah_http", "card_transfer"),
        ("deeplink_uah_http", "deeplink"),
    ):
        MerchantServiceFactory(
            merchant=shop.merchant,
            service__code=code,
            service__display_kind=kind,
            service__connector="http",
            service__connector_settings={},
        )
    return shop


def _create(shop, reference="order-1", service="card_transfer_uah_http", **attributes):
    response = shop.create(reference, service=service, **attributes)
    assert response.status_code == 201, response.content
    return response.json()["data"]


@pytest.mark.django_db
def test_each_invoice_gets_unique_requisites_from_the_provider(http_shop, provider):
    first, second = _create(http_shop, "a"), _create(http_shop, "b")
    cards = [d["attributes"]["flow_data"]["requisites"]["card_number"] for d in (first, second)]
    assert cards[0] != cards[1] and all(len(card) == 16 for card in cards)
    stored = Invoice.objects.get(pk=first["id"])
    assert stored.provider_reference.startswith("ord_") and stored.status == "created"


@pytest.mark.django_db
def test_a_5xx_on_create_is_retried_because_creating_is_idempotent(http_shop, provider):
    provider.faults(fail_next=1)
    data = _create(http_shop)
    assert data["attributes"]["status"] == "created"


@pytest.mark.django_db
@pytest.mark.parametrize("fault", [{"fail_next": 5}, {"malformed_next": 1}, {"timeout_next": 3}])
def test_a_provider_that_cannot_issue_leaves_a_failed_invoice(http_shop, provider, fault):
    provider.faults(**fault)
    attributes = _create(http_shop)["attributes"]
    assert (attributes["status"], attributes["resolution"]) == ("process_failed", "provider_error")
    assert attributes["resolution_message"].startswith("The provider could not issue")


@pytest.mark.django_db
def test_status_reads_survive_a_timeout_and_a_5xx(http_shop, provider):
    data = _create(http_shop)
    invoice = Invoice.objects.get(pk=data["id"])
    Invoice.objects.filter(pk=invoice.pk).update(status="processing")
    provider.plan(invoice.provider_reference, outcome="paid", apply_now=True, notify=False)
    provider.faults(timeout_next=1, fail_next=1)
    services.invoice_poll(invoice_id=invoice.id)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.processed_amount) == ("processed", invoice.amount)


@pytest.mark.django_db
def test_a_confirmation_that_timed_out_is_not_resent_blindly(
    http_shop, provider, django_capture_on_commit_callbacks
):
    data = _create(http_shop)
    with django_capture_on_commit_callbacks(execute=False):
        assert http_shop.confirm(data["id"], {}).status_code == 202
    provider.faults(timeout_next=1)
    with pytest.raises(ProviderUnavailable):
        services.invoice_forward_confirmation(invoice_id=data["id"])
    assert Invoice.objects.get(pk=data["id"]).status == "processing"


def test_the_circuit_opens_after_repeated_failures_and_half_opens_later():
    breaker = CircuitBreaker(failures=2, cooldown=0.2)
    breaker.record(ok=False)
    breaker.check()
    breaker.record(ok=False)
    with pytest.raises(ProviderUnavailable):
        breaker.check()
    time.sleep(0.25)
    breaker.check()  # one trial call goes through
    breaker.record(ok=True)
    breaker.check()


@pytest.mark.django_db
def test_an_open_circuit_fails_fast_without_calling(http_shop, provider, settings):
    connector = get_connector("http")
    assert settings.PROVIDER_HTTP_BREAKER_FAILURES == 5
    provider.faults(fail_next=100)
    for reference in range(5):
        _create(http_shop, f"r{reference}")
    provider.faults(fail_next=0)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable, match="circuit is open"):
        connector.breaker_for({}).check()
    assert time.monotonic() - started < 0.1
    # While open, new invoices fail at once instead of waiting on the provider.
    attributes = _create(http_shop, "while-open")["attributes"]
    assert "circuit is open" in attributes["resolution_message"]


def _signed(body: bytes, secret="emulator-notify-secret", timestamp=None):
    from connectors.emulator import provider_signature

    return provider_signature(secret=secret, timestamp=timestamp or int(time.time()), body=body)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("signature", "body"),
    [
        (None, b'{"event_id": "e1", "order_id": "o1", "status": "paid", "paid_amount": "1"}'),
        (
            "t=1,v1=00",
            b'{"event_id": "e1", "order_id": "o1", "status": "paid", "paid_amount": "1"}',
        ),
        (
            "wrong-secret",
            b'{"event_id": "e1", "order_id": "o1", "status": "paid", "paid_amount": "1"}',
        ),
        ("old", b'{"event_id": "e1", "order_id": "o1", "status": "paid", "paid_amount": "1"}'),
        ("good", b'{"event_id": "e1", "order_id": "o1", "status": "lost"}'),
        ("good", b"not json"),
    ],
)
def test_unsigned_forged_old_or_malformed_notifications_are_refused(client, signature, body):
    headers = {}
    if signature == "good":
        headers["HTTP_X_PROVIDER_SIGNATURE"] = _signed(body)
    elif signature == "wrong-secret":
        headers["HTTP_X_PROVIDER_SIGNATURE"] = _signed(body, secret="guess")
    elif signature == "old":
        headers["HTTP_X_PROVIDER_SIGNATURE"] = _signed(body, timestamp=int(time.time()) - 3600)
    elif signature:
        headers["HTTP_X_PROVIDER_SIGNATURE"] = signature
    response = client.post(
        "/providers/http/notify", body, content_type="application/json", **headers
    )
    assert response.status_code == 401
    assert not ProviderEvent.objects.exists()


@pytest.mark.django_db
def test_unknown_connectors_are_refused(client):
    body = b'{"event_id": "e1"}'
    response = client.post(
        "/providers/nope/notify",
        body,
        content_type="application/json",
        HTTP_X_PROVIDER_SIGNATURE=_signed(body),
    )
    assert response.status_code == 401


@pytest.mark.django_db
def test_a_repeated_event_is_kept_once(client, django_capture_on_commit_callbacks):
    body = json.dumps({"event_id": "evt_1", "order_id": "ord_1", "status": "checking"}).encode()
    headers = {"HTTP_X_PROVIDER_SIGNATURE": _signed(body)}
    with django_capture_on_commit_callbacks(execute=False) as queued:
        first = client.post(
            "/providers/http/notify", body, content_type="application/json", **headers
        )
        again = client.post(
            "/providers/http/notify", body, content_type="application/json", **headers
        )
    assert (first.json(), again.json()) == ({"status": "accepted"}, {"status": "duplicate"})
    assert ProviderEvent.objects.count() == 1
    assert len(queued) == 1


# End to end: live server, emulator process, Celery worker on Redis, callbacks ------------


@pytest.fixture
def end_to_end(http_shop, provider, live_server, settings, tmp_path):
    settings.PUBLIC_BASE_URL = live_server.url
    receiver = CallbackReceiver()
    worker = celery_worker(
        env=project_env(
            DATABASE_URL=worker_database_url(),
            VAR_DIR=str(tmp_path),
            PROVIDER_HTTP_URL=provider.url,
            PUBLIC_BASE_URL=live_server.url,
            POLL_FIRST_DELAY_SECONDS="1",
            CALLBACK_RETRY_BASE_SECONDS="1",
            PROVIDER_HTTP_READ_TIMEOUT_SECONDS="1",
        ),
        name="e2e",
        beat=True,
    )
    assert worker.wait_for("ready.", timeout=60), worker.output

    class Run:
        shop = http_shop

        def invoice(self, reference="order-1"):
            return _create(http_shop, reference, callback_url=receiver.url)

        def settled(self, invoice_id, status, *, callbacks, timeout=40):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                current = Invoice.objects.get(pk=invoice_id).status
                delivered = CallbackDelivery.objects.filter(
                    invoice_id=invoice_id, state="delivered"
                )
                if current == status and delivered.count() >= callbacks:
                    break
                time.sleep(0.2)
            time.sleep(1.5)  # anything extra (a duplicate move or callback) would land now
            received = [
                json.loads(r.body)["data"]["attributes"]
                for r in receiver.received
                if json.loads(r.body)["data"]["id"] == invoice_id
            ]
            return Invoice.objects.get(pk=invoice_id), received

    yield Run()
    worker.stop()
    receiver.close()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("message", "status", "resolution", "moves"),
    [
        ("paid", "processed", "ok", ["processing", "processed"]),
        ("fail", "process_failed", "declined", ["processing", "process_failed"]),
        (
            "partial",
            "partially_processed",
            "insufficient_amount",
            ["processing", "partially_processed"],
        ),
        ("pending", "processed", "ok", ["processing", "process_pending", "processed"]),
    ],
)
def test_confirmations_end_in_the_right_status_with_exactly_the_right_callbacks(
    end_to_end, message, status, resolution, moves
):
    data = end_to_end.invoice()
    assert end_to_end.shop.confirm(data["id"], {"message": message}).status_code == 202
    invoice, received = end_to_end.settled(data["id"], status, callbacks=len(moves))
    assert (invoice.status, invoice.resolution) == (status, resolution)
    assert [r["status"] for r in sorted(received, key=lambda r: r["sequence"])] == moves
    assert len(received) == len(moves)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_duplicated_and_out_of_order_notifications_change_nothing_twice(end_to_end, provider):
    data = end_to_end.invoice()
    order_id = Invoice.objects.get(pk=data["id"]).provider_reference
    provider.plan(order_id, duplicates=2, out_of_order=True)
    assert end_to_end.shop.confirm(data["id"], {"message": "paid"}).status_code == 202

    invoice, received = end_to_end.settled(data["id"], "processed", callbacks=2)

    assert invoice.status == "processed"
    assert [r["status"] for r in sorted(received, key=lambda r: r["sequence"])] == [
        "processing",
        "processed",
    ]
    events = ProviderEvent.objects.filter(provider_reference=order_id)
    assert events.count() == 2, "three copies of each of two events, each kept once"
    assert all(event.processed_at for event in events)
    moves = InvoiceEvent.objects.filter(invoice=invoice).values_list("to_status", flat=True)
    assert list(moves) == ["created", "processing", "processed"]
    assert RefusedMove.objects.filter(invoice=invoice, to_status="process_pending").exists()


@pytest.mark.django_db
def test_the_demo_provider_service_issues_a_valid_card_per_invoice(provider):
    from connectors.codes.cards import luhn_valid
    from invoices.demo import demo_load
    from invoices.models import Merchant
    from invoices.services import invoice_create
    from invoices.state_machine import Actor

    demo_load()
    invoice = invoice_create(
        merchant=Merchant.objects.get(name="Demo Shop"),
        service_code="provider_card_transfer_uah_invoice",
        reference_id="demo-1",
        amount=Decimal("150.00"),
        currency="UAH",
        test_mode=True,
        actor=Actor("test"),
    )
    assert invoice.status == "created", invoice.resolution_message
    assert luhn_valid(invoice.requisites["card_number"])


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fault", [{"fail_next": 1}, {"malformed_next": 1}, {"timeout_next": 1}])
def test_a_faulty_provider_still_ends_paid_with_exactly_two_callbacks(end_to_end, provider, fault):
    data = end_to_end.invoice()
    provider.faults(**fault)  # the forward of the confirmation meets it, and is retried
    assert end_to_end.shop.confirm(data["id"], {"message": "paid"}).status_code == 202
    invoice, received = end_to_end.settled(data["id"], "processed", callbacks=2, timeout=60)
    assert invoice.status == "processed"
    assert [r["status"] for r in sorted(received, key=lambda r: r["sequence"])] == [
        "processing",
        "processed",
    ]
