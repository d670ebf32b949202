"""Writes sent together: all rows or none, exactly as save() and update() write them."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from invoices.combined_writes import Insert, Update, write_together
from invoices.models import Invoice, InvoiceEvent
from tests.factories import InvoiceFactory

pytestmark = pytest.mark.django_db


def _event(invoice: Invoice, sequence: int) -> InvoiceEvent:
    return InvoiceEvent(
        invoice=invoice,
        sequence=sequence,
        to_status="created",
        resolution="ok",
        cause="test",
        actor="test",
    )


def test_the_rows_are_written_as_save_and_update_write_them():
    invoice = InvoiceFactory()
    event = _event(invoice, 7)
    later = timezone.now()
    write_together(
        [Insert(event), Update(Invoice, invoice.pk, {"sequence": 7, "updated_at": later})]
    )

    stored = InvoiceEvent.objects.get(invoice=invoice, sequence=7)
    assert (stored.cause, stored.details, stored.from_status) == ("test", {}, None)
    assert stored.created_at == event.created_at
    # Never marked as saved without its key (PostgreSQL does not read an auto key back).
    assert event._state.adding == (event.pk is None)
    invoice.refresh_from_db()
    assert (invoice.sequence, invoice.updated_at) == (7, later)


def test_all_rows_or_none_and_the_callers_transaction_goes_on():
    invoice = InvoiceFactory()
    write_together([Insert(_event(invoice, 1))])
    with transaction.atomic():
        with pytest.raises(IntegrityError):
            # The second row repeats (invoice, sequence): the first must not stay either.
            write_together([Insert(_event(invoice, 2)), Insert(_event(invoice, 1))])
        assert InvoiceEvent.objects.filter(invoice=invoice).count() == 1
    assert list(
        InvoiceEvent.objects.filter(invoice=invoice).values_list("sequence", flat=True)
    ) == [1]
