"""JSON:API error documents: every failure under /api answers with one.

`ApiError` carries one or more errors of one HTTP status; `ApiJsonErrorsMiddleware`
turns whatever Django itself answers under /api (unknown path, wrong method)
into the same shape, so a merchant never gets an HTML page from the API.
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Protocol, TypedDict, Unpack

import pydantic
from django.http import HttpRequest, HttpResponse

from invoices.resources import render_json

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
JSON_CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class ErrorItem:
    code: str
    detail: str
    title: str | None = None
    pointer: str | None = None
    parameter: str | None = None
    header: str | None = None
    meta: dict[str, Any] | None = None


class ErrorItemOptions(TypedDict, total=False):
    """The optional fields of an `ErrorItem`, as `ApiError.single` takes them."""

    title: str | None
    pointer: str | None
    parameter: str | None
    header: str | None
    meta: dict[str, Any] | None


@dataclass
class ApiError(Exception):
    status: int
    errors: list[ErrorItem]
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def single(
        cls,
        status: int,
        code: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **item: Unpack[ErrorItemOptions],
    ) -> "ApiError":
        return cls(status, [ErrorItem(code=code, detail=detail, **item)], headers or {})


def error_document(status: int, errors: Iterable[ErrorItem]) -> dict[str, Any]:
    default_title = HTTPStatus(status).phrase
    items = []
    for error in errors:
        item: dict[str, Any] = {
            "status": str(status),
            "code": error.code,
            "title": error.title or default_title,
            "detail": error.detail,
        }
        source = {
            name: value
            for name, value in (
                ("pointer", error.pointer),
                ("parameter", error.parameter),
                ("header", error.header),
            )
            if value is not None
        }
        if source:
            item["source"] = source
        if error.meta:
            item["meta"] = error.meta
        items.append(item)
    return {"errors": items}


def error_response(error: ApiError) -> HttpResponse:
    response = HttpResponse(
        render_json(error_document(error.status, error.errors)),
        status=error.status,
        content_type=JSON_CONTENT_TYPE,
    )
    for name, value in error.headers.items():
        response[name] = value
    return response


def json_response(body: bytes, status: int = 200, **headers: str) -> HttpResponse:
    """A JSON answer; `Idempotent_Replayed="true"` becomes the header Idempotent-Replayed."""
    response = HttpResponse(body, status=status, content_type=JSON_CONTENT_TYPE)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


class RefusedField(Protocol):
    """What the services' refusals list: `FieldProblem` of invoices, `PayloadProblem` of
    confirmations."""

    @property
    def field(self) -> str: ...
    @property
    def code(self) -> str: ...
    @property
    def detail(self) -> str: ...


def field_errors(problems: Iterable[RefusedField], *, under: str) -> ApiError:
    """One 422 error per field a service refused, pointing at it below `under`."""
    return ApiError(
        422,
        [ErrorItem(code=p.code, detail=p.detail, pointer=f"{under}/{p.field}") for p in problems],
    )


_PYDANTIC_CODES: dict[str, tuple[str, str]] = {
    "missing": ("required", "Missing attribute"),
    "extra_forbidden": ("unknown_attribute", "Unknown attribute"),
    "literal_error": ("invalid_value", "Invalid value"),
    "string_too_short": ("invalid_length", "Invalid length"),
    "string_too_long": ("invalid_length", "Invalid length"),
    "string_pattern_mismatch": ("invalid_format", "Invalid format"),
    "value_error": ("invalid_value", "Invalid value"),
    "greater_than": ("invalid_value", "Invalid value"),
}


def validation_error(error: pydantic.ValidationError, *, prefix: tuple[str, ...] = ()) -> ApiError:
    """One 422 error per bad field, each pointing at the field."""
    items = []
    for problem in error.errors(include_url=False):
        code, title = _PYDANTIC_CODES.get(problem["type"], ("invalid_type", "Invalid type"))
        location = (*prefix, *(str(part) for part in problem["loc"]))
        message = problem["msg"].removeprefix("Value error, ")
        items.append(
            ErrorItem(code=code, title=title, detail=message, pointer="/" + "/".join(location))
        )
    return ApiError(422, items)


class ApiJsonErrorsMiddleware:
    """Error answers under /api that did not come from the API itself become JSON:API errors.

    It is the outermost middleware, so it also sees what other middleware
    answered (a refused Host header, a CSRF failure, a 404 from the resolver).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == API_PREFIX.rstrip("/"):
            # Not a resource; without this, /api would redirect to /api/ in HTML.
            return error_response(ApiError.single(404, "not_found", "No such resource."))
        response = self.get_response(request)
        if (
            request.path.startswith(API_PREFIX)
            and response.status_code >= 400
            and not response.get("Content-Type", "").startswith(JSON_CONTENT_TYPE)
        ):
            return self._as_json(response)
        return response

    def _as_json(self, response: HttpResponse) -> HttpResponse:
        status = response.status_code
        details = {
            404: ("not_found", "No such resource."),
            405: ("method_not_allowed", "This method is not allowed here."),
        }
        code, detail = details.get(status, ("error", HTTPStatus(status).phrase))
        headers = {"Allow": response["Allow"]} if response.has_header("Allow") else {}
        return error_response(ApiError.single(status, code, detail, headers=headers))

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path.startswith(API_PREFIX):
            return None
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(
            ApiError.single(500, "internal_error", "Something went wrong on our side.")
        )
