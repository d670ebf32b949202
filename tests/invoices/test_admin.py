"""What an operator sees and can do in Django admin."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from invoices.models import Merchant, Service
from invoices.selectors import merchant_authenticate
from invoices.services import invoice_create
from invoices.state_machine import Actor, invoice_move_status
from tests.factories import InvoiceFactory, MerchantServiceFactory
from tests.operators import invoice_admin_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_invoice():
    link = MerchantServiceFactory(service__code="test_uah_invoice", merchant__name="Acme")
    invoice = invoice_create(
        merchant=link.merchant,
        service_code="test_uah_invoice",
        reference_id="order-77",
        amount=Decimal("2126.68"),
        currency="UAH",
        test_mode=True,
        actor=Actor("merchant", link.merchant.account_id),
        description="<b>two mugs</b>",
    )
    invoice_move_status(
        invoice_id=invoice.id,
        to_status="processing",
        resolution="ok",
        cause="customer_confirmation",
        actor=Actor("customer"),
    )
    invoice_move_status(
        invoice_id=invoice.id,
        to_status="processed",
        resolution="ok",
        processed_amount=Decimal("2126.68"),
        cause="provider_status",
        actor=Actor("connector", "test"),
    )
    return invoice


def _changelist(client, **params):
    response = client.get(reverse("admin:invoices_invoice_changelist"), params)
    assert response.status_code == 200
    return response.content.decode()


def test_the_list_filters_and_searches(admin_client_logged_in, paid_invoice):
    other = InvoiceFactory(status="expired", test_mode=False, reference_id="order-88")
    client = admin_client_logged_in

    everything = _changelist(client)
    assert paid_invoice.id in everything and other.id in everything
    assert "2126.68 UAH" in everything

    filters = [
        ({"status__exact": "processed"}, True),
        ({"status__exact": "expired"}, False),
        ({"test_mode__exact": "1"}, True),
        ({"test_mode__exact": "0"}, False),
        ({"service__id__exact": paid_invoice.service_id}, True),
        ({"merchant__id__exact": paid_invoice.merchant_id}, True),
        ({"merchant__id__exact": other.merchant_id}, False),
        ({"created_at__gte": (timezone.now() - timedelta(days=1)).isoformat()}, True),
        ({"created_at__gte": (timezone.now() + timedelta(days=2)).isoformat()}, False),
        ({"q": "order-77"}, True),
        ({"q": paid_invoice.id}, True),
        ({"q": "order-88"}, False),
        # Exactly as given, around the spaces a paste brings: ids are case-sensitive.
        ({"q": " order-77 "}, True),
        ({"q": "ORDER-77"}, False),
        ({"q": paid_invoice.id.upper()}, False),
        ({"q": "order-7"}, False),
    ]
    for params, shows_paid in filters:
        page = _changelist(client, **params)
        assert (paid_invoice.id in page) is shows_paid, params
    for label in ("By status", "By test mode", "By service", "By merchant", "By created at"):
        assert label in everything


def test_the_invoice_page_is_read_only_with_its_timeline(admin_client_logged_in, paid_invoice):
    response = admin_client_logged_in.get(invoice_admin_url(paid_invoice.id))
    page = response.content.decode()

    assert response.status_code == 200
    assert paid_invoice.id in page and "order-77" in page
    assert "&lt;b&gt;two mugs&lt;/b&gt;" in page and "<b>two mugs</b>" not in page
    assert not re.search(r'<input[^>]+name="(reference_id|amount|status)"', page)
    assert 'name="_save"' not in page
    timeline = page[page.index("Timeline") :]
    for text in ("invoice_created", "customer_confirmation", "provider_status", "connector:test"):
        assert text in timeline
    rows = re.findall(r"<td class=\"field-to_status\">\s*<p>(\w+)</p>", timeline)
    assert rows == ["created", "processing", "processed"]


def test_invoices_cannot_be_added_or_deleted(admin_client_logged_in, paid_invoice):
    client = admin_client_logged_in
    assert client.get(reverse("admin:invoices_invoice_add")).status_code == 403
    assert client.get(invoice_admin_url(paid_invoice.id, "delete")).status_code == 403


def test_adding_a_merchant_shows_its_keys_once(admin_client_logged_in):
    response = admin_client_logged_in.post(
        reverse("admin:invoices_merchant_add"),
        {
            "name": "Kiosk",
            "is_active": "on",
            "callback_url": "https://kiosk.example/cb",
            "merchantservice_set-TOTAL_FORMS": "0",
            "merchantservice_set-INITIAL_FORMS": "0",
        },
    )
    page = response.content.decode()
    assert response.status_code == 200, page
    merchant = Merchant.objects.get(name="Kiosk")
    secret = re.search(r"sk_test_[A-Za-z0-9]{32}", page).group()
    assert merchant_authenticate(account_id=merchant.account_id, secret_key=secret) == (
        merchant,
        True,
    )
    assert "shown only on this page" in page

    again = admin_client_logged_in.get(
        reverse("admin:invoices_merchant_change", args=[merchant.pk])
    )
    assert secret not in again.content.decode()
    assert merchant.public_key_test in again.content.decode()


def test_rotating_keys_from_the_list(admin_client_logged_in):
    merchant = MerchantServiceFactory().merchant
    url = reverse("admin:invoices_merchant_changelist")
    chosen = {"action": "rotate_secret_keys", "_selected_action": [merchant.pk]}
    first = admin_client_logged_in.post(url, chosen)
    assert 'name="reason"' in first.content.decode()
    assert Merchant.objects.get().secret_key_live_hash == merchant.secret_key_live_hash

    response = admin_client_logged_in.post(url, {**chosen, "reason": "Key leaked in a log"})
    history = admin_client_logged_in.get(
        reverse("admin:invoices_merchant_history", args=[merchant.pk])
    )
    assert "Rotated secret keys: Key leaked in a log" in history.content.decode()
    secret = re.search(r"sk_live_[A-Za-z0-9]{32}", response.content.decode()).group()
    assert merchant_authenticate(account_id=merchant.account_id, secret_key=secret) == (
        merchant,
        False,
    )


def _service_form(**overrides):
    data = {
        "code": "upi_qr_inr_invoice",
        "enabled": "on",
        "method_code": "upi_qr",
        "method_name": "UPI QR",
        "method_logo": "methods/upi_qr.svg",
        "display_kind": "qr",
        "currency": "INR",
        "lifetime": "1 00:00:00",
        "connector": "static",
        "connector_settings": '{"requisites": {"qr_code": "upi://pay?pa=shop@upi"}}',
        "confirmation_schema": "null",
        "reissue_limit": "0",
    }
    return {**data, **overrides}


def test_a_valid_service_is_saved(admin_client_logged_in):
    response = admin_client_logged_in.post(reverse("admin:invoices_service_add"), _service_form())
    assert response.status_code == 302
    assert Service.objects.get(code="upi_qr_inr_invoice").connector_settings["requisites"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"connector_settings": "{}"}, "&#x27;qr_code&#x27; must be a non-empty string"),
        (
            {"confirmation_schema": '{"utr": {"required": true, "regexp": "(a)\\\\1"}}'},
            "RE2 cannot compile it",
        ),
        ({"connector": "test"}, "the test connector issues only the &#x27;test&#x27; display kind"),
    ],
)
def test_a_broken_service_is_refused_with_the_reason(admin_client_logged_in, overrides, message):
    response = admin_client_logged_in.post(
        reverse("admin:invoices_service_add"), _service_form(**overrides)
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Service.objects.filter(code="upi_qr_inr_invoice").exists()


def test_method_names_per_language_are_saved_and_may_be_left_out(admin_client_logged_in):
    named = _service_form(method_name_translations='{"uk": "QR-код UPI"}')
    response = admin_client_logged_in.post(reverse("admin:invoices_service_add"), named)
    assert response.status_code == 302
    saved = Service.objects.get(code="upi_qr_inr_invoice")
    assert saved.method_name_translations == {"uk": "QR-код UPI"}

    unnamed = _service_form(code="upi_qr_inr_invoice_plain", method_name_translations="")
    response = admin_client_logged_in.post(reverse("admin:invoices_service_add"), unnamed)
    assert response.status_code == 302
    assert Service.objects.get(code="upi_qr_inr_invoice_plain").method_name_translations == {}


@pytest.mark.parametrize(
    ("translations", "message"),
    [
        (
            '{"uk": "QR-код UPI", "de": "UPI-QR"}',
            "&#x27;de&#x27; is not a language of the pages (one of: en, uk).",
        ),
        ('{"uk": "  "}', "The name for &#x27;uk&#x27; must be a non-empty string."),
        ('{"uk": 7}', "The name for &#x27;uk&#x27; must be a non-empty string."),
        ('["QR-код UPI"]', "Must be a JSON object of language code to name"),
    ],
)
def test_method_names_in_unknown_languages_or_empty_are_refused(
    admin_client_logged_in, translations, message
):
    response = admin_client_logged_in.post(
        reverse("admin:invoices_service_add"),
        _service_form(method_name_translations=translations),
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count(message) == 1, "said once, beside the field"
    assert not Service.objects.filter(code="upi_qr_inr_invoice").exists()
