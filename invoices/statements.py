"""Bank statements settle invoices of `static` services: import, match, assign, dismiss.

A statement names the account it was paid into; each credit is matched to an
invoice of a static service paid into that account, by the invoice's RF
creditor reference (structured, or anywhere in the free text, check digits
verified) or else by its `reference_id` as a whole word of the text, then
checked by currency and amount. Each credit is kept once per account and bank
reference (`StatementEntry`), in the transaction of the move it makes, so a
file imported twice, or twice at once, moves nothing twice. Whatever cannot be
matched waits for an operator, who assigns it to an invoice or dismisses it.
"""

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from connectors.codes import PaymentCodeError
from connectors.codes.creditor_reference import (
    creditor_references_in,
    invoice_id_from_creditor_reference,
)
from connectors.codes.iban import normalize_iban
from invoices import services
from invoices.currencies import amount_in_currency, has_valid_precision
from invoices.models import (
    Invoice,
    Merchant,
    OperatorAction,
    Service,
    StatementEntry,
    StatementImport,
)
from invoices.state_machine import Actor, StatusMoveRefused
from invoices.statement_formats import CreditEntry, StatementFormatError, statement_parse

__all__ = ["StatementFormatError", "statement_import"]

logger = logging.getLogger(__name__)

_TRIM = ".,;:!?()[]{}<>\"'«»/"
_MAX_WORDS = 200


@dataclass(frozen=True)
class EntryResult:
    """What one credit of the file came to."""

    bank_reference: str
    amount: str
    currency: str
    state: str  # matched, unmatched, or the state it had when first imported
    outcome: str
    invoice_id: str | None
    overpaid: bool
    duplicate: bool


@dataclass(frozen=True)
class ImportResult:
    statement_import: StatementImport
    entries: list[EntryResult]


class StatementEntryRefused(Exception):
    """An operator's assignment or dismissal that cannot be done, and why."""


def statement_import(
    *,
    data: bytes,
    file_name: str,
    file_format: str,
    imported_by: str,
    test_mode: bool,
    merchant: Merchant | None = None,
) -> ImportResult:
    """Read a statement file and settle what it pays; raises `StatementFormatError` when
    it is not one. `merchant` limits matching to that merchant's invoices (an API import);
    `test_mode` to invoices of that mode."""
    parsed = statement_parse(data, file_format=file_format)
    record = StatementImport.objects.create(
        imported_by=imported_by,
        merchant=merchant,
        test_mode=test_mode,
        file_name=file_name[:255],
        file_format=parsed.message,
        file_sha256=hashlib.sha256(data).hexdigest(),
        entries_read=len(parsed.entries),
        debits_ignored=parsed.debits_ignored,
    )
    actor = Actor("statement", str(record.pk))
    scopes: dict[str, QuerySet[Invoice]] = {}
    results = []
    for credit in parsed.entries:
        if credit.account_iban not in scopes:
            scopes[credit.account_iban] = _invoices_paid_into(
                credit.account_iban, test_mode=test_mode, merchant=merchant
            )
        results.append(_entry_import(record, credit, scopes[credit.account_iban], actor))
    new = [result.state for result in results if not result.duplicate]
    counts = {
        "matched": new.count(StatementEntry.State.MATCHED),
        "unmatched": new.count(StatementEntry.State.UNMATCHED),
        "duplicates": len(results) - len(new),
    }
    StatementImport.objects.filter(pk=record.pk).update(**counts)
    for name, value in counts.items():
        setattr(record, name, value)
    logger.info(
        "statement %s (%s, %s) by %s: %s read, %s matched, %s unmatched, %s duplicates",
        record.pk,
        record.file_name,
        record.file_format,
        imported_by,
        record.entries_read,
        record.matched,
        record.unmatched,
        record.duplicates,
    )
    return ImportResult(statement_import=record, entries=results)


def _invoices_paid_into(
    account_iban: str, *, test_mode: bool, merchant: Merchant | None
) -> QuerySet[Invoice]:
    """Invoices of the static services whose configured IBAN is this account."""
    service_ids = [
        pk
        for pk, settings in Service.objects.filter(connector="static").values_list(
            "pk", "connector_settings"
        )
        if _configured_iban(settings) == account_iban
    ]
    invoices = Invoice.objects.filter(service_id__in=service_ids, test_mode=test_mode)
    return invoices.filter(merchant=merchant) if merchant is not None else invoices


def _configured_iban(settings: object) -> str | None:
    requisites = settings.get("requisites") if isinstance(settings, dict) else None
    iban = requisites.get("iban") if isinstance(requisites, dict) else None
    try:
        return normalize_iban(iban) if isinstance(iban, str) else None
    except PaymentCodeError:
        return None


def _entry_import(
    record: StatementImport, credit: CreditEntry, scope: QuerySet[Invoice], actor: Actor
) -> EntryResult:
    with transaction.atomic():
        try:
            # The unique (account, bank reference, mode) decides who imports a credit
            # first: a concurrent import of it waits here, then finds it taken.
            with transaction.atomic():
                entry = StatementEntry.objects.create(
                    statement_import=record,
                    account_iban=credit.account_iban,
                    bank_reference=credit.bank_reference[:255],
                    test_mode=record.test_mode,
                    amount=credit.amount,
                    currency=credit.currency,
                    booked_on=credit.booked_on,
                    debtor_name=credit.debtor_name[:255],
                    remittance_unstructured=credit.remittance_unstructured,
                    remittance_structured=" ".join(credit.remittance_structured)[:500],
                    state=StatementEntry.State.UNMATCHED,
                    outcome="",
                )
        except IntegrityError:
            return _duplicate(record, credit)
        invoice, problem = _match(credit, scope)
        if problem is None:
            assert invoice is not None  # _match names a problem whenever it finds no invoice
            problem = _settle(entry, invoice, actor, details={"statement_entry": entry.pk})
        if problem is None:
            entry.state = StatementEntry.State.MATCHED
        else:
            entry.invoice = invoice
            entry.outcome = problem
        entry.save(update_fields=["state", "invoice", "outcome", "overpaid"])
    return _result(entry, duplicate=False)


def _duplicate(record: StatementImport, credit: CreditEntry) -> EntryResult:
    first = StatementEntry.objects.get(
        account_iban=credit.account_iban,
        bank_reference=credit.bank_reference[:255],
        test_mode=record.test_mode,
    )
    return EntryResult(
        bank_reference=credit.bank_reference,
        amount=str(credit.amount),
        currency=credit.currency,
        state=first.state,
        outcome=f"duplicate: imported before by statement import {first.statement_import_id}",
        invoice_id=first.invoice_id,
        overpaid=first.overpaid,
        duplicate=True,
    )


def _result(entry: StatementEntry, *, duplicate: bool) -> EntryResult:
    return EntryResult(
        bank_reference=entry.bank_reference,
        amount=str(entry.amount),
        currency=entry.currency,
        state=entry.state,
        outcome=entry.outcome,
        invoice_id=entry.invoice_id,
        overpaid=entry.overpaid,
        duplicate=duplicate,
    )


def _match(credit: CreditEntry, scope: QuerySet[Invoice]) -> tuple[Invoice | None, str | None]:
    """The one invoice a credit pays, or why there is none."""
    references = [
        *credit.remittance_structured,
        *creditor_references_in(credit.remittance_unstructured),
    ]
    by_reference = {
        invoice_id
        for reference in references
        if (invoice_id := invoice_id_from_creditor_reference(reference))
    }
    candidates = list(scope.filter(pk__in=by_reference)) if by_reference else []
    if not candidates:
        candidates = _newest_of_each_order(scope.filter(reference_id__in=_words(credit)))
    if not candidates:
        return None, "no invoice of this account has a reference the payment names"
    if len(candidates) > 1:
        listed = ", ".join(sorted(invoice.id for invoice in candidates))
        return None, f"several invoices match ({listed}): assign the right one"
    invoice = candidates[0]
    return invoice, _payment_problem(credit.amount, credit.currency, invoice)


def _newest_of_each_order(invoices: QuerySet[Invoice]) -> list[Invoice]:
    """One invoice per order: a reference names an order, whose reissues and remainders
    share it, and what the payer transferred pays the one they were shown last."""
    newest: dict[tuple[int, bool, str], Invoice] = {}
    for invoice in invoices.order_by("created_at", "id"):
        newest[(invoice.merchant_id, invoice.test_mode, invoice.reference_id)] = invoice
    return list(newest.values())


def _payment_problem(amount: Decimal, currency: str, invoice: Invoice) -> str | None:
    """Why this credit cannot settle this invoice, if it cannot."""
    if currency != invoice.currency:
        return f"currency mismatch: paid in {currency}, invoiced in {invoice.currency}"
    if not has_valid_precision(amount, invoice.currency):
        return f"the amount {amount} has more digits than {invoice.currency} allows"
    if invoice.status not in services.SETTLEABLE_BY_TRANSFER:
        return f"the invoice is {invoice.status} already: refund or assign elsewhere"
    return None


def _words(credit: CreditEntry) -> list[str]:
    """The words of the remittance text (and structured references) a reference_id may be."""
    text = " ".join([credit.remittance_unstructured, *credit.remittance_structured])
    words = {word.strip(_TRIM) for word in text.split()[:_MAX_WORDS]}
    return sorted(word for word in words if 0 < len(word) <= 255)


def _settle(
    entry: StatementEntry, invoice: Invoice, actor: Actor, *, details: Mapping[str, object]
) -> str | None:
    """Move the invoice for this credit; None when moved, else why not (the entry waits)."""
    try:
        _moved, overpaid = services.invoice_settle_by_transfer(
            invoice_id=invoice.id,
            received=entry.amount,
            actor=actor,
            details={**details, "bank_reference": entry.bank_reference},
        )
    except StatusMoveRefused as refused:
        return f"the invoice is {refused.current_status} already: refund or assign elsewhere"
    entry.invoice = invoice
    entry.overpaid = overpaid
    asked = amount_in_currency(invoice.payment_amount, invoice.currency)
    if overpaid:
        entry.outcome = f"processed; paid {entry.amount}, {entry.amount - asked} more than asked"
    elif entry.amount < asked:
        entry.outcome = f"partially_processed: paid {entry.amount} of {asked}"
    else:
        entry.outcome = "processed"
    return None


def statement_entry_assign(
    *, entry_id: int, invoice_id: str, reason: str, operator: str
) -> StatementEntry:
    """An operator settles an unmatched credit on the invoice it pays: the same move as a
    match, recorded with the operator's reason on the invoice."""
    invoice_id = invoice_id.strip()
    with transaction.atomic():
        entry = _unmatched_locked(entry_id)
        invoice = Invoice.objects.filter(pk=invoice_id).first()
        if invoice is None:
            raise StatementEntryRefused(f"No invoice {invoice_id}.")
        if invoice.test_mode != entry.test_mode:
            mode = "test" if entry.test_mode else "live"
            raise StatementEntryRefused(f"A {mode}-mode credit settles {mode}-mode invoices only.")
        problem = _payment_problem(entry.amount, entry.currency, invoice) or _settle(
            entry,
            invoice,
            Actor("operator", operator),
            details={"statement_entry": entry.pk, "reason": reason},
        )
        if problem is not None:
            raise StatementEntryRefused(problem[0].upper() + problem[1:] + ".")
        _resolve(entry, StatementEntry.State.ASSIGNED, reason, operator)
        OperatorAction.objects.create(
            invoice=invoice,
            action="statement_assign",
            operator=operator,
            reason=reason,
            outcome=f"credit {entry.bank_reference} of {entry.account_iban}: {entry.outcome}",
        )
    return entry


def statement_entry_dismiss(*, entry_id: int, reason: str, operator: str) -> StatementEntry:
    """An operator decides an unmatched credit pays no invoice (refunded, not ours...)."""
    with transaction.atomic():
        entry = _unmatched_locked(entry_id)
        entry.outcome = f"dismissed: {reason}"[:300]
        _resolve(entry, StatementEntry.State.DISMISSED, reason, operator)
    return entry


def _unmatched_locked(entry_id: int) -> StatementEntry:
    entry = StatementEntry.objects.select_for_update().filter(pk=entry_id).first()
    if entry is None:
        raise StatementEntryRefused(f"No statement entry {entry_id}.")
    if entry.state != StatementEntry.State.UNMATCHED:
        raise StatementEntryRefused(f"The entry is {entry.state} already.")
    return entry


def _resolve(entry: StatementEntry, state: str, reason: str, operator: str) -> None:
    entry.state = state
    entry.resolved_by = operator
    entry.resolved_at = timezone.now()
    entry.resolution_reason = reason
    entry.save()
