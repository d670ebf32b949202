from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from connectors.registry import get_connector
from invoices import keys, services
from invoices.models import Invoice, Merchant, MerchantService, Service


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service

    code = factory.Sequence(lambda n: f"test{n}_uah_invoice")
    method_code = "test"
    method_name = "Test method"
    method_logo = "methods/test.svg"
    currency = "UAH"
    display_kind = "test"
    connector = "test"
    connector_settings = factory.LazyFunction(dict)
    min_amount = Decimal("1.00")
    max_amount = Decimal("1000000.00")
    lifetime = timedelta(hours=1)


class MerchantFactory(factory.django.DjangoModelFactory):
    """A merchant with real keys (see `invoices.selectors.merchant_credentials`)."""

    class Meta:
        model = Merchant

    name = factory.Sequence(lambda n: f"Shop {n}")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        merchant = model_class(*args, **kwargs)
        services.merchant_issue_keys(merchant=merchant)
        merchant.save(force_insert=True)
        return merchant


class MerchantServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MerchantService

    merchant = factory.SubFactory(MerchantFactory)
    service = factory.SubFactory(ServiceFactory)


class InvoiceFactory(factory.django.DjangoModelFactory):
    """An invoice row in any status, without the events a real creation writes."""

    class Meta:
        model = Invoice

    id = factory.LazyFunction(keys.new_invoice_id)
    merchant = factory.SubFactory(MerchantFactory)
    service = factory.SubFactory(ServiceFactory)
    connector = "test"
    provider_polled = factory.LazyAttribute(
        lambda invoice: get_connector(invoice.connector).polls_status
    )
    reference_id = factory.Sequence(lambda n: f"order-{n}")
    test_mode = True
    amount = Decimal("2126.68")
    currency = "UAH"
    payment_amount = factory.SelfAttribute("amount")
    requisites = factory.LazyFunction(lambda: {"invoice_receipt_number": "1764077421"})
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=1))


def move_to_processing(invoice_id: str):
    """The move a confirmation makes, without one: for tests about what follows a move."""
    from invoices.state_machine import Actor, invoice_move_status

    return invoice_move_status(
        invoice_id=invoice_id,
        to_status="processing",
        resolution="ok",
        cause="test",
        actor=Actor("test"),
    )


def demo_shop_invoice(
    service_code: str, currency: str, reference_id: str, amount: Decimal = Decimal("2126.68")
) -> Invoice:
    """A test-mode invoice of the demo data's shop, created as the API would create it."""
    from invoices.demo import demo_load
    from invoices.state_machine import Actor

    demo_load()
    return services.invoice_create(
        merchant=Merchant.objects.get(name="Demo Shop"),
        service_code=service_code,
        reference_id=reference_id,
        amount=amount,
        currency=currency,
        test_mode=True,
        actor=Actor("test"),
    )
