"""The static connector builds each invoice's code from the service's settings."""

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connectors.base import InvoiceData, ProviderRejected
from connectors.codes.nbu import nbu_qr_link
from connectors.registry import get_connector

static = get_connector("static")

INVOICE = InvoiceData(
    id="cpi_Ab12Cd34Ef56Gh78",
    reference_id="order-77",
    amount=Decimal("2126.68"),
    currency="UAH",
    test_mode=True,
    display_kind="invoice",
    expires_at=datetime(2030, 1, 1, tzinfo=UTC),
)
BANK = {
    "receiver_name": "ТОВ «Демо Магазин»",
    "iban": "UA21 3223 1300 0002 6007 2335 6600 1",
    "receiver_code": "12345678",
    "purpose": "Оплата замовлення {reference_id}",
}


def _issue(kind, settings, **changes):
    invoice = replace(INVOICE, display_kind=kind, settings=settings, **changes)
    return static.issue_requisites(invoice).requisites


def test_bank_details_carry_the_nbu_qr_with_the_invoices_amount():
    requisites = _issue("invoice", {"requisites": BANK, "national_qr": "nbu"})
    assert requisites["iban"] == "UA213223130000026007233566001"
    assert requisites["purpose"] == "Оплата замовлення order-77"
    assert requisites["qr_code"] == nbu_qr_link(
        receiver_name="ТОВ «Демо Магазин»",
        iban="UA213223130000026007233566001",
        amount=Decimal("2126.68"),
        receiver_code="12345678",
        purpose="Оплата замовлення order-77",
    )
    assert requisites["qr_code"].startswith("https://bank.gov.ua/qr/")


def test_sepa_details_carry_the_epc_qr():
    settings = {
        "requisites": {
            "receiver_name": "Demo Shop GmbH",
            "iban": "DE89370400440532013000",
            "bank_code": "COBADEFFXXX",
            "purpose": "Order {reference_id}",
        },
        "national_qr": "epc",
    }
    requisites = _issue("invoice", settings, currency="EUR")
    assert requisites["qr_code"].startswith("BCD\n002\n1\nSCT\nCOBADEFFXXX\nDemo Shop GmbH\n")
    assert "EUR2126.68" in requisites["qr_code"]


def test_upi_and_pix_codes_carry_amount_and_a_per_invoice_reference():
    upi = _issue("qr", {"scheme": "upi", "vpa": "demoshop@upi", "payee_name": "Demo Shop"})
    assert upi["qr_code"] == (
        "upi://pay?pa=demoshop@upi&pn=Demo%20Shop&am=2126.68&cu=INR&tr=Ab12Cd34Ef56Gh78"
    )
    assert upi["deeplink"] == upi["qr_code"]
    pix = _issue(
        "qr",
        {
            "scheme": "pix",
            "key": "demo@shop.com.br",
            "merchant_name": "DEMO SHOP",
            "merchant_city": "SAO PAULO",
        },
    )["qr_code"]
    assert pix.startswith("000201") and "5802BR" in pix and "Ab12Cd34Ef56Gh78" in pix


def test_barcodes_are_per_invoice_or_checked_fixed_values():
    generated = _issue("barcode", {"barcode_format": "code128", "reference_prefix": "93"})
    assert generated == {"barcode": "93AB12CD34EF56GH78", "barcode_format": "code128"}
    fixed = _issue(
        "barcode", {"requisites": {"barcode": "400638133393", "barcode_format": "ean13"}}
    )
    assert fixed["barcode"] == "4006381333931"


def test_card_numbers_are_luhn_checked_and_links_are_filled_in():
    card = _issue("card_transfer", {"requisites": {"card_number": "4111 1111 1111 1111"}})
    assert card["card_number"] == "4111111111111111"
    link = _issue(
        "deeplink", {"requisites": {"deeplink": "bankapp://pay?sum={amount}&ref={reference}"}}
    )
    assert link["deeplink"] == "bankapp://pay?sum=2126.68&ref=Ab12Cd34Ef56Gh78"


@pytest.mark.parametrize(
    ("kind", "service_settings", "problem"),
    [
        ("invoice", {"requisites": {**BANK, "iban": "UA213223130000026007233566002"}}, "iban"),
        ("invoice", {"requisites": BANK, "national_qr": "swift"}, "national_qr"),
        ("qr", {"scheme": "upi", "vpa": "not a vpa", "payee_name": "x"}, "vpa"),
        ("qr", {"scheme": "bitcoin"}, "scheme"),
        ("qr", {}, "'qr_code' must be a non-empty string"),
        (
            "barcode",
            {"requisites": {"barcode": "4006381333932", "barcode_format": "ean13"}},
            "check",
        ),
        ("card_transfer", {"requisites": {"card_number": "4111111111111112"}}, "Luhn"),
        ("deeplink", {"requisites": {"deeplink": "javascript:alert(1)"}}, "deeplink"),
    ],
)
def test_settings_that_cannot_work_are_refused_on_save(kind, service_settings, problem):
    problems = static.settings_problems(settings=service_settings, display_kind=kind)
    assert problems and any(problem.lower() in p.lower() for p in problems), problems


def test_a_code_that_cannot_be_built_for_an_invoice_is_a_provider_refusal():
    settings = {"scheme": "upi", "vpa": "demoshop@upi", "payee_name": "Demo Shop"}
    with pytest.raises(ProviderRejected, match="amount"):
        _issue("qr", settings, amount=Decimal("1000000000"))
