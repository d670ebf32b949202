"""Bank statement tests' world: the demo's SEPA service paid into DE89 3704 0044 0532 0130 00,
two shops using it, and the invoices the files in tests/data/ pay (their ids fixed, so
the RF references written in the files are theirs)."""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from django.utils import timezone

from invoices.models import Invoice
from tests.factories import InvoiceFactory, MerchantFactory, MerchantServiceFactory, ServiceFactory

DATA = Path(__file__).parent / "data"
CAMT053 = DATA / "camt053_demo_shop.xml"
CAMT054 = DATA / "camt054_demo_shop.xml"
MT940 = DATA / "mt940_demo_shop.sta"
IBAN = "DE89370400440532013000"

# reference_id: (invoice id or None for a random one, amount, status)
SHOP_INVOICES = {
    "order-full": ("cpi_StmtFull00000001", "100.00", "created"),
    "order-short": ("cpi_StmtShort0000001", "100.00", "created"),
    "order-over": ("cpi_StmtOver00000001", "100.00", "processing"),
    "order-late": ("cpi_StmtLate00000001", "100.00", "expired"),
    "order-note": ("cpi_StmtNote00000001", "75.00", "created"),
    "order-curr": ("cpi_StmtCurr00000001", "80.00", "created"),
    "order-mt-full": ("cpi_StmtMt9400000001", "100.00", "created"),
    "order-mt-short": (None, "100.00", "created"),
    "order-mt-over": (None, "50.00", "process_pending"),
    "shared-ref": (None, "30.00", "created"),
}


def sepa_service():
    return ServiceFactory(
        code="sepa_qr_eur_invoice",
        method_code="sepa_qr",
        currency="EUR",
        display_kind="invoice",
        connector="static",
        connector_settings={
            "requisites": {
                "receiver_name": "Demo Shop GmbH",
                # As an operator may type it: spaced, and found all the same.
                "iban": "DE89 3704 0044 0532 0130 00",
                "purpose": "{creditor_reference} Order {reference_id}",
            },
            "national_qr": "epc",
        },
    )


def statement_world(*, test_mode: bool = True, callback_url: str | None = None):
    """The service, the shop whose invoices the files pay, and another shop with its own
    `shared-ref` invoice on the same service (so that reference has two candidates)."""
    service = sepa_service()
    shop = MerchantFactory(name="Demo Shop")
    other = MerchantFactory(name="Other Shop")
    for merchant in (shop, other):
        MerchantServiceFactory(merchant=merchant, service=service)
    for reference_id, (invoice_id, amount, status) in SHOP_INVOICES.items():
        _invoice(shop, service, reference_id, invoice_id, amount, status, test_mode, callback_url)
    _invoice(other, service, "shared-ref", None, "30.00", "created", test_mode, None)
    return service, shop, other


def _invoice(merchant, service, reference_id, invoice_id, amount, status, test_mode, url):
    expired = status == "expired"
    extra = {"id": invoice_id} if invoice_id else {}
    return InvoiceFactory(
        **extra,
        merchant=merchant,
        service=service,
        connector="static",
        reference_id=reference_id,
        test_mode=test_mode,
        amount=Decimal(amount),
        currency="EUR",
        status=status,
        resolution="expired" if expired else "ok",
        callback_url=url,
        requisites={},
        expires_at=timezone.now() + timedelta(hours=-1 if expired else 1),
    )


def shop_invoice(reference_id: str, merchant_name: str = "Demo Shop") -> Invoice:
    return Invoice.objects.get(reference_id=reference_id, merchant__name=merchant_name)


def snapshot():
    """Every invoice's status, sequence and amount received: what a second import must keep."""
    return sorted(
        Invoice.objects.values_list("id", "status", "sequence", "processed_amount", "resolution")
    )
