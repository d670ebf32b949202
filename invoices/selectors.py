"""Reads: every query that answers a question about merchants and invoices."""

from django.conf import settings
from django.templatetags.static import static

from invoices import keys
from invoices.models import Invoice, Merchant, MerchantService, Service


def merchant_authenticate(*, account_id: str, secret_key: str) -> tuple[Merchant, bool] | None:
    """The merchant and the key's mode (True = test) for valid credentials, else None."""
    if secret_key.startswith(keys.SECRET_KEY_PREFIXES[True]):
        test_mode = True
    elif secret_key.startswith(keys.SECRET_KEY_PREFIXES[False]):
        test_mode = False
    else:
        return None
    merchant = Merchant.objects.filter(account_id=account_id, is_active=True).first()
    if merchant is None:
        return None
    stored = merchant.secret_key_test_hash if test_mode else merchant.secret_key_live_hash
    return (merchant, test_mode) if keys.key_matches(secret_key, stored) else None


def merchant_credentials(*, merchant: Merchant) -> keys.IssuedCredentials:
    """The merchant's current keys, re-derived from their salts (see `invoices.keys`)."""
    return keys.IssuedCredentials(
        account_id=merchant.account_id,
        secret_key_test=keys.derive_secret_key(salt=merchant.secret_key_test_salt, test_mode=True),
        secret_key_live=keys.derive_secret_key(salt=merchant.secret_key_live_salt, test_mode=False),
        public_key_test=merchant.public_key_test,
        public_key_live=merchant.public_key_live,
        webhook_secret=keys.webhook_secret_text(salt=merchant.webhook_secret_salt),
    )


def service_enabled_for_merchant(*, merchant: Merchant, service_code: str) -> Service | None:
    link = (
        MerchantService.objects.select_related("service")
        .filter(merchant=merchant, enabled=True, service__code=service_code, service__enabled=True)
        .first()
    )
    return link.service if link else None


def invoice_id_by_reference(
    *, merchant: Merchant, test_mode: bool, reference_id: str
) -> str | None:
    return (
        Invoice.objects.filter(merchant=merchant, test_mode=test_mode, reference_id=reference_id)
        .values_list("id", flat=True)
        .first()
    )


def absolute_url(path_or_url: str) -> str:
    """Links handed to merchants and providers are absolute."""
    if path_or_url.startswith(("http://", "https://")):
        return path_or_url
    return settings.PUBLIC_BASE_URL + path_or_url


def method_logo_url(*, service: Service) -> str | None:
    if not service.method_logo:
        return None
    if service.method_logo.startswith(("http://", "https://")):
        return service.method_logo
    return absolute_url(static(service.method_logo))
