"""Setting up merchants (their keys, the services switched on for them) and the
services themselves (their settings checked, their secrets kept encrypted)."""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TypedDict

from django.db import transaction
from django.utils import timezone

from connectors.registry import UnknownConnector, get_connector
from invoices import catalog, keys, selectors
from invoices.confirmation_schema import confirmation_schema_problems
from invoices.connector_secrets import secrets_open, secrets_reseal, secrets_seal
from invoices.currencies import is_known_currency
from invoices.models import Merchant, MerchantService, Service, method_name_translations_problems
from invoices.services.invoice_validation import url_problem


class MerchantSetupError(ValueError):
    pass


class _SecretFields(TypedDict):
    """The columns of a merchant's secrets, written together."""

    secret_key_test_salt: str
    secret_key_test_hash: str
    secret_key_live_salt: str
    secret_key_live_hash: str
    webhook_secret_salt: str
    keys_issued_at: datetime


def _new_secret_fields() -> _SecretFields:
    """Fresh salts, and the hashes of the keys they derive, for a merchant's secrets."""
    test_salt, live_salt = keys.new_salt(), keys.new_salt()
    return {
        "secret_key_test_salt": test_salt,
        "secret_key_test_hash": keys.key_hash(
            keys.derive_secret_key(salt=test_salt, test_mode=True)
        ),
        "secret_key_live_salt": live_salt,
        "secret_key_live_hash": keys.key_hash(
            keys.derive_secret_key(salt=live_salt, test_mode=False)
        ),
        "webhook_secret_salt": keys.new_salt(),
        "keys_issued_at": timezone.now(),
    }


@transaction.atomic
def merchant_create(
    *,
    name: str,
    callback_url: str = "",
    service_codes: Iterable[str] | None = None,
) -> tuple[Merchant, keys.IssuedCredentials]:
    """Create a merchant with fresh keys and switch services on for it.

    Without `service_codes`, every enabled service is switched on. The keys are
    returned once and never stored.
    """
    name = name.strip()
    if not name:
        raise MerchantSetupError("A merchant needs a name.")
    if callback_url and (problem := url_problem(callback_url, allow_http=True)):
        raise MerchantSetupError(f"Callback URL: {problem}")
    services = _services_to_enable(service_codes)
    merchant = Merchant(name=name, callback_url=callback_url)
    credentials = merchant_issue_keys(merchant=merchant)
    merchant.save(force_insert=True)
    MerchantService.objects.bulk_create(
        MerchantService(merchant=merchant, service=service) for service in services
    )
    return merchant, credentials


def merchant_issue_keys(*, merchant: Merchant) -> keys.IssuedCredentials:
    """Give a merchant not yet saved its account id and keys; the caller saves it.

    The returned credentials are the only time the secret keys are seen.
    """
    merchant.account_id = keys.new_account_id()
    merchant.public_key_test = keys.new_public_key(test_mode=True)
    merchant.public_key_live = keys.new_public_key(test_mode=False)
    for name, value in _new_secret_fields().items():
        setattr(merchant, name, value)
    return selectors.merchant_credentials(merchant=merchant)


def _services_to_enable(service_codes: Iterable[str] | None) -> list[Service]:
    if service_codes is None:
        return list(Service.objects.filter(enabled=True))
    wanted = {code.strip() for code in service_codes if code.strip()}
    services = list(Service.objects.filter(code__in=wanted, enabled=True))
    if missing := wanted - {service.code for service in services}:
        raise MerchantSetupError(
            "No enabled service with the code(s): " + ", ".join(sorted(missing))
        )
    return services


def merchant_rotate_secrets(*, merchant: Merchant) -> keys.IssuedCredentials:
    """Replace both secret keys and the webhook secret; the old ones stop working at once."""
    Merchant.objects.filter(pk=merchant.pk).update(**_new_secret_fields())
    merchant.refresh_from_db()
    catalog.rows_changed(merchant)
    return selectors.merchant_credentials(merchant=merchant)


def service_problems(
    *,
    connector_name: str,
    connector_settings: object,
    display_kind: str,
    currency: str,
    confirmation_schema: object,
    method_name_translations: object = None,
    connector_secrets: Mapping[str, str] | None = None,
) -> dict[str, list[str]]:
    """Why a service configuration cannot work, by field name; empty when it can.

    `connector_secrets` are the secret settings the service will keep (stored
    ones and new ones together); they are checked with the other settings.
    """
    problems: dict[str, list[str]] = {}
    if method_name_translations is not None and (
        found := method_name_translations_problems(method_name_translations)
    ):
        problems["method_name_translations"] = found
    if not is_known_currency(currency):
        problems["currency"] = [f"{currency!r} is not an ISO 4217 currency in circulation."]
    try:
        connector = get_connector(connector_name)
    except UnknownConnector as error:
        problems["connector"] = [str(error)]
    else:
        secret_names = connector.secret_settings
        if not isinstance(connector_settings, Mapping):
            problems["connector_settings"] = ["Settings must be a JSON object."]
        elif in_clear := [name for name in secret_names if name in connector_settings]:
            # Settings are stored and shown as they are: a secret typed there would be in clear.
            problems["connector_settings"] = [
                f"{name} is secret: enter it in the “{secret_names[name]}” field, where it is"
                " stored encrypted, and remove it from the settings."
                for name in in_clear
            ]
        elif unexpected := sorted(set(connector_secrets or {}) - set(secret_names)):
            problems["connector_settings"] = [
                f"The {connector_name} connector takes no secret {', '.join(unexpected)}:"
                " forget the stored secrets or pick the connector they belong to."
            ]
        elif found := connector.settings_problems(
            settings={**connector_settings, **(connector_secrets or {})},
            display_kind=display_kind,
        ):
            problems["connector_settings"] = found
    if confirmation_schema is not None and (
        found := confirmation_schema_problems(confirmation_schema)
    ):
        problems["confirmation_schema"] = found
    return problems


def service_save(
    *, service: Service, new_secrets: Mapping[str, str], forget_secrets: bool = False
) -> Service:
    """Save a service checked by `service_problems`, with its secrets encrypted.

    A blank new secret keeps the stored one; a value replaces it; `forget_secrets`
    drops them all first (the service then uses the process-wide settings).
    """
    kept = {} if forget_secrets else secrets_open(service.connector_secrets)
    kept.update({name: value for name, value in new_secrets.items() if value})
    service.connector_secrets = secrets_seal(kept)
    service.save()
    return service


def service_secrets_reseal() -> int:
    """Encrypt every service's stored secrets with the first key of CONNECTOR_SECRETS_KEY.

    Run after putting a new key in front; then the old keys may go. Returns how
    many services were re-encrypted.
    """
    count = 0
    for pk in Service.objects.exclude(connector_secrets="").values_list("pk", flat=True):
        with transaction.atomic():
            # Locked, so an operator's save at this moment is neither lost nor undone.
            service = Service.objects.select_for_update().get(pk=pk)
            service.connector_secrets = secrets_reseal(service.connector_secrets)
            service.save(update_fields=["connector_secrets", "updated_at"])
        count += 1
    return count
