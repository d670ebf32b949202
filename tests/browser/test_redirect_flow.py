"""The redirect flow (contract section 2): a merchant's link, the method selection, the invoice.

The same link opened again lands on the same invoice; a merchant that requires
signed links gets nothing created from a link without its signature.
"""

import hashlib
import hmac
from decimal import Decimal
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from invoices.models import Invoice, Service
from tests.browser.conftest import expect


def _link(**parameters: str) -> str:
    return "/hpp/?" + urlencode(parameters)


def _sign(secret_key: str, parameters: dict[str, str]) -> str:
    """As the contract says: hex HMAC-SHA256 over the other parameters, sorted, as k=v&k=v."""
    message = "&".join(f"{name}={value}" for name, value in sorted(parameters.items()))
    return hmac.new(secret_key.encode(), message.encode(), hashlib.sha256).hexdigest()


def _invoice_id(url: str) -> str:
    parts = urlsplit(url)
    assert parts.path == "/hpp/", url
    (invoice_id,) = parse_qs(parts.query)["cpi"]
    return invoice_id


@pytest.fixture
def order(demo, shop_return_page):
    return {
        "public_key": demo.credentials.public_key_test,
        "amount": "150.00",
        "currency": "UAH",
        "reference_id": "order-77",
        "description": "Order #77",
        "return_url": shop_return_page.url,
        "locale": "en",
    }


def test_choosing_a_method_lands_on_its_invoice_and_the_same_link_on_the_same_one(
    demo, browsing, order
):
    page = browsing.page()
    response = page.goto(_link(**order))
    assert response.status == 200
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose how to pay")
    expect(page.get_by_text("Demo Shop", exact=True)).to_be_visible()
    expect(page.locator(".summary .amount")).to_contain_text("150.00")
    # Exactly the merchant's services in the link's currency.
    uah_methods = sorted(
        Service.objects.filter(
            currency="UAH", merchantservice__merchant=demo.merchant, enabled=True
        ).values_list("method_name", flat=True)
    )
    expect(page.locator(".methods a")).to_have_text(uah_methods)

    page.get_by_role("link", name="Bank transfer").click()
    page.wait_for_url("**/hpp/?cpi=*")
    invoice_id = _invoice_id(page.url)
    expect(page.get_by_text("Bank transfer", exact=True)).to_be_visible()
    expect(page.get_by_test_id("amount")).to_contain_text("150.00")
    invoice = Invoice.objects.get(pk=invoice_id)
    assert (
        invoice.service.code,
        invoice.amount,
        invoice.currency,
        invoice.reference_id,
        invoice.description,
        invoice.return_url,
        invoice.test_mode,
    ) == (
        "bank_transfer_uah_invoice",
        Decimal("150.00"),
        "UAH",
        "order-77",
        "Order #77",
        order["return_url"],
        True,
    )

    # Again, with the service named in the link, or choosing on the selection page once more.
    page.goto(_link(**order, service="bank_transfer_uah_invoice"))
    assert _invoice_id(page.url) == invoice_id
    page.goto(_link(**order))
    page.get_by_role("link", name="Bank transfer").click()
    page.wait_for_url("**/hpp/?cpi=*")
    assert _invoice_id(page.url) == invoice_id
    assert Invoice.objects.filter(reference_id="order-77").count() == 1


def test_a_link_naming_the_method_and_currency_skips_the_selection(demo, browsing, order):
    page = browsing.page()
    page.goto(_link(**{**order, "reference_id": "order-78"}, method="card_transfer"))
    invoice = Invoice.objects.get(pk=_invoice_id(page.url))
    assert (invoice.service.code, invoice.reference_id) == ("card_transfer_uah_invoice", "order-78")
    expect(page.get_by_test_id("requisite-card_number")).to_have_text("4111 1111 1111 1111")


def test_a_merchant_that_signs_links_accepts_only_its_signature(demo, browsing, order):
    demo.merchant.require_signed_links = True
    demo.merchant.save(update_fields=["require_signed_links"])
    secret = demo.credentials.secret_key_test
    page = browsing.page()

    refused = {
        "missing": {**order, "service": "test_uah_invoice", "reference_id": "refused-1"},
        "wrong": {
            **order,
            "service": "test_uah_invoice",
            "reference_id": "refused-2",
            "signature": "0" * 64,
        },
        "for other parameters": {
            **order,
            "service": "test_uah_invoice",
            "reference_id": "refused-3",
            "signature": _sign(secret, {**order, "reference_id": "refused-3", "amount": "1.00"}),
        },
        "with the live key": {
            **order,
            "service": "test_uah_invoice",
            "reference_id": "refused-4",
            "signature": _sign(
                demo.credentials.secret_key_live,
                {**order, "service": "test_uah_invoice", "reference_id": "refused-4"},
            ),
        },
    }
    for case, parameters in refused.items():
        response = page.goto(_link(**parameters))
        assert response.status == 403, case
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "This payment link was not accepted"
        )
        expect(page).to_have_title("Link not accepted")
        assert not Invoice.objects.filter(reference_id=parameters["reference_id"]).exists(), case

    # Signed: straight to the invoice.
    parameters = {**order, "service": "test_uah_invoice", "reference_id": "signed-1"}
    response = page.goto(_link(**parameters, signature=_sign(secret, parameters)))
    assert response.status == 200
    invoice = Invoice.objects.get(pk=_invoice_id(page.url))
    assert (invoice.reference_id, invoice.service.code) == ("signed-1", "test_uah_invoice")

    # Signed without a service: the selection page signs the links it offers.
    parameters = {**order, "reference_id": "signed-2"}
    page.goto(_link(**parameters, signature=_sign(secret, parameters)))
    page.get_by_role("link", name="Card transfer", exact=True).click()
    page.wait_for_url("**/hpp/?cpi=*")
    invoice = Invoice.objects.get(pk=_invoice_id(page.url))
    assert (invoice.reference_id, invoice.service.code) == (
        "signed-2",
        "card_transfer_uah_invoice",
    )


def test_an_unknown_invoice_is_a_404_page(demo, browsing):
    page = browsing.page()
    response = page.goto("/hpp/?cpi=cpi_0000000000000000&locale=en")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment not found")
