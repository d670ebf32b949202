"""Writes sent together: all rows or none, exactly as save() and update() write them."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy
from psycopg.types.numeric import Int4

from invoices.combined_writes import Insert, Update, write_together
from invoices.models import Invoice, InvoiceEvent, Service
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


def _prepared_by_django(instance) -> list:
    return [
        field.get_db_prep_save(field.pre_save(instance, True), connection)
        for field in instance._meta.concrete_fields
        if field is not instance._meta.auto_field
    ]


def _comparable(values: list) -> list:
    # psycopg's JSON wrappers compare by identity: compare what they wrap.
    return [(type(value), getattr(value, "obj", value)) for value in values]


@pytest.mark.postgres  # the one-statement write is PostgreSQL's (see can_combine)
def test_each_value_is_sent_as_djangos_own_preparation_gives_it():
    """Each value as save() would send it: lazy text as text, 1 as True, text as Decimal."""
    invoice = InvoiceFactory.build(
        description=gettext_lazy("A lazy translation"),  # not a str: prepared
        descriptor=None,
        test_mode=1,  # not a bool: prepared to True
        status=Status.CREATED,  # a str
        sequence=True,  # a bool, not a whole number: prepared to 1
        amount="10.50",  # text, not a Decimal: prepared to Decimal("10.50")
        payment_amount=Decimal("10.50"),
        processed_amount=None,
        customer={"email": "a@example.com"},
        metadata=None,
    )
    _, sent = Insert(invoice).sql()

    assert len(Invoice._meta.concrete_fields) == len(sent)  # the key is not an automatic one
    assert _comparable(sent) == _comparable(_prepared_by_django(invoice))
    by_column = dict(
        zip((field.column for field in Invoice._meta.concrete_fields), sent, strict=True)
    )
    assert by_column["description"] == "A lazy translation"
    assert by_column["test_mode"] is True
    # Typed for the server, as Django does.
    assert (type(by_column["sequence"]), by_column["sequence"]) == (Int4, 1)
    assert by_column["amount"] == Decimal("10.50")
    assert by_column["created_at"] is invoice.created_at  # aware: as it is


@pytest.mark.postgres
def test_references_and_events_are_sent_as_django_prepares_them():
    invoice = InvoiceFactory()
    event = _event(invoice, 3)
    event.details = {"reason": "test"}
    _, sent = Insert(event).sql()
    assert _comparable(sent) == _comparable(_prepared_by_django(event))

    # auto_now writes the time of the save, not the attribute: never passed through.
    service = invoice.service
    service.updated_at = timezone.now() - timedelta(days=3)
    _, sent = Insert(service).sql()
    written = dict(
        zip(
            (field.name for field in Service._meta.concrete_fields if field.name != "id"),
            sent,
            strict=True,
        )
    )
    assert written["updated_at"] > timezone.now() - timedelta(minutes=1)
