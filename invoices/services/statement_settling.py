"""Invoices paid by a transfer found on the merchant's bank statement."""

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from invoices.currencies import amount_in_currency
from invoices.models import Invoice
from invoices.services.moves import invoice_move
from invoices.state_machine import OPEN_STATUSES, Actor
from invoices.statuses import Resolution, Status

STATEMENT_CAUSE = "statement"
# A transfer can still land on an invoice that expired meanwhile: the state
# machine records that as a late payment.
SETTLEABLE_BY_TRANSFER = (*OPEN_STATUSES, Status.EXPIRED)


def invoice_settle_by_transfer(
    *, invoice_id: str, received: Decimal, actor: Actor, details: Mapping[str, Any]
) -> tuple[Invoice, bool]:
    """A credit on the merchant's account pays this invoice: the full amount (or more)
    is `processed` with the amount received, less is `partially_processed`.

    Returns the moved invoice and whether more than asked was paid; raises
    `StatusMoveRefused` when the invoice left the statuses a payment settles.
    """
    asked, currency = Invoice.objects.values_list("payment_amount", "currency").get(pk=invoice_id)
    asked = amount_in_currency(asked, currency)
    overpaid = received > asked
    message: str | None
    if received < asked:
        to_status, resolution = Status.PARTIALLY_PROCESSED, Resolution.INSUFFICIENT_AMOUNT
        message = f"Paid {received} of {asked} by bank transfer."
    else:
        to_status, resolution = Status.PROCESSED, Resolution.OK
        message = f"Paid {received}, {received - asked} more than asked." if overpaid else None
    invoice = invoice_move(
        invoice_id=invoice_id,
        expected_from=SETTLEABLE_BY_TRANSFER,
        to_status=to_status,
        resolution=resolution,
        resolution_message=message,
        processed_amount=received,
        cause=STATEMENT_CAUSE,
        actor=actor,
        details={**details, "overpaid": overpaid},
    )
    return invoice, overpaid
