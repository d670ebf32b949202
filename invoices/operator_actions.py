"""What operators do to invoices from the admin, each recorded with who, when and why.

The admin checks the operator's permission before calling in here (see
`INVOICE_ACTIONS`); every call records one `OperatorAction` per invoice it
acted on, in the transaction of the action itself, whatever came of it.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from invoices import callback_delivery, services
from invoices.models import CallbackDelivery, Invoice, Merchant, OperatorAction
from invoices.operator_groups import MOVE_STATUS, POLL_PROVIDER, RESEND_CALLBACK
from invoices.state_machine import ALLOWED_MOVES, WAITING_ON_PROVIDER, StatusMoveRefused
from invoices.statuses import Status


@dataclass(frozen=True)
class InvoiceAction:
    """One thing an operator can do to an invoice, from the list or from its page."""

    name: str
    label: str
    # The `invoices.<codename>` permission it needs beyond seeing the invoice.
    permission: str
    # A status move's destination; None for actions that move nothing.
    to_status: str | None = None

    def applies_to(self, invoice: Invoice) -> bool:
        """Worth offering on this invoice's page: a move the state machine allows from its
        status, a poll while it waits on the provider, a resend once it has a callback."""
        if self.to_status:
            return self.to_status in ALLOWED_MOVES[invoice.status]
        if self.permission == POLL_PROVIDER:
            return invoice.status in WAITING_ON_PROVIDER
        return invoice.callbacks.exists()


INVOICE_ACTIONS: dict[str, InvoiceAction] = {
    action.name: action
    for action in (
        InvoiceAction("mark_paid", "Mark paid", MOVE_STATUS, Status.PROCESSED),
        InvoiceAction("mark_failed", "Mark failed", MOVE_STATUS, Status.PROCESS_FAILED),
        InvoiceAction("expire", "Expire", MOVE_STATUS, Status.EXPIRED),
        InvoiceAction("terminate", "Terminate", MOVE_STATUS, Status.TERMINATED),
        InvoiceAction("resend_callback", "Resend the latest callback", RESEND_CALLBACK),
        InvoiceAction("poll_provider_now", "Poll the provider now", POLL_PROVIDER),
    )
}


@dataclass(frozen=True)
class ActionResult:
    invoice_id: str
    done: bool
    outcome: str


def invoices_operator_act(
    *, action: str, invoice_ids: Iterable[str], reason: str, operator: str
) -> list[ActionResult]:
    """Do `action` (a name in INVOICE_ACTIONS) to each invoice, recording who, when and why."""
    act = _ACT[action]
    results = []
    for invoice_id in invoice_ids:
        with transaction.atomic():
            result = act(INVOICE_ACTIONS[action], invoice_id, reason, operator)
            _record(invoice_id, action, operator, reason, result.outcome)
        results.append(result)
    return results


def _move(action: InvoiceAction, invoice_id: str, reason: str, operator: str) -> ActionResult:
    assert action.to_status is not None  # _ACT gives only the moving actions to _move
    try:
        services.invoice_operator_move(
            invoice_id=invoice_id, outcome=action.to_status, reason=reason, operator=operator
        )
    except StatusMoveRefused as refused:
        return ActionResult(invoice_id, False, f"refused, it is {refused.current_status}")
    return ActionResult(invoice_id, True, f"moved to {action.to_status}")


def _resend_latest_callback(
    action: InvoiceAction, invoice_id: str, reason: str, operator: str
) -> ActionResult:
    if callback_delivery.invoice_callback_resend(invoice_id=invoice_id):
        return ActionResult(invoice_id, True, "latest callback queued to be sent again")
    return ActionResult(invoice_id, False, "no callback to resend")


def _poll_now(action: InvoiceAction, invoice_id: str, reason: str, operator: str) -> ActionResult:
    if services.invoices_poll_soon(invoice_ids=[invoice_id]):
        return ActionResult(invoice_id, True, "provider will be polled in a moment")
    return ActionResult(invoice_id, False, "not waiting on a provider, nothing to poll")


_ACT = {
    **{name: _move for name, action in INVOICE_ACTIONS.items() if action.to_status},
    "resend_callback": _resend_latest_callback,
    "poll_provider_now": _poll_now,
}


@transaction.atomic
def callbacks_operator_resend(*, delivery_ids: list[int], reason: str, operator: str) -> int:
    """Resend these callbacks, recorded on each invoice they belong to."""
    deliveries = list(
        CallbackDelivery.objects.filter(pk__in=delivery_ids).values_list("invoice_id", "sequence")
    )
    count = callback_delivery.callbacks_resend(delivery_ids=delivery_ids)
    for invoice_id, sequence in deliveries:
        _record(
            invoice_id,
            "resend_callback",
            operator,
            reason,
            f"callback #{sequence} queued to be sent again",
        )
    return count


def callbacks_operator_resend_failed(
    *, merchant: Merchant, since: datetime, until: datetime, reason: str, operator: str
) -> int:
    """Every callback of `merchant` given up on in [since, until), resent and recorded."""
    return callbacks_operator_resend(
        delivery_ids=callback_delivery.callbacks_failed_ids(
            merchant=merchant, since=since, until=until
        ),
        reason=reason,
        operator=operator,
    )


def _record(invoice_id: str, action: str, operator: str, reason: str, outcome: str) -> None:
    OperatorAction.objects.create(
        invoice_id=invoice_id, action=action, operator=operator, reason=reason, outcome=outcome
    )
