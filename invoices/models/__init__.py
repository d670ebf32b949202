"""Merchants, services, invoices and the append-only log of their moves.

Models hold data and constraints only; every write goes through
`invoices.services` and every status move through `invoices.state_machine`.
One module per concern; everything is named here too, so `from invoices.models
import Invoice` works wherever it did (and migrations name
`invoices.models.validate_method_name_translations`).
"""

from invoices.models.callbacks import CallbackAttempt, CallbackDelivery
from invoices.models.fields import AMOUNT_FIELD, CURRENCY_CHOICES
from invoices.models.invoices import Invoice, InvoiceEvent, OperatorAction, RefusedMove
from invoices.models.merchants import (
    METHOD_NAME_MAX_LENGTH,
    IdempotencyKey,
    Merchant,
    MerchantService,
    Service,
    method_name_translations_problems,
    validate_method_name_translations,
)
from invoices.models.provider_events import ProviderEvent
from invoices.models.statements import StatementEntry, StatementImport

__all__ = [
    "AMOUNT_FIELD",
    "CURRENCY_CHOICES",
    "METHOD_NAME_MAX_LENGTH",
    "CallbackAttempt",
    "CallbackDelivery",
    "IdempotencyKey",
    "Invoice",
    "InvoiceEvent",
    "Merchant",
    "MerchantService",
    "OperatorAction",
    "ProviderEvent",
    "RefusedMove",
    "Service",
    "StatementEntry",
    "StatementImport",
    "method_name_translations_problems",
    "validate_method_name_translations",
]
