"""merchant_create: keys printed once, stored only as salts and hashes."""

import base64
import json
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from invoices.models import Merchant, MerchantService
from invoices.selectors import merchant_authenticate
from invoices.services import merchant_rotate_secrets
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db

KEY_FORMATS = {
    "account_id": r"coma_[A-Za-z0-9]{16}",
    "secret_key_test": r"sk_test_[A-Za-z0-9]{32}",
    "secret_key_live": r"sk_live_[A-Za-z0-9]{32}",
    "public_key_test": r"pk_test_[A-Za-z0-9]{24}",
    "public_key_live": r"pk_live_[A-Za-z0-9]{24}",
    "webhook_secret": r"whsec_[A-Za-z0-9+/]+={0,2}",
}


def _merchant_create(*args):
    out = StringIO()
    call_command("merchant_create", *args, stdout=out)
    return json.loads(out.getvalue())


def _every_stored_text() -> str:
    """All merchant columns as the database holds them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM invoices_merchant")
        return " ".join(str(value) for row in cursor.fetchall() for value in row)


def test_prints_one_json_object_whose_keys_authenticate():
    enabled = [ServiceFactory(), ServiceFactory()]
    ServiceFactory(enabled=False)

    printed = _merchant_create(
        "--name", "Shop", "--callback-url", "https://shop.example/cb", "--json"
    )

    assert set(printed) == set(KEY_FORMATS)
    for name, pattern in KEY_FORMATS.items():
        assert re.fullmatch(pattern, printed[name]), (name, printed[name])
    assert len(base64.b64decode(printed["webhook_secret"].removeprefix("whsec_"))) == 32

    merchant = Merchant.objects.get(account_id=printed["account_id"])
    assert merchant.name == "Shop" and merchant.callback_url == "https://shop.example/cb"
    assert merchant_authenticate(
        account_id=printed["account_id"], secret_key=printed["secret_key_test"]
    ) == (merchant, True)
    assert merchant_authenticate(
        account_id=printed["account_id"], secret_key=printed["secret_key_live"]
    ) == (merchant, False)
    assert (merchant.public_key_test, merchant.public_key_live) == (
        printed["public_key_test"],
        printed["public_key_live"],
    )
    switched_on = set(
        MerchantService.objects.filter(merchant=merchant).values_list("service", flat=True)
    )
    assert switched_on == {service.pk for service in enabled}

    stored = _every_stored_text()
    for secret in ("secret_key_test", "secret_key_live", "webhook_secret"):
        assert printed[secret] not in stored
        assert printed[secret].split("_")[-1] not in stored
    assert printed["webhook_secret"].removeprefix("whsec_") not in stored


@pytest.mark.parametrize(
    ("account_id", "secret_key"),
    [
        ("coma_unknown000000000", "sk_test_x"),
        (None, "sk_test_" + "A" * 32),
        (None, "pk_test_" + "A" * 32),
        (None, ""),
    ],
)
def test_wrong_credentials_do_not_authenticate(account_id, secret_key):
    printed = _merchant_create("--name", "Shop", "--json")
    assert (
        merchant_authenticate(account_id=account_id or printed["account_id"], secret_key=secret_key)
        is None
    )


def test_an_inactive_merchant_does_not_authenticate():
    printed = _merchant_create("--name", "Shop", "--json")
    Merchant.objects.update(is_active=False)
    assert (
        merchant_authenticate(
            account_id=printed["account_id"], secret_key=printed["secret_key_test"]
        )
        is None
    )


def test_services_can_be_named():
    chosen, _other = ServiceFactory(code="upi_qr_inr_invoice"), ServiceFactory()
    printed = _merchant_create("--name", "Shop", "--services", "upi_qr_inr_invoice", "--json")
    merchant = Merchant.objects.get(account_id=printed["account_id"])
    assert list(merchant.services.all()) == [chosen]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "Shop", "--services", "nope"], "No enabled service with the code(s): nope"),
        (["--name", "  "], "A merchant needs a name."),
        (["--name", "Shop", "--callback-url", "not a url"], "Callback URL"),
    ],
)
def test_bad_arguments_are_clear_errors_and_create_nothing(args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("merchant_create", *args, stdout=StringIO())
    assert not Merchant.objects.exists()


def test_human_output_lists_the_keys():
    out = StringIO()
    call_command("merchant_create", "--name", "Shop", stdout=out)
    assert "shown once" in out.getvalue()
    assert re.search(r"secret_key_test\s+sk_test_", out.getvalue())


def test_rotation_replaces_secrets_and_keeps_public_keys():
    printed = _merchant_create("--name", "Shop", "--json")
    merchant = Merchant.objects.get(account_id=printed["account_id"])

    rotated = merchant_rotate_secrets(merchant=merchant)

    assert rotated.secret_key_test != printed["secret_key_test"]
    assert rotated.webhook_secret != printed["webhook_secret"]
    assert rotated.public_key_test == printed["public_key_test"]
    assert (
        merchant_authenticate(account_id=merchant.account_id, secret_key=printed["secret_key_test"])
        is None
    )
    assert merchant_authenticate(
        account_id=merchant.account_id, secret_key=rotated.secret_key_test
    ) == (
        merchant,
        True,
    )
