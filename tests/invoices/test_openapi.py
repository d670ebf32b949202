"""The OpenAPI document describes the API, and the API keeps to it under fuzzing."""

import re

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.django_db


def test_the_document_covers_every_endpoint_and_error(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.json()
    paths = document["paths"]
    assert set(paths) == {
        "/api/payment-invoices",
        "/api/payment-invoices/{invoice_id}",
        "/api/payment-invoices/{invoice_id}/confirm",
        "/api/payment-invoices/{invoice_id}/reissue",
        "/api/payment-invoices/{invoice_id}/remainder",
        "/api/statements",
    }
    create = paths["/api/payment-invoices"]["post"]
    assert set(create["responses"]) >= {"201", "400", "401", "409", "413", "415", "422", "429"}
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/InvoiceCreateDocument"}
    schemas = document["components"]["schemas"]
    assert {
        "InvoiceCreateDocument",
        "InvoiceAttributes",
        "ConfirmDocument",
        "ErrorDocument",
    } <= set(schemas)
    listing = {p["name"] for p in paths["/api/payment-invoices"]["get"]["parameters"]}
    assert listing == {"filter[reference_id]", "filter[status]", "page[size]", "page[after]"}
    confirm = paths["/api/payment-invoices/{invoice_id}/confirm"]["post"]
    assert "security" not in confirm or confirm["security"] in ([], [{}])
    assert create["security"] == [{"MerchantKeyAuth": []}]
    statements = paths["/api/statements"]["post"]
    assert statements["security"] == [{"MerchantKeyAuth": []}]
    assert set(statements["requestBody"]["content"]) == {
        "application/xml",
        "text/xml",
        "text/plain",
        "application/octet-stream",
    }
    assert set(statements["responses"]) >= {"201", "401", "413", "415", "422"}


def test_the_docs_page_uses_only_local_assets(client):
    page = client.get("/api/docs").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets and all(asset.startswith("/static/") for asset in assets), assets
    assert "cdn" not in page.lower()


@pytest.fixture
def api_schema(shop):
    # Like Django's test client: keep the test's database connection open
    # between requests (the WSGI handler would close it after each one).
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


fuzzed = schemathesis.pytest.from_fixture("api_schema")


@fuzzed.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_fuzzing_finds_no_server_error_and_no_off_schema_answer(case, shop):
    case.call_and_validate(
        headers={"Authorization": shop.auth()},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
