"""Idempotency keys: a request repeated with the same key gets the first answer again."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from invoices.models import IdempotencyKey, Merchant

IDEMPOTENCY_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: bytes


class IdempotencyKeyReused(Exception):
    """The key was first used with another request body."""


class IdempotencyKeyInProgress(Exception):
    """The first request with this key is still being handled."""


def idempotency_begin(
    *, merchant: Merchant, test_mode: bool, key: str, fingerprint: str
) -> StoredResponse | IdempotencyKey:
    """Claim `key` for this request, or return the answer given to it before.

    Returns the claimed row (finish it with `idempotency_finish`) or the stored
    response to replay; raises when the key belongs to another body or is busy.
    """
    for _ in range(2):
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(
                    merchant=merchant, test_mode=test_mode, key=key, request_fingerprint=fingerprint
                )
        except IntegrityError:
            existing = IdempotencyKey.objects.filter(
                merchant=merchant, test_mode=test_mode, key=key
            ).first()
        if existing is None:
            continue  # released meanwhile: claim it again
        if existing.created_at < timezone.now() - IDEMPOTENCY_WINDOW:
            IdempotencyKey.objects.filter(pk=existing.pk, created_at=existing.created_at).delete()
            continue
        if existing.request_fingerprint != fingerprint:
            raise IdempotencyKeyReused(key)
        if existing.response_status is None:
            raise IdempotencyKeyInProgress(key)
        # idempotency_finish stores the status and the body together.
        assert existing.response_body is not None
        return StoredResponse(status=existing.response_status, body=bytes(existing.response_body))
    raise IdempotencyKeyInProgress(key)


def idempotency_finish(*, claim: IdempotencyKey, response: StoredResponse | None) -> None:
    """Store the answer to replay, or (None) release the key so the request can be retried."""
    if response is None:
        IdempotencyKey.objects.filter(pk=claim.pk).delete()
        return
    IdempotencyKey.objects.filter(pk=claim.pk).update(
        response_status=response.status, response_body=response.body
    )


def idempotency_keys_purge() -> int:
    """Forget keys older than the replay window."""
    deleted, _ = IdempotencyKey.objects.filter(
        created_at__lt=timezone.now() - IDEMPOTENCY_WINDOW
    ).delete()
    return deleted


@dataclass(frozen=True)
class IdempotentAnswer:
    response: StoredResponse
    replayed: bool  # the answer first given to the key, not one made now


def idempotency_answer(
    *,
    merchant: Merchant,
    test_mode: bool,
    key: str,
    fingerprint: str,
    answer: Callable[[], StoredResponse],
) -> IdempotentAnswer:
    """The answer to a request sent with an Idempotency-Key: the one first given to the
    key, or `answer()`, kept for the key unless it asks for a retry (a 5xx), which
    leaves the key free. Raises `IdempotencyKeyReused` or `IdempotencyKeyInProgress`.
    """
    claim = idempotency_begin(
        merchant=merchant, test_mode=test_mode, key=key, fingerprint=fingerprint
    )
    if isinstance(claim, StoredResponse):
        return IdempotentAnswer(response=claim, replayed=True)
    try:
        response = answer()
    except BaseException:
        idempotency_finish(claim=claim, response=None)
        raise
    idempotency_finish(claim=claim, response=response if response.status < 500 else None)
    return IdempotentAnswer(response=response, replayed=False)
