"""What an operator does to invoices by hand: a recorded move, or a poll asked for now."""

from invoices import tasks
from invoices.models import Invoice
from invoices.services.moves import invoice_move
from invoices.state_machine import WAITING_ON_PROVIDER, Actor
from invoices.statuses import Resolution, Status

OPERATOR_MOVES = {
    "processed": (Status.PROCESSED, Resolution.OK),
    "process_failed": (Status.PROCESS_FAILED, Resolution.DECLINED),
    "expired": (Status.EXPIRED, Resolution.EXPIRED),
    "terminated": (Status.TERMINATED, Resolution.TERMINATED),
}


def invoice_operator_move(*, invoice_id: str, outcome: str, reason: str, operator: str) -> Invoice:
    """An operator marks an invoice paid, failed, expired or terminated, with a recorded reason."""
    to_status, resolution = OPERATOR_MOVES[outcome]
    return invoice_move(
        invoice_id=invoice_id,
        to_status=to_status,
        resolution=resolution,
        resolution_message=reason,
        cause="operator_action",
        actor=Actor("operator", operator),
        details={"reason": reason},
    )


def invoices_poll_soon(*, invoice_ids: list[str]) -> int:
    """Ask a worker to poll these invoices' providers now (those still waiting on one)."""
    waiting = list(
        Invoice.objects.filter(pk__in=invoice_ids, status__in=WAITING_ON_PROVIDER).values_list(
            "id", flat=True
        )
    )
    for invoice_id in waiting:
        tasks.enqueue_after_commit(tasks.poll_invoice, invoice_id=invoice_id)
    return len(waiting)
