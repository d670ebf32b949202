"""Merchants and services as every API request and hosted page reads them, through
Django's cache.

Only on a cache every process shares (Redis): a copy per process would keep a
rotated key working in the processes that did not rotate it. A reader that
finds no entry reads the row and adds it (`add` only creates); every save or
delete drops the row's entries after its commit, even while this process
otherwise leaves Redis alone, so the next reader reads the row as committed.
Dropping, unlike writing the saved row, cannot be reordered into an older
state by two saves racing. What remains is bounded by CATALOG_SECONDS: a
reader that read the row just before a save and adds it just after the drop,
a drop that Redis refused, or a change made around the ORM (a psql fix).

A cache that is down or slow makes these reads go to PostgreSQL, never fail.
"""

from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save

from config.redis_circuit import REDIS_ERRORS, redis_circuit
from invoices import read_models
from invoices.models import Merchant, Service

_Row = TypeVar("_Row", Merchant, Service)


def _keys(row: models.Model) -> list[str]:
    """Every key a row is kept under."""
    if isinstance(row, Merchant):
        return [f"catalog:merchant:account:{row.account_id}", f"catalog:merchant:id:{row.pk}"]
    return [f"catalog:service:id:{row.pk}"]


def _usable() -> bool:
    return read_models.enabled() and not redis_circuit.open()


def _kept_or_read(key: str, read: Callable[[], _Row | None]) -> _Row | None:
    """The row kept under `key`, else `read()` from the database, offered to the cache."""
    if not _usable():
        return read()
    try:
        kept: _Row | None = cache.get(key)  # only ever a row read by `read`
        if kept is not None:
            return kept
    except REDIS_ERRORS as error:
        redis_circuit.trip(error)
        return read()
    row = read()
    if row is not None:
        try:
            for row_key in _keys(row):
                cache.add(row_key, row, settings.CATALOG_SECONDS)
        except REDIS_ERRORS as error:
            redis_circuit.trip(error)
    return row


def merchant_by_account(account_id: str) -> Merchant | None:
    """The merchant with this account id, active or not; None if there is none."""
    return _kept_or_read(
        f"catalog:merchant:account:{account_id}",
        lambda: Merchant.objects.filter(account_id=account_id).first(),
    )


def merchant_by_id(merchant_id: int) -> Merchant | None:
    return _kept_or_read(
        f"catalog:merchant:id:{merchant_id}",
        lambda: Merchant.objects.filter(pk=merchant_id).first(),
    )


def service_by_id(service_id: int) -> Service | None:
    return _kept_or_read(
        f"catalog:service:id:{service_id}", lambda: Service.objects.filter(pk=service_id).first()
    )


def merchant_and_service(merchant_id: int, service_id: int) -> tuple[Merchant, Service]:
    """Both rows a hosted page shows, in one trip to the cache when it holds them."""
    merchant_key, service_key = (
        f"catalog:merchant:id:{merchant_id}",
        f"catalog:service:id:{service_id}",
    )
    kept: dict[str, Any] = {}
    if _usable():
        try:
            kept = cache.get_many([merchant_key, service_key])
        except REDIS_ERRORS as error:
            redis_circuit.trip(error)
    merchant: Merchant | None = kept.get(merchant_key) or merchant_by_id(merchant_id)
    service: Service | None = kept.get(service_key) or service_by_id(service_id)
    # Asked for an invoice's, which are protected from deletion while it exists.
    if merchant is None:
        raise Merchant.DoesNotExist(f"no merchant {merchant_id}")
    if service is None:
        raise Service.DoesNotExist(f"no service {service_id}")
    return merchant, service


def rows_changed(row: Merchant | Service) -> None:
    """Drop the row's entries once the transaction that saved or deleted it commits."""

    def forget() -> None:
        if not read_models.enabled():
            return
        try:
            cache.delete_many(_keys(row))
        except REDIS_ERRORS as error:
            redis_circuit.trip(error)  # what Redis held stays for at most CATALOG_SECONDS

    transaction.on_commit(forget)


def connect() -> None:
    """Keep the catalog with every save of a merchant or service, wherever it is made."""
    for model in (Merchant, Service):
        post_save.connect(
            lambda instance, **kwargs: rows_changed(instance),
            sender=model,
            weak=False,
            dispatch_uid=f"catalog_{model.__name__}_saved",
        )
        post_delete.connect(
            lambda instance, **kwargs: rows_changed(instance),
            sender=model,
            weak=False,
            dispatch_uid=f"catalog_{model.__name__}_deleted",
        )
