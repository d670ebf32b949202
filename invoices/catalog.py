"""Merchants as every API request and hosted page reads them, through Django's cache.

Only on a cache every process shares (Redis): a copy per process would keep a
rotated key working in the processes that did not rotate it. An entry is
written through when its merchant is saved (after the commit) and added, never
overwritten, when a reader finds none. So a reader holding a row from before a
save cannot replace the saved one: its `add` either lands first and is
overwritten by the save's `set`, or lands after it and creates nothing. A
change made around the ORM's save (a psql fix) shows within CATALOG_SECONDS.

A cache that is down or slow makes these reads go to PostgreSQL, never fail.
"""

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from redis.exceptions import RedisError

from config.redis_circuit import redis_circuit
from invoices import read_models
from invoices.models import Merchant


def _by_account_key(account_id: str) -> str:
    return f"catalog:merchant:account:{account_id}"


def _by_id_key(merchant_id: int) -> str:
    return f"catalog:merchant:id:{merchant_id}"


def _usable() -> bool:
    return read_models.enabled() and not redis_circuit.open()


def _cached(key: str) -> Merchant | None:
    if not _usable():
        return None
    try:
        return cache.get(key)
    except RedisError as error:
        redis_circuit.trip(error)
        return None


def _offer(merchant: Merchant) -> None:
    if not _usable():
        return
    try:
        cache.add(_by_account_key(merchant.account_id), merchant, settings.CATALOG_SECONDS)
        cache.add(_by_id_key(merchant.pk), merchant, settings.CATALOG_SECONDS)
    except RedisError as error:
        redis_circuit.trip(error)


def merchant_by_account(account_id: str) -> Merchant | None:
    """The merchant with this account id, active or not; None if there is none."""
    if (merchant := _cached(_by_account_key(account_id))) is not None:
        return merchant
    merchant = Merchant.objects.filter(account_id=account_id).first()
    if merchant is not None:
        _offer(merchant)
    return merchant


def merchant_by_id(merchant_id: int) -> Merchant | None:
    if (merchant := _cached(_by_id_key(merchant_id))) is not None:
        return merchant
    merchant = Merchant.objects.filter(pk=merchant_id).first()
    if merchant is not None:
        _offer(merchant)
    return merchant


def merchant_saved(merchant: Merchant) -> None:
    """Write the merchant through, after the commit that saved it."""

    def write() -> None:
        if not _usable():
            return
        entries = {
            _by_account_key(merchant.account_id): merchant,
            _by_id_key(merchant.pk): merchant,
        }
        try:
            cache.set_many(entries, settings.CATALOG_SECONDS)
        except RedisError as error:
            # What Redis held stays for at most CATALOG_SECONDS.
            redis_circuit.trip(error)

    transaction.on_commit(write)


def _forget(merchant: Merchant) -> None:
    if not _usable():
        return
    try:
        cache.delete_many([_by_account_key(merchant.account_id), _by_id_key(merchant.pk)])
    except RedisError as error:
        redis_circuit.trip(error)


def _on_save(sender, instance: Merchant, **kwargs) -> None:
    merchant_saved(instance)


def _on_delete(sender, instance: Merchant, **kwargs) -> None:
    transaction.on_commit(lambda: _forget(instance))


def connect() -> None:
    """Keep the catalog with every save of a merchant, wherever it is made (admin, services)."""
    post_save.connect(_on_save, sender=Merchant, dispatch_uid="catalog_merchant_saved")
    post_delete.connect(_on_delete, sender=Merchant, dispatch_uid="catalog_merchant_deleted")
