"""GET /api/payment-invoices: newest first, filters, cursor paging."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.api import API
from tests.factories import InvoiceFactory, MerchantFactory

pytestmark = pytest.mark.django_db


def _ids(response):
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["data"]]


@pytest.fixture
def invoices(shop):
    now = timezone.now()
    service = shop.merchant.services.get()
    return [
        InvoiceFactory(
            merchant=shop.merchant,
            service=service,
            reference_id=f"order-{n}",
            status="processed" if n % 3 == 0 else "created",
            created_at=now - timedelta(minutes=10 - n),
        )
        for n in range(10)
    ]


def test_newest_first_and_only_the_merchants_mode(shop, invoices):
    InvoiceFactory(merchant=MerchantFactory())
    InvoiceFactory(merchant=shop.merchant, service=invoices[0].service, test_mode=False)

    response = shop.get(API)

    assert _ids(response) == [invoice.id for invoice in reversed(invoices)]
    assert response.json()["links"] == {"next": None}
    first = response.json()["data"][0]
    assert first["type"] == "payment-invoices" and "flow_data" in first["attributes"]


def test_filters(shop, invoices):
    assert _ids(shop.get(API, **{"filter[reference_id]": "order-4"})) == [invoices[4].id]
    processed = _ids(shop.get(API, **{"filter[status]": "processed"}))
    assert processed == [invoices[n].id for n in (9, 6, 3, 0)]
    both = _ids(shop.get(API, **{"filter[status]": "processed,created"}))
    assert len(both) == 10


def test_cursor_paging_is_stable_under_inserts(shop, invoices):
    first = shop.get(API, **{"page[size]": 4})
    assert _ids(first) == [invoice.id for invoice in reversed(invoices[6:])]
    next_link = first.json()["links"]["next"]
    assert next_link.startswith("/api/payment-invoices?")

    # Newer invoices arrive between pages: the next page neither repeats nor skips.
    for n in range(3):
        InvoiceFactory(merchant=shop.merchant, service=invoices[0].service, reference_id=f"new-{n}")

    second = shop.client.get(next_link, HTTP_AUTHORIZATION=shop.auth())
    assert _ids(second) == [invoice.id for invoice in reversed(invoices[2:6])]
    third = shop.client.get(second.json()["links"]["next"], HTTP_AUTHORIZATION=shop.auth())
    assert _ids(third) == [invoices[1].id, invoices[0].id]
    assert third.json()["links"]["next"] is None


def test_filters_survive_paging(shop, invoices):
    first = shop.get(API, **{"page[size]": 2, "filter[status]": "processed"})
    second = shop.client.get(first.json()["links"]["next"], HTTP_AUTHORIZATION=shop.auth())
    assert _ids(second) == [invoices[3].id, invoices[0].id]


def test_invoices_created_in_the_same_instant_are_ordered_by_id(shop):
    moment = timezone.now()
    same = [
        InvoiceFactory(
            merchant=shop.merchant, service=shop.merchant.services.get(), created_at=moment
        )
        for _ in range(5)
    ]
    expected = sorted((i.id for i in same), reverse=True)
    first = shop.get(API, **{"page[size]": 3})
    second = shop.client.get(first.json()["links"]["next"], HTTP_AUTHORIZATION=shop.auth())
    assert _ids(first) + _ids(second) == expected


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"page[size]": "0"}, "page[size]"),
        ({"page[size]": "101"}, "page[size]"),
        ({"page[size]": "ten"}, "page[size]"),
        ({"filter[status]": "paid"}, "filter[status]"),
        ({"page[after]": "not-a-cursor"}, "page[after]"),
        ({"page[after]": "MjAyNnwx"}, "page[after]"),
        ({"filter[reference_id]": "x" * 256}, "filter[reference_id]"),
    ],
)
def test_bad_parameters_are_422_naming_the_parameter(shop, params, parameter):
    response = shop.get(API, **params)
    assert response.status_code == 422
    assert response.json()["errors"][0]["source"] == {"parameter": parameter}


def test_listing_needs_credentials(shop):
    response = shop.client.get(API)
    assert response.status_code == 401
