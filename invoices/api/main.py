"""The merchant API: routes, authentication, the OpenAPI document, and its error answers.

Every error is a JSON:API error document: the handlers below translate what
ninja, Django and the endpoints raise, and a bug is a logged 500 document,
never a debug page.
"""

import logging
from typing import Any, Unpack

from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.openapi.schema import OpenAPISchema
from ninja.operation import Operation

from invoices.api import payment_invoices, statements
from invoices.api.errors import ApiError, ErrorItem, ErrorItemOptions, error_response
from invoices.api.parser import PARSER
from invoices.api.schemas import ConfirmDocument, InvoiceCreateDocument, InvoiceFollowDocument

logger = logging.getLogger(__name__)


def _error(
    status: int,
    code: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **item: Unpack[ErrorItemOptions],
) -> HttpResponse:
    return error_response(ApiError.single(status, code, detail, headers=headers, **item))


class MerchantApi(NinjaAPI):
    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        # Request bodies are read by `parser.read_document` rather than ninja
        # (see there), so their models are added to the components here.
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (InvoiceCreateDocument, ConfirmDocument, InvoiceFollowDocument):
            model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(model_schema.pop("$defs", {}))
            components[model.__name__] = model_schema
        return schema

    def get_openapi_operation_id(self, operation: Operation) -> str:
        # The ids of the single module the API once was: generated clients name
        # their methods after them, so they do not follow the modules.
        return f"invoices_api_{operation.view_func.__name__}"


api = MerchantApi(
    title="Invoice checkout — merchant API",
    version="1.0",
    description="Create invoices paid by transfer, read them, forward confirmations. "
    "Errors are JSON:API error documents.",
    urls_namespace="api",
    parser=PARSER,
)
api.add_router("/payment-invoices", payment_invoices.router)
api.add_router("/statements", statements.router)


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, error: ApiError) -> HttpResponse:
    return error_response(error)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, error: AuthenticationError) -> HttpResponse:
    return _error(
        401,
        "unauthorized",
        "Authenticate with HTTP Basic: your account id and a secret key.",
        headers={"WWW-Authenticate": 'Basic realm="payment-invoices", charset="UTF-8"'},
    )


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, error: Http404) -> HttpResponse:
    return _error(404, "not_found", "No such resource.")


@api.exception_handler(NinjaValidationError)
def _invalid_parameters(request: HttpRequest, error: NinjaValidationError) -> HttpResponse:
    # What ninja validates is parameters (bodies are read by `parser`), each
    # one named by its location after its source: ("query", "page[size]").
    items = [
        ErrorItem(
            code="invalid_parameter",
            detail=problem.get("msg", "Invalid value.").removeprefix("Value error, "),
            parameter=".".join(str(part) for part in problem.get("loc", ())[1:]) or None,
        )
        for problem in error.errors
    ]
    return error_response(ApiError(422, items))


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, error: HttpError) -> HttpResponse:
    return _error(error.status_code, "error", str(error))


@api.exception_handler(SuspiciousOperation)
def _suspicious(request: HttpRequest, error: SuspiciousOperation) -> HttpResponse:
    # Django's own refusals of a request (too many fields, a bad host...).
    return _error(400, "bad_request", "The request was refused as malformed.")


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, error: Exception) -> HttpResponse:
    # A bug, never a verdict on the input: logged with its traceback, and the
    # merchant still gets a JSON:API document rather than a debug page.
    logger.exception("unhandled error on %s %s", request.method, request.path)
    return _error(500, "internal_error", "Something went wrong on our side.")
