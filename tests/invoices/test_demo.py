"""The demo data: loaded any number of times, it comes back to the same shape."""

import pytest

from invoices.demo import DEMO_SERVICES, demo_load
from invoices.models import Service

pytestmark = pytest.mark.django_db


def test_load_demo_names_every_method_in_ukrainian_and_brings_back_older_demo_services():
    demo_load()
    Service.objects.filter(code="bank_transfer_uah_invoice").update(method_name_translations={})
    demo_load()
    services = Service.objects.filter(code__in=[spec["code"] for spec in DEMO_SERVICES])
    assert services.count() == len(DEMO_SERVICES)
    for service in services:
        assert service.method_name_translations["uk"].strip(), service.code
    bank_transfer = services.get(code="bank_transfer_uah_invoice")
    assert bank_transfer.method_name_translations == {"uk": "Банківський переказ"}
