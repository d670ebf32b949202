"""Two http services on two emulated providers, each with its own URL, API key and secret."""

import json
import sys
import time
from decimal import Decimal

import pytest
import requests
from django.db import connection

from connectors.base import ProviderUnavailable
from connectors.emulator import provider_signature
from connectors.registry import get_connector
from invoices import selectors, services
from invoices.models import Invoice, ProviderEvent, Service
from tests.factories import MerchantServiceFactory
from tests.processes import (
    LoggedProcess,
    celery_worker,
    free_port,
    project_env,
    worker_database_url,
)

ACCOUNTS = {
    "a": {"api_key": "provider-a-api-key-0001", "notify_secret": "provider-a-notify-secret-0001"},
    "b": {"api_key": "provider-b-api-key-0002", "notify_secret": "provider-b-notify-secret-0002"},
}


@pytest.fixture(scope="module")
def emulators():
    """Two provider processes that know only their own API key and notification secret."""
    started = {}
    for name, account in ACCOUNTS.items():
        port = free_port()
        process = LoggedProcess(
            [
                sys.executable,
                "manage.py",
                "run_provider_emulator",
                "--port",
                str(port),
                "--api-key",
                account["api_key"],
                "--notify-secret",
                account["notify_secret"],
            ],
            env=project_env(),
        )
        assert process.wait_for("listening", timeout=30), process.output
        started[name] = (f"http://127.0.0.1:{port}", process)
    yield {name: url for name, (url, _) in started.items()}
    for _, process in started.values():
        process.stop()


@pytest.fixture
def providers(emulators, settings, db):
    """Both shops' services, each on its own emulator, with clean faults and closed circuits."""
    settings.PROVIDER_HTTP_READ_TIMEOUT_SECONDS = 1.0
    connector = get_connector("http")
    for name, url in emulators.items():
        connector.breaker_for({"base_url": url, **ACCOUNTS[name]}).record(ok=True)
        requests.post(
            f"{url}/_control/faults",
            json={"latency": 0, "fail_next": 0, "timeout_next": 0, "malformed_next": 0},
            timeout=5,
        ).raise_for_status()
    return emulators


@pytest.fixture
def two_services(shop, providers):
    made = {}
    for name, url in providers.items():
        link = MerchantServiceFactory(
            merchant=shop.merchant,
            service__code=f"card_transfer_uah_provider_{name}",
            service__display_kind="card_transfer",
            service__connector="http",
            service__connector_settings={"base_url": url},
        )
        made[name] = services.service_save(service=link.service, new_secrets=ACCOUNTS[name])
    return made


def _create(shop, service: Service, reference: str) -> Invoice:
    response = shop.create(reference, service=service.code)
    assert response.status_code == 201, response.content
    return Invoice.objects.get(pk=response.json()["data"]["id"])


def _events_for(invoice: Invoice, *, timeout: float = 20) -> list[ProviderEvent]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = list(ProviderEvent.objects.filter(provider_reference=invoice.provider_reference))
        if events:
            return events
        time.sleep(0.1)
    raise AssertionError(f"no notification arrived for {invoice.id}")


def _notify(client, url: str, body: dict, *, secret: str):
    raw = json.dumps(body).encode()
    return client.post(
        url,
        raw,
        content_type="application/json",
        HTTP_X_PROVIDER_SIGNATURE=provider_signature(
            secret=secret, timestamp=int(time.time()), body=raw
        ),
    )


# PostgreSQL only, as the other end-to-end provider tests: the emulators notify the live
# server while this test reads, and on SQLite the live server shares the test's one
# in-memory connection between threads (their savepoints collide).
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_services_on_two_providers_are_paid_each_verified_with_its_own_secret(
    shop, two_services, live_server, settings, client
):
    settings.PUBLIC_BASE_URL = live_server.url
    invoices = {
        name: _create(shop, service, f"order-{name}") for name, service in two_services.items()
    }
    for name, invoice in invoices.items():
        # Each order was made at its own provider, with its own key (the other would refuse it).
        order = requests.get(
            f"{two_services[name].connector_settings['base_url']}/v1/orders/"
            f"{invoice.provider_reference}",
            headers={"Authorization": f"Bearer {ACCOUNTS[name]['api_key']}"},
            timeout=5,
        ).json()
        assert order["merchant_order_id"] == invoice.id
        assert invoice.status == "created"

    # A notification for a's order signed with b's secret is refused at a's URL, and at
    # the connector-wide URL, and nothing is kept.
    forged = {"event_id": "evt_forged", "order_id": invoices["a"].provider_reference}
    forged.update(status="paid", paid_amount=str(invoices["a"].amount))
    for url in (selectors.service_notify_url(service=two_services["a"]), "/providers/http/notify"):
        refused = _notify(
            client, url.removeprefix(live_server.url), forged, secret=ACCOUNTS["b"]["notify_secret"]
        )
        assert refused.status_code == 401
        assert refused.json() == {
            "error": "signature does not match this service's notification secret"
        }
    assert not ProviderEvent.objects.exists()

    for invoice in invoices.values():
        assert shop.confirm(invoice.id, {"message": "paid"}).status_code == 202
        # What the worker's task does: the provider answers "checking", then notifies.
        forwarded = services.invoice_forward_confirmation(invoice_id=invoice.id)
        assert forwarded.status == "processing"

    for name, invoice in invoices.items():
        (event,) = _events_for(invoice)
        assert event.service_id == two_services[name].pk
        services.provider_event_process(event_pk=event.pk)  # the worker's task
        invoice.refresh_from_db()
        assert (invoice.status, invoice.processed_amount) == ("processed", invoice.amount)
        moves = invoice.events.order_by("sequence").values_list("to_status", "cause")
        assert list(moves)[-1] == ("processed", "provider_notified")
    assert Invoice.objects.get(pk=invoices["a"].pk).status == "processed"
    assert ProviderEvent.objects.count() == 2


@pytest.mark.django_db
def test_a_notification_signed_with_the_other_providers_secret_changes_nothing(
    shop, two_services, client
):
    invoice = _create(shop, two_services["a"], "order-1")
    body = {"event_id": "evt_1", "order_id": invoice.provider_reference, "status": "declined"}
    url_a = "/providers/http/card_transfer_uah_provider_a/notify"

    refused = _notify(client, url_a, body, secret=ACCOUNTS["b"]["notify_secret"])
    assert refused.status_code == 401
    assert "notification secret" in refused.json()["error"]
    assert not ProviderEvent.objects.exists()

    # The process-wide secret speaks for services without credentials only: kept, not applied.
    legacy = _notify(client, "/providers/http/notify", body, secret=settings_secret())
    assert legacy.json() == {"status": "accepted"}
    event = ProviderEvent.objects.get()
    services.provider_event_process(event_pk=event.pk)
    event.refresh_from_db()
    assert event.outcome == "no invoice has this provider reference"
    invoice.refresh_from_db()
    assert invoice.status == "created"

    unknown = _notify(client, "/providers/http/no_such_service/notify", body, secret="x")
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "No service 'no_such_service' uses the 'http' connector."}

    accepted = _notify(client, url_a, body, secret=ACCOUNTS["a"]["notify_secret"])
    assert accepted.json() == {"status": "accepted"}
    services.provider_event_process(
        event_pk=ProviderEvent.objects.get(service=two_services["a"]).pk
    )
    invoice.refresh_from_db()
    assert (invoice.status, invoice.resolution) == ("process_failed", "declined")


def settings_secret() -> str:
    from django.conf import settings

    return settings.PROVIDER_HTTP_NOTIFY_SECRET


@pytest.mark.django_db
def test_one_failing_provider_does_not_open_the_others_circuit(shop, two_services, providers):
    connector = get_connector("http")
    requests.post(f"{providers['a']}/_control/faults", json={"fail_next": 100}, timeout=5)
    for reference in range(5):
        failed = _create(shop, two_services["a"], f"a-{reference}")
        assert (failed.status, failed.resolution) == ("process_failed", "provider_error")
    requests.post(f"{providers['a']}/_control/faults", json={"fail_next": 0}, timeout=5)

    settings_a = selectors.service_connector_settings(service=two_services["a"])
    settings_b = selectors.service_connector_settings(service=two_services["b"])
    with pytest.raises(ProviderUnavailable, match="circuit is open"):
        connector.breaker_for(settings_a).check()
    connector.breaker_for(settings_b).check()
    connector.breaker_for({}).check()  # nor that of the process-wide provider

    assert _create(shop, two_services["b"], "b-1").status == "created"
    still_open = _create(shop, two_services["a"], "a-while-open")
    assert "circuit is open" in still_open.resolution_message


@pytest.mark.django_db
def test_the_database_holds_no_secret_in_clear(two_services):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT code, connector_settings, connector_secrets FROM invoices_service"
            " WHERE connector = 'http'"
        )
        rows = cursor.fetchall()
    assert len(rows) == 2
    stored = json.dumps([[str(value) for value in row] for row in rows])
    for account in ACCOUNTS.values():
        for secret in account.values():
            assert secret not in stored
    assert all(row[2].startswith("gAAAA") for row in rows)  # Fernet tokens


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_with_a_worker_both_providers_notifications_pay_their_invoices(
    shop, two_services, live_server, settings, tmp_path
):
    settings.PUBLIC_BASE_URL = live_server.url
    worker = celery_worker(
        env=project_env(
            DATABASE_URL=worker_database_url(),
            VAR_DIR=str(tmp_path),
            PUBLIC_BASE_URL=live_server.url,
            PROVIDER_HTTP_READ_TIMEOUT_SECONDS="1",
        ),
        name="two-providers",
    )
    try:
        assert worker.wait_for("ready.", timeout=60), worker.output
        invoices = {
            name: _create(shop, service, f"order-{name}") for name, service in two_services.items()
        }
        for invoice in invoices.values():
            assert shop.confirm(invoice.id, {"message": "paid"}).status_code == 202
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            done = Invoice.objects.filter(pk__in=[i.pk for i in invoices.values()])
            if all(status == "processed" for status in done.values_list("status", flat=True)):
                break
            time.sleep(0.2)
        for name, invoice in invoices.items():
            invoice.refresh_from_db()
            assert (invoice.status, invoice.processed_amount) == ("processed", invoice.amount)
            last = invoice.events.order_by("sequence").last()
            assert (last.to_status, last.cause) == ("processed", "provider_notified")
            (event,) = ProviderEvent.objects.filter(provider_reference=invoice.provider_reference)
            assert event.service_id == two_services[name].pk and event.processed_at
    finally:
        worker.stop()


@pytest.mark.django_db
def test_the_demos_second_provider_service_is_served_by_the_second_emulator(settings):
    from connectors.codes.cards import luhn_valid
    from invoices.demo import demo_load
    from invoices.models import Merchant
    from invoices.services import invoice_create
    from invoices.state_machine import Actor

    port = free_port()
    second = LoggedProcess(
        [sys.executable, "manage.py", "run_provider_emulator", "--second"],
        env=project_env(PROVIDER_EMULATOR_2_PORT=str(port)),
    )
    try:
        assert second.wait_for("listening", timeout=30), second.output
        assert f"http://127.0.0.1:{port}" in second.output
        settings.PROVIDER_EMULATOR_2_PORT = port
        # Nothing answers the process-wide provider: only the service's own can issue.
        settings.PROVIDER_HTTP_URL = f"http://127.0.0.1:{free_port()}"
        demo_load()
        demo_load()  # idempotent, the secrets included
        service = Service.objects.get(code="second_provider_card_transfer_uah_invoice")
        assert selectors.service_connector_settings(service=service) == {
            "base_url": f"http://127.0.0.1:{port}",
            "api_key": "emulator-2-api-key",
            "notify_secret": "emulator-2-notify-secret",
        }
        invoice = invoice_create(
            merchant=Merchant.objects.get(name="Demo Shop"),
            service_code=service.code,
            reference_id="demo-second-1",
            amount=Decimal("150.00"),
            currency="UAH",
            test_mode=True,
            actor=Actor("test"),
        )
        assert invoice.status == "created", invoice.resolution_message
        assert luhn_valid(invoice.requisites["card_number"])
    finally:
        second.stop()


@pytest.mark.django_db
def test_two_accounts_may_number_their_orders_alike(shop, two_services, client):
    """Providers that count order ids (1, 2, 3...) give two accounts the same ones: each
    invoice is found by its own service's notification only."""
    invoices = {
        name: _create(shop, service, f"order-{name}") for name, service in two_services.items()
    }
    shared_order_id = invoices["a"].provider_reference
    # What a second account at a counting provider would have issued.
    Invoice.objects.filter(pk=invoices["b"].pk).update(provider_reference=shared_order_id)

    body = {"event_id": "evt_1", "order_id": shared_order_id, "status": "declined"}
    accepted = _notify(
        client,
        "/providers/http/card_transfer_uah_provider_b/notify",
        body,
        secret=ACCOUNTS["b"]["notify_secret"],
    )
    assert accepted.json() == {"status": "accepted"}
    services.provider_event_process(event_pk=ProviderEvent.objects.get().pk)

    statuses = {name: Invoice.objects.get(pk=i.pk).status for name, i in invoices.items()}
    assert statuses == {"a": "created", "b": "process_failed"}
