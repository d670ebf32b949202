"""The invoice page of every display kind, on a phone and a desktop (contract sections 2 and 3).

What the customer reads is what the invoice says: the amount, each requisite (with
a copy button that copies the exact value), the QR code a scanner reads back as
the requisites' `qr_code` (or `deeplink`), the barcode, the "open in app" button.
Each page is also written to var/screenshots/ (`make screenshots`: docs/screenshots/).
"""

import io
import re

import pytest
from babel.numbers import get_currency_symbol
from PIL import Image

from tests.browser.conftest import DEMO_SERVICES, VIEWPORTS, expect, screenshot

# Requisites shown as images or buttons rather than as rows of text.
NOT_ROWS = {"qr_code", "deeplink", "barcode_format"}
SCREENSHOT_NAMES = {
    "test_uah_invoice": "test",
    "bank_transfer_uah_invoice": "invoice",
    "sepa_qr_eur_invoice": "invoice-sepa",
    "upi_qr_inr_invoice": "qr",
    "pix_qr_brl_invoice": "qr-pix",
    "cash_voucher_mxn_invoice": "barcode",
    "card_transfer_uah_invoice": "card_transfer",
    "bank_app_deeplink_uah_invoice": "deeplink",
}


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _qr_text(invoice, kind: str) -> str | None:
    return invoice.requisites.get("deeplink" if kind == "deeplink" else "qr_code")


def _shown(key: str, value: str) -> str:
    """Card numbers read in groups of four; everything else exactly as issued."""
    if key == "card_number":
        return " ".join(value[i : i + 4] for i in range(0, len(value), 4))
    return value


def _image_loaded(locator) -> bool:
    return locator.evaluate("image => image.complete && image.naturalWidth > 0")


@pytest.mark.parametrize("service_code", DEMO_SERVICES)
def test_the_invoice_page_shows_what_to_pay_and_where(service_code, demo, browsing, read_qr):
    kind = DEMO_SERVICES[service_code]
    invoice = demo.invoice(service_code)
    qr_text = _qr_text(invoice, kind)
    rows = {key: value for key, value in invoice.requisites.items() if key not in NOT_ROWS}
    if kind == "qr" and "deeplink" not in invoice.requisites:
        # No app link opens it (Pix): the code is also a row, to copy and paste on a phone.
        rows["qr_code"] = invoice.requisites["qr_code"]

    for viewport in VIEWPORTS:
        page = browsing.page(viewport=viewport, permissions=["clipboard-read", "clipboard-write"])
        response = page.goto(f"/hpp/?cpi={invoice.id}&locale=en")
        assert response.status == 200

        amount = page.get_by_test_id("amount")
        expect(amount).to_be_visible()
        assert _digits(amount.inner_text()) == _digits(f"{invoice.amount:.2f}")
        assert get_currency_symbol(invoice.currency, locale="en_US") in amount.inner_text()
        expect(page.get_by_text("Demo Shop", exact=True)).to_be_visible()
        expect(page.get_by_text(invoice.service.method_name, exact=True)).to_be_visible()
        expect(page.locator(".countdown time")).to_have_attribute(
            "datetime", invoice.expires_at.isoformat()
        )
        expect(page.locator(".countdown .remaining")).to_have_text(
            re.compile(r"^(\d+:)?\d\d:\d\d$")
        )

        # Every requisite a customer types in is shown, with a button copying it exactly.
        shown = page.locator("[data-testid^='requisite-']")
        expect(shown).to_have_count(len(rows))
        for key, value in rows.items():
            row = page.locator(".requisites .row", has=page.get_by_test_id(f"requisite-{key}"))
            expect(row.get_by_test_id(f"requisite-{key}")).to_have_text(_shown(key, value))
            expect(row.locator("button.copy")).to_have_attribute("data-copy", value)

        # The QR: what is served is what the requisites say, and the page shows it.
        qr = page.get_by_test_id("qr")
        if qr_text is None:
            expect(qr).to_have_count(0)
            assert page.request.get(f"/hpp/{invoice.id}/qr.png").status == 404
        else:
            served = page.request.get(f"/hpp/{invoice.id}/qr.png")
            assert (served.status, served.headers["content-type"]) == (200, "image/png")
            assert read_qr(served.body()) == [qr_text]
            # A QR of the deeplink is for desktops: a phone taps the button instead.
            if kind == "deeplink" and viewport == "phone":
                expect(qr).to_be_hidden()
            else:
                expect(qr).to_be_visible()
                assert _image_loaded(qr)
                # Read back from the screen, as the customer's phone will.
                assert read_qr(qr.screenshot(caret="initial")) == [qr_text]

        barcode = page.get_by_test_id("barcode")
        if kind == "barcode":
            expect(barcode).to_be_visible()
            assert _image_loaded(barcode)
            expect(page.get_by_test_id("requisite-barcode")).to_have_text(
                invoice.requisites["barcode"]
            )
            # Bars wide enough for a cashier's scanner to read off the screen.
            assert (
                _read_barcode(barcode.screenshot(caret="initial")) == invoice.requisites["barcode"]
            )
        else:
            expect(barcode).to_have_count(0)

        app_links = page.get_by_role("link", name="Open in the app", include_hidden=True)
        deeplink = invoice.requisites.get("deeplink")
        if kind == "deeplink":
            expect(page.get_by_test_id("deeplink")).to_be_visible()
            expect(page.get_by_test_id("deeplink")).to_have_attribute("href", deeplink)
        elif deeplink:
            # "Open in app" for a QR kind only where the app is: on the phone.
            expect(app_links).to_have_attribute("href", deeplink)
            if viewport == "phone":
                expect(app_links).to_be_visible()
            else:
                expect(app_links).to_be_hidden()
        else:
            expect(app_links).to_have_count(0)

        screenshot(page, f"{SCREENSHOT_NAMES[service_code]}-{viewport}")
        if viewport == "phone":
            # Nothing scrolls sideways, even on the narrowest phones (WCAG 1.4.10 reflow).
            page.set_viewport_size({"width": 320, "height": 640})
            assert page.evaluate(
                "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
            )
            page.set_viewport_size(VIEWPORTS["phone"]["viewport"])

        # Copy buttons copy the exact value (the card number without its spaces) and say so.
        for key, value in rows.items():
            row = page.locator(".requisites .row", has=page.get_by_test_id(f"requisite-{key}"))
            button = row.get_by_role("button", name=re.compile(r"^Copy "))
            expect(button).to_have_text("Copy")
            button.click()
            expect(button).to_have_text("Copied")
            assert page.evaluate("() => navigator.clipboard.readText()") == value
            # The button's accessible name stays "Copy <label>": a status region says it.
            expect(page.get_by_role("status").filter(has_text="Copied")).to_have_count(1)


def _read_barcode(png: bytes) -> str:
    from pyzbar import pyzbar

    found = pyzbar.decode(Image.open(io.BytesIO(png)), symbols=[pyzbar.ZBarSymbol.CODE128])
    assert len(found) == 1, found
    return found[0].data.decode()


def test_a_copy_button_clicked_twice_comes_back_to_its_label(demo, browsing):
    invoice = demo.invoice("card_transfer_uah_invoice")
    page = browsing.page(permissions=["clipboard-read", "clipboard-write"])
    page.goto(f"/hpp/?cpi={invoice.id}&locale=en")
    button = page.get_by_role("button", name="Copy Card number")
    button.click()
    expect(button).to_have_text("Copied")
    button.click()
    expect(button).to_have_text("Copied")
    assert page.evaluate("() => navigator.clipboard.readText()") == "4111111111111111"
    expect(button).to_have_text("Copy", timeout=4_000)
    expect(page.get_by_role("status").filter(has_text="Copied")).to_have_count(0)
