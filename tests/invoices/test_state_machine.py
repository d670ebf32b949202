"""Every pair of statuses: the allowed moves succeed, every other is refused."""

from decimal import Decimal
from itertools import product

import pytest
from django.db import DatabaseError, IntegrityError, transaction

from invoices.models import Invoice, InvoiceEvent
from invoices.state_machine import (
    Actor,
    StatusChangedMeanwhile,
    StatusMoveNotAllowed,
    invoice_move_status,
)
from invoices.statuses import Status
from tests.factories import InvoiceFactory

pytestmark = pytest.mark.django_db

# Contract section 4, written out by hand so that the table in the code is
# checked against the contract rather than against itself.
OPEN = {"created", "processing", "process_pending"}
EXPECTED_MOVES = {
    ("created", "processing"),
    ("created", "process_pending"),
    ("processing", "process_pending"),
    *{(source, outcome) for source in OPEN for outcome in ("processed", "partially_processed")},
    *{(source, "process_failed") for source in OPEN},
    *{(source, closed) for source in OPEN for closed in ("expired", "terminated")},
    ("expired", "processed"),
    ("expired", "partially_processed"),
}
RESOLUTION_FOR = {
    "processing": "ok",
    "process_pending": "ok",
    "processed": "ok",
    "partially_processed": "insufficient_amount",
    "process_failed": "declined",
    "expired": "expired",
    "terminated": "terminated",
    "created": "ok",
}
PROCESSED_AMOUNT_FOR = {"processed": Decimal("2126.68"), "partially_processed": Decimal("1063.34")}


def _move(invoice, to_status, **extra):
    return invoice_move_status(
        invoice_id=invoice.id,
        to_status=to_status,
        resolution=RESOLUTION_FOR[to_status],
        processed_amount=PROCESSED_AMOUNT_FOR.get(to_status),
        cause="test",
        actor=Actor("operator", "alice"),
        **extra,
    )


@pytest.mark.parametrize(("from_status", "to_status"), list(product(Status.values, repeat=2)))
def test_every_pair_of_statuses(from_status, to_status):
    invoice = InvoiceFactory(status=from_status, sequence=3)

    if (from_status, to_status) in EXPECTED_MOVES:
        moved = _move(invoice, to_status)
        stored = Invoice.objects.get(pk=invoice.id)
        assert (moved.status, stored.status) == (to_status, to_status)
        assert stored.sequence == 4
        event = InvoiceEvent.objects.get(invoice=invoice)
        assert (event.from_status, event.to_status, event.sequence) == (from_status, to_status, 4)
        assert (event.cause, event.actor) == ("test", "operator:alice")
        if from_status == "expired":
            assert stored.resolution == event.resolution == "late_payment"
        else:
            assert stored.resolution == event.resolution == RESOLUTION_FOR[to_status]
    else:
        with pytest.raises(StatusMoveNotAllowed):
            _move(invoice, to_status)
        stored = Invoice.objects.get(pk=invoice.id)
        assert (stored.status, stored.sequence) == (from_status, 3)
        assert not InvoiceEvent.objects.filter(invoice=invoice).exists()


def test_late_payment_keeps_the_money_and_says_it_was_late():
    invoice = InvoiceFactory(status="expired", resolution="expired")

    _move(invoice, "partially_processed", resolution_message="Paid after the deadline")

    stored = Invoice.objects.get(pk=invoice.id)
    assert stored.status == "partially_processed"
    assert stored.resolution == "late_payment"
    assert stored.processed_amount == Decimal("1063.34")
    assert stored.processed_at is not None
    assert stored.resolution_message == "Paid after the deadline"


def test_paid_move_records_amount_and_time():
    invoice = InvoiceFactory(status="processing")

    _move(invoice, "processed")

    stored = Invoice.objects.get(pk=invoice.id)
    assert stored.processed_amount == Decimal("2126.68")
    assert stored.processed_at is not None
    assert stored.updated_at >= stored.processed_at


def test_a_move_based_on_a_stale_status_is_refused():
    invoice = InvoiceFactory(status="processing")

    with pytest.raises(StatusChangedMeanwhile) as refused:
        _move(invoice, "process_pending", expected_from={"created"})

    assert refused.value.current_status == "processing"
    assert Invoice.objects.get(pk=invoice.id).status == "processing"
    assert not InvoiceEvent.objects.exists()


def test_columns_set_with_a_move_are_written_by_it_and_only_if_it_is_made():
    invoice = InvoiceFactory(status="created")
    confirmation = {"invoice_receipt_number": "12"}

    moved = _move(invoice, "processing", also_set={"confirmation_payload": confirmation})

    stored = Invoice.objects.get(pk=invoice.id)
    assert (stored.status, stored.sequence) == ("processing", invoice.sequence + 1)
    assert stored.confirmation_payload == moved.confirmation_payload == confirmation

    other = InvoiceFactory(status="processed")
    with pytest.raises(StatusMoveNotAllowed):
        _move(other, "processing", also_set={"confirmation_payload": confirmation})
    assert Invoice.objects.get(pk=other.id).confirmation_payload is None


def test_a_move_cannot_be_told_to_write_its_own_columns_otherwise():
    invoice = InvoiceFactory(status="created")
    with pytest.raises(ValueError, match="status"):
        _move(invoice, "processing", also_set={"status": "processed"})
    assert Invoice.objects.get(pk=invoice.id).status == "created"
    assert not InvoiceEvent.objects.exists()


def test_a_move_of_no_invoice_raises_and_writes_nothing():
    with pytest.raises(Invoice.DoesNotExist):
        invoice_move_status(
            invoice_id="cpi_0000000000000000",
            to_status="processing",
            resolution="ok",
            cause="test",
            actor="system",
        )
    assert not InvoiceEvent.objects.exists()


def test_a_partial_payment_is_less_than_the_amount_and_more_than_zero():
    invoice = InvoiceFactory(status="processing", amount=Decimal("10.00"))
    for amount in (Decimal("10.00"), Decimal("0")):
        with pytest.raises(ValueError):
            invoice_move_status(
                invoice_id=invoice.id,
                to_status="partially_processed",
                resolution="insufficient_amount",
                processed_amount=amount,
                cause="test",
                actor="system",
            )
    assert Invoice.objects.get(pk=invoice.id).status == "processing"


def test_the_database_refuses_a_status_outside_the_enum():
    invoice = InvoiceFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.filter(pk=invoice.id).update(status="paid")


def test_the_timeline_cannot_be_rewritten():
    invoice = InvoiceFactory(status="created")
    _move(invoice, "processing")
    with pytest.raises(DatabaseError), transaction.atomic():
        InvoiceEvent.objects.filter(invoice=invoice).update(to_status="processed")
    assert InvoiceEvent.objects.get(invoice=invoice).to_status == "processing"


def test_paid_in_full_without_an_amount_takes_the_amount_asked_under_the_lock():
    invoice = InvoiceFactory(status="processing", amount=Decimal("150.00"))
    moved = invoice_move_status(
        invoice_id=invoice.id, to_status="processed", resolution="ok", cause="test", actor="t"
    )
    assert moved.processed_amount == Decimal("150.00")
    assert Invoice.objects.get(pk=invoice.id).processed_amount == Decimal("150.00")


def test_a_partial_payment_must_name_its_amount():
    invoice = InvoiceFactory(status="processing")
    with pytest.raises(ValueError, match="names its amount"):
        invoice_move_status(
            invoice_id=invoice.id,
            to_status="partially_processed",
            resolution="ok",
            cause="test",
            actor="t",
        )
    assert Invoice.objects.get(pk=invoice.id).status == "processing"
