"""Idempotency-Key: a retried request gets the answer first given to its key.

Claiming the key, keeping the answer and replaying it are one service call
(`idempotency_answer`); this reads the key and the request's fingerprint, and
turns the endpoint's answer into what is kept.
"""

import hashlib
from collections.abc import Callable
from typing import Any

import simplejson
from django.http import HttpRequest, HttpResponse

from invoices import services
from invoices.api.auth import ApiCaller
from invoices.api.errors import ApiError, error_response, json_response


def idempotent(
    request: HttpRequest,
    caller: ApiCaller,
    raw: dict[str, Any],
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
    made: list[HttpResponse] = []

    def answer() -> services.StoredResponse:
        try:
            response = respond()
        except ApiError as error:
            response = error_response(error)
        made.append(response)
        return services.StoredResponse(response.status_code, response.content)

    try:
        result = services.idempotency_answer(
            merchant=caller.merchant,
            test_mode=caller.test_mode,
            key=key,
            fingerprint=fingerprint,
            answer=answer,
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
    if result.replayed:
        return json_response(
            result.response.body, result.response.status, Idempotent_Replayed="true"
        )
    # The answer made now, with its headers (Location).
    return made[0]
