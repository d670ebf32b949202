"""POST /api/payment-invoices/{id}/confirm: the whole matrix of contract 1.4."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from invoices.models import Invoice, InvoiceEvent
from tests.api import API
from tests.factories import MerchantServiceFactory
from tests.on_commit import queued_tasks


def _created(shop, reference_id="order-1"):
    response = shop.create(reference_id)
    assert response.status_code == 201, response.content
    data = response.json()["data"]
    return data["id"], data["attributes"]["flow_data"]["requisites"]["invoice_receipt_number"]


def _errors(response):
    assert response["Content-Type"].startswith("application/json")
    return response.json()["errors"]


@pytest.mark.django_db
def test_a_valid_confirmation_is_202_processing_and_forwarded_after_commit(
    shop, django_capture_on_commit_callbacks
):
    invoice_id, receipt = _created(shop)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = shop.confirm(invoice_id, {"invoice_receipt_number": receipt, "message": "paid"})

    assert response.status_code == 202, response.content
    attributes = response.json()["data"]["attributes"]
    assert (attributes["status"], attributes["sequence"]) == ("processing", 2)
    assert queued_tasks(callbacks) == ["invoices.tasks.forward_confirmation"], (
        "exactly one forward to the provider, queued for after commit"
    )
    assert response.content == shop.get(f"{API}/{invoice_id}").content, "the invoice as stored"
    stored = Invoice.objects.get(pk=invoice_id)
    assert stored.confirmation_payload == {"invoice_receipt_number": receipt, "message": "paid"}
    assert stored.confirmed_at is not None
    event = InvoiceEvent.objects.get(invoice=stored, sequence=2)
    assert (event.from_status, event.to_status, event.cause) == (
        "created",
        "processing",
        "confirmation_received",
    )


@pytest.mark.django_db
@pytest.mark.parametrize("value", [1764077421, 17640.77421, 0, True, None, {"n": 1}])
def test_a_text_field_takes_only_a_json_string(shop, value):
    """The seed's receipt number is "type": "text": a number would lose its leading zeros."""
    invoice_id, receipt = _created(shop)
    response = shop.confirm(invoice_id, {"invoice_receipt_number": value, "message": "ok"})
    assert response.status_code == 422, response.content
    (error,) = _errors(response)
    assert (error["source"]["pointer"], error["code"]) == (
        "/payload/invoice_receipt_number",
        "invalid_type",
    )
    assert "JSON string" in error["detail"]
    assert Invoice.objects.get(pk=invoice_id).status == "created"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"message": "paid"}, {("/payload/invoice_receipt_number", "required")}),
        (
            {"invoice_receipt_number": "12ab", "message": "paid"},
            {("/payload/invoice_receipt_number", "invalid_format")},
        ),
        (
            {"invoice_receipt_number": "1", "message": ""},
            {("/payload/message", "invalid_format")},
        ),
        (
            {"invoice_receipt_number": "1", "message": "x" * 101},
            {("/payload/message", "invalid_format")},
        ),
        (
            {"invoice_receipt_number": "1", "message": "m", "pin": "1234"},
            {("/payload/pin", "unknown_field")},
        ),
        (
            {"invoice_receipt_number": True, "message": ["m"]},
            {
                ("/payload/invoice_receipt_number", "invalid_type"),
                ("/payload/message", "invalid_type"),
            },
        ),
        ({}, {("/payload/invoice_receipt_number", "required"), ("/payload/message", "required")}),
    ],
)
def test_each_bad_field_gets_its_own_422(shop, payload, expected):
    invoice_id, _ = _created(shop)
    response = shop.confirm(invoice_id, payload)
    assert response.status_code == 422, response.content
    assert {(e["source"]["pointer"], e["code"]) for e in _errors(response)} == expected
    assert Invoice.objects.get(pk=invoice_id).status == "created"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "status"),
    [('{"payload": "x"}', 422), ('{"nothing": 1}', 422), ("[]", 422), ("{", 415)],
)
def test_malformed_confirm_bodies(shop, body, status):
    invoice_id, _ = _created(shop)
    response = shop.post(f"{API}/{invoice_id}/confirm", body, auth=False)
    assert response.status_code == status
    assert _errors(response)


@pytest.mark.django_db
def test_five_refused_attempts_lock_the_invoice(shop):
    invoice_id, receipt = _created(shop)
    for _ in range(5):
        assert shop.confirm(invoice_id, {"invoice_receipt_number": "x"}).status_code == 422
    locked = shop.confirm(invoice_id, {"invoice_receipt_number": receipt, "message": "paid"})
    assert locked.status_code == 429
    assert _errors(locked)[0]["code"] == "too_many_attempts"
    assert Invoice.objects.get(pk=invoice_id).status == "created"


@pytest.mark.django_db
def test_too_many_attempts_from_one_client_are_429(shop, settings):
    settings.CONFIRM_ATTEMPTS_PER_CLIENT_PER_MINUTE = 3
    invoice_ids = [_created(shop, f"order-{n}")[0] for n in range(4)]
    statuses = [shop.confirm(i, {"message": "x"}).status_code for i in invoice_ids]
    assert statuses == [422, 422, 422, 429]
    other_client = shop.confirm(invoice_ids[3], {"message": "x"}, REMOTE_ADDR="10.0.0.7")
    assert other_client.status_code == 422


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "detail"),
    [
        ("processing", "already confirmed"),
        ("process_pending", "already confirmed"),
        ("processed", "processed"),
        ("process_failed", "process_failed"),
        ("expired", "expired"),
        ("terminated", "terminated"),
    ],
)
def test_final_expired_or_confirmed_invoices_are_409(shop, status, detail):
    invoice_id, receipt = _created(shop)
    Invoice.objects.filter(pk=invoice_id).update(status=status)
    response = shop.confirm(invoice_id, {"invoice_receipt_number": receipt, "message": "paid"})
    assert response.status_code == 409
    assert detail in _errors(response)[0]["detail"]


@pytest.mark.django_db
def test_an_invoice_past_its_expiry_is_409_even_before_the_expiry_job(shop):
    invoice_id, receipt = _created(shop)
    Invoice.objects.filter(pk=invoice_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = shop.confirm(invoice_id, {"invoice_receipt_number": receipt, "message": "paid"})
    assert response.status_code == 409
    assert "expired" in _errors(response)[0]["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "invoice_id", ["cpi_0000000000000000", "cpi_short", "anything", "cpi_%27--"]
)
def test_unknown_and_malformed_ids_are_the_same_404(shop, invoice_id):
    response = shop.confirm(invoice_id, {"message": "x"})
    assert response.status_code == 404
    assert _errors(response)[0]["code"] == "not_found"
    not_json = shop.post(f"{API}/{invoice_id}/confirm", "{not json", auth=False)
    assert not_json.status_code == 404, "an unknown invoice is 404 whatever the body"


@pytest.mark.django_db
def test_no_credentials_are_needed(shop, django_capture_on_commit_callbacks):
    invoice_id, receipt = _created(shop)
    with django_capture_on_commit_callbacks(execute=False):
        response = Client().post(
            f"{API}/{invoice_id}/confirm",
            {"payload": {"invoice_receipt_number": receipt, "message": "paid"}},
            content_type="application/json",
        )
    assert response.status_code == 202


@pytest.mark.django_db
def test_a_redos_pattern_runs_in_linear_time(shop):
    schema = {"code": {"required": True, "regexp": "^(a+)+$", "type": "text", "example": None}}
    link = MerchantServiceFactory(
        merchant=shop.merchant,
        service__code="redos_uah_invoice",
        service__confirmation_schema=schema,
    )
    invoice = shop.create("r", service=link.service.code).json()["data"]
    started = time.monotonic()
    response = shop.confirm(invoice["id"], {"code": "a" * 999 + "!"})
    elapsed = time.monotonic() - started
    assert response.status_code == 422
    assert elapsed < 1, f"took {elapsed:.2f}s"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_confirms_one_202_the_rest_409(shop, monkeypatch):
    invoice_id, receipt = _created(shop)
    forwarded = []
    from invoices import tasks

    # The forward itself is exercised with a real worker elsewhere; here only the count matters.
    monkeypatch.setattr(tasks.forward_confirmation, "delay", lambda **kw: forwarded.append(kw))
    barrier = threading.Barrier(20)
    statuses = []

    def confirm():
        try:
            barrier.wait()
            response = Client().post(
                f"{API}/{invoice_id}/confirm",
                {"payload": {"invoice_receipt_number": receipt, "message": "paid"}},
                content_type="application/json",
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(statuses) == [202] + [409] * 19, statuses
    moves = InvoiceEvent.objects.filter(invoice_id=invoice_id, from_status="created")
    assert moves.count() == 1
    assert forwarded == [{"invoice_id": invoice_id}]
    assert Invoice.objects.get(pk=invoice_id).sequence == 2
