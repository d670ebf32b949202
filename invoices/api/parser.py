"""The API's ninja `Parser`: JSON bodies with exact decimals and the contract's 413 and 415.

`ExactJsonParser` is the API's ninja `Parser`, and reads query strings for
ninja's `Query` schemas; but for bodies the endpoints call
`read_document` rather than declaring ninja `Body` parameters, because ninja's
body handling cannot give the contract's answers:
- it turns any exception of `parse_body` into a 400 "Cannot parse request
  body", where the contract wants 413 (too large) and 415 (not JSON, or
  another content type);
- it never calls the parser for an empty body, which becomes a 422 for a
  missing document, where the contract answers 415 as for any body not JSON;
- it parses before the view runs, where confirm first applies its rate limit
  and answers 404 for an unknown invoice whatever the body;
- the view would get the model only, where an Idempotency-Key fingerprints
  the document as sent.
"""

from typing import Any, TypeVar

import pydantic
import simplejson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict
from ninja.parser import Parser

from invoices.api.errors import ApiError, validation_error

ACCEPTED_CONTENT_TYPES = ("application/json", "application/vnd.api+json")
MAX_NESTING = 32


def unstorable_text(data: object) -> tuple[str, str] | None:
    """(pointer, reason) for the first string the database cannot keep, or nesting too deep.

    PostgreSQL text cannot hold NUL characters; anything else is fine. The
    walk is iterative, so a hostile document cannot exhaust the stack.
    """
    stack: list[tuple[str, object, int]] = [("", data, 0)]
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


class ExactJsonParser(Parser):
    """A JSON object with every number a Decimal (never a float), or an `ApiError`."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
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
            raise ApiError.single(
                422, "invalid_type", "The body must be a JSON object.", pointer=""
            )
        if problem := unstorable_text(data):
            pointer, detail = problem
            raise ApiError.single(422, "invalid_value", detail, pointer=pointer)
        return data

    def parse_querydict(
        self, data: MultiValueDict[str, str], list_fields: list[str], request: HttpRequest
    ) -> dict[str, Any]:
        # A parameter given twice counts once, with its last value, as Django's
        # QueryDict reads it: `filter[status]` is a list written with commas,
        # never a repeated parameter, although its schema's type is a list.
        return {key: data[key] for key in data}


PARSER = ExactJsonParser()
M = TypeVar("M", bound=pydantic.BaseModel)


def read_document(request: HttpRequest, model: type[M]) -> tuple[M, dict[str, Any]]:
    """The body validated, with the document as sent, or an `ApiError` saying what is wrong."""
    data = PARSER.parse_body(request)
    try:
        return model.model_validate(data), data
    except pydantic.ValidationError as error:
        raise validation_error(error) from None


def body_schema(model: type[pydantic.BaseModel], *, required: bool = True) -> dict[str, Any]:
    """The OpenAPI `requestBody` of an endpoint reading `model` with `read_document`."""
    reference = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {
        "requestBody": {
            "required": required,
            "content": {media: {"schema": reference} for media in ACCEPTED_CONTENT_TYPES},
        }
    }
