"""The one way the services move an invoice: the state machine's move, then its
read models and its log line, once committed."""

import contextlib
import logging
from collections.abc import Collection, Mapping
from decimal import Decimal
from typing import Any, NotRequired, TypedDict, Unpack

from django.db import transaction

from invoices import read_models
from invoices.models import Invoice
from invoices.state_machine import Actor, StatusMoveRefused, invoice_move_status
from invoices.statuses import Resolution, Status

logger = logging.getLogger(__name__)


class Move(TypedDict):
    """The arguments of `invoice_move_status`, which `invoice_move` passes on as they are."""

    invoice_id: str
    to_status: str
    resolution: str
    cause: str
    actor: Actor | str
    expected_from: NotRequired[Collection[str] | None]
    resolution_message: NotRequired[str | None]
    processed_amount: NotRequired[Decimal | None]
    details: NotRequired[Mapping[str, Any] | None]
    also_set: NotRequired[Mapping[str, Any] | None]


def invoice_move(**move: Unpack[Move]) -> Invoice:
    """Every move the services make: the state machine's, then, once it is committed, the
    invoice's read models (the one place they are written from a move).

    An expired invoice paid late whose order has a reissue still waiting for the payer
    closes that reissue right after (in the caller's transaction, when there is one): the
    order is paid, and the payer must not pay it twice. Moves stay one transaction
    each otherwise; this rare second one may be lost only with the process, leaving
    both invoices for an operator to see.
    """
    invoice = invoice_move_status(**move)
    if invoice.resolution == Resolution.LATE_PAYMENT and invoice.next_invoice_id:
        _follower_close(invoice, invoice.next_invoice_id)
    read_models.refresh_after_commit(invoice)
    # What an operator watching the log wants to see, once the move is kept.
    transaction.on_commit(
        lambda: logger.info(
            "invoice %s: %s (%s) by %s, sequence %s",
            invoice.id,
            invoice.status,
            move["cause"],
            move["actor"],
            invoice.sequence,
        )
    )
    return invoice


def _follower_close(paid: Invoice, follower_id: str) -> None:
    """Terminate the invoice that followed `paid`, if the payer has not acted on it yet."""
    follower = Invoice.objects.filter(pk=follower_id).values_list("status", flat=True)
    if follower.first() != Status.CREATED:
        return  # confirmed or paid already: it goes on, and an operator sees both
    # Refused when the payer acted on it meanwhile: both stay, for an operator to see.
    with contextlib.suppress(StatusMoveRefused):
        invoice_move(
            invoice_id=follower_id,
            expected_from={Status.CREATED},
            to_status=Status.TERMINATED,
            resolution=Resolution.TERMINATED,
            resolution_message=f"The order was paid late on {paid.id}.",
            cause="order_paid_late",
            actor=Actor("system", "second_chance"),
        )
