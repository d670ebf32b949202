"""A page that turns final by itself ends as the page a reload of it shows: only the result.

However the final status arrives (the test panel's answer swapped in, or the status
poll after the server moved the invoice), the countdown, the payment details, the
form and the test panel go, and the text a customer reads is the reloaded page's.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from invoices.services import invoices_expire_overdue
from tests.browser.conftest import expect

# The status is polled every 3 s; the expiry below is a few seconds ahead.
SETTLE_MS = 15_000

# What a sighted customer reads: the page's rendered text, without the offscreen live
# region. That one says what just changed (a reload has nothing new to say), and is
# checked on its own below.
VISIBLE_TEXT = """() => [...document.body.querySelectorAll(':scope > main > *')]
    .filter(element => element.id !== 'announcer')
    .map(element => element.innerText)
    .join('\\n')"""


def _visible_text(page) -> str:
    return " ".join(page.evaluate(VISIBLE_TEXT).split())


def _same_as_reloaded(page, status: str) -> None:
    # A second after the swap: the countdown's timer, had it kept running, would have
    # written into the page by now.
    page.wait_for_timeout(1_500)
    live = _visible_text(page)
    title = page.title()
    page.evaluate("() => { window.sameDocument = 'live'; }")
    page.reload()
    expect(page.locator("#status")).to_have_attribute("data-status", status)
    assert page.evaluate("() => window.sameDocument") is None  # really a new document
    assert _visible_text(page) == live
    assert page.title() == title


@pytest.mark.parametrize(
    ("language", "button", "status", "said"),
    [
        ("en", "Paid", "processed", "Paid"),
        ("en", "Partially paid", "partially_processed", "Partially paid"),
        ("uk", "Оплата не вдалася", "process_failed", "Оплата не вдалася"),
    ],
)
def test_the_test_panels_answer_leaves_the_page_a_reload_shows(
    language, button, status, said, demo, browsing
):
    invoice = demo.invoice()
    page = browsing.page()
    page.goto(f"/hpp/?cpi={invoice.id}&locale={language}")
    expect(page.locator(".countdown .remaining")).not_to_have_text("")  # the timer runs
    expect(page.locator("section.card.details")).to_be_visible()
    page.evaluate("() => { window.sameDocument = 'still here'; }")

    page.get_by_role("button", name=button, exact=True).click()
    expect(page.locator("#status")).to_have_attribute("data-status", status)
    assert page.evaluate("() => window.sameDocument") == "still here"
    expect(page.get_by_role("status")).to_contain_text(said)  # still said, not only shown
    expect(page.locator(".countdown")).to_have_count(0)
    expect(page.locator("section.card.details")).to_have_count(0)
    expect(page.locator("#confirm-form")).to_have_count(0)
    expect(page.locator(".test-panel")).to_have_count(0)
    _same_as_reloaded(page, status)


def test_an_invoice_that_expires_while_shown_leaves_the_page_a_reload_shows(demo, browsing):
    """A bank transfer (a live invoice: no test panel) whose time runs out on the page."""
    invoice = demo.invoice(
        "bank_transfer_uah_invoice",
        test_mode=False,
        expires_at=timezone.now() + timedelta(seconds=4),
    )
    page = browsing.page()
    page.goto(f"/hpp/?cpi={invoice.id}&locale=en")
    expect(page.locator(".test-panel")).to_have_count(0)
    expect(page.get_by_role("heading", name="Payment details")).to_be_visible()
    page.evaluate("() => { window.sameDocument = 'still here'; }")
    remaining = page.locator(".countdown .remaining")
    expect(remaining).to_have_text("Time is up", timeout=SETTLE_MS)

    # The server's expiry job (celery beat's) moves it; the page's poll brings the news.
    assert invoices_expire_overdue() == 1
    status = page.locator("#status")
    expect(status).to_have_attribute("data-status", "expired", timeout=SETTLE_MS)
    expect(status.locator(".status-text")).to_have_text("This invoice has expired")
    assert page.evaluate("() => window.sameDocument") == "still here"
    expect(page.get_by_role("status")).to_contain_text("This invoice has expired")
    expect(page.locator(".countdown")).to_have_count(0)  # no "Time is up" left behind
    expect(page.get_by_role("heading", name="Payment details")).to_have_count(0)
    _same_as_reloaded(page, "expired")
