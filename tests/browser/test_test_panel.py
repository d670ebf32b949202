"""Test mode's panel (contract section 2): a button answers as the provider would, and the
page follows at once, in the same document."""

from urllib.parse import parse_qs, urlsplit

import pytest

from invoices.models import Invoice
from tests.browser.conftest import expect


def test_paid_moves_the_status_live_and_returns_to_the_shop(demo, browsing, shop_return_page):
    invoice = demo.invoice(return_url=shop_return_page.url)
    page = browsing.page()
    page.goto(f"/hpp/?cpi={invoice.id}&locale=en")
    expect(page.get_by_role("note")).to_have_text("Test mode: no real money moves.")
    page.evaluate("() => { window.sameDocument = 'still here'; }")

    page.get_by_role("button", name="Paid", exact=True).click()
    status = page.locator("#status")
    expect(status).to_have_attribute("data-status", "processed")
    expect(status.locator(".status-text")).to_have_text("Paid")
    expect(page.get_by_role("status")).to_contain_text("Paid")  # said, not only shown
    # Nothing left to do on the page: no form, no panel.
    expect(page.locator("#confirm-form")).to_have_count(0)
    expect(page.get_by_role("button", name="Paid", exact=True)).to_have_count(0)
    assert page.evaluate("() => window.sameDocument") == "still here"
    assert Invoice.objects.get(pk=invoice.id).status == "processed"

    # Opened afresh, the result page takes the customer back to the shop after a few seconds.
    page.reload()
    expect(page.locator("#status .status-text")).to_have_text("Paid")
    page.wait_for_url(lambda url: urlsplit(url).netloc == urlsplit(shop_return_page.url).netloc)
    assert parse_qs(urlsplit(page.url).query) == {"cpi": [invoice.id], "status": ["processed"]}


@pytest.mark.parametrize(
    ("button", "status", "text"),
    [
        ("Partially paid", "partially_processed", "Partially paid"),
        ("Failed", "process_failed", "Payment failed"),
    ],
)
def test_other_answers_show_their_result_and_stay_without_a_return_url(
    button, status, text, demo, browsing
):
    invoice = demo.invoice()
    page = browsing.page()
    page.goto(f"/hpp/?cpi={invoice.id}&locale=en")
    page.get_by_role("button", name=button, exact=True).click()
    expect(page.locator("#status")).to_have_attribute("data-status", status)
    expect(page.locator("#status .status-text")).to_have_text(text)
    if status == "partially_processed":
        # Half of UAH 2,126.68 came in.
        expect(page.locator("#status")).to_contain_text("1,063.34")
        expect(page.locator("#status")).to_contain_text("2,126.68")
    expect(page.get_by_role("link", name="Back to the shop")).to_have_count(0)
    # The result page stays, and reloads as the same result (no details, no form).
    page.reload()
    expect(page.locator("#status .status-text")).to_have_text(text)
    expect(page.locator("#confirm-form")).to_have_count(0)
    expect(page.get_by_role("heading", name="Payment details")).to_have_count(0)
