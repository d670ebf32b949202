"""Writes: the services, one module per subject.

Callers import the package (`from invoices import services`) and call what it
re-exports here, so a service moving between modules changes no caller. The
payer's second chance is the exception: its callers name the module
(`from invoices.services import second_chance`), as they did before it moved here.
The modules import one another directly, never this package, so that none of
them depends on the order this file loads them in.
"""

from invoices.languages import LOCALES  # the locales an invoice may ask for
from invoices.services.confirmation import (
    MAX_INVALID_CONFIRMATIONS,
    ConfirmationLocked,
    ConfirmationRejected,
    InvoiceNotConfirmable,
    InvoiceNotFound,
    invoice_confirm,
    invoice_forward_confirmation,
)
from invoices.services.idempotency import (
    IDEMPOTENCY_WINDOW,
    IdempotencyKeyInProgress,
    IdempotencyKeyReused,
    IdempotentAnswer,
    StoredResponse,
    idempotency_answer,
    idempotency_begin,
    idempotency_finish,
    idempotency_keys_purge,
)
from invoices.services.invoice_creation import (
    DuplicateReference,
    invoice_create,
    invoice_data,
    requisites_issue,
)
from invoices.services.invoice_validation import (
    MAX_AMOUNT_DIGITS,
    MAX_INVOICE_LIFETIME,
    RETURN_URL_OUTCOMES,
    FieldProblem,
    InvoiceRejected,
    invoice_amount_problems,
)
from invoices.services.merchants import (
    MerchantSetupError,
    merchant_create,
    merchant_issue_keys,
    merchant_rotate_secrets,
    service_problems,
    service_save,
    service_secrets_reseal,
)
from invoices.services.operator_moves import (
    OPERATOR_MOVES,
    invoice_operator_move,
    invoices_poll_soon,
)
from invoices.services.polling import (
    EXPIRY_BATCH,
    POLL_CLAIM_BATCH,
    invoice_poll,
    invoices_claim_due_polls,
    invoices_expire_overdue,
    poll_delay,
)
from invoices.services.provider_updates import (
    NotificationEndpointUnknown,
    NotificationRefused,
    invoice_apply_provider_status,
    provider_event_process,
    provider_events_sweep,
    provider_notification_receive,
)
from invoices.services.statement_settling import (
    SETTLEABLE_BY_TRANSFER,
    STATEMENT_CAUSE,
    invoice_settle_by_transfer,
)

__all__ = [
    "EXPIRY_BATCH",
    "IDEMPOTENCY_WINDOW",
    "LOCALES",
    "MAX_AMOUNT_DIGITS",
    "MAX_INVALID_CONFIRMATIONS",
    "MAX_INVOICE_LIFETIME",
    "OPERATOR_MOVES",
    "POLL_CLAIM_BATCH",
    "RETURN_URL_OUTCOMES",
    "SETTLEABLE_BY_TRANSFER",
    "STATEMENT_CAUSE",
    "ConfirmationLocked",
    "ConfirmationRejected",
    "DuplicateReference",
    "FieldProblem",
    "IdempotencyKeyInProgress",
    "IdempotencyKeyReused",
    "InvoiceNotConfirmable",
    "InvoiceNotFound",
    "InvoiceRejected",
    "MerchantSetupError",
    "NotificationEndpointUnknown",
    "NotificationRefused",
    "StoredResponse",
    "IdempotentAnswer",
    "idempotency_answer",
    "idempotency_begin",
    "idempotency_finish",
    "idempotency_keys_purge",
    "invoice_amount_problems",
    "invoice_apply_provider_status",
    "invoice_confirm",
    "invoice_create",
    "invoice_data",
    "invoice_forward_confirmation",
    "invoice_operator_move",
    "invoice_poll",
    "invoice_settle_by_transfer",
    "invoices_claim_due_polls",
    "invoices_expire_overdue",
    "invoices_poll_soon",
    "merchant_create",
    "merchant_issue_keys",
    "merchant_rotate_secrets",
    "poll_delay",
    "provider_event_process",
    "provider_events_sweep",
    "provider_notification_receive",
    "requisites_issue",
    "service_problems",
    "service_save",
    "service_secrets_reseal",
]
