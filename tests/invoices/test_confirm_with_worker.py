"""Confirm through the API, and a real Celery worker on Redis brings the sandbox's answer."""

import time
from decimal import Decimal

import pytest

from invoices.models import Invoice, InvoiceEvent
from tests.processes import celery_worker, project_env, worker_database_url

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def _wait_until_settled(invoice_ids, *, timeout=45):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        statuses = dict(Invoice.objects.filter(pk__in=invoice_ids).values_list("id", "status"))
        if all(status != "processing" for status in statuses.values()):
            return statuses
        time.sleep(0.2)
    return statuses


def test_the_sandbox_answers_every_confirmation_within_seconds(shop):
    messages = {"paid": "paid, thanks", "fail": "fail", "partial": "partial", "pending": "pending"}
    invoices = {}
    for name, message in messages.items():
        data = shop.create(f"order-{name}").json()["data"]
        receipt = data["attributes"]["flow_data"]["requisites"]["invoice_receipt_number"]
        response = shop.confirm(data["id"], {"invoice_receipt_number": receipt, "message": message})
        assert response.status_code == 202, response.content
        invoices[name] = data["id"]
    wrong = shop.create("order-wrong").json()["data"]["id"]
    assert (
        shop.confirm(wrong, {"invoice_receipt_number": "1", "message": "paid"}).status_code == 202
    )
    invoices["wrong"] = wrong

    worker = celery_worker(env=project_env(DATABASE_URL=worker_database_url()), name="confirm")
    try:
        assert worker.wait_for("ready.", timeout=60), worker.output
        statuses = _wait_until_settled(list(invoices.values()))
    finally:
        worker.stop()

    assert statuses == {
        invoices["paid"]: "processed",
        invoices["fail"]: "process_failed",
        invoices["partial"]: "partially_processed",
        invoices["pending"]: "process_pending",
        invoices["wrong"]: "process_failed",
    }, worker.output
    results = {
        name: Invoice.objects.values("resolution", "processed_amount", "sequence").get(
            pk=invoice_id
        )
        for name, invoice_id in invoices.items()
    }
    assert results["paid"] == {
        "resolution": "ok",
        "processed_amount": Decimal("2126.68"),
        "sequence": 3,
    }
    assert results["fail"]["resolution"] == "declined"
    assert results["partial"] == {
        "resolution": "insufficient_amount",
        "processed_amount": Decimal("1063.34"),
        "sequence": 3,
    }
    assert results["wrong"]["resolution"] == "invalid_details"
    last = InvoiceEvent.objects.get(invoice_id=invoices["paid"], sequence=3)
    assert (last.from_status, last.to_status, last.actor) == (
        "processing",
        "processed",
        "connector:test",
    )
    # The API shows the outcome too.
    read = shop.get(f"/api/payment-invoices/{invoices['paid']}").json()["data"]["attributes"]
    assert (read["status"], read["processed_amount"], read["processed"] is not None) == (
        "processed",
        2126.68,
        True,
    )
