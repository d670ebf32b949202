"""The hosted pages as a browser gets them (Django's client; tests/browser drives Chromium)."""

import re
from decimal import Decimal
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.core.cache import caches
from django.core.cache.utils import make_template_fragment_key
from django.test import Client

from checkout.presentation import status_fragment_key
from checkout.services import link_signature
from invoices.demo import demo_load
from invoices.models import Invoice, Merchant
from invoices.selectors import merchant_credentials
from invoices.services import invoice_create
from invoices.state_machine import Actor
from tests.on_commit import queued_tasks

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    demo_load()
    return Merchant.objects.get(name="Demo Shop")


def _invoice(merchant, service, currency, **extra):
    extra.setdefault("reference_id", f"order-{service}")
    return invoice_create(
        merchant=merchant,
        service_code=service,
        amount=Decimal("2126.68"),
        currency=currency,
        test_mode=True,
        actor=Actor("test"),
        **extra,
    )


def _page(client, invoice, **params):
    response = client.get("/hpp/", {"cpi": invoice.id, **params})
    assert response.status_code == 200, response.content[:500]
    return response, response.content.decode()


@pytest.mark.parametrize(
    ("service", "currency", "expected"),
    [
        ("test_uah_invoice", "UAH", ["Invoice receipt number"]),
        ("bank_transfer_uah_invoice", "UAH", ["UA213223130000026007233566001", "/qr.svg"]),
        ("sepa_qr_eur_invoice", "EUR", ["DE89370400440532013000", "/qr.svg"]),
        ("upi_qr_inr_invoice", "INR", ["/qr.svg", "upi://pay?pa=demoshop@upi"]),
        ("pix_qr_brl_invoice", "BRL", ["/qr.svg"]),
        ("cash_voucher_mxn_invoice", "MXN", ["/barcode.svg", "93"]),
        (
            "card_transfer_uah_invoice",
            "UAH",
            ["4111 1111 1111 1111", 'data-copy="4111111111111111"'],
        ),
        ("bank_app_deeplink_uah_invoice", "UAH", ["https://bank.example/pay?", "/qr.svg"]),
    ],
)
def test_each_display_kind_shows_amount_method_and_its_details(
    client, demo, service, currency, expected
):
    invoice = _invoice(demo, service, currency, description="<b>Two mugs</b>")
    response, page = _page(client, invoice, locale="en")
    assert "Demo Shop" in page
    assert invoice.service.method_name in page
    assert "2,126.68" in page
    assert "&lt;b&gt;Two mugs&lt;/b&gt;" in page and "<b>Two mugs</b>" not in page
    for text in expected:
        assert text in page, text
    assert 'class="countdown"' in page and invoice.expires_at.isoformat()[:19] in page
    assert 'role="status"' in page and 'aria-live="polite"' in page
    assert "Test mode" in page


def test_security_headers_and_framing(client, demo):
    invoice = _invoice(demo, "test_uah_invoice", "UAH")
    response, _ = _page(client, invoice)
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert "X-Frame-Options" not in response
    assert response["Referrer-Policy"] and response["X-Content-Type-Options"] == "nosniff"
    demo.frame_ancestors = "https://shop.example https://m.shop.example"
    demo.save()
    response, _ = _page(client, invoice)
    assert (
        "frame-ancestors https://shop.example https://m.shop.example"
        in response["Content-Security-Policy"]
    )


def test_no_inline_scripts_or_styles(client, demo):
    invoice = _invoice(demo, "bank_transfer_uah_invoice", "UAH")
    _, page = _page(client, invoice)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
    assert " style=" not in page and "<style" not in page


def test_the_confirmation_form_follows_the_schema(client, demo):
    invoice = _invoice(demo, "test_uah_invoice", "UAH")
    _, page = _page(client, invoice)
    assert 'name="invoice_receipt_number"' in page and 'pattern="^\\d{1,100}$"' in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert 'hx-post="/hpp/' in page and f'action="/hpp/{invoice.id}/confirm' in page


def test_without_javascript_a_wrong_then_right_confirmation(
    client, demo, django_capture_on_commit_callbacks
):
    invoice = _invoice(demo, "test_uah_invoice", "UAH")
    wrong = client.post(
        f"/hpp/{invoice.id}/confirm", {"invoice_receipt_number": "12x", "message": "paid"}
    )
    assert wrong.status_code == 422
    page = wrong.content.decode()
    assert 'id="error-invoice_receipt_number"' in page and 'aria-invalid="true"' in page
    assert 'value="12x"' in page, "what the customer typed stays"

    receipt = invoice.requisites["invoice_receipt_number"]
    with django_capture_on_commit_callbacks(execute=False) as queued:
        right = client.post(
            f"/hpp/{invoice.id}/confirm", {"invoice_receipt_number": receipt, "message": "paid"}
        )
    assert right.status_code == 303 and right["Location"] == f"/hpp/?cpi={invoice.id}"
    assert queued_tasks(queued) == ["invoices.tasks.forward_confirmation"]
    _, page = _page(client, invoice, locale="en")
    assert "Checking your payment" in page
    assert 'name="invoice_receipt_number"' not in page


def test_with_htmx_errors_come_back_in_place(client, demo):
    invoice = _invoice(demo, "test_uah_invoice", "UAH")
    response = client.post(
        f"/hpp/{invoice.id}/confirm", {"message": "paid"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    fragment = response.content.decode()
    assert "<html" not in fragment
    assert 'id="error-invoice_receipt_number"' in fragment and 'id="status"' in fragment


def test_csrf_is_required(demo):
    invoice = _invoice(demo, "test_uah_invoice", "UAH")
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(f"/hpp/{invoice.id}/confirm", {"message": "paid"})
    assert response.status_code == 403
    assert Invoice.objects.get(pk=invoice.id).status == "created"


def _csrf_token(page: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def test_a_page_shown_again_is_not_rendered_again_and_each_visitor_gets_a_token(demo):
    invoice = _invoice(demo, "test_uah_invoice", "UAH", reference_id="order-page-memo")
    first_visitor, second_visitor = (Client(enforce_csrf_checks=True) for _ in range(2))
    first = first_visitor.get("/hpp/", {"cpi": invoice.id, "locale": "uk"})
    second = second_visitor.get("/hpp/", {"cpi": invoice.id, "locale": "uk"})
    # The summary and the details come from the fragment cache; the form, with each
    # visitor's own CSRF token, is rendered by Django for every request.
    first_names = [template.name for template in first.templates]
    second_names = [template.name for template in second.templates]
    assert "checkout/partials/rows.html" in first_names
    assert "checkout/partials/rows.html" not in second_names
    assert "checkout/partials/form.html" in second_names
    first_page, second_page = first.content.decode(), second.content.decode()
    assert _csrf_token(first_page) != _csrf_token(second_page)
    assert re.sub(r'value="[^"]{40,}"', "", first_page) == re.sub(
        r'value="[^"]{40,}"', "", second_page
    )

    receipt = invoice.requisites["invoice_receipt_number"]
    confirmed = second_visitor.post(
        f"/hpp/{invoice.id}/confirm",
        {
            "invoice_receipt_number": receipt,
            "message": "paid",
            "csrfmiddlewaretoken": _csrf_token(second_page),
        },
    )
    assert confirmed.status_code == 303
    assert Invoice.objects.get(pk=invoice.id).status == "processing"


def test_a_page_sets_the_csrf_cookie_and_touches_no_session_or_messages(demo):
    invoice = _invoice(demo, "test_uah_invoice", "UAH", reference_id="order-page-cookies")
    response = Client(enforce_csrf_checks=True).get("/hpp/", {"cpi": invoice.id})
    assert set(response.cookies) == {"csrftoken"}
    assert re.fullmatch(r"[A-Za-z0-9]{32}", response.cookies["csrftoken"].value)


def test_a_kept_page_shows_any_change_to_its_invoice_or_method_at_once(client, demo):
    invoice = _invoice(demo, "test_uah_invoice", "UAH", reference_id="order-page-change")
    _, before = _page(client, invoice, locale="en")
    assert "Payment details" in before

    invoice.service.method_name = "Renamed by the operator"
    invoice.service.save(update_fields=["method_name"])
    _, renamed = _page(client, invoice, locale="en")
    assert "Renamed by the operator" in renamed

    client.post(f"/hpp/{invoice.id}/simulate", {"outcome": "paid"})
    _, paid = _page(client, invoice, locale="en")
    assert "Paid" in paid and "Payment details" not in paid
    assert 'name="csrfmiddlewaretoken"' not in paid  # no form, so no token and no cookie
    assert "csrftoken" not in client.get("/hpp/", {"cpi": invoice.id}).cookies


def test_status_polls_until_final_then_returns_the_customer(client, demo):
    invoice = _invoice(
        demo,
        "test_uah_invoice",
        "UAH",
        return_urls={
            "success": "https://shop.example/thanks?x=1",
            "fail": "https://shop.example/oops",
        },
    )
    waiting = client.get(f"/hpp/{invoice.id}/status", HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 3s"' in waiting

    client.post(f"/hpp/{invoice.id}/simulate", {"outcome": "paid"})
    final = client.get(f"/hpp/{invoice.id}/status", HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in final
    assert 'id="confirm-area" hx-swap-oob="true"' in final
    link = re.search(r'data-return-url="([^"]+)"', final).group(1).replace("&amp;", "&")
    parts = urlsplit(link)
    assert (parts.netloc, parts.path) == ("shop.example", "/thanks")
    assert parse_qs(parts.query) == {"x": ["1"], "cpi": [invoice.id], "status": ["processed"]}

    response, page = _page(client, invoice, locale="en")
    assert "Paid" in page and 'http-equiv="refresh"' in page


def test_a_repeated_poll_is_not_rendered_again_and_shows_every_change(client, demo):
    invoice = _invoice(demo, "test_uah_invoice", "UAH", reference_id="order-poll-memo")
    url = f"/hpp/{invoice.id}/status"
    first = client.get(url, {"locale": "uk"}, HTTP_HX_REQUEST="true")
    again = client.get(url, {"locale": "uk"}, HTTP_HX_REQUEST="true")
    assert again.content == first.content and again["Content-Language"] == "uk"
    # The box is kept under a digest of its fields, its language and how it is swapped in.
    kept_as = make_template_fragment_key(
        "status_box", [status_fragment_key(Invoice.objects.get(pk=invoice.id)), "uk", True]
    )
    kept = caches["fragments"].get(kept_as)
    assert kept and 'data-status="created"' in kept and kept in again.content.decode()
    english = client.get(url, {"locale": "en"}, HTTP_HX_REQUEST="true")
    assert "This page updates by itself." in english.content.decode()
    plain = client.get(url, {"locale": "en"})
    assert 'id="confirm-area"' not in plain.content.decode()

    client.post(f"/hpp/{invoice.id}/simulate", {"outcome": "paid"})
    final = client.get(url, {"locale": "uk"}, HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in final and 'data-status="processed"' in final


# What a final status swapped in by htmx empties (hx-swap-oob), and what a reload of a final
# page shows empty: the countdown, the payment details, the form and the test panel.
EMPTIED_WHEN_FINAL = ["deadline", "payment-details", "confirm-area"]


def _emptied_out_of_band(fragment: str) -> list[str]:
    return re.findall(r'<div id="([\w-]+)" hx-swap-oob="true"></div>', fragment)


def test_a_final_status_swapped_in_empties_what_a_reload_no_longer_shows(client, demo):
    invoice = _invoice(demo, "test_uah_invoice", "UAH", reference_id="order-final-swap")
    _, waiting_page = _page(client, invoice, locale="en")
    for place in EMPTIED_WHEN_FINAL:
        assert f'<div id="{place}">' in waiting_page, place
    assert 'class="countdown"' in waiting_page and 'class="card details"' in waiting_page
    url = f"/hpp/{invoice.id}/status"
    waiting = client.get(url, {"locale": "en"}, HTTP_HX_REQUEST="true").content.decode()
    assert "hx-swap-oob" not in waiting, "nothing is taken away while the customer may pay"

    # The test panel's answer (swapped into #payment-state) ends the page as a poll does.
    simulated = client.post(
        f"/hpp/{invoice.id}/simulate?locale=en", {"outcome": "failed"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'data-status="process_failed"' in simulated
    assert _emptied_out_of_band(simulated) == EMPTIED_WHEN_FINAL
    final = client.get(url, {"locale": "en"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Payment failed" in final and "hx-trigger" not in final
    assert _emptied_out_of_band(final) == EMPTIED_WHEN_FINAL
    # A confirmation sent from a page that had not yet seen the final status: the same.
    confirmed = client.post(
        f"/hpp/{invoice.id}/confirm?locale=en",
        {"invoice_receipt_number": "1", "message": "paid"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert _emptied_out_of_band(confirmed) == EMPTIED_WHEN_FINAL
    # Without htmx nothing is swapped: the box alone, no out-of-band parts.
    plain = client.get(url, {"locale": "en"}).content.decode()
    assert "hx-swap-oob" not in plain

    # The page as a reload shows it: the same places, empty, and nothing else to do.
    _, reloaded = _page(client, invoice, locale="en")
    for place in EMPTIED_WHEN_FINAL:
        assert re.search(rf'<div id="{place}">\s*</div>', reloaded), place
    assert 'class="countdown"' not in reloaded and 'class="card details"' not in reloaded
    assert "hx-swap-oob" not in reloaded


@pytest.mark.parametrize("bad", ["javascript:alert(1)", "data:text/html,hi", "//evil.example"])
def test_only_http_return_urls_are_followed(demo, bad):
    from checkout.services import return_url

    invoice = _invoice(demo, "test_uah_invoice", "UAH")
    Invoice.objects.filter(pk=invoice.id).update(return_url=bad, status="processed")
    assert return_url(Invoice.objects.get(pk=invoice.id)) is None


def test_test_panel_only_in_test_mode(client, demo):
    invoice = _invoice(demo, "test_uah_invoice", "UAH")
    client.post(f"/hpp/{invoice.id}/simulate", {"outcome": "partial"})
    invoice.refresh_from_db()
    assert (invoice.status, invoice.processed_amount) == ("partially_processed", Decimal("1063.34"))
    Invoice.objects.filter(pk=invoice.id).update(test_mode=False, status="created")
    client.post(f"/hpp/{invoice.id}/simulate", {"outcome": "paid"})
    assert Invoice.objects.get(pk=invoice.id).status == "created"


def test_images_have_strong_etags_and_revalidate(client, demo):
    invoice = _invoice(demo, "upi_qr_inr_invoice", "INR")
    first = client.get(f"/hpp/{invoice.id}/qr.svg")
    again = client.get(f"/hpp/{invoice.id}/qr.svg")
    assert first.status_code == 200 and first["Content-Type"] == "image/svg+xml"
    assert first.content == again.content
    etag = first["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    cached = client.get(f"/hpp/{invoice.id}/qr.svg", HTTP_IF_NONE_MATCH=etag)
    assert cached.status_code == 304 and cached.content == b""
    png = client.get(f"/hpp/{invoice.id}/qr.png")
    assert png["Content-Type"] == "image/png" and png.content.startswith(b"\x89PNG")
    voucher = _invoice(demo, "cash_voucher_mxn_invoice", "MXN")
    assert client.get(f"/hpp/{voucher.id}/barcode.svg")["Content-Type"] == "image/svg+xml"
    assert client.get(f"/hpp/{voucher.id}/qr.svg").status_code == 404
    assert client.get("/hpp/cpi_0000000000000000/qr.svg").status_code == 404


@pytest.mark.parametrize(
    ("service", "currency", "image"),
    [("upi_qr_inr_invoice", "INR", "qr.svg"), ("cash_voucher_mxn_invoice", "MXN", "barcode.svg")],
)
def test_the_page_links_images_by_their_content_and_those_are_kept_for_good(
    client, demo, service, currency, image
):
    invoice = _invoice(demo, service, currency)
    page = client.get("/hpp/", {"cpi": invoice.id}).content.decode()
    linked = re.search(rf'src="(/hpp/{invoice.id}/{re.escape(image)}\?v=[0-9a-f]{{32}})"', page)
    assert linked, page
    versioned = client.get(linked.group(1))
    assert versioned.status_code == 200
    assert versioned["Cache-Control"] == "public, max-age=31536000, immutable"
    assert versioned["ETag"] == f'"{linked.group(1).rsplit("=", 1)[1]}"'
    # The contract's address, or an old version: revalidated, never kept for good.
    for url in (f"/hpp/{invoice.id}/{image}", f"/hpp/{invoice.id}/{image}?v=0"):
        plain = client.get(url)
        assert plain.content == versioned.content
        assert plain["Cache-Control"] == "private, max-age=3600"


def test_an_image_served_once_is_served_again_without_a_query(
    client, demo, django_assert_num_queries
):
    invoice = _invoice(demo, "upi_qr_inr_invoice", "INR")
    first = client.get(f"/hpp/{invoice.id}/qr.svg")
    with django_assert_num_queries(0):
        again = client.get(f"/hpp/{invoice.id}/qr.svg")
        revalidated = client.get(f"/hpp/{invoice.id}/qr.svg", HTTP_IF_NONE_MATCH=first["ETag"])
    assert (again.status_code, again.content, again["ETag"]) == (200, first.content, first["ETag"])
    assert revalidated.status_code == 304


def test_unknown_invoices_get_a_friendly_404(client):
    response = client.get("/hpp/", {"cpi": "cpi_0000000000000000"})
    assert response.status_code == 404 and "Payment not found" in response.content.decode()


# The redirect flow ----------------------------------------------------------------


def _link(merchant, **params):
    keys = merchant_credentials(merchant=merchant)
    base = {
        "public_key": keys.public_key_test,
        "amount": "150.00",
        "currency": "UAH",
        "reference_id": "link-1",
    }
    return {**base, **params}


def test_method_selection_lists_the_merchants_services_in_the_currency(client, demo):
    response = client.get("/hpp/", _link(demo))
    page = response.content.decode()
    assert response.status_code == 200
    for name in ("Bank transfer", "Card transfer", "Test method"):
        assert name in page
    assert "UPI QR" not in page and "Pix" not in page
    assert "Test mode: no real money moves." in page  # a test key's link says so
    assert not Invoice.objects.exists()

    choice = re.search(r'href="(/hpp/\?[^"]*service=card_transfer_uah_invoice[^"]*)"', page).group(
        1
    )
    landed = client.get(choice.replace("&amp;", "&"))
    assert landed.status_code == 302
    invoice = Invoice.objects.get()
    assert landed["Location"] == f"/hpp/?cpi={invoice.id}"
    assert (invoice.service.code, invoice.amount, invoice.reference_id) == (
        "card_transfer_uah_invoice",
        Decimal("150.00"),
        "link-1",
    )


def test_the_same_link_twice_is_the_same_invoice(client, demo):
    params = _link(demo, service="test_uah_invoice")
    first = client.get("/hpp/", params)
    second = client.get("/hpp/", params)
    assert first["Location"] == second["Location"]
    assert Invoice.objects.count() == 1


def test_method_and_currency_pick_the_service(client, demo):
    response = client.get("/hpp/", _link(demo, method="bank_transfer"))
    assert response.status_code == 302
    assert Invoice.objects.get().service.code == "bank_transfer_uah_invoice"


def test_signed_links(client, demo):
    demo.require_signed_links = True
    demo.save()
    secret = merchant_credentials(merchant=demo).secret_key_test
    params = _link(demo, service="test_uah_invoice")

    for signature in (None, "0" * 64):
        query = dict(params, **({"signature": signature} if signature else {}))
        refused = client.get("/hpp/", query)
        assert refused.status_code == 403
        assert "was not accepted" in refused.content.decode()
    assert not Invoice.objects.exists()

    signed = dict(params, signature=link_signature(secret_key=secret, parameters=params))
    assert client.get("/hpp/?" + urlencode(signed)).status_code == 302
    assert Invoice.objects.count() == 1

    # The selection page signs the choices it offers.
    unsigned_choice = _link(demo, reference_id="link-2")
    selection = client.get(
        "/hpp/",
        dict(
            unsigned_choice, signature=link_signature(secret_key=secret, parameters=unsigned_choice)
        ),
    )
    choice = re.search(
        r'href="(/hpp/\?[^"]*service=test_uah_invoice[^"]*)"', selection.content.decode()
    )
    assert client.get(choice.group(1).replace("&amp;", "&")).status_code == 302
    assert Invoice.objects.count() == 2


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"public_key": "pk_test_unknown"}, 403),
        ({"amount": "many"}, 400),
        ({"amount": "1.001"}, 400),
        ({"currency": "USD", "service": "test_uah_invoice"}, 400),
        ({"service": "nope"}, 400),
        ({"reference_id": ""}, 400),
        ({"return_url": "javascript:alert(1)", "service": "test_uah_invoice"}, 400),
    ],
)
def test_bad_links_get_a_friendly_page_and_create_nothing(client, demo, params, status):
    query = _link(demo, **params)
    if "service" not in params and status == 400 and "amount" in params:
        query["service"] = "test_uah_invoice"
    response = client.get("/hpp/", query)
    assert response.status_code == status
    assert "<html" in response.content.decode()
    assert not Invoice.objects.exists()


def test_pages_speak_ukrainian(client, demo):
    invoice = _invoice(demo, "test_uah_invoice", "UAH")
    _, english = _page(client, invoice, locale="en")
    _, ukrainian = _page(client, invoice, locale="uk")
    assert '<html lang="uk">' in ukrainian and '<html lang="en">' in english
    assert "2 126,68" in ukrainian.replace("\xa0", " ")
    assert "Очікуємо на вашу оплату" in ukrainian and "Waiting for your payment" in english
    assert "Номер квитанції" in ukrainian, "requisite labels follow ?locale=, not the browser"
    assert "Скопіювати" in ukrainian
    by_header = client.get("/hpp/", {"cpi": invoice.id}, HTTP_ACCEPT_LANGUAGE="uk-UA,uk;q=0.9")
    assert '<html lang="uk">' in by_header.content.decode()


def test_a_signature_covers_the_merchants_own_parameters_too(client, demo):
    demo.require_signed_links = True
    demo.save()
    secret = merchant_credentials(merchant=demo).secret_key_test
    params = _link(demo, service="test_uah_invoice", utm_source="newsletter")
    signed = dict(params, signature=link_signature(secret_key=secret, parameters=params))
    assert client.get("/hpp/", signed).status_code == 302
    tampered = dict(signed, utm_source="elsewhere")
    assert client.get("/hpp/", tampered).status_code == 403


def test_a_pix_code_can_be_copied_on_a_phone(client, demo):
    invoice = _invoice(demo, "pix_qr_brl_invoice", "BRL")
    _, page = _page(client, invoice, locale="en")
    assert "Payment code" in page
    assert f'data-copy="{invoice.requisites["qr_code"]}"' in page


def test_details_read_in_a_natural_order_and_labels_speak_the_language(client, demo):
    card = _invoice(demo, "card_transfer_uah_invoice", "UAH")
    _, page = _page(client, card, locale="en")
    assert page.index("Card number") < page.index("Card holder") < page.index(">Bank<")
    sandbox = _invoice(demo, "test_uah_invoice", "UAH")
    _, ukrainian = _page(client, sandbox, locale="uk")
    form = ukrainian[ukrainian.index('id="confirm-form"') :]
    assert "Номер квитанції" in form and "Повідомлення" in form


def test_a_broken_link_is_explained_in_the_customers_language(client, demo):
    query = _link(demo, amount="1.001", service="test_uah_invoice", locale="uk")
    response = client.get("/hpp/", query)
    page = response.content.decode()
    assert response.status_code == 400
    assert "Сума відсутня або не підходить для цього способу оплати." in page
    assert "digits" not in page, "the API's technical detail stays out of the customer's page"


def test_the_status_poll_costs_one_query_on_the_primary_key(
    client, demo, django_assert_num_queries
):
    invoice = _invoice(demo, "test_uah_invoice", "UAH", return_url="https://shop.example/back")
    client.post(f"/hpp/{invoice.id}/simulate", {"outcome": "paid"})
    with django_assert_num_queries(1) as captured:
        response = client.get(f"/hpp/{invoice.id}/status", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Paid" in response.content.decode()
    (query,) = [q["sql"] for q in captured.captured_queries]
    assert "JOIN" not in query.upper() and "requisites" not in query


def test_every_page_has_a_favicon(client, demo):
    invoice = _invoice(demo, "test_uah_invoice", "UAH")
    page = client.get("/hpp/", {"cpi": invoice.id}).content.decode()
    icon = re.search(r'<link rel="icon" href="([^"]+)"', page).group(1)
    assert client.get(icon).status_code == 200
    asked = client.get("/favicon.ico")  # the admin's pages, and any browser's first guess
    assert asked.status_code == 301 and asked["Location"] == icon
