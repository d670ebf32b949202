"""Operators: callbacks with their attempts, resends, polls and reasoned moves in admin."""

import re

import pytest
from django.urls import reverse

from invoices import callback_delivery
from invoices.models import CallbackDelivery, Invoice, InvoiceEvent, OperatorAction
from tests.factories import move_to_processing
from tests.operators import invoice_admin_url, resend_failed_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def failing_callback(shop):
    invoice_id = shop.create("order-1", callback_url="http://127.0.0.1:9/cb").json()["data"]["id"]
    move_to_processing(invoice_id)
    callback_delivery.invoice_callbacks_deliver(invoice_id=invoice_id)
    return invoice_id


def test_the_invoice_page_shows_callbacks_and_their_attempts(
    admin_client_logged_in, failing_callback
):
    page = admin_client_logged_in.get(invoice_admin_url(failing_callback)).content.decode()
    section = page[page.index("Callbacks and their attempts") :]
    assert "connection failed" in section
    assert CallbackDelivery.objects.get().webhook_id in section


def test_the_callbacks_list_finds_by_invoice_id_or_webhook_id(
    admin_client_logged_in, failing_callback
):
    webhook_id = CallbackDelivery.objects.get().webhook_id

    def found(term: str) -> bool:
        page = admin_client_logged_in.get(
            reverse("admin:invoices_callbackdelivery_changelist"), {"q": term}
        ).content.decode()
        return webhook_id in page

    assert found(failing_callback) and found(webhook_id)
    assert not found(failing_callback.upper()) and not found(webhook_id[:-1])


def test_resend_from_the_invoice_list(
    admin_client_logged_in, failing_callback, django_capture_on_commit_callbacks
):
    CallbackDelivery.objects.update(state="failed")
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = admin_client_logged_in.post(
            reverse("admin:invoices_invoice_changelist"),
            {
                "action": "resend_callback",
                "_selected_action": [failing_callback],
                "reason": "Merchant fixed their endpoint",
            },
            follow=True,
        )
    assert (
        f"Invoice {failing_callback}: latest callback queued to be sent again."
        in response.content.decode()
    )
    assert CallbackDelivery.objects.get().state == "pending"
    assert len(queued) == 1
    action = OperatorAction.objects.get()
    assert (action.invoice_id, action.operator, action.reason) == (
        failing_callback,
        "operator",
        "Merchant fixed their endpoint",
    )


def test_resend_from_the_list_asks_for_a_reason_first(admin_client_logged_in, failing_callback):
    CallbackDelivery.objects.update(state="failed")
    response = admin_client_logged_in.post(
        reverse("admin:invoices_invoice_changelist"),
        {"action": "resend_callback", "_selected_action": [failing_callback]},
    )
    assert 'name="reason"' in response.content.decode()
    assert CallbackDelivery.objects.get().state == "failed"
    assert not OperatorAction.objects.exists()


def test_the_callbacks_list_filters_and_resends_in_bulk(
    admin_client_logged_in, failing_callback, shop
):
    CallbackDelivery.objects.update(state="failed")
    client = admin_client_logged_in
    listing = client.get(
        reverse("admin:invoices_callbackdelivery_changelist"),
        {"state__exact": "failed", "merchant__id__exact": shop.merchant.pk},
    ).content.decode()
    assert failing_callback in listing
    assert "Resend failed callbacks of a merchant" in listing

    form_url = reverse("admin:invoices_callbackdelivery_resend_failed")
    assert client.get(form_url).status_code == 200
    response = client.post(
        form_url,
        resend_failed_form(shop.merchant, "Their endpoint was down all day"),
        follow=True,
    )
    assert "1 failed callback(s) queued" in response.content.decode()
    assert CallbackDelivery.objects.get().state == "pending"
    assert OperatorAction.objects.get().reason == "Their endpoint was down all day"

    CallbackDelivery.objects.update(state="failed")
    selected = client.post(
        reverse("admin:invoices_callbackdelivery_changelist"),
        {
            "action": "resend",
            "_selected_action": [CallbackDelivery.objects.get().pk],
            "reason": "Once more",
        },
        follow=True,
    )
    assert "1 callback(s) queued" in selected.content.decode()
    assert CallbackDelivery.objects.get().state == "pending"
    assert OperatorAction.objects.last().outcome == "callback #2 queued to be sent again"


def test_a_reversed_range_is_refused(admin_client_logged_in, shop):
    response = admin_client_logged_in.post(
        reverse("admin:invoices_callbackdelivery_resend_failed"),
        {
            "merchant": shop.merchant.pk,
            "since": "2026-01-02 00:00:00",
            "until": "2026-01-01 00:00:00",
        },
    )
    assert "The start must be before the end." in response.content.decode()


def test_marking_paid_asks_for_a_reason_and_records_it(admin_client_logged_in, shop):
    invoice_id = shop.create("order-1").json()["data"]["id"]
    url = reverse("admin:invoices_invoice_changelist")
    first = admin_client_logged_in.post(
        url, {"action": "mark_paid", "_selected_action": [invoice_id]}
    )
    assert 'name="reason"' in first.content.decode()
    assert Invoice.objects.get(pk=invoice_id).status == "created"

    admin_client_logged_in.post(
        url,
        {
            "action": "mark_paid",
            "_selected_action": [invoice_id],
            "reason": "Bank statement line 42",
        },
    )
    invoice = Invoice.objects.get(pk=invoice_id)
    assert (invoice.status, invoice.resolution_message) == ("processed", "Bank statement line 42")
    event = InvoiceEvent.objects.filter(invoice=invoice).last()
    assert event.actor == "operator:operator" and event.cause == "operator_action"


def test_an_impossible_operator_move_is_refused_and_shown(admin_client_logged_in, shop):
    invoice_id = shop.create("order-1").json()["data"]["id"]
    Invoice.objects.filter(pk=invoice_id).update(status="processed")
    response = admin_client_logged_in.post(
        reverse("admin:invoices_invoice_changelist"),
        {"action": "terminate", "_selected_action": [invoice_id], "reason": "oops"},
        follow=True,
    )
    assert re.search(r"refused, it is processed", response.content.decode())
    page = admin_client_logged_in.get(invoice_admin_url(invoice_id))
    assert "Refused moves" in page.content.decode()
    assert "operator:operator" in page.content.decode()


def test_poll_now_queues_only_invoices_waiting_on_a_provider(
    admin_client_logged_in, shop, django_capture_on_commit_callbacks
):
    waiting = shop.create("a").json()["data"]["id"]
    idle = shop.create("b").json()["data"]["id"]
    Invoice.objects.filter(pk=waiting).update(status="process_pending")
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = admin_client_logged_in.post(
            reverse("admin:invoices_invoice_changelist"),
            {
                "action": "poll_provider_now",
                "_selected_action": [waiting, idle],
                "reason": "Customer says they paid",
            },
            follow=True,
        )
    page = response.content.decode()
    assert f"Invoice {waiting}: provider will be polled in a moment." in page
    assert f"Invoice {idle}: not waiting on a provider, nothing to poll." in page
    assert len(queued) == 1
