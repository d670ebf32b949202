"""`/api/payment-invoices`: create, read, list and confirm invoices, and the payer's second chance.

Each endpoint makes one call into `invoices.services`, `invoices.services.second_chance`
or `invoices.selectors` and translates its answer or its refusal.
"""

from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlencode

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers
from ninja import Query, Router
from ninja.errors import AuthenticationError

from invoices import ratelimit, selectors, services
from invoices.api.auth import ApiCaller, MerchantKeyAuth, api_caller, presented_credentials
from invoices.api.errors import ApiError, field_errors, json_response
from invoices.api.idempotency import idempotent
from invoices.api.parser import body_schema, read_document
from invoices.api.queries import InvoiceListQuery
from invoices.api.schemas import (
    ERROR_RESPONSES,
    ConfirmDocument,
    ErrorDocument,
    InvoiceCreateDocument,
    InvoiceDocument,
    InvoiceFollowDocument,
    InvoiceListDocument,
)
from invoices.models import Invoice, Merchant
from invoices.resources import invoice_document, invoice_resource, render_json
from invoices.services import second_chance
from invoices.state_machine import Actor

router = Router()


# Create ----------------------------------------------------------------------


@router.post(
    "",
    auth=MerchantKeyAuth(),
    response={201: InvoiceDocument, **ERROR_RESPONSES},
    openapi_extra=body_schema(InvoiceCreateDocument),
    summary="Create an invoice",
    description="Issues requisites through the service's connector. A repeated reference_id "
    "is a 409 naming the existing invoice. Send `Idempotency-Key` to replay the first answer "
    "to a retried request (a different body with the same key is a 422).",
)
def create_invoice(request: HttpRequest) -> HttpResponse:
    caller = api_caller(request)
    document, raw = read_document(request, InvoiceCreateDocument)
    return idempotent(request, caller, raw, lambda: _create_response(caller, document))


def _expires_at(expires: int | None) -> datetime | None:
    try:
        return datetime.fromtimestamp(expires, tz=UTC) if expires else None
    except (ValueError, OverflowError, OSError):
        raise ApiError.single(
            422,
            "invalid_expiry",
            "Must be in the future, within 365 days.",
            pointer="/data/attributes/expires",
        ) from None


def _create_response(caller: ApiCaller, document: InvoiceCreateDocument) -> HttpResponse:
    attributes = document.data.attributes
    expires_at = _expires_at(attributes.expires)
    if attributes.test_mode is not None and attributes.test_mode != caller.test_mode:
        key_mode = "test" if caller.test_mode else "live"
        raise ApiError.single(
            422,
            "mode_mismatch",
            f"A {key_mode} key creates {key_mode}-mode invoices only.",
            pointer="/data/attributes/test_mode",
        )
    try:
        invoice = services.invoice_create(
            merchant=caller.merchant,
            service_code=attributes.service,
            reference_id=attributes.reference_id,
            amount=attributes.amount,
            currency=attributes.currency,
            test_mode=caller.test_mode,
            actor=caller.actor,
            description=attributes.description,
            descriptor=attributes.descriptor,
            customer=attributes.customer.model_dump(exclude_none=True)
            if attributes.customer
            else None,
            metadata=attributes.metadata,
            callback_url=attributes.callback_url,
            return_url=attributes.return_url,
            return_urls=(
                attributes.return_urls.model_dump(exclude_none=True)
                if attributes.return_urls
                else None
            ),
            locale=attributes.locale,
            expires_at=expires_at,
            options=attributes.options,
        )
    except services.InvoiceRejected as rejected:
        raise field_errors(rejected.problems, under="/data/attributes") from None
    except services.DuplicateReference as duplicate:
        raise ApiError.single(
            409,
            "duplicate_reference_id",
            "An invoice with this reference_id exists already.",
            pointer="/data/attributes/reference_id",
            meta={"id": duplicate.existing_id},
        ) from None
    return json_response(
        invoice_document(invoice), 201, Location=f"/api/payment-invoices/{invoice.id}"
    )


# Read ----------------------------------------------------------------------


@router.get(
    "/{invoice_id}",
    auth=MerchantKeyAuth(deferred=True),
    response={200: InvoiceDocument, **ERROR_RESPONSES},
    summary="Read an invoice",
)
def read_invoice(request: HttpRequest, invoice_id: str) -> HttpResponse:
    presented = presented_credentials(request)
    read = selectors.invoice_document_get_authenticated(
        account_id=presented.account_id, secret_key=presented.secret_key, invoice_id=invoice_id
    )
    if read is None:
        raise AuthenticationError
    _merchant, document = read
    if document is None:
        raise Http404
    response = json_response(document)
    # What another caller's credentials get is another answer. Django's
    # ConditionalGetMiddleware gives the ETag and answers a matching
    # If-None-Match with 304, only once the credentials were accepted here.
    patch_vary_headers(response, ["Authorization"])
    return response


@router.get(
    "",
    auth=MerchantKeyAuth(),
    response={200: InvoiceListDocument, **ERROR_RESPONSES},
    summary="List invoices, newest first",
)
def list_invoices(request: HttpRequest, query: Query[InvoiceListQuery]) -> HttpResponse:
    caller = api_caller(request)
    # Each Status is a str, but a list[Status] is no list[str] (lists are invariant).
    statuses: list[str] = list(query.statuses)
    try:
        page = selectors.invoice_list(
            merchant=caller.merchant,
            test_mode=caller.test_mode,
            page_size=query.page_size,
            after=query.after,
            reference_id=query.reference_id,
            statuses=statuses,
        )
    except selectors.InvalidCursor as invalid:
        raise ApiError.single(
            422, "invalid_parameter", str(invalid), parameter="page[after]"
        ) from None
    next_link = None
    if page.next_cursor:
        # The next page keeps every parameter given but the cursor, as given.
        kept = {k: v for k, v in request.GET.items() if v != "" and k != "page[after]"}
        next_link = "/api/payment-invoices?" + urlencode({**kept, "page[after]": page.next_cursor})
    return json_response(
        render_json(
            {"data": [invoice_resource(i) for i in page.invoices], "links": {"next": next_link}}
        )
    )


# Confirm ---------------------------------------------------------------------


@router.post(
    "/{invoice_id}/confirm",
    auth=None,
    response={202: InvoiceDocument, **ERROR_RESPONSES},
    openapi_extra=body_schema(ConfirmDocument),
    summary="Forward a customer's confirmation",
    description="No authentication: the invoice id is the public key. The payload is checked "
    "against flow_data.confirmation; after 5 refused attempts the invoice answers 429.",
)
def confirm_invoice(request: HttpRequest, invoice_id: str) -> HttpResponse:
    if not ratelimit.allow(
        f"confirm:{ratelimit.client_address(request)}",
        limit=settings.CONFIRM_ATTEMPTS_PER_CLIENT_PER_MINUTE,
        window_seconds=60,
    ):
        raise ApiError.single(
            429,
            "rate_limited",
            "Too many confirmations from this client; wait a minute.",
            headers={"Retry-After": "60"},
        )
    try:
        document, _ = read_document(request, ConfirmDocument)
    except ApiError:
        # An unknown invoice is a 404 whatever its body; only a known one has its body judged.
        if not selectors.invoice_exists(invoice_id=invoice_id):
            raise Http404 from None
        raise
    try:
        invoice = services.invoice_confirm(
            invoice_id=invoice_id, payload=document.payload, actor=Actor("merchant", "api")
        )
    except services.InvoiceNotFound:
        raise Http404 from None
    except services.ConfirmationLocked:
        raise ApiError.single(
            429,
            "too_many_attempts",
            f"{services.MAX_INVALID_CONFIRMATIONS} confirmations of this invoice were refused; "
            "it takes no more.",
        ) from None
    except services.InvoiceNotConfirmable as refused:
        raise ApiError.single(409, "not_confirmable", str(refused)) from None
    except services.ConfirmationRejected as rejected:
        raise field_errors(rejected.problems, under="/payload") from None
    return json_response(invoice_document(invoice), 202)


# The payer's second chance ----------------------------------------------------------

_FOLLOW_DESCRIPTION = (
    "The new invoice shares the order's reference_id, return URLs, callback URL and metadata; "
    "both resources name each other in related_invoice, and the merchant gets a callback of "
    "the earlier invoice announcing the new one. The service must allow it (an operator's "
    "switch). An invoice is followed once: asking again is a 409 naming the invoice made "
    "then. Optional body: data.attributes.expires (UNIX time). `Idempotency-Key` works as on "
    "create."
)


@router.post(
    "/{invoice_id}/reissue",
    auth=MerchantKeyAuth(),
    response={201: InvoiceDocument, **ERROR_RESPONSES, 503: ErrorDocument},
    openapi_extra=body_schema(InvoiceFollowDocument, required=False),
    summary="Reissue an expired invoice",
    description="A new invoice of the same amount, with fresh requisites and a new expiry, "
    "for an expired invoice; at most the service's limit of times per order. "
    + _FOLLOW_DESCRIPTION,
)
def reissue_invoice(request: HttpRequest, invoice_id: str) -> HttpResponse:
    return _follow(request, invoice_id, second_chance.invoice_reissue)


@router.post(
    "/{invoice_id}/remainder",
    auth=MerchantKeyAuth(),
    response={201: InvoiceDocument, **ERROR_RESPONSES, 503: ErrorDocument},
    openapi_extra=body_schema(InvoiceFollowDocument, required=False),
    summary="Invoice the remainder of a partly paid invoice",
    description="A new invoice for payment_amount - processed_amount of a partially_processed "
    "invoice. " + _FOLLOW_DESCRIPTION,
)
def remainder_invoice(request: HttpRequest, invoice_id: str) -> HttpResponse:
    return _follow(request, invoice_id, second_chance.invoice_remainder_issue)


class FollowService(Protocol):
    """`second_chance.invoice_reissue` or `invoice_remainder_issue`, as called here."""

    def __call__(
        self,
        *,
        invoice_id: str,
        actor: Actor,
        merchant: Merchant,
        test_mode: bool,
        expires_at: datetime | None,
    ) -> Invoice: ...


def _follow(request: HttpRequest, invoice_id: str, follow: FollowService) -> HttpResponse:
    caller = api_caller(request)
    # The body is optional: none at all takes every default (a body that is there,
    # however large, is judged as on create: 413, 415, 422).
    raw: dict[str, Any]
    if request.META.get("CONTENT_LENGTH", "") in ("", "0"):
        document, raw = InvoiceFollowDocument(), {}
    else:
        document, raw = read_document(request, InvoiceFollowDocument)
    return idempotent(
        request,
        caller,
        raw,
        lambda: _follow_response(caller, invoice_id, document, follow),
        scope=f"{request.path}\n",
    )


def _follow_response(
    caller: ApiCaller, invoice_id: str, document: InvoiceFollowDocument, follow: FollowService
) -> HttpResponse:
    expires_at = _expires_at(document.data.attributes.expires)
    try:
        invoice = follow(
            invoice_id=invoice_id,
            actor=caller.actor,
            merchant=caller.merchant,
            test_mode=caller.test_mode,
            expires_at=expires_at,
        )
    except services.InvoiceNotFound:
        raise Http404 from None
    except second_chance.AlreadyFollowed as followed:
        raise ApiError.single(
            409,
            "already_followed",
            "This invoice was followed by another already.",
            meta={"id": followed.next_invoice_id},
        ) from None
    except second_chance.SecondChanceRefused as refused:
        raise ApiError.single(409, refused.code, refused.detail) from None
    except services.InvoiceRejected as rejected:
        raise field_errors(rejected.problems, under="/data/attributes") from None
    except second_chance.RequisitesUnavailable as unavailable:
        raise ApiError.single(
            503,
            "provider_unavailable",
            f"{unavailable} Nothing was stored; retry later.",
            headers={"Retry-After": "30"},
        ) from None
    return json_response(
        invoice_document(invoice), 201, Location=f"/api/payment-invoices/{invoice.id}"
    )
