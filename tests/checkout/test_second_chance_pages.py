"""The payer's second chance on the hosted page: new details for an expired invoice, the rest
of a partly paid one (issue 25). Browser walks are in tests/browser/test_second_chance.py."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from checkout.services import invoice_simulate
from invoices import services
from invoices.demo import demo_load
from invoices.models import Invoice, Merchant, Service
from invoices.selectors import merchant_credentials
from invoices.state_machine import Actor

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    demo_load()
    return Merchant.objects.get(name="Demo Shop")


def _invoice(merchant, reference_id="order-second", **extra) -> Invoice:
    return services.invoice_create(
        merchant=merchant,
        service_code="test_uah_invoice",
        reference_id=reference_id,
        amount=Decimal("2126.68"),
        currency="UAH",
        test_mode=True,
        actor=Actor("test"),
        return_url="https://shop.example/back",
        **extra,
    )


def _expire(invoice: Invoice) -> None:
    Invoice.objects.filter(pk=invoice.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    services.invoices_expire_overdue()


def _page(client, invoice_id: str, locale="en") -> str:
    response = client.get("/hpp/", {"cpi": invoice_id, "locale": locale})
    assert response.status_code == 200
    return response.content.decode()


def _new_invoice_id(response) -> str:
    assert response.status_code == 303, response.content[:300]
    return re.fullmatch(r"/hpp/\?cpi=(cpi_\w{16})(&locale=\w+)?", response["Location"]).group(1)


def test_an_expired_page_offers_new_details(client, demo):
    invoice = _invoice(demo)
    _expire(invoice)

    page = _page(client, invoice.id)

    assert "This invoice has expired" in page
    assert "You can get new payment details for UAH\xa02,126.68, valid from now on." in page
    assert f'action="/hpp/{invoice.id}/reissue?locale=en"' in page
    assert 'name="csrfmiddlewaretoken"' in page
    # Contract 2.3 holds all the same: the result page returns the payer after a few seconds.
    assert "data-return-after" in page and 'http-equiv="refresh"' in page
    # The status poll that turns the page final shows the same offer.
    polled = client.get(f"/hpp/{invoice.id}/status", HTTP_HX_REQUEST="true").content.decode()
    assert "Get new payment details" in polled


def test_asking_for_new_details_leads_to_a_new_invoice_once(client, demo):
    invoice = _invoice(demo)
    _expire(invoice)

    new_id = _new_invoice_id(client.post(f"/hpp/{invoice.id}/reissue"))
    # A double click, or the old page in another tab: the same new invoice.
    assert _new_invoice_id(client.post(f"/hpp/{invoice.id}/reissue")) == new_id

    new = Invoice.objects.get(pk=new_id)
    assert (new.status, new.amount, new.reference_id) == ("created", invoice.amount, "order-second")
    assert new.expires_at > timezone.now() + timedelta(minutes=59)
    page = _page(client, new_id)
    assert "Waiting for your payment" in page and "Invoice receipt number" in page
    assert "New payment details for your order: they replace the expired ones." in page
    old_page = _page(client, invoice.id)
    assert "A new invoice was issued for this order" in old_page
    assert f'href="/hpp/?cpi={new_id}"' in old_page
    assert "Get new payment details" not in old_page


def test_a_partly_paid_page_offers_to_pay_the_rest(client, demo):
    invoice = _invoice(demo)
    invoice_simulate(invoice_id=invoice.id, outcome="partial")

    page = _page(client, invoice.id)
    assert "Received UAH\xa01,063.34 of UAH\xa02,126.68." in page
    assert "Pay the remaining UAH\xa01,063.34" in page
    ukrainian = _page(client, invoice.id, locale="uk")
    assert "Сплатити решту: 1\xa0063,34\xa0₴" in ukrainian

    new_id = _new_invoice_id(client.post(f"/hpp/{invoice.id}/remainder"))
    new = Invoice.objects.get(pk=new_id)
    assert new.amount == Decimal("1063.34") and new.return_url == "https://shop.example/back"
    new_page = _page(client, new_id)
    assert "UAH\xa01,063.34" in new_page
    assert "The rest of your order: what your earlier payment left open." in new_page


def test_a_service_without_the_switch_offers_nothing_and_refuses_plainly(client, demo):
    Service.objects.filter(code="test_uah_invoice").update(reissue_limit=0)
    invoice = _invoice(demo)
    _expire(invoice)

    assert "Get new payment details" not in _page(client, invoice.id)

    refused = client.post(f"/hpp/{invoice.id}/reissue")
    assert refused.status_code == 409
    assert "A new invoice cannot be issued for this payment." in refused.content.decode()
    assert Invoice.objects.filter(reference_id="order-second").count() == 1


def test_the_checkout_link_opened_again_lands_on_the_newest_invoice(client, demo):
    keys = merchant_credentials(merchant=demo)
    link = {
        "public_key": keys.public_key_test,
        "amount": "150.00",
        "currency": "UAH",
        "reference_id": "link-again",
        "service": "test_uah_invoice",
    }
    first_id = client.get("/hpp/", link)["Location"].split("cpi=")[1]
    _expire(Invoice.objects.get(pk=first_id))
    new_id = _new_invoice_id(client.post(f"/hpp/{first_id}/reissue"))

    again = client.get("/hpp/", link)

    assert again.status_code == 302 and again["Location"].endswith(f"cpi={new_id}")


def test_unknown_invoices_and_wrong_methods(client, demo):
    assert client.post("/hpp/cpi_0000000000000000/reissue").status_code == 404
    assert client.post("/hpp/nonsense/remainder").status_code == 404
    invoice = _invoice(demo)
    assert client.get(f"/hpp/{invoice.id}/reissue").status_code == 405
    assert client.post(f"/hpp/{invoice.id}/reissue").status_code == 409  # still payable


def test_a_stale_tab_asking_again_lands_where_the_order_stands_in_its_language(client, demo):
    invoice = _invoice(demo)
    _expire(invoice)
    second_id = _new_invoice_id(client.post(f"/hpp/{invoice.id}/reissue"))
    _expire(Invoice.objects.get(pk=second_id))
    third = client.post(f"/hpp/{second_id}/reissue?locale=uk")
    assert third.status_code == 303 and third["Location"].endswith("&locale=uk")
    third_id = third["Location"].split("cpi=")[1].split("&")[0]

    again = client.post(f"/hpp/{invoice.id}/reissue?locale=uk")

    assert again.status_code == 303
    assert again["Location"] == f"/hpp/?cpi={third_id}&locale=uk"
