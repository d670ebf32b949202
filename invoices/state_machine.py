"""The invoice state machine of contract section 4, in one place.

`ALLOWED_MOVES` is the whole table; `invoice_move_status` is the only code
that changes an invoice's status. It locks the row, checks the move against
the table (and against the status the caller saw, so a stale caller cannot
turn one state into two moves), bumps `sequence` and writes the event, all in
one transaction.
"""

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from invoices.models import Invoice, InvoiceEvent, RefusedMove
from invoices.outbox import callback_outbox_write
from invoices.statuses import FINAL_STATUSES, PAID_STATUSES, Resolution, Status

OPEN_STATUSES = (Status.CREATED, Status.PROCESSING, Status.PROCESS_PENDING)
# Statuses in which the provider has the next word: polling asks it.
WAITING_ON_PROVIDER = (Status.PROCESSING, Status.PROCESS_PENDING)
_OUTCOMES = (Status.PROCESSED, Status.PARTIALLY_PROCESSED, Status.PROCESS_FAILED)
_CLOSED_WITHOUT_PAYMENT = (Status.EXPIRED, Status.TERMINATED)

ALLOWED_MOVES: Mapping[str, frozenset[str]] = {
    Status.CREATED: frozenset(
        {Status.PROCESSING, Status.PROCESS_PENDING, *_OUTCOMES, *_CLOSED_WITHOUT_PAYMENT}
    ),
    Status.PROCESSING: frozenset({Status.PROCESS_PENDING, *_OUTCOMES, *_CLOSED_WITHOUT_PAYMENT}),
    Status.PROCESS_PENDING: frozenset({*_OUTCOMES, *_CLOSED_WITHOUT_PAYMENT}),
    # A payment reported after expiry is never dropped: it lands as a late payment.
    Status.EXPIRED: frozenset(PAID_STATUSES),
    Status.PROCESSED: frozenset(),
    Status.PARTIALLY_PROCESSED: frozenset(),
    Status.PROCESS_FAILED: frozenset(),
    Status.TERMINATED: frozenset(),
}


def is_move_allowed(from_status: str, to_status: str) -> bool:
    return to_status in ALLOWED_MOVES.get(from_status, frozenset())


def sources_of(to_status: str) -> frozenset[str]:
    """Every status from which `to_status` can be reached."""
    return frozenset(source for source, targets in ALLOWED_MOVES.items() if to_status in targets)


class StatusMoveRefused(Exception):
    """A status move that did not happen; the invoice is unchanged."""

    def __init__(self, *, invoice_id: str, current_status: str, to_status: str, reason: str):
        self.invoice_id = invoice_id
        self.current_status = current_status
        self.to_status = to_status
        self.reason = reason
        super().__init__(f"{invoice_id}: {current_status} → {to_status} refused: {reason}")


class StatusMoveNotAllowed(StatusMoveRefused):
    """The table has no such move (e.g. out of a final status)."""


class StatusChangedMeanwhile(StatusMoveRefused):
    """The invoice is no longer in the status the caller acted upon: someone moved first."""


@dataclass(frozen=True)
class Actor:
    """Who caused a move, as written into the timeline: `kind:name`."""

    kind: str
    name: str = ""

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}" if self.name else self.kind


def invoice_move_status(
    *,
    invoice_id: str,
    to_status: str,
    resolution: str,
    cause: str,
    actor: Actor | str,
    expected_from: Collection[str] | None = None,
    resolution_message: str | None = None,
    processed_amount: Decimal | None = None,
    details: Mapping[str, Any] | None = None,
    also_set: Mapping[str, Any] | None = None,
) -> Invoice:
    """Move one invoice to `to_status`, or raise `StatusMoveRefused` having changed nothing.

    `expected_from` names the statuses the caller's decision was based on
    (e.g. a confirmation is only valid from `created`); when the row is in any
    other status the move is refused as `StatusChangedMeanwhile`.
    A paid status reached from `expired` is recorded as `late_payment`. A move
    to `processed` without `processed_amount` is paid in full: the amount is
    the payment amount of the row as locked, decided once, under the lock.
    The move's event and its callback (the outbox row) are written in the
    same transaction; a refused move is recorded as a `RefusedMove`.
    `also_set` names other columns written by the move's own UPDATE (a
    confirmation with the move it causes, say): only if the move is made.
    """
    try:
        return _move(
            invoice_id=invoice_id,
            to_status=to_status,
            resolution=resolution,
            cause=cause,
            actor=actor,
            expected_from=expected_from,
            resolution_message=resolution_message,
            processed_amount=processed_amount,
            details=details,
            also_set=also_set or {},
        )
    except StatusMoveRefused as refused:
        RefusedMove.objects.create(
            invoice_id=invoice_id,
            current_status=refused.current_status,
            to_status=to_status,
            reason=refused.reason[:200],
            cause=cause,
            actor=str(actor),
        )
        raise


def _move(
    *,
    invoice_id: str,
    to_status: str,
    resolution: str,
    cause: str,
    actor: Actor | str,
    expected_from: Collection[str] | None,
    resolution_message: str | None,
    processed_amount: Decimal | None,
    details: Mapping[str, Any] | None,
    also_set: Mapping[str, Any],
) -> Invoice:
    if to_status == Status.PARTIALLY_PROCESSED and (
        processed_amount is None or processed_amount <= 0
    ):
        raise ValueError("a partial payment names its amount, more than zero")

    if clash := _MOVE_COLUMNS.intersection(also_set):
        raise ValueError(f"the move itself writes {sorted(clash)}")

    with transaction.atomic():
        # Merchant and service come along for the callback the move writes; only the
        # invoice row is locked.
        invoice = (
            Invoice.objects.select_for_update(of=("self",))
            .select_related("merchant", "service")
            .filter(pk=invoice_id)
            .first()
        )
        if invoice is None:
            raise Invoice.DoesNotExist(f"No invoice {invoice_id}.")
        current = invoice.status

        def refuse(error_class: type[StatusMoveRefused], reason: str) -> StatusMoveRefused:
            return error_class(
                invoice_id=invoice_id, current_status=current, to_status=to_status, reason=reason
            )

        if expected_from is not None and current not in expected_from:
            raise refuse(StatusChangedMeanwhile, f"expected {' or '.join(sorted(expected_from))}")
        if not is_move_allowed(current, to_status):
            raise refuse(StatusMoveNotAllowed, "not an allowed move")
        if (
            to_status == Status.PARTIALLY_PROCESSED
            and processed_amount is not None  # never None here: refused above
            and processed_amount >= invoice.payment_amount
        ):
            raise ValueError("a partial payment is less than the payment amount")
        if to_status == Status.PROCESSED and processed_amount is None:
            # Paid in full and no amount said: the amount asked, as the locked row has it.
            processed_amount = invoice.payment_amount

        if current == Status.EXPIRED:
            resolution = Resolution.LATE_PAYMENT
        now = timezone.now()
        changes: dict[str, Any] = {
            "status": to_status,
            "resolution": resolution,
            "resolution_message": resolution_message,
            "updated_at": now,
        }
        if to_status in PAID_STATUSES:
            changes["processed_at"] = now
            changes["processed_amount"] = processed_amount
        changes.update(_polling_after(invoice, to_status, now))
        changes.update(also_set)
        Invoice.objects.filter(pk=invoice_id).update(sequence=F("sequence") + 1, **changes)
        for name, value in changes.items():
            setattr(invoice, name, value)
        invoice.sequence += 1

        event = InvoiceEvent.objects.create(
            invoice=invoice,
            sequence=invoice.sequence,
            from_status=current,
            to_status=to_status,
            resolution=resolution,
            resolution_message=resolution_message,
            cause=cause,
            actor=str(actor),
            details=dict(details or {}),
            created_at=now,
        )
        callback_outbox_write(invoice=invoice, event=event)
    return invoice


# What every move writes itself, besides the sequence.
_MOVE_COLUMNS = frozenset(
    {
        "status",
        "resolution",
        "resolution_message",
        "updated_at",
        "processed_at",
        "processed_amount",
        "next_poll_at",
        "poll_attempts",
        "sequence",
    }
)


def _polling_after(invoice: Invoice, to_status: str, now: datetime) -> dict[str, Any]:
    """When to ask the provider next, once the invoice is in `to_status`."""
    if to_status in FINAL_STATUSES or to_status not in WAITING_ON_PROVIDER:
        return {"next_poll_at": None, "poll_attempts": 0}
    if not invoice.provider_polled:
        return {"next_poll_at": None, "poll_attempts": 0}
    first = timedelta(seconds=settings.POLL_FIRST_DELAY_SECONDS)
    return {"next_poll_at": now + first, "poll_attempts": 0}


def invoice_record_next(
    *,
    invoice_id: str,
    next_invoice: Invoice,
    relation: str,
    expected_status: str,
    actor: Actor | str,
) -> Invoice:
    """Link a final invoice to the invoice made from it (its reissue or its remainder).

    Not a status move, but a change of the resource all the same: the row gains its
    `next_invoice`, `sequence` is bumped (every cached copy and every merchant then
    tells the newer document from the older), the event is kept in the timeline and
    the merchant gets the callback that announces the new invoice. Runs inside the
    caller's transaction, which also inserts `next_invoice`; raises
    `StatusChangedMeanwhile` when the invoice was followed meanwhile, or is no longer
    in `expected_status`, the status the new invoice was decided on (an expired
    invoice paid late while its reissue was being issued is not reissued).
    """
    invoice = (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("merchant", "service")
        .get(pk=invoice_id)
    )
    if invoice.next_invoice_id is not None or invoice.status != expected_status:
        raise StatusChangedMeanwhile(
            invoice_id=invoice_id,
            current_status=invoice.status,
            to_status=invoice.status,
            reason=f"followed by {invoice.next_invoice_id} already"
            if invoice.next_invoice_id
            else f"expected {expected_status}",
        )
    now = timezone.now()
    changes = {"next_invoice_id": next_invoice.id, "next_relation": relation, "updated_at": now}
    Invoice.objects.filter(pk=invoice_id).update(sequence=F("sequence") + 1, **changes)
    for name, value in changes.items():
        setattr(invoice, name, value)
    invoice.sequence += 1
    event = InvoiceEvent.objects.create(
        invoice=invoice,
        sequence=invoice.sequence,
        from_status=invoice.status,
        to_status=invoice.status,
        resolution=invoice.resolution,
        resolution_message=invoice.resolution_message,
        cause=f"{relation}_issued",
        actor=str(actor),
        details={"next_invoice": next_invoice.id},
        created_at=now,
    )
    callback_outbox_write(invoice=invoice, event=event)
    return invoice
