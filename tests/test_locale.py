"""Pages speak the visitor's language and say so; the merchant API answers in English and
does not vary on Accept-Language, whatever language a page served before it."""

import pytest

from tests.api import API, seed_request
from tests.factories import demo_shop_invoice

pytestmark = pytest.mark.django_db


def test_a_page_varies_on_the_language_and_the_api_does_not(client, shop):
    invoice = demo_shop_invoice("test_uah_invoice", "UAH", "order-locale")
    page = client.get("/hpp/", {"cpi": invoice.id}, HTTP_ACCEPT_LANGUAGE="uk")
    assert page["Content-Language"] == "uk"
    assert "Accept-Language" in page["Vary"]

    # The same thread, just after a Ukrainian page.
    created = shop.post(API, seed_request("order-locale-api"), HTTP_ACCEPT_LANGUAGE="uk")
    assert created.status_code == 201
    in_ukrainian = {"HTTP_AUTHORIZATION": shop.auth(), "HTTP_ACCEPT_LANGUAGE": "uk"}
    listed = shop.client.get(API, **in_ukrainian)
    unknown = shop.client.get(f"{API}/cpi_0000000000000000", **in_ukrainian)
    for response in (created, listed, unknown):
        assert "Content-Language" not in response
        assert "Accept-Language" not in response.get("Vary", "")
    assert unknown.status_code == 404
    assert unknown.json()["errors"][0]["detail"] == "No such resource."

    # The method's Ukrainian name is the page's; the API names it as it always has.
    assert "Тестовий метод" in page.content.decode()
    method = created.json()["data"]["attributes"]["flow_data"]["method"]
    assert method["name"] == "Test method"
