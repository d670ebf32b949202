"""Reads: every query that answers a question about merchants and invoices."""

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from invoices import catalog, connector_secrets, keys, read_models
from invoices.models import Invoice, Merchant, MerchantService, Service
from invoices.read_models import STATUS_FIELDS
from invoices.resources import invoice_document


def _secret_key_mode(secret_key: str) -> bool | None:
    """The mode a secret key is for (True = test), from its prefix; None if it has neither."""
    if secret_key.startswith(keys.SECRET_KEY_PREFIXES[True]):
        return True
    if secret_key.startswith(keys.SECRET_KEY_PREFIXES[False]):
        return False
    return None


def _secret_key_matches(merchant: Merchant, secret_key: str, test_mode: bool) -> bool:
    stored = merchant.secret_key_test_hash if test_mode else merchant.secret_key_live_hash
    return keys.key_matches(secret_key, stored)


def merchant_authenticate(*, account_id: str, secret_key: str) -> tuple[Merchant, bool] | None:
    """The merchant and the key's mode (True = test) for valid credentials, else None."""
    test_mode = _secret_key_mode(secret_key)
    if test_mode is None:
        return None
    merchant = catalog.merchant_by_account(account_id)
    if merchant is None or not merchant.is_active:
        return None
    if not _secret_key_matches(merchant, secret_key, test_mode):
        return None
    return merchant, test_mode


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
        .order_by("pk")
        .first()
    )
    return link.service if link else None


def service_enabled_for_invoice(*, invoice: Invoice) -> Service | None:
    """The invoice's service, if it is still on and switched on for the invoice's merchant."""
    link = (
        MerchantService.objects.select_related("service")
        .filter(
            merchant_id=invoice.merchant_id,
            service_id=invoice.service_id,
            enabled=True,
            service__enabled=True,
        )
        .first()
    )
    return link.service if link else None


def service_connector_settings(*, service: Service) -> dict[str, Any]:
    """The `settings` its connector gets: the stored ones and the decrypted secrets."""
    return {
        **service.connector_settings,
        **connector_secrets.secrets_open(service.connector_secrets),
    }


def service_connector_secrets(*, service: Service) -> dict[str, str]:
    return connector_secrets.secrets_open(service.connector_secrets)


def service_secrets_masked(*, service: Service) -> dict[str, str]:
    """The stored secrets as an operator may see them."""
    return {
        name: connector_secrets.masked(value)
        for name, value in connector_secrets.secrets_open(service.connector_secrets).items()
    }


def service_notify_url(*, service: Service) -> str:
    """Where the service's provider posts notifications, verified with this service's secret."""
    path = reverse(
        "provider-service-notify",
        kwargs={"connector": service.connector, "service_code": service.code},
    )
    return settings.PUBLIC_BASE_URL + path


def service_for_notifications(*, connector_name: str, service_code: str) -> Service | None:
    return Service.objects.filter(code=service_code, connector=connector_name).first()


def service_method_name(*, service: Service, language: str) -> str:
    """The method's name in a page's language; `method_name` where it has none there
    (the merchant API always names a method by `method_name`)."""
    translated: str | None = service.method_name_translations.get(language)
    return translated or service.method_name


def merchant_by_public_key(*, public_key: str) -> tuple[Merchant, bool] | None:
    """The merchant and the key's mode (True = test) for a public key, else None."""
    if public_key.startswith(keys.PUBLIC_KEY_PREFIXES[True]):
        found = Merchant.objects.filter(public_key_test=public_key, is_active=True).first()
        return (found, True) if found else None
    if public_key.startswith(keys.PUBLIC_KEY_PREFIXES[False]):
        found = Merchant.objects.filter(public_key_live=public_key, is_active=True).first()
        return (found, False) if found else None
    return None


def services_enabled_for_merchant(*, merchant: Merchant, currency: str) -> list[Service]:
    return list(
        Service.objects.filter(
            merchantservice__merchant=merchant,
            merchantservice__enabled=True,
            enabled=True,
            currency=currency,
        ).order_by("method_name")
    )


def service_code_for_method(*, merchant: Merchant, method_code: str, currency: str) -> str | None:
    return (
        Service.objects.filter(
            merchantservice__merchant=merchant,
            merchantservice__enabled=True,
            enabled=True,
            method_code=method_code,
            currency=currency,
        )
        .values_list("code", flat=True)
        .first()
    )


def invoice_id_by_reference(
    *, merchant: Merchant, test_mode: bool, reference_id: str
) -> str | None:
    """The newest invoice of the order with this reference: its first, or the reissue or
    remainder that followed it, which is the one still to pay."""
    return (
        Invoice.objects.filter(merchant=merchant, test_mode=test_mode, reference_id=reference_id)
        .order_by("-created_at", "-id")
        .values_list("pk", flat=True)
        .first()
    )


def invoice_chain_end(*, invoice_id: str) -> str:
    """The last invoice of the chain `invoice_id` is in (itself when nothing followed it)."""
    for _ in range(MAX_CHAIN_HOPS):
        followed_by = (
            Invoice.objects.filter(pk=invoice_id).values_list("next_invoice_id", flat=True).first()
        )
        if followed_by is None:
            break
        invoice_id = followed_by
    return invoice_id


# Far more than any service's reissue limit and remainders make: a guard, not a rule.
MAX_CHAIN_HOPS = 100


def invoices_found_by_operator(*, invoices: QuerySet[Invoice], term: str) -> QuerySet[Invoice]:
    """Those of `invoices` whose id or reference_id is exactly `term`, in any merchant and mode.

    A reference names one order per merchant and mode (its invoices, reissues and
    remainders included), and its index leads with those two: naming every merchant
    and both modes lets PostgreSQL answer with one probe of that index per pair,
    where `reference_id = term` alone reads the whole table.
    """
    term = term.strip()
    if not term:
        return invoices
    every_merchant = list(Merchant.objects.values_list("pk", flat=True))
    return invoices.filter(
        Q(pk=term)
        | Q(merchant_id__in=every_merchant, test_mode__in=[True, False], reference_id=term)
    )


INVOICE_ID_PATTERN = re.compile(r"^cpi_[A-Za-z0-9]{16}$")


def _invoices_with_relations() -> QuerySet[Invoice]:
    return Invoice.objects.select_related("service", "merchant")


def invoice_get(*, invoice_id: str) -> Invoice | None:
    """Any invoice by its public id (the id is the key of /confirm and of the hosted page)."""
    if not INVOICE_ID_PATTERN.match(invoice_id):
        return None
    return _invoices_with_relations().filter(pk=invoice_id).first()


def invoice_exists(*, invoice_id: str) -> bool:
    if not INVOICE_ID_PATTERN.match(invoice_id):
        return False
    return Invoice.objects.filter(pk=invoice_id).exists()


def invoice_status_get(*, invoice_id: str) -> Invoice | None:
    """The invoice with only the fields of its status box: its read model, else one
    primary-key read without joins (other fields load lazily if touched), offered back."""
    if not INVOICE_ID_PATTERN.match(invoice_id):
        return None
    if (invoice := read_models.status_get(invoice_id)) is not None:
        return invoice
    try:
        invoice = Invoice.objects.only(*STATUS_FIELDS).get(pk=invoice_id)
    except Invoice.DoesNotExist:
        return None
    read_models.status_offer(invoice)
    return invoice


@dataclass(frozen=True)
class HostedInvoice:
    """An invoice as its hosted page shows it.

    `invoice` has the status box's fields at least; `details` is the whole
    row, read only when first touched: the page's summary and details are
    kept as rendered fragments, and what they show besides the status is
    written once, when the invoice is created.
    """

    invoice: Invoice
    merchant: Merchant
    service: Service
    details: Invoice

    @classmethod
    def of(cls, invoice: Invoice) -> "HostedInvoice":
        """From a whole row read with its merchant and service."""
        return cls(
            invoice=invoice, merchant=invoice.merchant, service=invoice.service, details=invoice
        )


def hosted_invoice_get(*, invoice_id: str) -> HostedInvoice | None:
    """The invoice of a hosted page: its read model and the catalog when the cache is shared
    (usually no database at all), else one read of the row with its merchant and service."""
    if not read_models.enabled():
        invoice = invoice_get(invoice_id=invoice_id)
        return HostedInvoice.of(invoice) if invoice is not None else None
    invoice = invoice_status_get(invoice_id=invoice_id)
    if invoice is None:
        return None
    merchant, service = catalog.merchant_and_service(invoice.merchant_id, invoice.service_id)
    return HostedInvoice(
        invoice=invoice,
        merchant=merchant,
        service=service,
        # The lazy object stands in for the row it reads when first touched; its stub
        # is not generic, so it cannot say which type it stands in for.
        details=cast(Invoice, SimpleLazyObject(lambda: invoice_get(invoice_id=invoice_id))),
    )


@dataclass(frozen=True)
class PaymentCode:
    display_kind: str
    requisites: dict[str, str]


def invoice_payment_code_get(*, invoice_id: str) -> PaymentCode | None:
    """What an invoice's QR code or barcode is drawn from, without loading the invoice."""
    if not INVOICE_ID_PATTERN.match(invoice_id):
        return None
    row = (
        Invoice.objects.filter(pk=invoice_id)
        .values_list("service__display_kind", "requisites")
        .first()
    )
    return PaymentCode(*row) if row else None


def invoice_document_get_authenticated(
    *, account_id: str, secret_key: str, invoice_id: str
) -> tuple[Merchant, bytes | None] | None:
    """The API document of the caller's invoice: None if the credentials are refused, and
    `(merchant, None)` if the caller has no such invoice in the key's mode.

    The merchant comes from the catalog and the document from its read model,
    so a read of one's own invoice usually touches no database; a missing
    document is rendered from the row and offered back.
    """
    found = merchant_authenticate(account_id=account_id, secret_key=secret_key)
    if found is None:
        return None
    merchant, test_mode = found
    if not INVOICE_ID_PATTERN.match(invoice_id):
        return merchant, None
    document = read_models.document_get(invoice_id)
    if document is None:
        invoice = _invoices_with_relations().filter(pk=invoice_id).first()
        if invoice is None:
            return merchant, None
        body = invoice_document(invoice)
        read_models.document_offer(invoice, body)
        document = read_models.InvoiceDocument(
            merchant_id=invoice.merchant_id, test_mode=invoice.test_mode, body=body
        )
    if document.merchant_id != merchant.pk or document.test_mode != test_mode:
        return merchant, None
    return merchant, document.body


@dataclass(frozen=True)
class InvoicePage:
    invoices: list[Invoice]
    next_cursor: str | None


class InvalidCursor(ValueError):
    pass


def _encode_cursor(invoice: Invoice) -> str:
    raw = f"{invoice.created_at.isoformat()}|{invoice.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, invoice_id = raw.split("|")
        created_at = datetime.fromisoformat(moment)
        if created_at.tzinfo is not None:
            created_at = created_at.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidCursor("page[after] is not a cursor this API returned.") from None
    if created_at.tzinfo is None or not INVOICE_ID_PATTERN.match(invoice_id):
        raise InvalidCursor("page[after] is not a cursor this API returned.")
    return created_at, invoice_id


def invoice_list(
    *,
    merchant: Merchant,
    test_mode: bool,
    page_size: int,
    after: str | None = None,
    reference_id: str | None = None,
    statuses: list[str] | None = None,
) -> InvoicePage:
    """Newest first, by keyset on (created_at, id): a page never shifts when invoices are added."""
    scope = Q(merchant=merchant, test_mode=test_mode)
    if reference_id is not None:
        scope &= Q(reference_id=reference_id)
    if after:
        created_at, invoice_id = _decode_cursor(after)
        # The OR alone is only a filter: the index scan would start at the
        # newest invoice and step over every row before the cursor. The
        # redundant `created_at <= cursor` is a bound the index can seek to.
        scope &= Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=invoice_id)
        scope &= Q(created_at__lte=created_at)
    invoices = _invoices_with_relations().filter(scope)
    statuses = sorted(set(statuses or ()))
    if len(statuses) > 1:
        # One (merchant, mode, status, created) range can be read newest first, several
        # cannot: PostgreSQL would walk the merchant's invoices newest first and step
        # over every one in another status, thousands when the statuses asked for are
        # rare or old. Instead, the page's ids from each status's newest ones (index
        # only), then those rows; as one query, the planner may join them by a scan.
        newest_of_each = [
            Invoice.objects.filter(scope, status=status)
            .order_by("-created_at", "-id")
            .values_list("id", "created_at")[: page_size + 1]
            for status in statuses
        ]
        newest: Iterable[tuple[str, datetime]]
        if connection.features.supports_slicing_ordering_in_compound:
            newest = newest_of_each[0].union(*newest_of_each[1:], all=True)
            newest = newest.order_by("-created_at", "-id")[: page_size + 1]
        else:
            # SQLite cannot limit the parts of a UNION: one small read per status.
            newest = sorted(
                (row for rows in newest_of_each for row in rows),
                key=lambda row: (row[1], row[0]),
                reverse=True,
            )[: page_size + 1]
        page_ids = [invoice_id for invoice_id, _ in newest]
        invoices = invoices.filter(pk__in=page_ids)
    elif statuses:
        invoices = invoices.filter(status=statuses[0])
    rows = list(invoices.order_by("-created_at", "-id")[: page_size + 1])
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    return InvoicePage(invoices=rows, next_cursor=_encode_cursor(rows[-1]) if has_more else None)
