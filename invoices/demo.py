"""Demo data: one service of every display kind, a demo merchant and an admin.

`demo_load` can run any number of times: it brings the demo back to the same
shape without duplicating anything or changing the demo merchant's keys.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import NotRequired, TypedDict

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from connectors.emulator import SECOND_PROVIDER
from invoices import connector_secrets, keys, selectors, services
from invoices.models import Merchant, MerchantService, Service

DEMO_MERCHANT_NAME = "Demo Shop"
DEMO_ADMIN_USERNAME = "admin"
DEMO_ADMIN_PASSWORD = "admin"  # noqa: S105 (a demo login, printed by make run)


class DemoService(TypedDict):
    """A demo service: the fields of its row, except those in _SERVICE_DEFAULTS."""

    code: str
    method_code: str
    method_name: str
    method_name_translations: dict[str, str]
    method_logo: str
    currency: str
    display_kind: str
    connector: str
    # Or a function giving them, called when the demo is loaded.
    connector_settings: dict[str, object] | Callable[[], dict[str, object]]
    lifetime: NotRequired[timedelta]
    connector_secrets: NotRequired[Mapping[str, str]]


DEMO_SERVICES: list[DemoService] = [
    {
        "code": "test_uah_invoice",
        "method_code": "test",
        "method_name": "Test method",
        "method_name_translations": {"uk": "Тестовий метод"},
        "method_logo": "methods/test.svg",
        "currency": "UAH",
        "display_kind": "test",
        "connector": "test",
        "connector_settings": {},
        "lifetime": timedelta(hours=1),
    },
    {
        "code": "bank_transfer_uah_invoice",
        "method_code": "bank_transfer",
        "method_name": "Bank transfer",
        "method_name_translations": {"uk": "Банківський переказ"},
        "method_logo": "methods/bank_transfer.svg",
        "currency": "UAH",
        "display_kind": "invoice",
        "connector": "static",
        "connector_settings": {
            "requisites": {
                "receiver_name": "ТОВ «Демо Магазин»",
                "iban": "UA213223130000026007233566001",
                "receiver_code": "12345678",
                "bank_name": "АТ «Демо Банк»",
                "purpose": "Оплата замовлення {reference_id}",
            },
            "national_qr": "nbu",
        },
        "lifetime": timedelta(days=3),
    },
    {
        "code": "sepa_qr_eur_invoice",
        "method_code": "sepa_qr",
        "method_name": "SEPA transfer",
        "method_name_translations": {"uk": "Переказ SEPA"},
        "method_logo": "methods/bank_transfer.svg",
        "currency": "EUR",
        "display_kind": "invoice",
        "connector": "static",
        "connector_settings": {
            "requisites": {
                "receiver_name": "Demo Shop GmbH",
                "iban": "DE89370400440532013000",
                "bank_code": "COBADEFFXXX",
                "bank_name": "Demo Bank AG",
                "purpose": "{creditor_reference} Order {reference_id}",
            },
            "national_qr": "epc",
        },
        "lifetime": timedelta(days=3),
    },
    {
        "code": "upi_qr_inr_invoice",
        "method_code": "upi_qr",
        "method_name": "UPI QR",
        "method_name_translations": {"uk": "QR-код UPI"},
        "method_logo": "methods/upi_qr.svg",
        "currency": "INR",
        "display_kind": "qr",
        "connector": "static",
        "connector_settings": {"scheme": "upi", "vpa": "demoshop@upi", "payee_name": "Demo Shop"},
    },
    {
        "code": "pix_qr_brl_invoice",
        "method_code": "pix_qr",
        "method_name": "Pix",
        "method_name_translations": {"uk": "Pix"},
        "method_logo": "methods/pix_qr.svg",
        "currency": "BRL",
        "display_kind": "qr",
        "connector": "static",
        "connector_settings": {
            "scheme": "pix",
            "key": "pagamentos@demoshop.com.br",
            "merchant_name": "DEMO SHOP",
            "merchant_city": "SAO PAULO",
        },
    },
    {
        "code": "cash_voucher_mxn_invoice",
        "method_code": "cash_voucher",
        "method_name": "Cash voucher",
        "method_name_translations": {"uk": "Готівкою за ваучером"},
        "method_logo": "methods/cash_voucher.svg",
        "currency": "MXN",
        "display_kind": "barcode",
        "connector": "static",
        "connector_settings": {"barcode_format": "code128", "reference_prefix": "93"},
        "lifetime": timedelta(days=2),
    },
    {
        "code": "card_transfer_uah_invoice",
        "method_code": "card_transfer",
        "method_name": "Card transfer",
        "method_name_translations": {"uk": "Переказ на картку"},
        "method_logo": "methods/card_transfer.svg",
        "currency": "UAH",
        "display_kind": "card_transfer",
        "connector": "static",
        "connector_settings": {
            "requisites": {
                "card_number": "4111111111111111",
                "card_holder": "DEMO SHOP",
                "bank_name": "Demo Bank",
            }
        },
    },
    {
        # Unique details per invoice from a provider over HTTP (the emulator in the demo).
        "code": "provider_card_transfer_uah_invoice",
        "method_code": "provider_card_transfer",
        "method_name": "Card transfer (provider)",
        "method_name_translations": {"uk": "Переказ на картку (через провайдера)"},
        "method_logo": "methods/card_transfer.svg",
        "currency": "UAH",
        "display_kind": "card_transfer",
        "connector": "http",
        "connector_settings": {},
    },
    {
        # The same, from a second provider with an account of its own: its URL and
        # credentials are the service's (`make run` starts that emulator too).
        "code": "second_provider_card_transfer_uah_invoice",
        "method_code": "second_provider_card_transfer",
        "method_name": "Card transfer (second provider)",
        "method_name_translations": {"uk": "Переказ на картку (через другого провайдера)"},
        "method_logo": "methods/card_transfer.svg",
        "currency": "UAH",
        "display_kind": "card_transfer",
        "connector": "http",
        # Read when the demo is loaded, so it names the port of this run.
        "connector_settings": lambda: {
            "base_url": f"http://127.0.0.1:{settings.PROVIDER_EMULATOR_2_PORT}"
        },
        "connector_secrets": SECOND_PROVIDER,
    },
    {
        "code": "bank_app_deeplink_uah_invoice",
        "method_code": "bank_app_deeplink",
        "method_name": "Pay in your bank app",
        "method_name_translations": {"uk": "Оплата в застосунку банку"},
        "method_logo": "methods/bank_app_deeplink.svg",
        "currency": "UAH",
        "display_kind": "deeplink",
        "connector": "static",
        "connector_settings": {
            "requisites": {
                "deeplink": "https://bank.example/pay?receiver=demo-shop&amount={amount}"
                "&reference={reference}"
            }
        },
    },
]
_SERVICE_DEFAULTS: dict[str, object] = {
    "method_name_translations": {},
    "min_amount": Decimal("1.00"),
    "max_amount": Decimal("1000000.00"),
    "lifetime": timedelta(hours=24),
    "confirmation_schema": None,
    "is_otp_flow": False,
    # The demo shows the payer's second chance on every service.
    "reissue_limit": 2,
    "remainder_enabled": True,
    "enabled": True,
    "connector_secrets": {},
}


@dataclass(frozen=True)
class DemoCredentials:
    admin_username: str
    admin_password: str | None  # None when the admin already existed: its password is unknown
    merchant: keys.IssuedCredentials


@transaction.atomic
def demo_load() -> DemoCredentials:
    for spec in DEMO_SERVICES:
        settings_given = spec["connector_settings"]
        connector_settings = settings_given() if callable(settings_given) else settings_given
        secrets = spec.get("connector_secrets", {})
        values = {**_SERVICE_DEFAULTS, **spec, "connector_settings": connector_settings}
        problems = services.service_problems(
            connector_name=spec["connector"],
            connector_settings=connector_settings,
            display_kind=spec["display_kind"],
            currency=spec["currency"],
            confirmation_schema=values["confirmation_schema"],
            method_name_translations=spec["method_name_translations"],
            connector_secrets=secrets,
        )
        if problems:
            raise ValueError(f"demo service {spec['code']} is misconfigured: {problems}")
        values["connector_secrets"] = connector_secrets.secrets_seal(secrets)
        code = values.pop("code")
        Service.objects.update_or_create(code=code, defaults=values)

    merchant = Merchant.objects.filter(name=DEMO_MERCHANT_NAME).order_by("pk").first()
    if merchant is None:
        merchant, _ = services.merchant_create(name=DEMO_MERCHANT_NAME)
    for service in Service.objects.filter(code__in=[spec["code"] for spec in DEMO_SERVICES]):
        MerchantService.objects.update_or_create(
            merchant=merchant, service=service, defaults={"enabled": True}
        )

    user_model = get_user_model()
    admin_password = None
    if not user_model.objects.filter(username=DEMO_ADMIN_USERNAME).exists():
        user_model.objects.create_superuser(
            username=DEMO_ADMIN_USERNAME, email="", password=DEMO_ADMIN_PASSWORD
        )
        admin_password = DEMO_ADMIN_PASSWORD
    return DemoCredentials(
        admin_username=DEMO_ADMIN_USERNAME,
        admin_password=admin_password,
        merchant=selectors.merchant_credentials(merchant=merchant),
    )
