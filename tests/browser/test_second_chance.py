"""The payer's second chance in a browser: the live server, a real Celery worker delivering
callbacks to a merchant's endpoint on loopback (issue 25).

- An invoice expires while its page is open; the payer asks for new details, pays them in
  test mode, and the merchant hears of both invoices, each naming the other.
- A partly paid invoice; the payer pays the rest on a linked invoice and is taken back.
"""

import json
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from invoices import services
from invoices.models import Invoice
from tests.browser.conftest import expect, screenshot
from tests.receiver import CallbackReceiver

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

SETTLE_MS = 20_000


@pytest.fixture
def merchant_endpoint():
    receiver = CallbackReceiver()
    yield receiver
    receiver.close()


def _callbacks(receiver: CallbackReceiver, count: int) -> dict[tuple[str, int], dict]:
    """The callbacks that arrived, by (invoice id, sequence), once `count` of them have."""
    received = receiver.wait_for(count, timeout=30)
    documents = [json.loads(callback.body)["data"] for callback in received]
    by_move = {(d["id"], d["attributes"]["sequence"]): d["attributes"] for d in documents}
    assert len(by_move) == len(documents) == count, sorted(by_move)
    return by_move


def _new_invoice_id(page, old_id: str) -> str:
    page.wait_for_url(lambda url: "cpi=" in url and old_id not in url, timeout=SETTLE_MS)
    return parse_qs(urlsplit(page.url).query)["cpi"][0]


def _pay_in_test_mode(page) -> None:
    page.get_by_role("button", name="Paid", exact=True).click()
    expect(page.locator("#status")).to_have_attribute("data-status", "processed", timeout=SETTLE_MS)


def test_an_expired_invoice_gets_new_details_that_are_paid_and_both_are_announced(
    worker, demo, browsing, merchant_endpoint, shop_return_page
):
    invoice = demo.invoice(
        callback_url=merchant_endpoint.url,
        return_url=shop_return_page.url,
        expires_at=timezone.now() + timedelta(seconds=3),
    )
    page = browsing.page()
    page.goto(f"/hpp/?cpi={invoice.id}&locale=en")
    expect(page.locator("#status")).to_have_attribute("data-status", "created")

    # What beat's expiry sweep does, once the deadline has passed.
    while Invoice.objects.get(pk=invoice.id).status != "expired":
        time.sleep(0.5)
        services.invoices_expire_overdue()
    status = page.locator("#status")
    expect(status).to_have_attribute("data-status", "expired", timeout=SETTLE_MS)
    expect(status.locator(".status-text")).to_have_text("This invoice has expired")
    ask = page.get_by_role("button", name="Get new payment details")
    expect(ask).to_be_visible()
    screenshot(page, "second-chance-expired")

    ask.click()
    new_id = _new_invoice_id(page, invoice.id)
    expect(status).to_have_attribute("data-status", "created")
    expect(page.locator("[data-testid=amount]")).to_have_text("UAH\xa02,126.68")
    new = Invoice.objects.get(pk=new_id)
    assert new.requisites != invoice.requisites and new.expires_at > timezone.now()
    expect(page.get_by_text(new.requisites["invoice_receipt_number"])).to_be_visible()
    _pay_in_test_mode(page)
    page.wait_for_url(lambda url: url.startswith(shop_return_page.url), timeout=SETTLE_MS)
    assert {"cpi": [new_id], "status": ["processed"]} in shop_return_page.visits

    # Back on the old page (another tab, a bookmark): it leads to the new invoice.
    page.goto(f"/hpp/?cpi={invoice.id}&locale=en")
    expect(page.get_by_role("link", name="Continue with the new invoice")).to_have_attribute(
        "href", f"/hpp/?cpi={new_id}"
    )

    callbacks = _callbacks(merchant_endpoint, 3)
    assert callbacks[(invoice.id, 2)]["status"] == "expired"
    assert "related_invoice" not in callbacks[(invoice.id, 2)]
    announcement = callbacks[(invoice.id, 3)]
    assert announcement["status"] == "expired"
    assert announcement["related_invoice"]["next"]["id"] == new_id
    assert announcement["related_invoice"]["next"]["relation"] == "reissue"
    paid = callbacks[(new_id, 2)]
    assert (paid["status"], paid["reference_id"]) == ("processed", invoice.reference_id)
    assert paid["related_invoice"]["previous"] == {
        "id": invoice.id,
        "relation": "reissue",
        "links": {"self": f"/api/payment-invoices/{invoice.id}"},
    }


def test_the_rest_of_a_partly_paid_invoice_is_paid_on_a_linked_invoice(
    worker, demo, browsing, merchant_endpoint, shop_return_page
):
    invoice = demo.invoice(callback_url=merchant_endpoint.url, return_url=shop_return_page.url)
    page = browsing.page()
    page.goto(f"/hpp/?cpi={invoice.id}&locale=en")

    page.get_by_role("button", name="Partially paid").click()
    status = page.locator("#status")
    expect(status).to_have_attribute("data-status", "partially_processed", timeout=SETTLE_MS)
    expect(status).to_contain_text("Received UAH\xa01,063.34 of UAH\xa02,126.68.")
    pay_rest = page.get_by_role("button", name="Pay the remaining UAH\xa01,063.34")
    expect(pay_rest).to_be_visible()
    screenshot(page, "second-chance-remainder")

    pay_rest.click()
    new_id = _new_invoice_id(page, invoice.id)
    expect(page.locator("[data-testid=amount]")).to_have_text("UAH\xa01,063.34")
    _pay_in_test_mode(page)
    # Paid in full at last: the payer goes back to the shop, told which invoice it was.
    page.wait_for_url(lambda url: url.startswith(shop_return_page.url), timeout=SETTLE_MS)
    assert {"cpi": [new_id], "status": ["processed"]} in shop_return_page.visits

    callbacks = _callbacks(merchant_endpoint, 3)
    partial = callbacks[(invoice.id, 2)]
    assert (partial["status"], partial["processed_amount"]) == ("partially_processed", 1063.34)
    assert callbacks[(invoice.id, 3)]["related_invoice"]["next"]["relation"] == "remainder"
    rest = callbacks[(new_id, 2)]
    assert (rest["status"], rest["amount"], rest["processed_amount"]) == (
        "processed",
        1063.34,
        1063.34,
    )
    assert rest["related_invoice"]["previous"]["id"] == invoice.id
