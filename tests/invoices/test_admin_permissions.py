"""Who may do what in the admin: each operators' group, logged in as one of its members.

A refused attempt answers 403, by GET and by a forged POST, from the list and
from the invoice's own page, and writes nothing.
"""

import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.db import DatabaseError, transaction
from django.urls import reverse

from invoices.models import (
    CallbackDelivery,
    Invoice,
    InvoiceEvent,
    Merchant,
    OperatorAction,
    RefusedMove,
)
from invoices.operator_actions import INVOICE_ACTIONS
from tests.factories import InvoiceFactory, move_to_processing
from tests.operators import invoice_admin_url, operator_in_group, resend_failed_form

pytestmark = pytest.mark.django_db

MOVES = ["mark_paid", "mark_failed", "expire", "terminate"]
MOVE_LABELS = ["Mark paid", "Mark failed", "Expire", "Terminate"]
SUPPORT_ACTIONS = ["resend_callback", "poll_provider_now"]


@pytest.fixture
def invoice_in_processing(shop):
    """Waiting on the provider, with one callback already given up on."""
    invoice_id = shop.create("order-1", amount=150, callback_url="http://127.0.0.1:9/cb").json()[
        "data"
    ]["id"]
    move_to_processing(invoice_id)
    CallbackDelivery.objects.update(state="failed")
    return invoice_id


def _as(client, group: str):
    client.force_login(operator_in_group(group))
    return client


def _everything_written(invoice_id: str) -> dict:
    """What any operator action could have changed."""
    return {
        "invoice": Invoice.objects.values("status", "sequence", "updated_at").get(pk=invoice_id),
        "events": list(InvoiceEvent.objects.values_list("pk", flat=True)),
        "refused": RefusedMove.objects.count(),
        "actions": OperatorAction.objects.count(),
        "callbacks": list(
            CallbackDelivery.objects.values_list("pk", "state", "next_attempt_at", "pending_since")
        ),
        "merchants": list(
            Merchant.objects.values_list("secret_key_live_hash", "secret_key_test_hash")
        ),
    }


def _offered(client, invoice_id: str) -> list[str]:
    """The actions the invoice's own page offers this operator."""
    page = client.get(invoice_admin_url(invoice_id))
    return re.findall(r'class="operator-action">([^<]+)<', page.content.decode())


def _act_url(invoice_id: str, action: str) -> str:
    return invoice_admin_url(invoice_id, "act", action)


def _list_post(client, action: str, invoice_id: str):
    return client.post(
        reverse("admin:invoices_invoice_changelist"),
        {"action": action, "_selected_action": [invoice_id], "reason": "because"},
    )


def _refused_everywhere(client, invoice_id: str, actions: list[str], on_commit) -> None:
    before = _everything_written(invoice_id)
    with on_commit(execute=True) as queued:
        for action in actions:
            assert _list_post(client, action, invoice_id).status_code == 403, action
            assert client.get(_act_url(invoice_id, action)).status_code == 403, action
            forged = client.post(_act_url(invoice_id, action), {"reason": "because"})
            assert forged.status_code == 403, action
    assert queued == []
    assert _everything_written(invoice_id) == before


def test_the_groups_hold_exactly_their_jobs_permissions(db):
    def codenames(group: str) -> set[str]:
        return set(Group.objects.get(name=group).permissions.values_list("codename", flat=True))

    viewer = codenames("viewer")
    assert viewer and all(codename.startswith("view_") for codename in viewer)
    assert {"view_invoice", "view_invoiceevent", "view_callbackdelivery"} <= viewer
    assert {"view_statementimport", "view_statemententry"} <= viewer
    assert codenames("support") == viewer | {"resend_callback", "poll_provider"}
    assert codenames("finance") == viewer | {"move_invoice_status", "reconcile_statement"}
    assert {"rotate_merchant_keys", "change_merchant", "change_service", "resend_callback"} <= (
        codenames("admin")
    )


def test_a_viewer_sees_the_invoice_its_timeline_and_callbacks(client, invoice_in_processing):
    client = _as(client, "viewer")
    page = client.get(invoice_admin_url(invoice_in_processing))
    assert page.status_code == 200
    text = page.content.decode()
    assert invoice_in_processing in text
    assert "Timeline" in text and "Callbacks and their attempts" in text
    assert CallbackDelivery.objects.get().webhook_id in text
    assert 'class="operator-action"' not in text

    listing = client.get(reverse("admin:invoices_invoice_changelist")).content.decode()
    assert invoice_in_processing in listing
    for action in INVOICE_ACTIONS:
        assert f'<option value="{action}"' not in listing

    callbacks = client.get(reverse("admin:invoices_callbackdelivery_changelist")).content.decode()
    assert CallbackDelivery.objects.get().webhook_id in callbacks
    assert "Resend failed callbacks of a merchant" not in callbacks
    delivery = client.get(
        reverse("admin:invoices_callbackdelivery_change", args=[CallbackDelivery.objects.get().pk])
    )
    assert delivery.status_code == 200 and 'name="_save"' not in delivery.content.decode()


def test_a_viewer_is_refused_every_action_and_nothing_is_written(
    client, invoice_in_processing, shop, django_capture_on_commit_callbacks
):
    client = _as(client, "viewer")
    _refused_everywhere(
        client, invoice_in_processing, list(INVOICE_ACTIONS), django_capture_on_commit_callbacks
    )

    before = _everything_written(invoice_in_processing)
    delivery = CallbackDelivery.objects.get()
    resend = client.post(
        reverse("admin:invoices_callbackdelivery_changelist"),
        {"action": "resend", "_selected_action": [delivery.pk], "reason": "because"},
    )
    assert resend.status_code == 403
    resend_failed = reverse("admin:invoices_callbackdelivery_resend_failed")
    assert client.get(resend_failed).status_code == 403
    forged = client.post(resend_failed, resend_failed_form(shop.merchant, "because"))
    assert forged.status_code == 403
    rotate = client.post(
        reverse("admin:invoices_merchant_changelist"),
        {"action": "rotate_secret_keys", "_selected_action": [shop.merchant.pk]},
    )
    assert rotate.status_code == 403
    assert _everything_written(invoice_in_processing) == before


def test_support_resends_and_polls_from_the_page_but_cannot_move(
    client, invoice_in_processing, django_capture_on_commit_callbacks
):
    client = _as(client, "support")
    assert _offered(client, invoice_in_processing) == [
        "Resend the latest callback",
        "Poll the provider now",
    ]

    form = client.get(_act_url(invoice_in_processing, "resend_callback"))
    assert form.status_code == 200 and 'name="reason"' in form.content.decode()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        resent = client.post(
            _act_url(invoice_in_processing, "resend_callback"),
            {"reason": "Merchant's endpoint is back"},
            follow=True,
        )
        polled = client.post(
            _act_url(invoice_in_processing, "poll_provider_now"),
            {"reason": "Customer says they paid"},
            follow=True,
        )
    assert "latest callback queued to be sent again" in resent.content.decode()
    assert "provider will be polled in a moment" in polled.content.decode()
    assert len(queued) == 2
    assert CallbackDelivery.objects.get().state == "pending"
    recorded = list(OperatorAction.objects.values_list("operator", "action", "reason"))
    assert recorded == [
        ("support-operator", "resend_callback", "Merchant's endpoint is back"),
        ("support-operator", "poll_provider_now", "Customer says they paid"),
    ]
    timeline = polled.content.decode()
    assert "Merchant&#x27;s endpoint is back" in timeline and "support-operator" in timeline

    _refused_everywhere(client, invoice_in_processing, MOVES, django_capture_on_commit_callbacks)


def test_finance_marks_paid_from_the_page_with_a_reason_but_cannot_resend(
    client, invoice_in_processing, django_capture_on_commit_callbacks
):
    client = _as(client, "finance")
    assert _offered(client, invoice_in_processing) == [
        "Mark paid",
        "Mark failed",
        "Expire",
        "Terminate",
    ]

    url = _act_url(invoice_in_processing, "mark_paid")
    without_reason = client.post(url, {"reason": "  "})
    assert without_reason.status_code == 200
    assert "This field is required." in without_reason.content.decode()
    assert Invoice.objects.get(pk=invoice_in_processing).status == "processing"

    done = client.post(url, {"reason": "Bank statement line 42"}, follow=True)
    assert f"Invoice {invoice_in_processing}: moved to processed." in done.content.decode()
    invoice = Invoice.objects.get(pk=invoice_in_processing)
    assert (invoice.status, invoice.resolution_message) == ("processed", "Bank statement line 42")
    event = InvoiceEvent.objects.filter(invoice=invoice).last()
    assert (event.actor, event.details) == (
        "operator:finance-operator",
        {"reason": "Bank statement line 42"},
    )
    assert OperatorAction.objects.get().outcome == "moved to processed"

    # From a final status nothing is offered, and asking anyway is refused and recorded.
    assert _offered(client, invoice_in_processing) == []
    again = client.post(
        _act_url(invoice_in_processing, "terminate"), {"reason": "oops"}, follow=True
    )
    assert "refused, it is processed" in again.content.decode()
    assert RefusedMove.objects.get().actor == "operator:finance-operator"

    _refused_everywhere(
        client, invoice_in_processing, SUPPORT_ACTIONS, django_capture_on_commit_callbacks
    )


def test_the_admin_group_rotates_keys(client, shop):
    client = _as(client, "admin")
    old_hash = shop.merchant.secret_key_live_hash
    response = client.post(
        reverse("admin:invoices_merchant_changelist"),
        {
            "action": "rotate_secret_keys",
            "_selected_action": [shop.merchant.pk],
            "reason": "Quarterly rotation",
        },
    )
    assert response.status_code == 200
    assert re.search(r"sk_live_[A-Za-z0-9]{32}", response.content.decode())
    assert Merchant.objects.get().secret_key_live_hash != old_hash


def test_an_unknown_action_or_invoice_is_not_found(client, invoice_in_processing):
    client = _as(client, "admin")
    assert client.get(_act_url(invoice_in_processing, "refund")).status_code == 404
    assert client.get(_act_url("cpi_doesnotexist", "mark_paid")).status_code == 404


def test_amounts_have_the_currencys_digits_and_times_the_second_and_zone(
    client, invoice_in_processing
):
    client = _as(client, "viewer")
    page = client.get(invoice_admin_url(invoice_in_processing)).content.decode()
    assert "150.00 UAH" in page
    assert "150.0000" not in page
    created = Invoice.objects.get(pk=invoice_in_processing).created_at
    assert created.strftime("%Y-%m-%d %H:%M:%S UTC") in page


def test_a_services_limits_have_its_currencys_digits(client, shop):
    client = _as(client, "admin")
    service = shop.merchant.services.get()
    service.min_amount, service.max_amount = Decimal("1"), Decimal("50000.5")
    service.save()
    page = client.get(reverse("admin:invoices_service_change", args=[service.pk])).content.decode()
    assert 'value="1.00"' in page and 'value="50000.50"' in page
    assert ".0000" not in page


def test_what_operators_did_cannot_be_rewritten(client, invoice_in_processing):
    _as(client, "support").post(
        _act_url(invoice_in_processing, "poll_provider_now"), {"reason": "Customer called"}
    )
    with pytest.raises(DatabaseError), transaction.atomic():
        OperatorAction.objects.update(reason="nobody asked")
    assert OperatorAction.objects.get().reason == "Customer called"


def test_the_page_the_list_links_to_offers_and_runs_its_actions(client, shop):
    # "_5F" is how the admin writes "_" in its URLs: this id is quoted twice over.
    invoice = InvoiceFactory(id="cpi_5FAbcdefghijklmn", merchant=shop.merchant, status="processing")
    client = _as(client, "finance")
    listing = client.get(reverse("admin:invoices_invoice_changelist")).content.decode()
    (page_url,) = set(re.findall(r'href="([^"]+/change/)"', listing))
    assert page_url == invoice_admin_url(invoice.pk) and "cpi_5F5FA" in page_url

    page = client.get(page_url).content.decode()
    mark_paid = re.search(r'<a href="([^"]+)" class="operator-action">Mark paid<', page).group(1)
    done = client.post(mark_paid, {"reason": "Paid at the counter"}, follow=True)
    assert done.redirect_chain == [(page_url, 302)]
    assert f"Invoice {invoice.pk}: moved to processed." in done.content.decode()
    assert Invoice.objects.get().status == "processed"


def test_select_all_carries_itself_through_the_reason_page(
    client, shop, django_capture_on_commit_callbacks
):
    waiting = [
        InvoiceFactory(merchant=shop.merchant, status="process_pending").pk for _ in range(25)
    ]
    client = _as(client, "support")
    url = reverse("admin:invoices_invoice_changelist") + "?status__exact=process_pending"
    # What the list posts: the ticked rows of its page, and "select all 25".
    chosen = {"action": "poll_provider_now", "index": "0", "select_across": "1"}
    page = client.post(url, {**chosen, "_selected_action": waiting[:2]}).content.decode()
    assert "… and 5 more" in page
    assert 'name="select_across" value="1"' in page
    assert page.count('name="_selected_action"') == 2

    with django_capture_on_commit_callbacks(execute=False) as queued:
        client.post(url, {**chosen, "_selected_action": waiting[:2], "reason": "Provider is back"})
    assert len(queued) == 25
    assert set(OperatorAction.objects.values_list("invoice_id", flat=True)) == set(waiting)


def test_a_forged_action_is_refused_whichever_menu_it_names(client, invoice_in_processing):
    client = _as(client, "support")
    before = _everything_written(invoice_in_processing)
    for index in ("0", "1"):
        forged = client.post(
            reverse("admin:invoices_invoice_changelist"),
            {
                "action": ["resend_callback", "mark_paid"],
                "index": index,
                "_selected_action": [invoice_in_processing],
                "reason": "because",
            },
        )
        assert forged.status_code == 403
    deleting = client.post(
        reverse("admin:invoices_invoice_changelist"),
        {"action": "delete_selected", "_selected_action": [invoice_in_processing], "post": "yes"},
    )
    assert deleting.status_code == 403
    assert _everything_written(invoice_in_processing) == before


def test_whoever_may_not_act_cannot_tell_which_invoices_exist(client, invoice_in_processing):
    client = _as(client, "viewer")
    for invoice_id in (invoice_in_processing, "cpi_doesnotexist"):
        assert client.get(_act_url(invoice_id, "mark_paid")).status_code == 403
