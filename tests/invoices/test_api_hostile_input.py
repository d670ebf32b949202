"""Hostile and odd input found in review: every one a clear 4xx, none a 500."""

import base64
import json
import threading

import pytest
from django.db import connection
from django.test import Client

from invoices.models import Invoice
from invoices.ratelimit import client_address
from tests.api import API, seed_request

pytestmark = pytest.mark.django_db


def _error(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    return response.json()["errors"][0]


@pytest.mark.parametrize(
    ("attributes", "pointer"),
    [
        ({"reference_id": "a\u0000b"}, "/data/attributes/reference_id"),
        ({"description": "two\u0000mugs"}, "/data/attributes/description"),
        ({"metadata": {"k\u0000": "v"}}, "/data/attributes/metadata"),
        ({"customer": {"name": "\u0000"}}, "/data/attributes/customer/name"),
    ],
)
def test_nul_characters_are_refused(shop, attributes, pointer):
    error = _error(shop.create("r", **attributes), 422)
    assert error["source"]["pointer"] == pointer
    assert "NUL" in error["detail"]


def test_nul_in_a_confirmation_or_a_filter_or_credentials(shop):
    invoice_id = shop.create("r").json()["data"]["id"]
    _error(shop.confirm(invoice_id, {"invoice_receipt_number": "1", "message": "a\u0000b"}), 422)
    _error(shop.get(API, **{"filter[reference_id]": "\u0000"}), 422)
    credentials = base64.b64encode(b"coma\x00x:sk_test_x").decode()
    response = shop.client.get(API, HTTP_AUTHORIZATION=f"Basic {credentials}")
    _error(response, 401)


def test_deep_nesting_is_refused_without_recursion(shop):
    options = 1
    for _ in range(700):
        options = {"a": options}
    error = _error(shop.create("r", options=options), 422)
    assert "Nested deeper" in error["detail"]


@pytest.mark.parametrize("expires", [10**12, 2**63, -1])
def test_absurd_expiry_times_are_422(shop, expires):
    error = _error(shop.create("r", expires=expires), 422)
    assert error["source"]["pointer"] == "/data/attributes/expires"


def _raw(reference_id: str, extra_json: str) -> str:
    """The seed request with attributes spliced in as raw JSON (numbers as written)."""
    document = json.dumps(seed_request(reference_id))
    return document.replace('"options": {}', extra_json)


def test_metadata_numbers_stay_exact_or_are_refused(shop):
    refused = shop.post(API, _raw("r", '"metadata": {"x": 1.23456789012345678901}'))
    assert "significant digits" in _error(refused, 422)["detail"]
    ok = shop.post(API, _raw("r2", '"metadata": {"x": 1.5, "big": 100000000000000000000}'))
    assert ok.status_code == 201, ok.content
    assert ok.json()["data"]["attributes"]["metadata"] == {"big": 10**20, "x": 1.5}


def test_options_with_any_numbers_are_kept_as_text(shop):
    response = shop.post(API, _raw("r", '"options": {"x": 1.' + "1" * 400 + "}"))
    assert response.status_code == 201, response.content
    assert Invoice.objects.get().options == {"x": "1." + "1" * 400}


@pytest.mark.parametrize(
    ("amount", "status"),
    [("9999999999999.99", 201), ("10000000000000.00", 422), ("10.00\n", 422), (" 10.00", 422)],
)
def test_amounts_stay_within_fifteen_exact_digits(shop, amount, status):
    response = shop.create("r", amount=amount)
    assert response.status_code == status, response.content
    if status == 201:
        invoice_id = response.json()["data"]["id"]
        assert f'"amount":{amount}'.encode() in shop.get(f"{API}/{invoice_id}").content


def test_too_many_query_parameters_is_a_json_400(shop):
    query = "&".join(f"a{n}=1" for n in range(1100))
    response = shop.client.get(f"{API}?{query}", HTTP_AUTHORIZATION=shop.auth())
    _error(response, 400)


@pytest.mark.parametrize(
    "moment", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "2026-01-01T00:00:00"]
)
def test_forged_cursors_are_422(shop, moment):
    cursor = base64.urlsafe_b64encode(f"{moment}|cpi_AAAAAAAAAAAAAAAA".encode()).decode()
    error = _error(shop.get(API, **{"page[after]": cursor.rstrip("=")}), 422)
    assert error["source"] == {"parameter": "page[after]"}


def test_the_contracts_list_url_with_empty_parameters_lists_everything(shop):
    shop.create("r")
    response = shop.client.get(
        f"{API}?filter[reference_id]=&filter[status]=&page[size]=&page[after]=",
        HTTP_AUTHORIZATION=shop.auth(),
    )
    assert response.status_code == 200
    assert len(response.json()["data"]) == 1


def test_api_root_and_bad_hosts_answer_json(shop, settings):
    _error(shop.client.get("/api"), 404)
    _error(shop.client.post("/api", "{}", content_type="application/json"), 404)
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["pay.example"]
    _error(Client().get(API, HTTP_HOST="evil.example"), 400)


def test_the_client_address_behind_our_proxies(rf, settings):
    request = rf.get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 1.2.3.4, 10.0.0.2", REMOTE_ADDR="10.0.0.1")
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(request) == "10.0.0.1"
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_address(request) == "1.2.3.4"
    settings.TRUSTED_PROXY_COUNT = 5
    assert client_address(request) == "10.0.0.1"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_guesses_cannot_exceed_five(shop):
    invoice_id = shop.create("r").json()["data"]["id"]
    barrier = threading.Barrier(20)
    statuses = []

    def guess(number):
        try:
            barrier.wait()
            response = Client().post(
                f"{API}/{invoice_id}/confirm",
                {"payload": {"invoice_receipt_number": "not digits", "message": "x"}},
                content_type="application/json",
                REMOTE_ADDR=f"10.0.0.{number}",
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [422] * 5 + [429] * 15
    assert Invoice.objects.get(pk=invoice_id).confirmation_failures == 5


def test_a_valid_confirmation_does_not_count_as_a_failure(shop, django_capture_on_commit_callbacks):
    data = shop.create("r").json()["data"]
    receipt = data["attributes"]["flow_data"]["requisites"]["invoice_receipt_number"]
    for _ in range(4):
        shop.confirm(data["id"], {"invoice_receipt_number": "x"})
    with django_capture_on_commit_callbacks(execute=False):
        accepted = shop.confirm(data["id"], {"invoice_receipt_number": receipt, "message": "ok"})
    assert accepted.status_code == 202
    assert Invoice.objects.get(pk=data["id"]).confirmation_failures == 4
