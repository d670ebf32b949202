"""POST /api/payment-invoices, checked as a merchant's client sees it (contract 1.1, 1.3)."""

import json
import re
import time
from decimal import Decimal

import pytest

from connectors.sandbox import CONFIRMATION_SCHEMA
from invoices.models import IdempotencyKey, Invoice, Merchant
from tests.api import API, basic_auth, decimal_json, seed_request
from tests.factories import InvoiceFactory, MerchantFactory, MerchantServiceFactory

pytestmark = pytest.mark.django_db

RESOURCE_ATTRIBUTES = {
    "serial_number",
    "status",
    "resolution",
    "resolution_message",
    "reference_id",
    "test_mode",
    "amount",
    "currency",
    "service",
    "description",
    "descriptor",
    "customer",
    "metadata",
    "locale",
    "callback_url",
    "return_url",
    "return_urls",
    "flow",
    "payment_flow",
    "payment_amount",
    "processed_amount",
    "created",
    "updated",
    "processed",
    "expires",
    "sequence",
    "hpp_url",
    "payload",
    "flow_data",
}


def _errors(response):
    assert response["Content-Type"].startswith("application/json"), response.content
    return response.json()["errors"]


def test_the_seed_request_round_trips_field_by_field(shop):
    before = int(time.time())
    response = shop.create(
        "order-2126",
        callback_url="https://webhook.site/282bbce6-c2b5-4d1e-a44c-1504975e82ec",
        return_urls={
            "fail": "http://google.com/1",
            "pending": "http://google.com/2",
            "success": "http://google.com/3",
        },
    )

    assert response.status_code == 201, response.content
    assert response["Content-Type"] == "application/json"
    assert b'"amount":2126.68' in response.content
    document = decimal_json(response)
    data = document["data"]
    assert data["type"] == "payment-invoices"
    assert re.fullmatch(r"cpi_[A-Za-z0-9]{16}", data["id"])
    assert data["links"] == {"self": f"/api/payment-invoices/{data['id']}"}
    assert response["Location"] == data["links"]["self"]
    attributes = data["attributes"]
    assert set(attributes) == RESOURCE_ATTRIBUTES
    assert attributes["serial_number"] == data["id"][4:]
    assert (attributes["status"], attributes["resolution"]) == ("created", "ok")
    assert attributes["resolution_message"] is None
    assert attributes["reference_id"] == "order-2126"
    assert attributes["test_mode"] is True
    assert attributes["amount"] == attributes["payment_amount"] == Decimal("2126.68")
    assert attributes["processed_amount"] is None
    assert attributes["currency"] == "UAH"
    assert attributes["service"] == "test_uah_invoice"
    assert (attributes["flow"], attributes["payment_flow"]) == ("invoice", "charge")
    for moment in ("created", "updated", "expires"):
        assert isinstance(attributes[moment], int)
    assert before <= attributes["created"] <= attributes["updated"] <= int(time.time())
    assert attributes["expires"] == attributes["created"] + 3600
    assert attributes["processed"] is None
    assert attributes["sequence"] == 1
    assert attributes["hpp_url"] == f"http://127.0.0.1:8000/hpp/?cpi={data['id']}"
    assert attributes["payload"] is None
    assert attributes["callback_url"] == "https://webhook.site/282bbce6-c2b5-4d1e-a44c-1504975e82ec"
    assert attributes["return_url"] is None
    assert attributes["return_urls"] == {
        "fail": "http://google.com/1",
        "pending": "http://google.com/2",
        "success": "http://google.com/3",
    }

    flow_data = attributes["flow_data"]
    assert set(flow_data) == {
        "method",
        "requisites",
        "is_otp_flow",
        "confirmation",
        "checkout_page",
    }
    assert flow_data["method"] == {
        "code": "test",
        "name": "Test method",
        "logo": "http://127.0.0.1:8000/static/methods/test.svg",
    }
    assert re.fullmatch(r"\d{10}", flow_data["requisites"]["invoice_receipt_number"])
    assert flow_data["is_otp_flow"] is False
    assert flow_data["checkout_page"] is None
    confirmation = flow_data["confirmation"]
    assert confirmation["required"] is True
    assert isinstance(confirmation["payload"], str)
    assert json.loads(confirmation["payload"]) == CONFIRMATION_SCHEMA
    assert confirmation["payload"] == (
        '{"invoice_receipt_number":{"required":true,"regexp":"^\\\\d{1,100}$","type":"text",'
        '"example":null},"message":{"required":true,"regexp":"^.{1,100}$","type":"text",'
        '"example":null}}'
    )

    read = shop.get(f"{API}/{data['id']}")
    assert read.status_code == 200
    assert read.content == response.content


@pytest.mark.parametrize(
    ("amount", "currency", "echoed"),
    [
        ("2126.68", "UAH", b'"amount":2126.68'),
        (2126.6, "UAH", b'"amount":2126.60'),
        ("0.10", "UAH", b'"amount":0.10'),
        (1500, "JPY", b'"amount":1500'),
        ("1.125", "KWD", b'"amount":1.125'),
        (99999999.99, "UAH", b'"amount":99999999.99'),
    ],
)
def test_amounts_are_exact_decimals_with_the_currencys_digits(shop, amount, currency, echoed):
    service = "test_uah_invoice"
    if currency != "UAH":
        service = f"test_{currency.lower()}_invoice"
        MerchantServiceFactory(
            merchant=shop.merchant,
            service__code=service,
            service__currency=currency,
            service__min_amount=None,
        )
    response = shop.create("r", amount=amount, currency=currency, service=service)
    assert response.status_code == 201, response.content
    assert echoed in response.content
    assert Invoice.objects.get().amount == Decimal(str(amount))


@pytest.mark.parametrize(
    ("attributes", "pointer", "code"),
    [
        ({"amount": "2126.681"}, "/data/attributes/amount", "invalid_precision"),
        ({"amount": 2126.681}, "/data/attributes/amount", "invalid_precision"),
        ({"amount": 0}, "/data/attributes/amount", "invalid_amount"),
        ({"amount": -1}, "/data/attributes/amount", "invalid_amount"),
        ({"amount": "12,50"}, "/data/attributes/amount", "invalid_value"),
        ({"amount": "1e3"}, "/data/attributes/amount", "invalid_value"),
        ({"amount": True}, "/data/attributes/amount", "invalid_value"),
        ({"amount": None}, "/data/attributes/amount", "invalid_value"),
        ({"amount": 1e20}, "/data/attributes/amount", "invalid_amount"),
        ({"currency": "USD"}, "/data/attributes/currency", "currency_mismatch"),
        ({"currency": "uah"}, "/data/attributes/currency", "invalid_format"),
        ({"service": "nope_invoice"}, "/data/attributes/service", "service_unavailable"),
        ({"service": 5}, "/data/attributes/service", "invalid_type"),
        ({"reference_id": ""}, "/data/attributes/reference_id", "invalid_length"),
        ({"reference_id": 42}, "/data/attributes/reference_id", "invalid_type"),
        ({"reference_id": "x" * 256}, "/data/attributes/reference_id", "invalid_length"),
        ({"test_mode": "true"}, "/data/attributes/test_mode", "invalid_type"),
        ({"test_mode": False}, "/data/attributes/test_mode", "mode_mismatch"),
        ({"flow": "payout"}, "/data/attributes/flow", "invalid_value"),
        ({"callback_url": "ftp://x.example"}, "/data/attributes/callback_url", "invalid_url"),
        ({"return_url": "javascript:alert(1)"}, "/data/attributes/return_url", "invalid_url"),
        ({"return_urls": {"success": "x"}}, "/data/attributes/return_urls/success", "invalid_url"),
        (
            {"return_urls": {"later": "https://a.example"}},
            "/data/attributes/return_urls/later",
            "unknown_attribute",
        ),
        ({"locale": "de"}, "/data/attributes/locale", "invalid_value"),
        ({"expires": 1}, "/data/attributes/expires", "invalid_expiry"),
        ({"expires": "soon"}, "/data/attributes/expires", "invalid_type"),
        ({"metadata": {"nested": {"a": 1}}}, "/data/attributes/metadata", "invalid_value"),
        ({"metadata": [1]}, "/data/attributes/metadata", "invalid_type"),
        (
            {"customer": {"email": "not-an-email"}},
            "/data/attributes/customer/email",
            "invalid_format",
        ),
        ({"description": 7}, "/data/attributes/description", "invalid_type"),
    ],
)
def test_bad_attributes_are_422_with_a_pointer(shop, attributes, pointer, code):
    response = shop.create("r", **attributes)
    assert response.status_code == 422, response.content
    errors = _errors(response)
    assert [(e["source"]["pointer"], e["code"]) for e in errors] == [(pointer, code)]
    assert all(e["status"] == "422" and e["title"] and e["detail"] for e in errors)
    assert not Invoice.objects.exists()


def test_missing_attributes_each_get_an_error(shop):
    response = shop.post(API, {"data": {"type": "payment-invoices", "attributes": {}}})
    assert response.status_code == 422
    pointers = {e["source"]["pointer"] for e in _errors(response)}
    assert pointers == {
        f"/data/attributes/{name}" for name in ("reference_id", "amount", "currency", "service")
    }


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        ("{not json", "application/json", 415, "malformed_json"),
        ('{"amount": NaN}', "application/json", 415, "malformed_json"),
        ('{"a": ' + "1" * 5000 + "}", "application/json", 415, "malformed_json"),
        ("[" * 5000 + "]" * 5000, "application/json", 415, "malformed_json"),
        ("[1, 2]", "application/json", 422, "invalid_type"),
        ('{"data": []}', "application/json", 422, "invalid_type"),
        ('{"data": {"type": "users", "attributes": {}}}', "application/json", 422, "invalid_value"),
        ("reference_id=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        ("{}", "text/plain", 415, "unsupported_media_type"),
        (b"\xff\xfe{}", "application/json", 415, "malformed_json"),
    ],
)
def test_malformed_bodies_are_clear_4xx(shop, body, content_type, status, code):
    response = shop.post(API, body, content_type=content_type)
    assert response.status_code == status, response.content
    assert _errors(response)[0]["code"] == code


def test_an_empty_json_body_is_415(shop):
    # The test client drops the content type of an empty body; a real client sends it.
    response = shop.post(API, "", CONTENT_TYPE="application/json")
    assert response.status_code == 415
    assert _errors(response)[0]["code"] == "malformed_json"


def test_json_api_media_type_is_accepted(shop):
    response = shop.post(API, seed_request("r"), content_type="application/vnd.api+json")
    assert response.status_code == 201


def test_huge_bodies_are_refused_before_parsing(shop):
    document = seed_request("r", description="x" * (70 * 1024))
    response = shop.post(API, document)
    assert response.status_code == 413
    assert _errors(response)[0]["code"] == "body_too_large"


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer abc", "Basic !!!", "Basic " + "Y29tYV94OnNrX3Rlc3RfeA=="],
)
def test_missing_or_bad_credentials_are_401(shop, authorization):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = shop.client.post(API, seed_request("r"), content_type="application/json", **headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")
    assert _errors(response)[0]["code"] == "unauthorized"


def test_a_duplicate_reference_is_409_naming_the_first_invoice(shop):
    first = shop.create("order-1").json()["data"]["id"]
    response = shop.create("order-1", amount=5)
    assert response.status_code == 409
    error = _errors(response)[0]
    assert error["meta"] == {"id": first}
    assert error["code"] == "duplicate_reference_id"
    assert Invoice.objects.count() == 1


def test_keys_and_modes_do_not_cross(shop):
    MerchantServiceFactory(merchant=shop.merchant, service__code="test_uah_invoice_live")
    live = shop.create("order-1", live=True, service="test_uah_invoice_live")
    test = shop.create("order-1")
    assert (live.status_code, test.status_code) == (201, 201)
    live_id, test_id = live.json()["data"]["id"], test.json()["data"]["id"]
    assert live.json()["data"]["attributes"]["test_mode"] is False

    assert shop.get(f"{API}/{live_id}").status_code == 404
    assert shop.get(f"{API}/{test_id}", live=True).status_code == 404
    assert shop.get(f"{API}/{live_id}", live=True).status_code == 200


def test_other_merchants_invoices_and_bad_ids_are_404(shop):
    foreign = InvoiceFactory(merchant=MerchantFactory())
    for invoice_id in (foreign.id, "cpi_0000000000000000", "nope", "cpi_'; DROP TABLE--"):
        response = shop.get(f"{API}/{invoice_id}")
        assert response.status_code == 404, invoice_id
        assert _errors(response)[0]["code"] == "not_found"


def test_reading_ones_own_invoice_without_a_shared_cache_reads_the_merchant_and_the_invoice(
    shop, django_assert_num_queries
):
    """With Redis both come from its cache (tests/checkout/test_read_models.py)."""
    invoice_id = shop.create("order-1").json()["data"]["id"]
    with django_assert_num_queries(2):
        response = shop.get(f"{API}/{invoice_id}")
    assert response.status_code == 200
    assert response.json()["data"]["id"] == invoice_id


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_creating_writes_the_invoice_and_its_event_in_one_statement(
    shop, django_assert_num_queries
):
    """Two reads (the merchant, its service), then one write holding both rows: no BEGIN
    and COMMIT around two INSERTs. The sandbox issues requisites without a provider, so
    a taken reference is left to the write's unique key instead of a read before."""
    with django_assert_num_queries(3) as captured:
        response = shop.create("order-1")
    assert response.status_code == 201, response.content
    write = captured.captured_queries[-1]["sql"]
    assert write.startswith("WITH ") and write.count("INSERT INTO") == 2, write
    invoice_id = response.json()["data"]["id"]
    stored = Invoice.objects.get(pk=invoice_id)
    assert (stored.status, stored.amount, stored.reference_id) == (
        "created",
        Decimal("2126.68"),
        "order-1",
    )
    assert list(stored.events.values_list("sequence", "from_status", "to_status", "cause")) == [
        (1, None, "created", "invoice_created")
    ]
    assert shop.get(f"{API}/{invoice_id}").json()["data"]["attributes"]["status"] == "created"


def test_a_read_with_a_wrong_key_or_an_inactive_account_is_401(shop):
    invoice_id = shop.create("order-1").json()["data"]["id"]
    foreign = InvoiceFactory(merchant=MerchantFactory())
    keys = shop.credentials
    wrong_keys = [
        # One character changed (a key may end in "x" itself).
        basic_auth(
            keys.account_id, keys.secret_key_test[:-1] + "xy"[keys.secret_key_test[-1] == "x"]
        ),
        basic_auth(keys.account_id, keys.public_key_test),
        basic_auth(keys.account_id, "sk_test_"),
        basic_auth(foreign.merchant.account_id, keys.secret_key_test),
    ]
    for authorization in wrong_keys:
        for read in (invoice_id, foreign.id, "cpi_0000000000000000", "nope"):
            response = shop.client.get(f"{API}/{read}", HTTP_AUTHORIZATION=authorization)
            assert response.status_code == 401, (authorization, read)
            assert _errors(response)[0]["code"] == "unauthorized"

    Merchant.objects.filter(pk=shop.merchant.pk).update(is_active=False)
    assert shop.get(f"{API}/{invoice_id}").status_code == 401


def test_no_html_anywhere_under_api(shop):
    for response in (
        shop.get("/api/nothing-here"),
        shop.client.delete(API, HTTP_AUTHORIZATION=shop.auth()),
        shop.client.put(f"{API}/cpi_0000000000000000", "{}", content_type="application/json"),
    ):
        assert response.status_code in (404, 405)
        assert response["Content-Type"].startswith("application/json")
        assert _errors(response)[0]["status"] == str(response.status_code)


def test_optional_attributes_are_stored_and_echoed(shop):
    response = shop.create(
        "order-9",
        description="Two mugs",
        descriptor="SHOP*MUGS",
        customer={
            "reference_id": "c-1",
            "email": "ann@example.com",
            "name": "Ann",
            "phone": "+380 44 000",
        },
        metadata={"cart": "42", "items": 2, "gift": False, "weight": 1.5, "note": None},
        locale="uk",
        return_url="https://shop.example/back",
        return_urls={"expired": "https://shop.example/late"},
        expires=int(time.time()) + 600,
        options={"anything": {"goes": [1, 2.5]}},
    )
    assert response.status_code == 201, response.content
    attributes = response.json()["data"]["attributes"]
    assert attributes["description"] == "Two mugs"
    assert attributes["descriptor"] == "SHOP*MUGS"
    assert attributes["customer"] == {
        "reference_id": "c-1",
        "email": "ann@example.com",
        "name": "Ann",
        "phone": "+380 44 000",
    }
    assert attributes["metadata"] == {
        "cart": "42",
        "items": 2,
        "gift": False,
        "weight": 1.5,
        "note": None,
    }
    assert attributes["locale"] == "uk"
    assert attributes["return_url"] == "https://shop.example/back"
    assert attributes["return_urls"]["expired"] == "https://shop.example/late"
    assert (
        attributes["expires"] == attributes["created"] + 600
        or abs(attributes["expires"] - int(time.time()) - 600) <= 2
    )
    assert Invoice.objects.get().options == {"anything": {"goes": [1, 2.5]}}


def test_callback_url_falls_back_to_the_merchants_default(shop):
    shop.merchant.callback_url = "https://shop.example/callbacks"
    shop.merchant.save()
    attributes = shop.create("r").json()["data"]["attributes"]
    assert attributes["callback_url"] == "https://shop.example/callbacks"


class TestIdempotencyKey:
    def test_the_same_body_replays_the_first_answer(self, shop):
        first = shop.post(API, seed_request("order-1"), HTTP_IDEMPOTENCY_KEY="k-1")
        again = shop.post(API, seed_request("order-1"), HTTP_IDEMPOTENCY_KEY="k-1")
        assert (first.status_code, again.status_code) == (201, 201)
        assert again.content == first.content
        assert again["Idempotent-Replayed"] == "true"
        assert Invoice.objects.count() == 1

    def test_key_order_and_spacing_do_not_make_another_body(self, shop):
        document = seed_request("order-1")
        shop.post(API, document, HTTP_IDEMPOTENCY_KEY="k-1")
        reordered = json.dumps(
            {"data": {"attributes": document["data"]["attributes"], "type": "payment-invoices"}},
            indent=2,
        )
        again = shop.post(API, reordered, HTTP_IDEMPOTENCY_KEY="k-1")
        assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"

    def test_another_body_with_the_same_key_is_422(self, shop):
        shop.post(API, seed_request("order-1"), HTTP_IDEMPOTENCY_KEY="k-1")
        response = shop.post(API, seed_request("order-2"), HTTP_IDEMPOTENCY_KEY="k-1")
        assert response.status_code == 422
        error = _errors(response)[0]
        assert error["code"] == "idempotency_key_reused"
        assert error["source"] == {"header": "Idempotency-Key"}
        assert Invoice.objects.count() == 1

    def test_errors_are_replayed_too(self, shop):
        first = shop.post(API, seed_request("r", currency="USD"), HTTP_IDEMPOTENCY_KEY="k-2")
        again = shop.post(API, seed_request("r", currency="USD"), HTTP_IDEMPOTENCY_KEY="k-2")
        assert (first.status_code, again.status_code) == (422, 422)
        assert again.content == first.content

    def test_a_request_still_in_flight_is_409(self, shop):
        IdempotencyKey.objects.create(
            merchant=shop.merchant, test_mode=True, key="k-3", request_fingerprint="x"
        )
        response = shop.post(API, seed_request("r"), HTTP_IDEMPOTENCY_KEY="k-3")
        assert response.status_code in (409, 422)

    def test_keys_are_per_mode(self, shop):
        MerchantServiceFactory(merchant=shop.merchant, service__code="test_uah_invoice_live")
        shop.post(API, seed_request("r"), HTTP_IDEMPOTENCY_KEY="k-4")
        live = seed_request("r", test_mode=False, service="test_uah_invoice_live")
        response = shop.post(API, live, live=True, HTTP_IDEMPOTENCY_KEY="k-4")
        assert response.status_code == 201
        assert "Idempotent-Replayed" not in response

    def test_an_unusable_key_is_422(self, shop):
        response = shop.post(API, seed_request("r"), HTTP_IDEMPOTENCY_KEY="x" * 256)
        assert response.status_code == 422
        assert _errors(response)[0]["code"] == "invalid_idempotency_key"
