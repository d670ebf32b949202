"""Prepared reads give what the ORM gives, compiled once per process."""

from decimal import Decimal

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext

from invoices.models import Invoice, Merchant
from invoices.prepared import PreparedRead
from tests.factories import InvoiceFactory, MerchantFactory

pytestmark = pytest.mark.django_db

invoice_with_relations = PreparedRead(
    lambda invoice_id: Invoice.objects.select_related("merchant", "service").filter(pk=invoice_id)
)
merchant_invoices_by_mode = PreparedRead(
    lambda merchant_id, test_mode: Invoice.objects.filter(
        merchant_id=merchant_id, test_mode=test_mode
    ).order_by("reference_id")
)


def _every_field(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.fields}


def test_an_invoice_with_its_relations_equals_the_orm_read_in_one_query():
    created = InvoiceFactory(
        amount=Decimal("2126.68"),
        customer={"email": "payer@example.com", "tags": ["a", 1]},
        metadata={"order": {"lines": 3}},
        description="Čaj — 2 kg",
    )
    expected = Invoice.objects.select_related("merchant", "service").get(pk=created.pk)

    with CaptureQueriesContext(connection) as queries:
        found = invoice_with_relations.first(invoice_id=created.pk)
        related = (_every_field(found.merchant), _every_field(found.service))
    assert len(queries) == 1
    assert _every_field(found) == _every_field(expected)
    assert related == (_every_field(expected.merchant), _every_field(expected.service))
    assert found.amount == Decimal("2126.68") and isinstance(found.amount, Decimal)
    assert found.customer == {"email": "payer@example.com", "tags": ["a", 1]}
    assert found._state.adding is False and found._state.db == "default"


def test_it_runs_again_with_new_values_and_finds_nothing_for_an_unknown_one():
    first, second = InvoiceFactory(), InvoiceFactory()
    assert invoice_with_relations.first(invoice_id=first.pk).pk == first.pk
    assert invoice_with_relations.first(invoice_id=second.pk).pk == second.pk
    assert invoice_with_relations.first(invoice_id="cpi_0000000000000000") is None


def test_an_instance_it_returns_saves_like_one_from_the_orm():
    invoice = invoice_with_relations.first(invoice_id=InvoiceFactory().pk)
    invoice.description = "changed"
    invoice.save(update_fields=["description"])
    assert Invoice.objects.get(pk=invoice.pk).description == "changed"


def test_a_boolean_chooses_a_variant_and_numbers_are_parameters():
    merchant, other = MerchantFactory(), MerchantFactory()
    test_ones = [InvoiceFactory(merchant=merchant, test_mode=True, reference_id=r) for r in "ab"]
    live_one = InvoiceFactory(merchant=merchant, test_mode=False, reference_id="c")
    InvoiceFactory(merchant=other, test_mode=True)

    found_test = merchant_invoices_by_mode.all(merchant_id=merchant.pk, test_mode=True)
    found_live = merchant_invoices_by_mode.all(merchant_id=merchant.pk, test_mode=False)
    assert [i.pk for i in found_test] == [i.pk for i in test_ones]
    assert [i.pk for i in found_live] == [live_one.pk]
    assert merchant_invoices_by_mode.all(merchant_id=other.pk + 1000, test_mode=True) == []


def test_a_value_the_query_does_not_use_is_refused_when_compiled():
    ignoring = PreparedRead(lambda account_id: Merchant.objects.filter(is_active=True))
    with pytest.raises(ValueError, match="account_id"):
        ignoring.first(account_id="acc_1")


def test_only_text_numbers_and_booleans_are_taken():
    by_name = PreparedRead(lambda name: Merchant.objects.filter(name=name))
    with pytest.raises(TypeError, match="float"):
        by_name.first(name=1.5)


def test_a_merchant_read_is_the_orm_read():
    merchant = MerchantFactory()
    by_account = PreparedRead(
        lambda account_id: Merchant.objects.filter(account_id=account_id, is_active=True)
    )
    assert model_to_dict(by_account.first(account_id=merchant.account_id)) == model_to_dict(
        Merchant.objects.get(pk=merchant.pk)
    )


def test_a_value_of_another_type_than_compiled_is_refused_not_mismatched():
    by_name = PreparedRead(lambda name: Merchant.objects.filter(name=name))
    merchant = MerchantFactory()
    assert by_name.first(name=merchant.name).pk == merchant.pk
    with pytest.raises(TypeError, match="name=None"):
        by_name.first(name=None)  # would need IS NULL, not = NULL
    with pytest.raises(TypeError, match="needed"):
        by_name.first()


def test_first_is_for_one_row():
    every_test_invoice = PreparedRead(
        lambda test_mode: Invoice.objects.filter(test_mode=test_mode).order_by("pk")
    )
    InvoiceFactory(), InvoiceFactory()
    with pytest.raises(ValueError, match="2 rows"):
        every_test_invoice.first(test_mode=True)
    assert len(every_test_invoice.all(test_mode=True)) == 2
