"""The callback outbox (contract section 5): a move's callback, written in the move's transaction.

A callback row exists exactly when its move does: the state machine writes
it beside the move's event, and a rolled-back move leaves none. Its delivery
is enqueued after the commit (`callback_delivery` sends it); a lost message
only delays it, as the sweeper finds every callback that is due.
"""

from invoices import tasks
from invoices.models import CallbackDelivery, Invoice, InvoiceEvent
from invoices.resources import invoice_document
from invoices.signing import new_webhook_id
from invoices.statuses import FINAL_STATUSES


def callback_outbox_write(*, invoice: Invoice, event: InvoiceEvent) -> CallbackDelivery | None:
    """Write the callback of a move. Runs inside the move's transaction."""
    merchant = invoice.merchant
    if merchant.callbacks_only_final and event.to_status not in FINAL_STATUSES:
        return None
    url = invoice.callback_url or merchant.callback_url
    if not url:
        return None
    delivery = CallbackDelivery.objects.create(
        invoice=invoice,
        merchant=merchant,
        event=event,
        webhook_id=new_webhook_id(),
        sequence=event.sequence,
        test_mode=invoice.test_mode,
        url=url,
        body=invoice_document(invoice),
        next_attempt_at=event.created_at,
        pending_since=event.created_at,
        created_at=event.created_at,
    )
    tasks.enqueue_after_commit(tasks.deliver_callbacks, invoice_id=invoice.id)
    return delivery
