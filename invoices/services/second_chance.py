"""The payer's second chance: a new invoice of the same order, made from a final one.

- An expired invoice may be *reissued*: the same amount with fresh requisites and
  a new expiry, at most `Service.reissue_limit` times per order.
- A partly paid invoice may be followed by its *remainder*: an invoice for what
  is still owed, when `Service.remainder_enabled`.

The new invoice shares the order's `reference_id`, return URLs, callback URL and
metadata, and names the invoice it was made from (`previous_invoice`); that one
names it back (`next_invoice`), which bumps its sequence and sends the merchant
a callback: the announcement of the new invoice. Each invoice is followed at
most once, so a repeated or concurrent request finds the invoice made first.

As on creation, requisites are asked for outside any transaction; a provider
that cannot issue them stores nothing, and the payer may ask again.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import NoReturn

from django.db import IntegrityError, transaction
from django.utils import timezone

from connectors.registry import get_connector
from invoices import keys, read_models, selectors
from invoices.combined_writes import Insert, write_together
from invoices.models import Invoice, Merchant, Service
from invoices.services.confirmation import InvoiceNotFound
from invoices.services.invoice_creation import invoice_created_event, requisites_issue
from invoices.services.invoice_validation import (
    InvoiceRejected,
    expiry_problem,
    invoice_amount_problems,
)
from invoices.state_machine import Actor, StatusMoveRefused, invoice_record_next
from invoices.statuses import Relation, Status

logger = logging.getLogger(__name__)

# The statuses a new invoice may follow: expired (a reissue), partly paid (the remainder).
FOLLOWABLE_STATUSES = frozenset({Status.EXPIRED, Status.PARTIALLY_PROCESSED})
# The new invoice a followable status calls for.
_RELATION_FOR_STATUS: dict[str, Relation] = {
    Status.EXPIRED: Relation.REISSUE,
    Status.PARTIALLY_PROCESSED: Relation.REMAINDER,
}


@dataclass(frozen=True)
class SecondChance:
    """What an invoice's page may offer: a new invoice of this relation, for this amount."""

    relation: str
    amount: Decimal


class SecondChanceRefused(Exception):
    """This invoice cannot be followed this way; `code` says why, for the API and the page."""

    def __init__(self, code: str, detail: str):
        self.code = code
        self.detail = detail
        super().__init__(detail)


class AlreadyFollowed(Exception):
    """The invoice has its new invoice already (made by an earlier or a concurrent request)."""

    def __init__(self, next_invoice_id: str):
        self.next_invoice_id = next_invoice_id
        super().__init__(f"followed by {next_invoice_id} already")


class RequisitesUnavailable(Exception):
    """The provider issued no usable requisites: nothing was stored; asking again may work."""


def second_chance_offered(*, invoice: Invoice) -> SecondChance | None:
    """What the payer may ask for on this invoice's page now, if anything: what
    `invoice_follow` would make of it, checked the same way.

    Reads only status-box fields of the invoice (see `read_models.STATUS_FIELDS`), and
    the database only for an invoice that may be followed.
    """
    if invoice.status not in FOLLOWABLE_STATUSES or invoice.next_invoice_id is not None:
        return None
    service = selectors.service_enabled_for_invoice(invoice=invoice)
    if service is None:
        return None
    try:
        return _second_chance(invoice, service, relation=None)
    except SecondChanceRefused:
        return None


def _second_chance(invoice: Invoice, service: Service, *, relation: str | None) -> SecondChance:
    """The new invoice `relation` (None: whichever fits the status) would make, or why not."""
    if invoice.next_invoice_id is not None:
        raise SecondChanceRefused("already_followed", f"Followed by {invoice.next_invoice_id}.")
    relation = relation or _RELATION_FOR_STATUS.get(invoice.status)
    if relation == Relation.REISSUE:
        if invoice.status != Status.EXPIRED:
            raise SecondChanceRefused(
                "not_expired", f"Only an expired invoice is reissued; this one is {invoice.status}."
            )
        if not service.reissue_limit:
            raise SecondChanceRefused(
                "reissue_not_enabled", f"The service {service.code} does not reissue invoices."
            )
        if invoice.reissue_count >= service.reissue_limit:
            raise SecondChanceRefused(
                "reissue_limit_reached",
                f"This order was reissued {invoice.reissue_count} times, the service's limit.",
            )
        amount = invoice.payment_amount
    elif relation == Relation.REMAINDER:
        if invoice.status != Status.PARTIALLY_PROCESSED:
            raise SecondChanceRefused(
                "not_partially_paid",
                f"Only a partly paid invoice has a remainder; this one is {invoice.status}.",
            )
        if not service.remainder_enabled:
            raise SecondChanceRefused(
                "remainder_not_enabled",
                f"The service {service.code} does not issue invoices for remainders.",
            )
        # The state machine moves an invoice to partially_processed with its amount only.
        assert invoice.processed_amount is not None
        amount = invoice.payment_amount - invoice.processed_amount
    else:
        raise SecondChanceRefused("not_followable", f"The invoice is {invoice.status}.")
    if problems := invoice_amount_problems(
        amount=amount, currency=invoice.currency, service=service
    ):
        raise SecondChanceRefused(
            "amount_not_payable", f"{amount} {invoice.currency}: {problems[0].detail}"
        )
    return SecondChance(relation=relation, amount=amount)


def invoice_reissue(
    *,
    invoice_id: str,
    actor: Actor,
    merchant: Merchant | None = None,
    test_mode: bool | None = None,
    expires_at: datetime | None = None,
) -> Invoice:
    """A new invoice with fresh requisites for an expired one. See `invoice_follow`."""
    return invoice_follow(
        invoice_id=invoice_id,
        relation=Relation.REISSUE,
        actor=actor,
        merchant=merchant,
        test_mode=test_mode,
        expires_at=expires_at,
    )


def invoice_remainder_issue(
    *,
    invoice_id: str,
    actor: Actor,
    merchant: Merchant | None = None,
    test_mode: bool | None = None,
    expires_at: datetime | None = None,
) -> Invoice:
    """A new invoice for what a partly paid one still lacks. See `invoice_follow`."""
    return invoice_follow(
        invoice_id=invoice_id,
        relation=Relation.REMAINDER,
        actor=actor,
        merchant=merchant,
        test_mode=test_mode,
        expires_at=expires_at,
    )


def invoice_follow(
    *,
    invoice_id: str,
    relation: str,
    actor: Actor,
    merchant: Merchant | None = None,
    test_mode: bool | None = None,
    expires_at: datetime | None = None,
) -> Invoice:
    """Make and store the invoice that follows `invoice_id` as `relation`, linked both ways.

    `merchant` and `test_mode` scope the lookup (the API); the hosted page, whose
    key is the invoice id, passes neither. Raises `InvoiceNotFound`,
    `SecondChanceRefused`, `AlreadyFollowed` (with the invoice made first),
    `InvoiceRejected` for a bad `expires_at`, and `RequisitesUnavailable`.
    """
    previous = selectors.invoice_get(invoice_id=invoice_id)
    if previous is None or (
        merchant is not None
        and (previous.merchant_id != merchant.pk or previous.test_mode != test_mode)
    ):
        raise InvoiceNotFound(invoice_id)
    if previous.next_invoice_id is not None:
        raise AlreadyFollowed(previous.next_invoice_id)
    service = selectors.service_enabled_for_invoice(invoice=previous)
    if service is None:
        raise SecondChanceRefused(
            "service_unavailable",
            f"The service {previous.service.code} is no longer enabled for this merchant.",
        )
    chance = _second_chance(previous, service, relation=relation)
    now = timezone.now()
    expires_at = expires_at or now + service.lifetime
    if problem := expiry_problem(expires_at, now=now):
        raise InvoiceRejected([problem])
    connector = get_connector(service.connector)
    invoice = Invoice(
        id=keys.new_invoice_id(),
        merchant=previous.merchant,
        service=service,
        connector=connector.name,
        provider_polled=connector.polls_status,
        reference_id=previous.reference_id,
        test_mode=previous.test_mode,
        amount=chance.amount,
        currency=previous.currency,
        payment_amount=chance.amount,
        description=previous.description,
        descriptor=previous.descriptor,
        customer=previous.customer,
        metadata=previous.metadata,
        callback_url=previous.callback_url,
        return_url=previous.return_url,
        return_urls=previous.return_urls,
        locale=previous.locale,
        options=previous.options,
        created_at=now,
        updated_at=now,
        expires_at=expires_at,
        previous_invoice_id=previous.id,
        previous_relation=relation,
        reissue_count=previous.reissue_count + (relation == Relation.REISSUE),
    )
    _, failure = requisites_issue(connector, service, invoice)
    if failure is not None:
        raise RequisitesUnavailable(failure)
    try:
        with transaction.atomic():
            _store_linked(
                invoice,
                previous_id=previous.id,
                relation=relation,
                expected_status=previous.status,
                actor=actor,
            )
    except (StatusMoveRefused, IntegrityError) as conflict:
        _raise_for_conflict(previous.id, invoice, service, relation, conflict)
    transaction.on_commit(
        lambda: logger.info(
            "invoice %s: %s of %s, %s %s%s",
            invoice.id,
            relation,
            previous.id,
            invoice.amount,
            invoice.currency,
            " (test)" if invoice.test_mode else "",
        )
    )
    return invoice


def _raise_for_conflict(
    previous_id: str, invoice: Invoice, service: Service, relation: str, conflict: Exception
) -> NoReturn:
    """Why the new invoice could not be stored, as the exception its caller expects."""
    fresh = Invoice.objects.get(pk=previous_id)
    if invoice.provider_reference:
        # The provider's order for the invoice not stored stays unused there.
        logger.warning(
            "invoice %s: %s not stored (%s); provider order %s left unused",
            previous_id,
            relation,
            conflict,
            invoice.provider_reference,
        )
    if fresh.next_invoice_id is not None:
        # Another request followed it first: the invoice made then is the answer.
        raise AlreadyFollowed(fresh.next_invoice_id) from None
    # Moved meanwhile (an expired invoice paid late): refused as that status is.
    _second_chance(fresh, service, relation=relation)
    # Otherwise the provider repeated an order id it gave another invoice: ask again later.
    raise RequisitesUnavailable(
        "The provider's payment details clash with another invoice's."
    ) from conflict


def _store_linked(
    invoice: Invoice, *, previous_id: str, relation: str, expected_status: str, actor: Actor
) -> None:
    """Insert the new invoice and link the previous one to it, in the caller's transaction."""
    created = invoice_created_event(
        invoice, actor=actor, details={"previous_invoice": previous_id, "relation": relation}
    )
    write_together([Insert(invoice), Insert(created)])
    previous = invoice_record_next(
        invoice_id=previous_id,
        next_invoice=invoice,
        relation=relation,
        expected_status=expected_status,
        actor=actor,
    )
    read_models.refresh_after_commit(previous)
