"""Writes sent together: all rows or none, exactly as save() and update() write them."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from invoices.combined_writes import Insert, Update, write_together
from invoices.models import Invoice, InvoiceEvent
from invoices.statuses import Status
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


def test_each_value_is_sent_as_djangos_own_preparation_gives_it():
    """Values of the types passed through unchanged skip the preparation; the rest get it."""
    invoice = InvoiceFactory.build(
        description=gettext_lazy("A lazy translation"),  # not a str: prepared
        descriptor=None,
        test_mode=1,  # not a bool: prepared to True
        status=Status.CREATED,  # a str
    )
    _, sent = Insert(invoice).sql()

    fields = Invoice._meta.concrete_fields  # the primary key is not an automatic one
    assert len(fields) == len(sent)
    prepared = [
        field.get_db_prep_save(field.pre_save(invoice, True), connection) for field in fields
    ]

    def comparable(values):
        # psycopg's JSON wrappers compare by identity: compare what they wrap.
        return [(type(value), getattr(value, "obj", value)) for value in values]

    assert comparable(sent) == comparable(prepared)
    by_column = dict(zip((field.column for field in fields), sent, strict=True))
    assert by_column["description"] == "A lazy translation"
    assert by_column["test_mode"] is True
