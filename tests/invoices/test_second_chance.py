"""The payer's second chance through the merchant API: reissue and remainder (issue 25)."""

import json
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from checkout.services import invoice_simulate
from invoices import services
from invoices.connector_secrets import secrets_seal
from invoices.models import CallbackDelivery, Invoice, InvoiceEvent, Service
from invoices.services import second_chance
from invoices.state_machine import Actor, StatusChangedMeanwhile, invoice_record_next
from tests.api import API
from tests.factories import InvoiceFactory, MerchantServiceFactory
from tests.on_commit import queued_tasks
from tests.processes import free_port

pytestmark = pytest.mark.django_db

CALLBACKS = "http://shop.example/callbacks"


def _service(**switches) -> Service:
    service = Service.objects.get(code="test_uah_invoice")
    for name, value in switches.items():
        setattr(service, name, value)
    service.save()
    return service


def _created(shop, reference="order-7", **attributes) -> dict:
    response = shop.create(
        reference,
        callback_url=CALLBACKS,
        return_urls={"success": "https://shop.example/ok", "fail": "https://shop.example/no"},
        metadata={"cart": "42"},
        **attributes,
    )
    assert response.status_code == 201, response.content
    return response.json()["data"]


def _expired(invoice_id: str) -> None:
    Invoice.objects.filter(pk=invoice_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    services.invoices_expire_overdue()
    assert Invoice.objects.get(pk=invoice_id).status == "expired"


def _follow(shop, invoice_id: str, what: str, document=None, **headers):
    return shop.post(f"{API}/{invoice_id}/{what}", "" if document is None else document, **headers)


def _attributes(shop, invoice_id: str) -> dict:
    response = shop.get(f"{API}/{invoice_id}")
    assert response.status_code == 200
    return response.json()["data"]["attributes"]


def test_an_expired_invoice_is_reissued_linked_both_ways_and_announced(
    shop, django_capture_on_commit_callbacks
):
    _service(reissue_limit=2)
    first = _created(shop)
    _expired(first["id"])
    expired_sequence = _attributes(shop, first["id"])["sequence"]
    assert "related_invoice" not in _attributes(shop, first["id"])

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = _follow(shop, first["id"], "reissue")

    assert response.status_code == 201, response.content
    new = response.json()["data"]
    assert response["Location"] == f"{API}/{new['id']}"
    attributes = new["attributes"]
    assert new["id"] != first["id"] and attributes["status"] == "created"
    for same in ("reference_id", "amount", "currency", "service", "metadata", "return_urls"):
        assert attributes[same] == first["attributes"][same], same
    assert attributes["callback_url"] == CALLBACKS
    assert attributes["expires"] > int(time.time()) + 3500  # the service's hour, from now
    assert (
        attributes["flow_data"]["requisites"]["invoice_receipt_number"]
        != first["attributes"]["flow_data"]["requisites"]["invoice_receipt_number"]
    )
    assert attributes["related_invoice"] == {
        "previous": {
            "id": first["id"],
            "relation": "reissue",
            "links": {"self": f"{API}/{first['id']}"},
        },
        "next": None,
    }

    # The expired invoice names its follower, one sequence later, still expired.
    old = _attributes(shop, first["id"])
    assert (old["status"], old["sequence"]) == ("expired", expired_sequence + 1)
    assert old["related_invoice"]["next"] == {
        "id": new["id"],
        "relation": "reissue",
        "links": {"self": f"{API}/{new['id']}"},
    }
    # The merchant hears of it: a callback of the old invoice, as GET now shows it.
    announcement = CallbackDelivery.objects.get(invoice_id=first["id"], sequence=old["sequence"])
    assert json.loads(bytes(announcement.body))["data"]["attributes"] == old
    assert announcement.url == CALLBACKS
    assert "invoices.tasks.deliver_callbacks" in queued_tasks(callbacks)
    event = InvoiceEvent.objects.get(invoice_id=first["id"], sequence=old["sequence"])
    assert (event.from_status, event.to_status, event.cause) == (
        "expired",
        "expired",
        "reissue_issued",
    )
    assert event.details == {"next_invoice": new["id"]}


def test_an_invoice_is_followed_once_and_a_repeat_names_the_one_made(shop):
    _service(reissue_limit=3)
    first = _created(shop)
    _expired(first["id"])
    made = _follow(shop, first["id"], "reissue").json()["data"]["id"]

    again = _follow(shop, first["id"], "reissue")

    assert again.status_code == 409
    (error,) = again.json()["errors"]
    assert (error["code"], error["meta"]) == ("already_followed", {"id": made})
    assert Invoice.objects.filter(reference_id="order-7").count() == 2


def test_the_reissues_of_one_order_stop_at_the_services_limit(shop):
    _service(reissue_limit=2)
    current = _created(shop)["id"]
    for _ in range(2):
        _expired(current)
        response = _follow(shop, current, "reissue")
        assert response.status_code == 201, response.content
        current = response.json()["data"]["id"]
    _expired(current)

    refused = _follow(shop, current, "reissue")

    assert refused.status_code == 409
    assert refused.json()["errors"][0]["code"] == "reissue_limit_reached"
    assert "reissued 2 times" in refused.json()["errors"][0]["detail"]


@pytest.mark.parametrize(
    ("switches", "what", "status_before", "code"),
    [
        ({}, "reissue", "expired", "reissue_not_enabled"),
        ({"reissue_limit": 1}, "reissue", "created", "not_expired"),
        ({"reissue_limit": 1}, "reissue", "partially_processed", "not_expired"),
        ({}, "remainder", "partially_processed", "remainder_not_enabled"),
        ({"remainder_enabled": True}, "remainder", "expired", "not_partially_paid"),
        ({"remainder_enabled": True}, "remainder", "processed", "not_partially_paid"),
    ],
)
def test_what_a_service_does_not_allow_is_a_409_that_says_why(
    shop, switches, what, status_before, code
):
    _service(**switches)
    invoice = _created(shop)
    if status_before == "expired":
        _expired(invoice["id"])
    elif status_before != "created":
        invoice_simulate(
            invoice_id=invoice["id"],
            outcome={"processed": "paid", "partially_processed": "partial"}[status_before],
        )

    response = _follow(shop, invoice["id"], what)

    assert response.status_code == 409, response.content
    assert response.json()["errors"][0]["code"] == code
    assert Invoice.objects.filter(reference_id="order-7").count() == 1


def test_a_partly_paid_invoice_is_followed_by_its_remainder(shop):
    _service(remainder_enabled=True)
    first = _created(shop)
    invoice_simulate(invoice_id=first["id"], outcome="partial")  # half, rounded down
    paid = _attributes(shop, first["id"])
    assert (paid["status"], paid["processed_amount"]) == ("partially_processed", 1063.34)

    response = _follow(shop, first["id"], "remainder")

    assert response.status_code == 201, response.content
    attributes = response.json()["data"]["attributes"]
    assert (attributes["amount"], attributes["payment_amount"]) == (1063.34, 1063.34)
    assert attributes["return_urls"] == paid["return_urls"]
    assert attributes["related_invoice"]["previous"]["relation"] == "remainder"
    assert _attributes(shop, first["id"])["related_invoice"]["next"]["relation"] == "remainder"
    stored = Invoice.objects.get(pk=response.json()["data"]["id"])
    assert stored.amount == Decimal("1063.34") and stored.reissue_count == 0


def test_another_merchants_invoice_or_the_other_mode_is_not_found(shop):
    _service(reissue_limit=1)
    invoice = _created(shop)
    _expired(invoice["id"])
    other = MerchantServiceFactory(service=Service.objects.get(code="test_uah_invoice")).merchant
    from tests.api import MerchantApi

    assert _follow(MerchantApi(merchant=other), invoice["id"], "reissue").status_code == 404
    assert _follow(shop, invoice["id"], "reissue", live=True).status_code == 404
    assert _follow(shop, "cpi_0000000000000000", "reissue").status_code == 404
    assert _follow(shop, invoice["id"], "reissue", auth=False).status_code == 401


def test_the_body_may_set_the_expiry_and_is_checked(shop):
    _service(reissue_limit=3)
    invoice = _created(shop)
    _expired(invoice["id"])
    document = {"data": {"type": "payment-invoices", "attributes": {"expires": 1}}}

    refused = _follow(shop, invoice["id"], "reissue", document)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["source"] == {"pointer": "/data/attributes/expires"}
    assert _follow(shop, invoice["id"], "reissue", "not json").status_code == 415

    expires = int(time.time()) + 600
    document["data"]["attributes"]["expires"] = expires
    response = _follow(shop, invoice["id"], "reissue", document)
    assert response.status_code == 201, response.content
    assert response.json()["data"]["attributes"]["expires"] == expires


def test_an_idempotency_key_replays_the_first_answer_and_belongs_to_one_invoice(shop):
    _service(reissue_limit=3)
    first, second = _created(shop, "order-a"), _created(shop, "order-b")
    _expired(first["id"])
    _expired(second["id"])

    made = _follow(shop, first["id"], "reissue", HTTP_IDEMPOTENCY_KEY="retry-1")
    replayed = _follow(shop, first["id"], "reissue", HTTP_IDEMPOTENCY_KEY="retry-1")
    elsewhere = _follow(shop, second["id"], "reissue", HTTP_IDEMPOTENCY_KEY="retry-1")

    assert made.status_code == replayed.status_code == 201
    assert replayed.content == made.content and replayed["Idempotent-Replayed"] == "true"
    assert elsewhere.status_code == 422
    assert elsewhere.json()["errors"][0]["code"] == "idempotency_key_reused"
    assert Invoice.objects.filter(reference_id="order-b").count() == 1


def test_an_order_is_found_by_its_reference_with_every_invoice_newest_first(shop):
    _service(reissue_limit=1)
    first = _created(shop)
    _expired(first["id"])
    new = _follow(shop, first["id"], "reissue").json()["data"]["id"]

    listed = shop.get(API, **{"filter[reference_id]": "order-7"}).json()["data"]
    assert [item["id"] for item in listed] == [new, first["id"]]
    repeated = shop.create("order-7")
    assert repeated.status_code == 409
    assert repeated.json()["errors"][0]["meta"] == {"id": new}


def test_a_provider_that_cannot_issue_details_stores_nothing_and_may_be_asked_again(shop):
    service = _service(reissue_limit=1)
    service.connector = "http"
    service.display_kind = "card_transfer"
    # Nothing listens there: the provider is unreachable.
    service.connector_settings = {"base_url": f"http://127.0.0.1:{free_port()}"}
    service.connector_secrets = secrets_seal({"api_key": "k", "notify_secret": "s"})
    service.save()
    expired = InvoiceFactory(
        merchant=shop.merchant, service=service, connector="http", status="expired"
    )

    response = _follow(shop, expired.id, "reissue", HTTP_IDEMPOTENCY_KEY="k")

    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "30"
    assert response.json()["errors"][0]["code"] == "provider_unavailable"
    assert Invoice.objects.filter(reference_id=expired.reference_id).count() == 1
    assert Invoice.objects.get(pk=expired.id).next_invoice_id is None
    # The key is not spent on an answer that asks for a retry.
    assert _follow(shop, expired.id, "reissue", HTTP_IDEMPOTENCY_KEY="k").status_code == 503


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_reissues_make_one_invoice_and_both_callers_get_it(shop):
    _service(reissue_limit=5)
    first = _created(shop)
    _expired(first["id"])
    results, start = [], threading.Barrier(4)

    def reissue():
        start.wait()
        try:
            made = second_chance.invoice_reissue(invoice_id=first["id"], actor=Actor("test"))
            results.append(("made", made.id))
        except second_chance.AlreadyFollowed as followed:
            results.append(("found", followed.next_invoice_id))
        finally:
            connection.close()

    threads = [threading.Thread(target=reissue) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    made = [invoice_id for outcome, invoice_id in results if outcome == "made"]
    assert len(made) == 1 and {invoice_id for _, invoice_id in results} == set(made)
    assert Invoice.objects.filter(reference_id="order-7").count() == 2
    old = Invoice.objects.get(pk=first["id"])
    assert old.next_invoice_id == made[0]
    assert CallbackDelivery.objects.filter(invoice=old, sequence=old.sequence).count() == 1


def test_an_expired_invoice_paid_late_closes_the_reissue_the_payer_has_not_used(shop):
    _service(reissue_limit=2)
    first = _created(shop)
    _expired(first["id"])
    new = _follow(shop, first["id"], "reissue").json()["data"]["id"]

    services.invoice_operator_move(
        invoice_id=first["id"], outcome="processed", reason="Paid at the branch", operator="ann"
    )

    paid = _attributes(shop, first["id"])
    assert (paid["status"], paid["resolution"]) == ("processed", "late_payment")
    closed = _attributes(shop, new)
    assert (closed["status"], closed["resolution"]) == ("terminated", "terminated")
    assert closed["resolution_message"] == f"The order was paid late on {first['id']}."
    # The merchant hears of both.
    assert CallbackDelivery.objects.filter(invoice_id=new, sequence=closed["sequence"]).exists()
    event = InvoiceEvent.objects.get(invoice_id=new, sequence=closed["sequence"])
    assert (event.cause, event.actor) == ("order_paid_late", "system:second_chance")


def test_a_reissue_the_payer_confirmed_stays_when_the_expired_one_is_paid_late(shop):
    _service(reissue_limit=2)
    first = _created(shop)
    _expired(first["id"])
    new = _follow(shop, first["id"], "reissue").json()["data"]
    receipt = new["attributes"]["flow_data"]["requisites"]["invoice_receipt_number"]
    confirmed = shop.confirm(new["id"], {"invoice_receipt_number": receipt, "message": "pending"})
    assert confirmed.status_code == 202

    services.invoice_operator_move(
        invoice_id=first["id"], outcome="processed", reason="Paid at the branch", operator="ann"
    )

    # Money may be on its way to the new details: never closed under the payer's feet.
    assert _attributes(shop, new["id"])["status"] == "processing"


def test_an_invoice_paid_since_it_was_checked_is_not_linked():
    paid = InvoiceFactory(status="processed")
    follower = InvoiceFactory(merchant=paid.merchant, service=paid.service)

    with pytest.raises(StatusChangedMeanwhile, match="expected expired"):
        invoice_record_next(
            invoice_id=paid.id,
            next_invoice=follower,
            relation="reissue",
            expected_status="expired",
            actor=Actor("test"),
        )
    paid.refresh_from_db()
    assert (paid.next_invoice_id, paid.sequence) == (None, 1)


def test_an_empty_body_takes_the_defaults_and_a_huge_one_is_a_413(shop, settings):
    _service(reissue_limit=3)
    invoice = _created(shop)
    _expired(invoice["id"])
    huge = json.dumps({"data": {"attributes": {"x": "y" * settings.API_MAX_BODY_BYTES}}})

    assert _follow(shop, invoice["id"], "reissue", huge).status_code == 413
    assert _follow(shop, invoice["id"], "reissue", "").status_code == 201
