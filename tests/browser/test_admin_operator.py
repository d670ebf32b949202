"""An operator at a laptop's width, in the admin, in a real browser.

Logged in through the login form as a member of the finance group (not a
superuser), the operator marks an invoice paid from its own page with a
reason, and finds the move, who made it and why in the timeline, with every
table on the page fitting the window.
"""

from pathlib import Path

import pytest

from invoices import callback_delivery
from invoices.models import Invoice
from tests.browser.conftest import PROJECT_ROOT, expect
from tests.factories import move_to_processing
from tests.operators import OPERATOR_PASSWORD, operator_in_group

LAPTOP = {"width": 1366, "height": 768}
# Kept out of the repository: a look at the page for whoever runs the suite.
SCREENSHOT = PROJECT_ROOT / "var" / "screenshots" / "admin-invoice-laptop.png"

# What measures wider than its box, anywhere on the page: the page itself, or
# any element whose content sticks out (a table in a scrolling inline, say).
OVERFLOWING = """() => {
    const root = document.documentElement;
    const wide = [];
    if (root.scrollWidth > root.clientWidth) wide.push(`page ${root.scrollWidth}px`);
    for (const element of document.querySelectorAll('#content *')) {
        const style = getComputedStyle(element);
        const scrolls = ['auto', 'scroll'].includes(style.overflowX);
        if (scrolls && element.scrollWidth > element.clientWidth + 1) {
            wide.push(`${element.tagName}.${element.className} ${element.scrollWidth}px`);
        }
        if (element.getBoundingClientRect().right > root.clientWidth + 1) {
            wide.push(`${element.tagName}.${element.className} ends at ` +
                      `${element.getBoundingClientRect().right}px`);
        }
    }
    return wide;
}"""


@pytest.fixture
def invoice_with_history(demo):
    """In processing, with a callback to an endpoint that is down: long URLs and errors."""
    long_url = "http://127.0.0.1:9/merchant/callbacks/payment-invoices/" + "x" * 120
    invoice = demo.invoice(callback_url=long_url)
    move_to_processing(invoice.id)
    callback_delivery.invoice_callbacks_deliver(invoice_id=invoice.id)
    return invoice


def test_an_operator_marks_an_invoice_paid_from_its_page(browsing, invoice_with_history):
    operator = operator_in_group("finance", "olena")
    page = browsing.page(viewport="desktop")
    page.set_viewport_size(LAPTOP)
    page.goto("/admin/login/?next=/admin/invoices/invoice/")
    page.get_by_label("Username").fill(operator.username)
    page.get_by_label("Password").fill(OPERATOR_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name=invoice_with_history.id, exact=True).click()
    expect(page.locator("h2", has_text=invoice_with_history.id)).to_be_visible()
    assert page.evaluate(OVERFLOWING) == []

    page.get_by_role("link", name="Mark paid").click()
    page.get_by_label("Reason").fill("Bank statement 2026-12-07, line 42")
    page.get_by_role("button", name="Mark paid").click()

    expect(page.locator(".messagelist")).to_contain_text(
        f"Invoice {invoice_with_history.id}: moved to processed."
    )
    timeline = page.locator("#events-group")
    last_move = timeline.locator("tr.has_original").last
    expect(last_move.locator("td.field-to_status")).to_have_text("processed")
    expect(last_move.locator("td.field-actor")).to_have_text("operator:olena")
    expect(last_move.locator("td.field-resolution_message")).to_have_text(
        "Bank statement 2026-12-07, line 42"
    )
    actions = page.locator("#operator_actions-group")
    expect(actions).to_contain_text("olena")
    expect(actions).to_contain_text("moved to processed")
    # Paid is final: nothing is left to do to it.
    expect(page.locator("a.operator-action")).to_have_count(0)
    assert page.evaluate(OVERFLOWING) == []

    Path(SCREENSHOT).parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    invoice = Invoice.objects.get(pk=invoice_with_history.id)
    assert (invoice.status, invoice.resolution_message) == (
        "processed",
        "Bank statement 2026-12-07, line 42",
    )
