"""Idempotency-Key: a retried request gets the answer first given to its key.

The claim and the stored answer are services' (`idempotency_begin`,
`idempotency_finish`); this wraps an endpoint's answer between them.
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
        return json_response(claim.body, claim.status, Idempotent_Replayed="true")
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
