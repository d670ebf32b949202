"""The merchant API (contract section 1), on django-ninja.

Ninja routes, authenticates and writes the OpenAPI document. Bodies are read
here rather than by ninja, because the contract needs what its parser hides:
415 for a wrong content type, 413 for a huge body, numbers parsed as Decimal
(never float), and the raw document for Idempotency-Key fingerprints.
Each endpoint makes one call into `invoices.services` or `invoices.selectors`.
"""

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pydantic
import simplejson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBasicAuth

from invoices import ratelimit, selectors, services, statements
from invoices.api_errors import (
    JSON_CONTENT_TYPE,
    ApiError,
    ErrorItem,
    error_response,
    validation_error,
)
from invoices.api_schemas import (
    ConfirmDocument,
    ErrorDocument,
    InvoiceCreateDocument,
    InvoiceDocument,
    InvoiceFollowDocument,
    InvoiceListDocument,
)
from invoices.api_statements import (
    STATEMENT_CONTENT_TYPES,
    statement_import_document,
    statement_read,
)
from invoices.models import Merchant
from invoices.resources import invoice_document, invoice_resource, render_json
from invoices.services import second_chance
from invoices.state_machine import Actor
from invoices.statuses import Status

logger = logging.getLogger(__name__)

ACCEPTED_CONTENT_TYPES = ("application/json", "application/vnd.api+json")
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class ApiCaller:
    merchant: Merchant
    test_mode: bool

    @property
    def actor(self) -> Actor:
        return Actor("merchant", self.merchant.account_id)


@dataclass(frozen=True)
class PresentedCredentials:
    account_id: str
    secret_key: str = field(repr=False)  # never in a log line or traceback


class MerchantKeyAuth(HttpBasicAuth):
    """HTTP Basic: account id as the user name, a secret key as the password.

    `deferred=True` only parses them, for an endpoint whose one selector call
    authenticates (the invoice read checks the key against the merchant it
    reads with the invoice): it gets PresentedCredentials and raises
    AuthenticationError when that call refuses them.
    """

    def __init__(self, *, deferred: bool = False):
        super().__init__()
        self.deferred = deferred

    def authenticate(self, request: HttpRequest, username: str, password: str):
        if "\x00" in username or "\x00" in password:
            return None
        if self.deferred:
            return PresentedCredentials(account_id=username, secret_key=password)
        found = selectors.merchant_authenticate(account_id=username, secret_key=password)
        return ApiCaller(*found) if found else None


def _error(status: int, code: str, detail: str, **item: Any) -> HttpResponse:
    return error_response(ApiError.single(status, code, detail, **item))


class MerchantApi(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        # Request bodies are validated by hand (see the module docstring), so
        # their models are added to the components here.
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (InvoiceCreateDocument, ConfirmDocument):
            model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(model_schema.pop("$defs", {}))
            components[model.__name__] = model_schema
        return schema


api = MerchantApi(
    title="Invoice checkout — merchant API",
    version="1.0",
    description="Create invoices paid by transfer, read them, forward confirmations. "
    "Errors are JSON:API error documents.",
    urls_namespace="api",
)


@api.exception_handler(ApiError)
def _api_error(request, error: ApiError):
    return error_response(error)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request, error):
    return _error(
        401,
        "unauthorized",
        "Authenticate with HTTP Basic: your account id and a secret key.",
        headers={"WWW-Authenticate": 'Basic realm="payment-invoices", charset="UTF-8"'},
    )


@api.exception_handler(Http404)
def _not_found(request, error):
    return _error(404, "not_found", "No such resource.")


@api.exception_handler(NinjaValidationError)
def _invalid_parameters(request, error: NinjaValidationError):
    items = [
        ErrorItem(
            code="invalid_value",
            detail=problem.get("msg", "Invalid value."),
            parameter=".".join(str(part) for part in problem.get("loc", ())[1:]) or None,
        )
        for problem in error.errors
    ]
    return error_response(ApiError(422, items))


@api.exception_handler(HttpError)
def _http_error(request, error: HttpError):
    return _error(error.status_code, "error", str(error))


@api.exception_handler(SuspiciousOperation)
def _suspicious(request, error: SuspiciousOperation):
    # Django's own refusals of a request (too many fields, a bad host...).
    return _error(400, "bad_request", "The request was refused as malformed.")


@api.exception_handler(Exception)
def _unexpected(request, error: Exception):
    # A bug, never a verdict on the input: logged with its traceback, and the
    # merchant still gets a JSON:API document rather than a debug page.
    logger.exception("unhandled error on %s %s", request.method, request.path)
    return _error(500, "internal_error", "Something went wrong on our side.")


_ERRORS = {status: ErrorDocument for status in (400, 401, 404, 409, 413, 415, 422, 429)}


def _body_schema(model: type[pydantic.BaseModel], *, required: bool = True) -> dict[str, Any]:
    reference = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {
        "requestBody": {
            "required": required,
            "content": {media: {"schema": reference} for media in ACCEPTED_CONTENT_TYPES},
        }
    }


MAX_NESTING = 32


def unstorable_text(data: Any) -> tuple[str, str] | None:
    """(pointer, reason) for the first string the database cannot keep, or nesting too deep.

    PostgreSQL text cannot hold NUL characters; anything else is fine. The
    walk is iterative, so a hostile document cannot exhaust the stack.
    """
    stack: list[tuple[str, Any, int]] = [("", data, 0)]
    while stack:
        pointer, value, depth = stack.pop()
        if depth > MAX_NESTING:
            return pointer, f"Nested deeper than {MAX_NESTING} levels."
        if isinstance(value, str) and "\x00" in value:
            return pointer, "Text may not contain NUL characters."
        if isinstance(value, dict):
            for key, item in value.items():
                if "\x00" in key:
                    return pointer, "Names may not contain NUL characters."
                stack.append((f"{pointer}/{key}", item, depth + 1))
        elif isinstance(value, list):
            stack.extend(
                (f"{pointer}/{index}", item, depth + 1) for index, item in enumerate(value)
            )
    return None


def _read_document(request: HttpRequest, model: type[pydantic.BaseModel]):
    """The body parsed and validated, or an `ApiError` saying what is wrong with it."""
    if request.content_type not in ACCEPTED_CONTENT_TYPES:
        raise ApiError.single(
            415,
            "unsupported_media_type",
            f"Send the body as application/json, not {request.content_type or 'nothing'}.",
            header="Content-Type",
        )
    too_large = ApiError.single(
        413,
        "body_too_large",
        f"Bodies are at most {settings.API_MAX_BODY_BYTES} bytes.",
    )
    try:
        declared_length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared_length = 0
    if declared_length > settings.API_MAX_BODY_BYTES:
        raise too_large
    try:
        body = request.body
    except RequestDataTooBig:
        raise too_large from None
    if len(body) > settings.API_MAX_BODY_BYTES:
        raise too_large
    try:
        # ValueError covers bad UTF-8 and integers too long to convert;
        # RecursionError, nesting deeper than the parser goes.
        data = simplejson.loads(body, use_decimal=True, allow_nan=False)
    except (ValueError, RecursionError) as error:
        # "415 not JSON" (contract 1): the body is not in the format we take.
        raise ApiError.single(
            415, "malformed_json", f"The body is not valid JSON: {error}"
        ) from None
    if not isinstance(data, dict):
        raise ApiError.single(422, "invalid_type", "The body must be a JSON object.", pointer="")
    if problem := unstorable_text(data):
        pointer, detail = problem
        raise ApiError.single(422, "invalid_value", detail, pointer=pointer)
    try:
        return model.model_validate(data), data
    except pydantic.ValidationError as error:
        raise validation_error(error) from None


def _field_errors(problems, *, under: str) -> ApiError:
    """One 422 error per refused field, pointing at it below `under`."""
    return ApiError(
        422,
        [ErrorItem(code=p.code, detail=p.detail, pointer=f"{under}/{p.field}") for p in problems],
    )


def _json(body: bytes, status: int = 200, **headers: str) -> HttpResponse:
    response = HttpResponse(body, status=status, content_type=JSON_CONTENT_TYPE)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


# Create ----------------------------------------------------------------------


@api.post(
    "/payment-invoices",
    auth=MerchantKeyAuth(),
    response={201: InvoiceDocument, **_ERRORS},
    openapi_extra=_body_schema(InvoiceCreateDocument),
    summary="Create an invoice",
    description="Issues requisites through the service's connector. A repeated reference_id "
    "is a 409 naming the existing invoice. Send `Idempotency-Key` to replay the first answer "
    "to a retried request (a different body with the same key is a 422).",
)
def create_invoice(request: HttpRequest):
    caller: ApiCaller = request.auth
    document, raw = _read_document(request, InvoiceCreateDocument)
    return _idempotent(request, caller, raw, lambda: _create_response(caller, document))


def _idempotent(
    request: HttpRequest,
    caller: ApiCaller,
    raw: dict,
    respond: Callable[[], HttpResponse],
    *,
    scope: str = "",
) -> HttpResponse:
    """`respond()`, or with an `Idempotency-Key` the answer first given to that key.

    `scope` tells requests apart beside their bodies (the invoice a reissue is
    for): a key sent again to another scope is a key reused with another
    request. An answer of 5xx is not kept: the key is free for the retry.
    """
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return respond()
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise ApiError.single(
            422,
            "invalid_idempotency_key",
            "Use 1 to 255 printable characters.",
            header="Idempotency-Key",
        )
    fingerprint = hashlib.sha256(
        scope.encode() + simplejson.dumps(raw, use_decimal=True, sort_keys=True).encode()
    ).hexdigest()
    try:
        claim = services.idempotency_begin(
            merchant=caller.merchant, test_mode=caller.test_mode, key=key, fingerprint=fingerprint
        )
    except services.IdempotencyKeyReused:
        raise ApiError.single(
            422,
            "idempotency_key_reused",
            "This Idempotency-Key was first used with another request.",
            header="Idempotency-Key",
        ) from None
    except services.IdempotencyKeyInProgress:
        raise ApiError.single(
            409,
            "idempotency_key_in_progress",
            "A request with this Idempotency-Key is still being handled; retry shortly.",
            header="Idempotency-Key",
        ) from None
    if isinstance(claim, services.StoredResponse):
        return _json(claim.body, claim.status, Idempotent_Replayed="true")
    try:
        try:
            response = respond()
        except ApiError as error:
            response = error_response(error)
    except BaseException:
        services.idempotency_finish(claim=claim, response=None)
        raise
    kept = (
        services.StoredResponse(response.status_code, response.content)
        if response.status_code < 500
        else None
    )
    services.idempotency_finish(claim=claim, response=kept)
    return response


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
        raise _field_errors(rejected.problems, under="/data/attributes") from None
    except services.DuplicateReference as duplicate:
        raise ApiError.single(
            409,
            "duplicate_reference_id",
            "An invoice with this reference_id exists already.",
            pointer="/data/attributes/reference_id",
            meta={"id": duplicate.existing_id},
        ) from None
    return _json(invoice_document(invoice), 201, Location=f"/api/payment-invoices/{invoice.id}")


# Read ----------------------------------------------------------------------


@api.get(
    "/payment-invoices/{invoice_id}",
    auth=MerchantKeyAuth(deferred=True),
    response={200: InvoiceDocument, **_ERRORS},
    summary="Read an invoice",
)
def read_invoice(request: HttpRequest, invoice_id: str):
    presented: PresentedCredentials = request.auth
    read = selectors.invoice_document_get_authenticated(
        account_id=presented.account_id, secret_key=presented.secret_key, invoice_id=invoice_id
    )
    if read is None:
        raise AuthenticationError
    _merchant, document = read
    if document is None:
        raise Http404
    response = _json(document)
    # What another caller's credentials get is another answer. Django's
    # ConditionalGetMiddleware gives the ETag and answers a matching
    # If-None-Match with 304, only once the credentials were accepted here.
    patch_vary_headers(response, ["Authorization"])
    return response


_LIST_PARAMETERS = [
    {
        "name": "filter[reference_id]",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "maxLength": 255},
    },
    {
        "name": "filter[status]",
        "in": "query",
        "required": False,
        "description": "One status, or several separated by commas.",
        "schema": {"type": "string"},
    },
    {
        "name": "page[size]",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": 20},
    },
    {
        "name": "page[after]",
        "in": "query",
        "required": False,
        "description": "The cursor from `links.next` of the previous page.",
        "schema": {"type": "string"},
    },
]


@api.get(
    "/payment-invoices",
    auth=MerchantKeyAuth(),
    response={200: InvoiceListDocument, **_ERRORS},
    openapi_extra={"parameters": _LIST_PARAMETERS},
    summary="List invoices, newest first",
)
def list_invoices(request: HttpRequest):
    caller: ApiCaller = request.auth
    # An empty parameter is an absent one: `?filter[status]=&page[size]=` lists everything.
    query = {name: value for name, value in request.GET.items() if value != ""}
    problems = []
    reference_id = query.get("filter[reference_id]")
    if reference_id is not None and (len(reference_id) > 255 or "\x00" in reference_id):
        problems.append(("filter[reference_id]", "At most 255 characters, and no NUL."))
    statuses = [s for s in query.get("filter[status]", "").split(",") if s]
    if unknown := [s for s in statuses if s not in Status.values]:
        problems.append(("filter[status]", f"Unknown status: {', '.join(unknown)}."))
    page_size = DEFAULT_PAGE_SIZE
    if "page[size]" in query:
        try:
            page_size = int(query["page[size]"])
        except ValueError:
            page_size = 0
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            problems.append(("page[size]", f"A whole number from 1 to {MAX_PAGE_SIZE}."))
    if problems:
        raise ApiError(
            422,
            [ErrorItem(code="invalid_parameter", detail=d, parameter=p) for p, d in problems],
        )
    try:
        page = selectors.invoice_list(
            merchant=caller.merchant,
            test_mode=caller.test_mode,
            page_size=page_size,
            after=query.get("page[after]") or None,
            reference_id=reference_id,
            statuses=statuses,
        )
    except selectors.InvalidCursor as invalid:
        raise ApiError.single(
            422, "invalid_parameter", str(invalid), parameter="page[after]"
        ) from None
    next_link = None
    if page.next_cursor:
        kept = {k: v for k, v in query.items() if k != "page[after]"}
        next_link = "/api/payment-invoices?" + urlencode({**kept, "page[after]": page.next_cursor})
    return _json(
        render_json(
            {"data": [invoice_resource(i) for i in page.invoices], "links": {"next": next_link}}
        )
    )


# Confirm ---------------------------------------------------------------------


@api.post(
    "/payment-invoices/{invoice_id}/confirm",
    auth=None,
    response={202: InvoiceDocument, **_ERRORS},
    openapi_extra=_body_schema(ConfirmDocument),
    summary="Forward a customer's confirmation",
    description="No authentication: the invoice id is the public key. The payload is checked "
    "against flow_data.confirmation; after 5 refused attempts the invoice answers 429.",
)
def confirm_invoice(request: HttpRequest, invoice_id: str):
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
        document, _ = _read_document(request, ConfirmDocument)
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
        raise _field_errors(rejected.problems, under="/payload") from None
    return _json(invoice_document(invoice), 202)


# The payer's second chance ----------------------------------------------------------

_FOLLOW_DESCRIPTION = (
    "The new invoice shares the order's reference_id, return URLs, callback URL and metadata; "
    "both resources name each other in related_invoice, and the merchant gets a callback of "
    "the earlier invoice announcing the new one. The service must allow it (an operator's "
    "switch). An invoice is followed once: asking again is a 409 naming the invoice made "
    "then. Optional body: data.attributes.expires (UNIX time). `Idempotency-Key` works as on "
    "create."
)


@api.post(
    "/payment-invoices/{invoice_id}/reissue",
    auth=MerchantKeyAuth(),
    response={201: InvoiceDocument, **_ERRORS, 503: ErrorDocument},
    openapi_extra=_body_schema(InvoiceFollowDocument, required=False),
    summary="Reissue an expired invoice",
    description="A new invoice of the same amount, with fresh requisites and a new expiry, "
    "for an expired invoice; at most the service's limit of times per order. "
    + _FOLLOW_DESCRIPTION,
)
def reissue_invoice(request: HttpRequest, invoice_id: str):
    return _follow(request, invoice_id, second_chance.invoice_reissue)


@api.post(
    "/payment-invoices/{invoice_id}/remainder",
    auth=MerchantKeyAuth(),
    response={201: InvoiceDocument, **_ERRORS, 503: ErrorDocument},
    openapi_extra=_body_schema(InvoiceFollowDocument, required=False),
    summary="Invoice the remainder of a partly paid invoice",
    description="A new invoice for payment_amount - processed_amount of a partially_processed "
    "invoice. " + _FOLLOW_DESCRIPTION,
)
def remainder_invoice(request: HttpRequest, invoice_id: str):
    return _follow(request, invoice_id, second_chance.invoice_remainder_issue)


def _follow(request: HttpRequest, invoice_id: str, follow) -> HttpResponse:
    caller: ApiCaller = request.auth
    # The body is optional: none at all takes every default (a body that is there,
    # however large, is judged as on create: 413, 415, 422).
    if request.META.get("CONTENT_LENGTH", "") in ("", "0"):
        document, raw = InvoiceFollowDocument(), {}
    else:
        document, raw = _read_document(request, InvoiceFollowDocument)
    return _idempotent(
        request,
        caller,
        raw,
        lambda: _follow_response(caller, invoice_id, document, follow),
        scope=f"{request.path}\n",
    )


def _follow_response(
    caller: ApiCaller, invoice_id: str, document: InvoiceFollowDocument, follow
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
        raise _field_errors(rejected.problems, under="/data/attributes") from None
    except second_chance.RequisitesUnavailable as unavailable:
        raise ApiError.single(
            503,
            "provider_unavailable",
            f"{unavailable} Nothing was stored; retry later.",
            headers={"Retry-After": "30"},
        ) from None
    return _json(invoice_document(invoice), 201, Location=f"/api/payment-invoices/{invoice.id}")


# Bank statements -------------------------------------------------------------------


@api.post(
    "/statements",
    auth=MerchantKeyAuth(),
    response={201: dict, **_ERRORS},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in STATEMENT_CONTENT_TYPES
            },
        },
        "parameters": [
            {"name": "file_name", "in": "query", "required": False, "schema": {"type": "string"}}
        ],
    },
    summary="Import a bank statement",
    description="The body is a camt.053/camt.054 (application/xml) or MT940 (text/plain) "
    "file. Its credits settle your invoices of static bank-transfer services paid into the "
    "statement's account, in the key's mode, by RF creditor reference or reference_id; "
    "each credit is applied once, however often the file is sent.",
)
def import_statement(request: HttpRequest):
    caller: ApiCaller = request.auth
    data, file_format, file_name = statement_read(request)
    try:
        result = statements.statement_import(
            data=data,
            file_name=file_name,
            file_format=file_format,
            imported_by=str(caller.actor),
            test_mode=caller.test_mode,
            merchant=caller.merchant,
        )
    except statements.StatementFormatError as error:
        raise ApiError.single(422, "unreadable_statement", str(error)) from None
    return _json(statement_import_document(result), 201)
