"""A page in Ukrainian is Ukrainian throughout: the method's name included, which is the
service's data (per-language names, falling back to `method_name`), and every other word
the customer reads, on every page and in every state. Only the invoice's own data (the
shop's name, the order's description, the requisites) and names that are the same in
every language stay as they are."""

import re
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.test import Client

from invoices import selectors
from invoices.demo import DEMO_MERCHANT_NAME, DEMO_SERVICES, demo_load
from invoices.models import Invoice, Merchant, Service
from invoices.services import MAX_INVALID_CONFIRMATIONS, invoice_create, invoice_operator_move
from invoices.state_machine import Actor

pytestmark = pytest.mark.django_db

AMOUNTS = {"UAH": "2126.68", "EUR": "49.90", "INR": "499.00", "BRL": "99.90", "MXN": "250.00"}
# Latin words a Ukrainian page keeps: the time zone, the names of payment schemes and
# codes (as Ukrainian banks write them), and the currencies' letter codes.
SAME_IN_EVERY_LANGUAGE = {"UTC", "IBAN", "BIC", "QR", "UPI", "SEPA", "Pix", *AMOUNTS} | {"USD"}
# Elements whose text is the invoice's data, not the page's words.
DATA_CLASSES = {"merchant", "description", "value"}
# Attributes a customer reads or hears, or that the page's script shows.
READ_ATTRIBUTES = {"alt", "aria-label", "placeholder", "title", "data-copied", "data-expired-text"}


class _Words(HTMLParser):
    """The text a customer reads or hears on a page, the invoice's own data left out."""

    def __init__(self):
        super().__init__()
        self.texts: list[str] = []
        self._open: list[bool] = []  # for each open element: is it hidden or data?

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        classes = set((attributes.get("class") or "").split())
        skipped = tag in {"script", "style"} or bool(classes & DATA_CLASSES)
        if tag not in {"meta", "link", "img", "input", "br"}:
            self._open.append(skipped or (bool(self._open) and self._open[-1]))
        if self._open and self._open[-1]:
            return
        self.texts += [value for name, value in attrs if name in READ_ATTRIBUTES and value]

    def handle_endtag(self, tag):
        if tag not in {"meta", "link", "img", "input", "br"} and self._open:
            self._open.pop()

    def handle_data(self, data):
        if not (self._open and self._open[-1]) and data.strip():
            self.texts.append(data.strip())


def _english_words(html: str) -> list[str]:
    words = _Words()
    words.feed(html)
    # The shop's name is data wherever it is (the page's title too).
    text = " ".join(words.texts).replace(DEMO_MERCHANT_NAME, "")
    latin = re.findall(r"[A-Za-z][A-Za-z'’]+", text)
    return [word for word in latin if word not in SAME_IN_EVERY_LANGUAGE]


@pytest.fixture
def merchant():
    demo_load()
    return Merchant.objects.get(name=DEMO_MERCHANT_NAME)


def _invoice(merchant, service_code: str, **extra) -> Invoice:
    currency = Service.objects.get(code=service_code).currency
    return invoice_create(
        merchant=merchant,
        service_code=service_code,
        reference_id=extra.pop("reference_id", f"order-{service_code}"),
        amount=Decimal(AMOUNTS[currency]),
        currency=currency,
        test_mode=True,
        actor=Actor("test"),
        description="Two mugs",
        **extra,
    )


def _link(merchant, **parameters) -> dict:
    return {
        "public_key": selectors.merchant_credentials(merchant=merchant).public_key_test,
        "amount": "150.00",
        "currency": "UAH",
        "reference_id": "order-77",
        **parameters,
    }


def _method_shown(page: str) -> str:
    return re.search(r'<p class="method">.*?<span>(.*?)</span>', page, re.S).group(1)


def test_the_method_is_named_in_the_pages_language(client, merchant):
    invoice = _invoice(merchant, "bank_transfer_uah_invoice")
    # In turns, so that a page kept in one language is never served in the other.
    for language, name in [("uk", "Банківський переказ"), ("en", "Bank transfer")] * 2:
        page = client.get("/hpp/", {"cpi": invoice.id, "locale": language}).content.decode()
        assert _method_shown(page) == name, language

    english = client.get("/hpp/", _link(merchant, locale="en")).content.decode()
    ukrainian = client.get("/hpp/", _link(merchant, locale="uk")).content.decode()
    english_names = re.findall(r'<a class="method".*?<span>(.*?)</span>', english, re.S)
    ukrainian_names = re.findall(r'<a class="method".*?<span>(.*?)</span>', ukrainian, re.S)
    uah = Service.objects.filter(currency="UAH").order_by("method_name")
    assert english_names == [service.method_name for service in uah]
    assert ukrainian_names == [service.method_name_translations["uk"] for service in uah]
    assert "Тестовий метод" in ukrainian_names and "Test method" not in ukrainian


def test_a_method_without_a_name_in_the_language_keeps_its_own_and_a_new_one_shows_at_once(
    client, merchant
):
    invoice = _invoice(merchant, "test_uah_invoice")
    service = invoice.service
    service.method_name_translations = {}
    service.save(update_fields=["method_name_translations"])
    page = client.get("/hpp/", {"cpi": invoice.id, "locale": "uk"}).content.decode()
    assert _method_shown(page) == "Test method"

    service.method_name_translations = {"uk": "Пісочниця"}
    service.save(update_fields=["method_name_translations"])
    page = client.get("/hpp/", {"cpi": invoice.id, "locale": "uk"}).content.decode()
    assert _method_shown(page) == "Пісочниця"
    assert selectors.service_method_name(service=service, language="en") == "Test method"


def _assert_ukrainian(where: str, response, status: int = 200) -> str:
    assert response.status_code == status, (where, response.status_code)
    page = response.content.decode()
    assert not _english_words(page), (where, _english_words(page))
    return page


def test_nothing_a_customer_reads_on_a_ukrainian_page_is_left_in_english(merchant, settings):
    client = Client()
    uk = {"locale": "uk"}
    english = _invoice(merchant, "test_uah_invoice", reference_id="order-in-english")
    page = client.get("/hpp/", {"cpi": english.id, "locale": "en"}).content.decode()
    assert {"Waiting", "Copy", "Confirm", "Test", "method"} <= set(_english_words(page))
    for spec in DEMO_SERVICES:
        if spec["connector"] == "http":
            continue  # its details come from the provider emulator (tests/browser has them)
        invoice = _invoice(merchant, spec["code"])
        page = _assert_ukrainian(spec["code"], client.get("/hpp/", {"cpi": invoice.id, **uk}))
        assert spec["method_name_translations"]["uk"] in page

    # The form: every error it can show, in place (htmx) and as a page (no JavaScript).
    invoice = _invoice(
        merchant, "test_uah_invoice", reference_id="order-form", return_url="https://shop.example"
    )
    confirm = f"/hpp/{invoice.id}/confirm?locale=uk"
    wrong = {"invoice_receipt_number": "12x"}  # and the message left out: required
    page = _assert_ukrainian("form errors", client.post(confirm, wrong), status=422)
    assert page.count('class="error"') == 2
    page = _assert_ukrainian("in place", client.post(confirm, wrong, HTTP_HX_REQUEST="true"))
    assert page.count('class="error"') == 2
    too_long = {"invoice_receipt_number": "1" * 1001, "message": "paid"}
    page = _assert_ukrainian("too long", client.post(confirm, too_long), status=422)
    assert 'class="error"' in page

    # Locked after too many refusals, and a client sending too many.
    guessed = _invoice(merchant, "test_uah_invoice", reference_id="order-guessed")
    guess = f"/hpp/{guessed.id}/confirm?locale=uk"
    for _ in range(MAX_INVALID_CONFIRMATIONS):
        client.post(guess, wrong)
    page = _assert_ukrainian("locked", client.post(guess, wrong), status=422)
    assert 'class="notice"' in page
    allowed, settings.CONFIRM_ATTEMPTS_PER_CLIENT_PER_MINUTE = (
        settings.CONFIRM_ATTEMPTS_PER_CLIENT_PER_MINUTE,
        0,
    )
    page = _assert_ukrainian("rate limited", client.post(guess, wrong), status=422)
    assert 'class="notice"' in page
    settings.CONFIRM_ATTEMPTS_PER_CLIENT_PER_MINUTE = allowed

    # The status box in every status, as polled and as a page, and what a late confirmation
    # is told.
    status_url = f"/hpp/{invoice.id}/status"
    _assert_ukrainian("waiting", client.get(status_url, uk, HTTP_HX_REQUEST="true"))
    client.post(f"/hpp/{invoice.id}/simulate", {"outcome": "partial"})
    _assert_ukrainian("partially paid", client.get(status_url, uk, HTTP_HX_REQUEST="true"))
    _assert_ukrainian("partially paid page", client.get("/hpp/", {"cpi": invoice.id, **uk}))
    late = {"invoice_receipt_number": "1", "message": "paid"}
    page = _assert_ukrainian("late", client.post(confirm, late, HTTP_HX_REQUEST="true"))
    assert 'class="notice"' in page
    for outcome, simulated in [("processed", "paid"), ("process_failed", "failed")]:
        paid = _invoice(merchant, "test_uah_invoice", reference_id=f"order-{outcome}")
        client.post(f"/hpp/{paid.id}/simulate", {"outcome": simulated})
        _assert_ukrainian(outcome, client.get("/hpp/", {"cpi": paid.id, **uk}))
    for outcome in ("expired", "terminated"):
        moved = _invoice(merchant, "card_transfer_uah_invoice", reference_id=f"order-{outcome}")
        invoice_operator_move(invoice_id=moved.id, outcome=outcome, reason="test", operator="t")
        _assert_ukrainian(outcome, client.get("/hpp/", {"cpi": moved.id, **uk}))

    # Choosing a method, with methods and without, and the pages that explain a link.
    page = _assert_ukrainian("select", client.get("/hpp/", _link(merchant, **uk)))
    assert "Тестовий метод" in page
    _assert_ukrainian("select, none", client.get("/hpp/", _link(merchant, currency="USD", **uk)))
    refused = _link(merchant, **uk)
    refused["public_key"] += "x"
    _assert_ukrainian("refused", client.get("/hpp/", refused), status=403)
    for number, (broken, problems) in enumerate(
        [
            ({"amount": "", "currency": "", "reference_id": ""}, 3),
            ({"service": "test_uah_invoice", "amount": "1.001"}, 1),
            ({"service": "test_uah_invoice", "expires": "soon"}, 1),
            ({"service": "test_uah_invoice", "return_url": "javascript:alert(1)"}, 1),
            ({"service": "no_such_service"}, 1),
        ]
    ):
        link = _link(merchant, **{"reference_id": f"order-broken-{number}", **broken, **uk})
        page = _assert_ukrainian(f"incomplete {broken}", client.get("/hpp/", link), status=400)
        assert page.count("<li>") == problems, broken
    _assert_ukrainian("not found", client.get("/hpp/", {"cpi": "cpi_0000000000000000", **uk}), 404)
