"""The sandbox's confirmation, end to end: a browser, the live server, a real Celery worker.

With JavaScript (htmx): errors appear beside their fields in the same document,
the status box turns "Paid" by itself and the customer is taken back to the shop.
Without JavaScript: plain form posts and redirects, reloading shows the status,
and the "Back to the shop" link returns.
"""

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from invoices.models import Invoice
from tests.browser.conftest import expect

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

SETTLE_MS = 20_000


def _returned(url: str, invoice_id: str, status: str) -> bool:
    parts = urlsplit(url)
    return parts.path == "/orders/42/done" and parse_qs(parts.query) == {
        "cpi": [invoice_id],
        "status": [status],
    }


def test_with_javascript_the_page_confirms_follows_and_returns(
    worker, demo, browsing, shop_return_page
):
    invoice = demo.invoice(return_url=shop_return_page.url)
    receipt = invoice.requisites["invoice_receipt_number"]
    page = browsing.page()
    page.goto(f"/hpp/?cpi={invoice.id}&locale=en")
    # Survives only as long as this very document does: any reload would lose it.
    page.evaluate("() => { window.sameDocument = 'still here'; }")
    # The one live region, which must outlive every swap for a screen reader to hear it.
    live_region = page.get_by_role("status")
    expect(live_region).to_have_count(1)
    expect(live_region).to_have_text("")
    page.evaluate("() => { window.liveRegion = document.querySelector('[role=status]'); }")
    receipt_input = page.get_by_role("textbox", name="Invoice receipt number")
    expect(receipt_input).to_have_attribute("pattern", r"^\d{1,100}$")
    expect(receipt_input).to_have_attribute("required", "")

    # As password managers and other extensions do: the CSP allows styling an element from
    # script, and htmx must not then copy that style attribute while settling (refused).
    receipt_input.evaluate("input => { input.style.backgroundImage = 'none'; }")

    # A wrong confirmation: the errors show beside their fields, in the same document.
    receipt_input.fill("12ab")
    page.get_by_role("button", name="Confirm payment").click()
    receipt_error = page.locator("#error-invoice_receipt_number")
    expect(receipt_error).to_have_text("This does not look right; please check it.")
    expect(page.locator("#error-message")).to_have_text("Please fill this in.")
    receipt_input = page.get_by_role("textbox", name="Invoice receipt number")
    expect(receipt_input).to_have_attribute("aria-invalid", "true")
    expect(receipt_input).to_have_attribute("aria-describedby", "error-invoice_receipt_number")
    expect(receipt_input).to_have_value("12ab")
    # The form was replaced under the customer's hands: the first field to fix has the focus.
    expect(receipt_input).to_be_focused()
    assert page.evaluate("() => window.sameDocument") == "still here"
    expect(page.locator("#status")).to_have_attribute("data-status", "created")
    expect(live_region).to_have_text("")  # the status did not move: nothing to say

    # The right one: accepted, then the worker's answer moves the status box by itself.
    receipt_input.fill(receipt)
    page.get_by_role("textbox", name="Message").fill("paid")
    page.get_by_role("button", name="Confirm payment").click()
    expect(page.locator("#confirm-form")).to_have_count(0)
    status = page.locator("#status")
    expect(status).to_have_attribute("data-status", "processed", timeout=SETTLE_MS)
    expect(status.locator(".status-text")).to_have_text("Paid")
    # Only the result is left, as a reload would show it: no countdown, no details.
    expect(page.locator(".countdown")).to_have_count(0)
    expect(page.get_by_role("heading", name="Payment details")).to_have_count(0)
    expect(live_region).to_contain_text("Paid")
    expect(live_region).to_contain_text("You will be taken back in 5 seconds.")
    assert page.evaluate("() => window.liveRegion.isConnected")
    assert page.evaluate("() => window.sameDocument") == "still here"
    back = page.get_by_role("link", name="Back to the shop")
    expect(back).to_be_visible()
    assert _returned(back.get_attribute("href"), invoice.id, "processed")

    # A few seconds later the customer is back at the shop, told which invoice and how it went.
    page.wait_for_url(lambda url: _returned(url, invoice.id, "processed"), timeout=SETTLE_MS)
    expect(page.get_by_role("heading", name="Back at the shop")).to_be_visible()
    assert {"cpi": [invoice.id], "status": ["processed"]} in shop_return_page.visits
    assert Invoice.objects.get(pk=invoice.id).status == "processed"


def test_without_javascript_forms_post_and_links_return(worker, demo, browsing, shop_return_page):
    invoice = demo.invoice(return_url=shop_return_page.url)
    receipt = invoice.requisites["invoice_receipt_number"]
    page = browsing.page(java_script_enabled=False)
    page.goto(f"/hpp/?cpi={invoice.id}&locale=en")

    # A wrong confirmation: the page comes back (422) with the errors beside their fields.
    page.get_by_role("textbox", name="Invoice receipt number").fill("12ab")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Confirm payment").click()
    assert navigation.value.status == 422
    expect(page.locator("#error-invoice_receipt_number")).to_have_text(
        "This does not look right; please check it."
    )
    expect(page.locator("#error-message")).to_have_text("Please fill this in.")
    expect(page.get_by_role("textbox", name="Invoice receipt number")).to_have_value("12ab")
    expect(page.get_by_role("textbox", name="Invoice receipt number")).to_have_attribute(
        "aria-invalid", "true"
    )
    expect(page.get_by_role("textbox", name="Invoice receipt number")).to_be_focused()

    # The right one: posted, then redirected (303) back to the invoice page.
    page.get_by_role("textbox", name="Invoice receipt number").fill(receipt)
    page.get_by_role("textbox", name="Message").fill("paid")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Confirm payment").click()
    assert navigation.value.status == 200
    posted = navigation.value.request.redirected_from
    assert (posted.method, posted.response().status) == ("POST", 303)
    assert urlsplit(page.url).path == "/hpp/"
    assert parse_qs(urlsplit(page.url).query)["cpi"] == [invoice.id]
    expect(page.locator("#confirm-form")).to_have_count(0)

    # Reloading shows the worker's answer.
    deadline = time.monotonic() + SETTLE_MS / 1000
    while page.locator("#status").get_attribute("data-status") != "processed":
        assert time.monotonic() < deadline, page.locator("#status").inner_text()
        time.sleep(0.5)
        page.reload()
    expect(page.locator("#status .status-text")).to_have_text("Paid")
    # The page itself would go back after a few seconds; the link goes at once.
    refresh = page.locator("meta[http-equiv='refresh']")
    assert _returned(refresh.get_attribute("content").split(";url=", 1)[1], invoice.id, "processed")
    with page.expect_navigation():
        page.get_by_role("link", name="Back to the shop").click()
    assert _returned(page.url, invoice.id, "processed")
    expect(page.get_by_role("heading", name="Back at the shop")).to_be_visible()
