"""A merchant's view of the API for tests: credentials and JSON:API requests."""

import base64
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.test import Client

from invoices.keys import IssuedCredentials
from invoices.models import Merchant
from invoices.selectors import merchant_credentials

API = "/api/payment-invoices"


def seed_request(reference_id: str, /, **attributes: Any) -> dict[str, Any]:
    """The seed's create request, as given, with a real reference_id."""
    return {
        "data": {
            "type": "payment-invoices",
            "attributes": {
                "reference_id": reference_id,
                "amount": 2126.68,
                "test_mode": True,
                "currency": "UAH",
                "service": "test_uah_invoice",
                "flow": "charge",
                "options": {},
                **attributes,
            },
        }
    }


def basic_auth(account_id: str, secret_key: str) -> str:
    return "Basic " + base64.b64encode(f"{account_id}:{secret_key}".encode()).decode()


@dataclass
class MerchantApi:
    merchant: Merchant
    client: Client = field(default_factory=Client)

    @property
    def credentials(self) -> IssuedCredentials:
        return merchant_credentials(merchant=self.merchant)

    def auth(self, *, live: bool = False) -> str:
        keys = self.credentials
        return basic_auth(keys.account_id, keys.secret_key_live if live else keys.secret_key_test)

    def post(self, path: str, document: Any, *, live: bool = False, auth: bool = True, **headers):
        body = document if isinstance(document, str | bytes) else json.dumps(document, default=str)
        if auth:
            headers.setdefault("HTTP_AUTHORIZATION", self.auth(live=live))
        return self.client.post(
            path, body, content_type=headers.pop("content_type", "application/json"), **headers
        )

    def get(self, path: str, *, live: bool = False, **params):
        return self.client.get(path, params, HTTP_AUTHORIZATION=self.auth(live=live))

    def create(self, reference_id: str, /, *, live: bool = False, **attributes):
        document = seed_request(reference_id, **attributes)
        if live:
            document["data"]["attributes"]["test_mode"] = False
        return self.post(API, document, live=live)

    def confirm(self, invoice_id: str, payload: Any, **headers):
        return self.post(f"{API}/{invoice_id}/confirm", {"payload": payload}, auth=False, **headers)


def decimal_json(response) -> Any:
    return json.loads(response.content, parse_float=Decimal)
