"""The invoice as merchants see it: the JSON:API resource of contract 1.3.

The same document answers `GET /api/payment-invoices/{id}` and is the body of
every callback, so it is built in one place.
"""

import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import simplejson
from django.conf import settings
from django.templatetags.static import static
from django.urls import reverse

from invoices.currencies import amount_in_currency
from invoices.models import Invoice, Service

RESOURCE_TYPE = "payment-invoices"


def absolute_url(path_or_url: str) -> str:
    """Links handed to merchants and providers are absolute."""
    if path_or_url.startswith(("http://", "https://")):
        return path_or_url
    return settings.PUBLIC_BASE_URL + path_or_url


def method_logo_url(*, service: Service) -> str | None:
    if not service.method_logo:
        return None
    return _logo_url(
        service.method_logo,
        settings.PUBLIC_BASE_URL,
        settings.STATIC_URL,
        settings.STORAGES["staticfiles"]["BACKEND"],
    )


@functools.lru_cache(maxsize=256)
def _logo_url(logo: str, *settings_it_depends_on: str) -> str:
    # Static files and their hashed names do not change while a process runs;
    # looking the name up cost every invoice document as much as a query.
    if logo.startswith(("http://", "https://")):
        return logo
    return absolute_url(static(logo))


def _unix(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment else None


def _key_ordered(flat: Mapping[str, object] | None) -> dict[str, object] | None:
    # PostgreSQL's jsonb does not keep key order; sorting makes the document
    # the same bytes whichever database and whenever it is rendered.
    return dict(sorted(flat.items())) if flat is not None else None


def hpp_url(invoice_id: str) -> str:
    return absolute_url(f"{reverse('hpp')}?cpi={invoice_id}")


def invoice_resource(invoice: Invoice) -> dict[str, Any]:
    """`{"type", "id", "attributes", "links"}`; needs `invoice.service` and `invoice.merchant`."""
    service = invoice.service
    currency = invoice.currency
    return_urls = {
        "fail": invoice.return_urls.get("fail"),
        "pending": invoice.return_urls.get("pending"),
        "success": invoice.return_urls.get("success"),
    }
    if invoice.return_urls.get("expired"):
        return_urls["expired"] = invoice.return_urls["expired"]
    attributes: dict[str, object] = {
        "serial_number": invoice.serial_number,
        "status": invoice.status,
        "resolution": invoice.resolution,
        "resolution_message": invoice.resolution_message,
        "reference_id": invoice.reference_id,
        "test_mode": invoice.test_mode,
        "amount": amount_in_currency(invoice.amount, currency),
        "currency": currency,
        "service": service.code,
        "description": invoice.description,
        "descriptor": invoice.descriptor,
        "customer": _key_ordered(invoice.customer),
        "metadata": _key_ordered(invoice.metadata),
        "locale": invoice.locale,
        "callback_url": invoice.callback_url or invoice.merchant.callback_url or None,
        "return_url": invoice.return_url,
        "return_urls": return_urls,
        "flow": "invoice",
        "payment_flow": "charge",
        "payment_amount": amount_in_currency(invoice.payment_amount, currency),
        "processed_amount": (
            amount_in_currency(invoice.processed_amount, currency)
            if invoice.processed_amount is not None
            else None
        ),
        "created": _unix(invoice.created_at),
        "updated": _unix(invoice.updated_at),
        "processed": _unix(invoice.processed_at),
        "expires": _unix(invoice.expires_at),
        "sequence": invoice.sequence,
        "hpp_url": hpp_url(invoice.id),
        "payload": None,
        "flow_data": {
            "method": {
                "code": service.method_code,
                "name": service.method_name,
                "logo": method_logo_url(service=service),
            },
            "requisites": _key_ordered(invoice.requisites),
            "is_otp_flow": invoice.is_otp_flow,
            "confirmation": {
                # A JSON *string*, as the platform has always sent it.
                "payload": invoice.confirmation_schema_json,
                "required": invoice.confirmation_required,
            },
            "checkout_page": invoice.checkout_page,
        },
    }
    # Only on the invoices of an order with more than one (an addition to the contract's
    # attribute set, like return_urls.expired): every other resource stays as written there.
    if (related := related_invoice(invoice)) is not None:
        attributes["related_invoice"] = related
    return {
        "type": RESOURCE_TYPE,
        "id": invoice.id,
        "attributes": attributes,
        "links": {"self": f"/api/{RESOURCE_TYPE}/{invoice.id}"},
    }


def related_invoice(invoice: Invoice) -> dict[str, Any] | None:
    """The invoices of the same order this one was made from and was followed by, if any.

    `relation` says how the later of the two was made: `reissue` (fresh details for
    an expired invoice) or `remainder` (the rest of a partly paid one).
    """
    if invoice.previous_invoice_id is None and invoice.next_invoice_id is None:
        return None
    return {
        "previous": _link(invoice.previous_invoice_id, invoice.previous_relation),
        "next": _link(invoice.next_invoice_id, invoice.next_relation),
    }


def _link(invoice_id: str | None, relation: str | None) -> dict[str, Any] | None:
    if invoice_id is None:
        return None
    return {
        "id": invoice_id,
        "relation": relation,
        "links": {"self": f"/api/{RESOURCE_TYPE}/{invoice_id}"},
    }


def render_json(document: Any) -> bytes:
    """JSON with Decimals written as exact numbers: 2126.68 stays 2126.68."""
    return simplejson.dumps(
        document, use_decimal=True, separators=(",", ":"), ensure_ascii=False
    ).encode()


def invoice_document(invoice: Invoice) -> bytes:
    return render_json({"data": invoice_resource(invoice)})
