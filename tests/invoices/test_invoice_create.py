"""invoices.services.invoice_create: stored with its requisites, or refused with reasons."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from connectors import registry
from connectors.base import IssuedRequisites, ProviderUnavailable
from connectors.sandbox import CONFIRMATION_SCHEMA
from invoices.demo import demo_load
from invoices.models import Invoice, InvoiceEvent, Merchant, Service
from invoices.services import DuplicateReference, InvoiceRejected, invoice_create
from invoices.state_machine import Actor
from tests.factories import MerchantFactory, MerchantServiceFactory

pytestmark = pytest.mark.django_db

MERCHANT_API = Actor("merchant", "api")


@pytest.fixture
def link():
    return MerchantServiceFactory(service__code="test_uah_invoice")


def _create(link, **overrides):
    arguments = {
        "merchant": link.merchant,
        "service_code": link.service.code,
        "reference_id": "order-1",
        "amount": Decimal("2126.68"),
        "currency": "UAH",
        "test_mode": True,
        "actor": MERCHANT_API,
        **overrides,
    }
    return invoice_create(**arguments)


def _problems(excinfo):
    return {(p.field, p.code) for p in excinfo.value.problems}


def test_the_seed_request_becomes_an_invoice_with_requisites(link):
    before = timezone.now()
    invoice = _create(link, description="Order #1", metadata={"cart": "42"})

    stored = Invoice.objects.get(pk=invoice.id)
    assert stored.id.startswith("cpi_") and len(stored.id) == 20 and stored.id[4:].isalnum()
    assert stored.serial_number == stored.id[4:]
    assert (stored.status, stored.resolution, stored.sequence) == ("created", "ok", 1)
    assert stored.amount == stored.payment_amount == Decimal("2126.68")
    assert stored.processed_amount is None and stored.processed_at is None
    receipt = stored.requisites["invoice_receipt_number"]
    assert len(receipt) == 10 and receipt.isdigit()
    assert stored.provider_reference == receipt
    assert stored.confirmation_schema == CONFIRMATION_SCHEMA
    assert stored.confirmation_schema_json.startswith('{"invoice_receipt_number":')
    assert stored.confirmation_required is True
    assert stored.connector == "test"
    assert stored.expires_at - stored.created_at == timedelta(hours=1)
    assert before <= stored.created_at <= timezone.now()
    assert stored.metadata == {"cart": "42"}
    event = InvoiceEvent.objects.get(invoice=stored)
    assert (event.from_status, event.to_status, event.sequence) == (None, "created", 1)
    assert (event.cause, event.actor) == ("invoice_created", "merchant:api")


def test_amounts_stay_exact_decimals(link):
    invoice = _create(link, amount=Decimal("0.10") + Decimal("0.20") + Decimal("2126.38"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT amount FROM invoices_invoice WHERE id = %s", [invoice.id])
        (raw,) = cursor.fetchone()
    assert Decimal(str(raw)) == Decimal("2126.68")


def test_a_repeated_reference_names_the_first_invoice(link):
    first = _create(link)
    with pytest.raises(DuplicateReference) as duplicate:
        _create(link, amount=Decimal("5.00"))
    assert duplicate.value.existing_id == first.id
    # The same reference in the other mode is another invoice.
    live_link = MerchantServiceFactory(merchant=link.merchant, service__code="live_uah_invoice")
    assert _create(live_link, test_mode=False).id != first.id
    assert Invoice.objects.count() == 2


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"currency": "USD"}, {("currency", "currency_mismatch")}),
        ({"amount": Decimal("2126.681")}, {("amount", "invalid_precision")}),
        ({"amount": Decimal("0")}, {("amount", "invalid_amount")}),
        ({"amount": Decimal("-5")}, {("amount", "invalid_amount")}),
        ({"amount": Decimal("0.99")}, {("amount", "amount_too_small")}),
        ({"amount": Decimal("1000000.01")}, {("amount", "amount_too_large")}),
        ({"amount": Decimal("NaN")}, {("amount", "invalid_amount")}),
        ({"reference_id": ""}, {("reference_id", "invalid")}),
        ({"reference_id": "x" * 256}, {("reference_id", "invalid")}),
        ({"service_code": "nope_uah_invoice"}, {("service", "service_unavailable")}),
        ({"callback_url": "ftp://shop.example/cb"}, {("callback_url", "invalid_url")}),
        (
            {"callback_url": "http://shop.example/cb", "test_mode": False},
            {("callback_url", "invalid_url")},
        ),
        ({"return_url": "javascript:alert(1)"}, {("return_url", "invalid_url")}),
        ({"return_urls": {"success": "nope"}}, {("return_urls/success", "invalid_url")}),
        ({"return_urls": {"later": "https://a.example"}}, {("return_urls", "unknown_outcome")}),
        ({"locale": "de"}, {("locale", "unsupported_locale")}),
        ({"expires_at": timezone.now() - timedelta(seconds=1)}, {("expires", "invalid_expiry")}),
        ({"expires_at": timezone.now() + timedelta(days=400)}, {("expires", "invalid_expiry")}),
    ],
)
def test_bad_requests_are_refused_with_the_field_at_fault(link, overrides, expected):
    with pytest.raises(InvoiceRejected) as rejected:
        _create(link, **overrides)
    assert _problems(rejected) == expected
    assert not Invoice.objects.exists()


def test_http_callbacks_are_fine_in_test_mode(link):
    invoice = _create(link, callback_url="http://127.0.0.1:9000/cb")
    assert invoice.callback_url == "http://127.0.0.1:9000/cb"


@pytest.mark.parametrize(("currency", "amount"), [("JPY", "1500"), ("KWD", "1.125")])
def test_precision_follows_the_currency(currency, amount):
    link = MerchantServiceFactory(service__currency=currency, service__min_amount=None)
    invoice = _create(link, currency=currency, amount=Decimal(amount))
    assert invoice.amount == Decimal(amount)
    with pytest.raises(InvoiceRejected):
        _create(
            link, currency=currency, amount=Decimal(amount) + Decimal("0.0001"), reference_id="2"
        )


def test_services_not_switched_on_for_the_merchant_are_unavailable(link):
    other_merchant = MerchantFactory()
    with pytest.raises(InvoiceRejected) as rejected:
        _create(link, merchant=other_merchant)
    assert _problems(rejected) == {("service", "service_unavailable")}

    link.enabled = False
    link.save()
    with pytest.raises(InvoiceRejected):
        _create(link)

    link.enabled = True
    link.save()
    link.service.enabled = False
    link.service.save()
    with pytest.raises(InvoiceRejected):
        _create(link)


class RecordingConnector:
    """A provider double for what the real connectors cannot be made to do on demand."""

    name = "recording"
    issues_locally = False  # a provider's: every call reaches it
    polls_status = False
    secret_settings = {}

    def __init__(self, answers):
        self.answers = list(answers)
        self.calls_inside_transaction = []

    def settings_problems(self, *, settings, display_kind):
        return []

    def issue_requisites(self, invoice):
        self.calls_inside_transaction.append(connection.in_atomic_block)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def recording_link(monkeypatch):
    def install(*answers):
        connector = RecordingConnector(answers)
        monkeypatch.setitem(registry._CONNECTORS, connector.name, connector)
        link = MerchantServiceFactory(
            service__connector="recording", service__display_kind="qr", service__code="qr_uah"
        )
        return link, connector

    return install


@pytest.mark.django_db(transaction=True)
def test_provider_failure_still_stores_the_invoice_as_failed(recording_link):
    link, connector = recording_link(ProviderUnavailable("timed out after 10 s"))

    invoice = _create(link)

    stored = Invoice.objects.get(pk=invoice.id)
    assert (stored.status, stored.resolution, stored.sequence) == (
        "process_failed",
        "provider_error",
        2,
    )
    assert "timed out after 10 s" in stored.resolution_message
    assert stored.requisites == {}
    moves = list(
        InvoiceEvent.objects.filter(invoice=stored).values_list("from_status", "to_status")
    )
    assert moves == [(None, "created"), ("created", "process_failed")]
    assert connector.calls_inside_transaction == [False]


@pytest.mark.django_db(transaction=True)
def test_a_provider_is_never_asked_for_an_invoice_whose_reference_is_taken(recording_link):
    link, connector = recording_link(IssuedRequisites(requisites={"qr_code": "a"}))
    first = _create(link, reference_id="taken")
    with pytest.raises(DuplicateReference) as duplicate:
        _create(link, reference_id="taken")
    assert duplicate.value.existing_id == first.id
    assert connector.calls_inside_transaction == [False]  # the first invoice's call only


@pytest.mark.django_db(transaction=True)
def test_unusable_requisites_are_a_provider_error(recording_link):
    link, _ = recording_link(IssuedRequisites(requisites={"qr_code": ""}))
    invoice = _create(link)
    assert (invoice.status, invoice.resolution) == ("process_failed", "provider_error")
    assert "'qr_code' must be a non-empty string" in invoice.resolution_message


@pytest.mark.django_db(transaction=True)
def test_a_provider_reference_given_twice_is_asked_for_again(recording_link):
    link, connector = recording_link(
        IssuedRequisites(requisites={"qr_code": "a"}, provider_reference="P-1"),
        IssuedRequisites(requisites={"qr_code": "b"}, provider_reference="P-1"),
        IssuedRequisites(requisites={"qr_code": "c"}, provider_reference="P-2"),
    )
    first = _create(link, reference_id="one")
    second = _create(link, reference_id="two")
    assert (first.provider_reference, second.provider_reference) == ("P-1", "P-2")
    assert Invoice.objects.get(pk=second.id).requisites == {"qr_code": "c"}
    assert connector.calls_inside_transaction == [False, False, False]


def test_a_service_schema_overrides_the_connectors(link):
    schema = {
        "code": {"required": False, "regexp": "^[0-9]{6}$", "type": "text", "example": "123456"}
    }
    link.service.confirmation_schema = schema
    link.service.save()
    invoice = _create(link)
    assert invoice.confirmation_schema == schema
    assert invoice.confirmation_required is False
    assert json.loads(json.dumps(invoice.confirmation_schema)) == schema


def test_demo_services_of_every_display_kind_issue_requisites():
    demo_load()
    merchant = Merchant.objects.get(name="Demo Shop")
    kinds = set()
    # The provider's service is exercised against the emulator in tests/connectors.
    for number, service in enumerate(Service.objects.exclude(connector="http")):
        invoice = invoice_create(
            merchant=merchant,
            service_code=service.code,
            reference_id=f"demo-{number}",
            amount=Decimal("10"),
            currency=service.currency,
            test_mode=True,
            actor=MERCHANT_API,
        )
        assert invoice.status == "created", invoice.resolution_message
        assert invoice.requisites
        kinds.add(service.display_kind)
    assert kinds == {"invoice", "qr", "barcode", "card_transfer", "deeplink", "test"}
    assert Service.objects.filter(code="test_uah_invoice", enabled=True).exists()
