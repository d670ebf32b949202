"""Writes: creating merchants and invoices, issuing keys, checking services.

Outbound calls to providers happen here, but never inside a transaction:
requisites are asked for first, then the invoice is stored in one short
transaction.
"""

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from connectors.base import (
    Connector,
    InvoiceData,
    IssuedRequisites,
    ProviderError,
    ProviderRejected,
    ProviderStatus,
)
from connectors.registry import UnknownConnector, get_connector
from connectors.requisites import requisites_problems
from invoices import catalog, keys, read_models, selectors, tasks
from invoices.combined_writes import Insert, write_together
from invoices.confirmation_schema import (
    PayloadProblem,
    confirmation_payload_problems,
    confirmation_schema_problems,
    is_confirmation_required,
)
from invoices.connector_secrets import secrets_open, secrets_reseal, secrets_seal
from invoices.currencies import (
    amount_in_currency,
    has_valid_precision,
    is_known_currency,
    minor_unit_digits,
)
from invoices.models import (
    IdempotencyKey,
    Invoice,
    InvoiceEvent,
    Merchant,
    MerchantService,
    ProviderEvent,
    Service,
    method_name_translations_problems,
)
from invoices.state_machine import (
    OPEN_STATUSES,
    WAITING_ON_PROVIDER,
    Actor,
    StatusMoveRefused,
    invoice_move_status,
)
from invoices.statuses import Resolution, Status

logger = logging.getLogger(__name__)


def _move(**move: Any) -> Invoice:
    """Every move the services make: the state machine's, then, once it is committed, the
    invoice's read models (the one place they are written from a move).

    An expired invoice paid late whose order has a reissue still waiting for the payer
    closes that reissue right after (in the caller's transaction, when there is one): the
    order is paid, and the payer must not pay it twice. Moves stay one transaction
    each otherwise; this rare second one may be lost only with the process, leaving
    both invoices for an operator to see.
    """
    invoice = invoice_move_status(**move)
    if invoice.resolution == Resolution.LATE_PAYMENT and invoice.next_invoice_id:
        _follower_close(invoice)
    read_models.refresh_after_commit(invoice)
    # What an operator watching the log wants to see, once the move is kept.
    transaction.on_commit(
        lambda: logger.info(
            "invoice %s: %s (%s) by %s, sequence %s",
            invoice.id,
            invoice.status,
            move["cause"],
            move["actor"],
            invoice.sequence,
        )
    )
    return invoice


def _follower_close(paid: Invoice) -> None:
    """Terminate the invoice that followed `paid`, if the payer has not acted on it yet."""
    follower = Invoice.objects.filter(pk=paid.next_invoice_id).values_list("status", flat=True)
    if follower.first() != Status.CREATED:
        return  # confirmed or paid already: it goes on, and an operator sees both
    try:
        _move(
            invoice_id=paid.next_invoice_id,
            expected_from={Status.CREATED},
            to_status=Status.TERMINATED,
            resolution=Resolution.TERMINATED,
            resolution_message=f"The order was paid late on {paid.id}.",
            cause="order_paid_late",
            actor=Actor("system", "second_chance"),
        )
    except StatusMoveRefused:
        pass  # the payer acted on it meanwhile: both stay, for an operator to see


MAX_AMOUNT_DIGITS = 15
RETURN_URL_OUTCOMES = ("success", "pending", "fail", "expired")
LOCALES = ("en", "uk")
MAX_INVOICE_LIFETIME = timedelta(days=365)
_REQUISITES_ATTEMPTS = 3


# Merchants ----------------------------------------------------------------


class MerchantSetupError(ValueError):
    pass


def _new_secret_fields() -> dict[str, str]:
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
    if callback_url and (problem := _url_problem(callback_url, allow_http=True)):
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


# Services -----------------------------------------------------------------


def service_problems(
    *,
    connector_name: str,
    connector_settings: Any,
    display_kind: str,
    currency: str,
    confirmation_schema: Any,
    method_name_translations: Any = None,
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


# Invoices -----------------------------------------------------------------


@dataclass(frozen=True)
class FieldProblem:
    """One reason an invoice was refused, tied to the request attribute that caused it."""

    field: str
    code: str
    detail: str


class InvoiceRejected(Exception):
    def __init__(self, problems: list[FieldProblem]):
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.detail}" for p in problems))


class DuplicateReference(Exception):
    """The merchant already has an invoice with this reference_id in this mode."""

    def __init__(self, existing_id: str):
        self.existing_id = existing_id
        super().__init__(f"reference_id already used by {existing_id}")


def invoice_create(
    *,
    merchant: Merchant,
    service_code: str,
    reference_id: str,
    amount: Decimal,
    currency: str,
    test_mode: bool,
    actor: Actor,
    description: str | None = None,
    descriptor: str | None = None,
    customer: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    callback_url: str | None = None,
    return_url: str | None = None,
    return_urls: Mapping[str, str] | None = None,
    locale: str | None = None,
    expires_at: datetime | None = None,
    options: Mapping[str, Any] | None = None,
) -> Invoice:
    """Store a new invoice with the requisites its connector issued.

    Raises `InvoiceRejected` for a request that cannot become an invoice and
    `DuplicateReference` when the reference is taken. When the connector fails,
    the invoice is still stored, moved to `process_failed` / `provider_error`.
    """
    now = timezone.now()
    service = selectors.service_enabled_for_merchant(merchant=merchant, service_code=service_code)
    expires_at = expires_at or (now + service.lifetime if service else None)
    _raise_on_problems(
        _invoice_problems(
            service=service,
            service_code=service_code,
            reference_id=reference_id,
            amount=amount,
            currency=currency,
            test_mode=test_mode,
            callback_url=callback_url,
            return_url=return_url,
            return_urls=return_urls,
            locale=locale,
            expires_at=expires_at,
            now=now,
        )
    )
    connector = get_connector(service.connector)
    # A provider is never asked for requisites of an invoice that cannot be stored.
    # Requisites computed here cost nothing, and storing refuses a repeated
    # reference anyway (below): the round trip of the check is saved.
    if not connector.issues_locally and (
        existing_id := selectors.invoice_id_by_reference(
            merchant=merchant, test_mode=test_mode, reference_id=reference_id
        )
    ):
        raise DuplicateReference(existing_id)
    for attempt in range(1, _REQUISITES_ATTEMPTS + 1):
        invoice = Invoice(
            id=keys.new_invoice_id(),
            merchant=merchant,
            service=service,
            connector=connector.name,
            provider_polled=connector.polls_status,
            reference_id=reference_id,
            test_mode=test_mode,
            amount=amount,
            currency=currency,
            payment_amount=amount,
            description=description,
            descriptor=descriptor,
            customer=dict(customer) if customer else None,
            metadata=dict(metadata) if metadata else None,
            callback_url=callback_url or None,
            return_url=return_url or None,
            return_urls=dict(return_urls or {}),
            locale=locale,
            options=dict(options or {}),
            created_at=now,
            updated_at=now,
            expires_at=expires_at,
        )
        issued, failure = requisites_issue(connector, service, invoice)
        try:
            stored = _invoice_store(invoice, issued=issued, failure=failure, actor=actor)
        except IntegrityError:
            if existing_id := selectors.invoice_id_by_reference(
                merchant=merchant, test_mode=test_mode, reference_id=reference_id
            ):
                raise DuplicateReference(existing_id) from None
            # Otherwise the provider repeated a reference it gave another invoice
            # (or, astronomically rarely, the random id repeated): ask again.
            logger.warning("invoice %s: store conflict on attempt %s", invoice.id, attempt)
            if attempt == _REQUISITES_ATTEMPTS:
                raise
            continue
        logger.info(
            "invoice %s: %s, %s %s %s%s",
            stored.id,
            stored.status,
            service.code,
            stored.amount,
            stored.currency,
            " (test)" if stored.test_mode else "",
        )
        return stored
    raise AssertionError("unreachable")


def invoice_data(invoice: Invoice, service: Service) -> InvoiceData:
    return InvoiceData(
        id=invoice.id,
        reference_id=invoice.reference_id,
        amount=invoice.amount,
        currency=invoice.currency,
        test_mode=invoice.test_mode,
        display_kind=service.display_kind,
        expires_at=invoice.expires_at,
        settings=selectors.service_connector_settings(service=service),
        description=invoice.description,
        status=invoice.status,
        requisites=invoice.requisites,
        provider_reference=invoice.provider_reference,
        notify_url=selectors.service_notify_url(service=service),
    )


def requisites_issue(
    connector: Connector, service: Service, invoice: Invoice
) -> tuple[IssuedRequisites | None, str | None]:
    """The connector's requisites, or why there are none. Runs outside any transaction."""
    try:
        issued = connector.issue_requisites(invoice_data(invoice, service))
    except ProviderError as error:
        logger.warning(
            "invoice %s: %s could not issue requisites: %s", invoice.id, connector.name, error
        )
        return None, f"The provider could not issue payment details: {error}"
    problems = requisites_problems(service.display_kind, issued.requisites)
    schema = service.confirmation_schema
    if schema is None:
        schema = issued.confirmation_schema or {}
        problems += [f"confirmation schema: {p}" for p in confirmation_schema_problems(schema)]
    if problems:
        logger.warning("invoice %s: unusable requisites: %s", invoice.id, problems)
        return None, "The provider's payment details are unusable: " + "; ".join(problems)
    invoice.requisites = issued.requisites
    invoice.provider_reference = issued.provider_reference
    invoice.checkout_page = issued.checkout_page
    invoice.is_otp_flow = service.is_otp_flow or issued.is_otp_flow
    invoice.confirmation_schema_json = json.dumps(schema, separators=(",", ":"), ensure_ascii=False)
    invoice.confirmation_required = is_confirmation_required(schema)
    return issued, None


def _invoice_store(
    invoice: Invoice, *, issued: IssuedRequisites | None, failure: str | None, actor: Actor
) -> Invoice:
    created = InvoiceEvent(
        invoice=invoice,
        sequence=invoice.sequence,
        from_status=None,
        to_status=invoice.status,
        resolution=invoice.resolution,
        cause="invoice_created",
        actor=str(actor),
        created_at=invoice.created_at,
    )
    if failure is None:
        write_together([Insert(invoice), Insert(created)])
        return invoice
    # Stored and failed together: never a created invoice without requisites.
    with transaction.atomic():
        write_together([Insert(invoice), Insert(created)])
        return _move(
            invoice_id=invoice.id,
            expected_from={Status.CREATED},
            to_status=Status.PROCESS_FAILED,
            resolution=Resolution.PROVIDER_ERROR,
            resolution_message=failure,
            cause="requisites_not_issued",
            actor=Actor("connector", invoice.connector),
        )


def _raise_on_problems(problems: list[FieldProblem]) -> None:
    if problems:
        raise InvoiceRejected(problems)


def _invoice_problems(
    *,
    service: Service | None,
    service_code: str,
    reference_id: str,
    amount: Decimal,
    currency: str,
    test_mode: bool,
    callback_url: str | None,
    return_url: str | None,
    return_urls: Mapping[str, str] | None,
    locale: str | None,
    expires_at: datetime | None,
    now: datetime,
) -> list[FieldProblem]:
    problems = []
    if not 1 <= len(reference_id) <= 255:
        problems.append(FieldProblem("reference_id", "invalid", "Use 1 to 255 characters."))
    if service is None:
        problems.append(
            FieldProblem(
                "service",
                "service_unavailable",
                f"The service {service_code!r} does not exist or is not enabled for this merchant.",
            )
        )
    else:
        problems += invoice_amount_problems(amount=amount, currency=currency, service=service)
    if callback_url and (problem := _url_problem(callback_url, allow_http=test_mode)):
        problems.append(FieldProblem("callback_url", "invalid_url", problem))
    if return_url and (problem := _url_problem(return_url, allow_http=True)):
        problems.append(FieldProblem("return_url", "invalid_url", problem))
    for outcome, url in (return_urls or {}).items():
        if outcome not in RETURN_URL_OUTCOMES:
            problems.append(
                FieldProblem(
                    "return_urls",
                    "unknown_outcome",
                    f"{outcome!r} is not one of {', '.join(RETURN_URL_OUTCOMES)}.",
                )
            )
        elif problem := _url_problem(url, allow_http=True):
            problems.append(FieldProblem(f"return_urls/{outcome}", "invalid_url", problem))
    if locale is not None and locale not in LOCALES:
        problems.append(
            FieldProblem("locale", "unsupported_locale", f"Use one of {', '.join(LOCALES)}.")
        )
    if expires_at is not None and not now < expires_at <= now + MAX_INVOICE_LIFETIME:
        problems.append(
            FieldProblem("expires", "invalid_expiry", "Must be in the future, within 365 days.")
        )
    return problems


def invoice_amount_problems(
    *, amount: Decimal, currency: str, service: Service
) -> list[FieldProblem]:
    if currency != service.currency:
        return [
            FieldProblem(
                "currency",
                "currency_mismatch",
                f"The service {service.code} takes {service.currency}, not {currency}.",
            )
        ]
    if not amount.is_finite() or amount <= 0:
        return [FieldProblem("amount", "invalid_amount", "The amount must be more than zero.")]
    # At most 15 significant digits in all: exact in every database and every
    # JSON parser a merchant may use (doubles hold 15 digits).
    ceiling = Decimal(10) ** (MAX_AMOUNT_DIGITS - minor_unit_digits(currency))
    if amount >= ceiling:
        return [
            FieldProblem("amount", "invalid_amount", f"The amount must be less than {ceiling:f}.")
        ]
    if not has_valid_precision(amount, currency):
        return [
            FieldProblem(
                "amount",
                "invalid_precision",
                f"{currency} amounts have at most {_digits_text(currency)} after the point.",
            )
        ]
    if service.min_amount is not None and amount < service.min_amount:
        return [
            FieldProblem(
                "amount", "amount_too_small", f"The minimum is {service.min_amount} {currency}."
            )
        ]
    if service.max_amount is not None and amount > service.max_amount:
        return [
            FieldProblem(
                "amount", "amount_too_large", f"The maximum is {service.max_amount} {currency}."
            )
        ]
    return []


def _digits_text(currency: str) -> str:
    digits = minor_unit_digits(currency)
    return "no digits" if digits == 0 else f"{digits} digit{'s' if digits > 1 else ''}"


_URL_VALIDATOR = URLValidator(schemes=["http", "https"])


def _url_problem(url: str, *, allow_http: bool) -> str | None:
    """Why `url` cannot be used to reach a merchant; None when it can."""
    if len(url) > 2048:
        return "URLs are at most 2048 characters."
    try:
        _URL_VALIDATOR(url)
    except ValidationError:
        return "Not a valid http(s) URL."
    if urlsplit(url).scheme != "https" and not allow_http:
        return "Must be an https URL (http is allowed in test mode only)."
    return None


# Confirmation --------------------------------------------------------------

MAX_INVALID_CONFIRMATIONS = 5


class InvoiceNotFound(Exception):
    pass


class ConfirmationLocked(Exception):
    """Too many refused confirmations: the invoice takes no more."""


class InvoiceNotConfirmable(Exception):
    """Final, expired or already confirmed."""


class ConfirmationRejected(Exception):
    def __init__(self, problems: list[PayloadProblem]):
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.detail}" for p in problems))


def invoice_confirm(*, invoice_id: str, payload: Mapping[str, Any], actor: Actor) -> Invoice:
    """Check a customer's confirmation, move `created → processing`, forward it after commit.

    Refused confirmations are counted; after `MAX_INVALID_CONFIRMATIONS` the
    invoice is locked against guessing.
    """
    invoice = selectors.invoice_get(invoice_id=invoice_id)
    if invoice is None:
        raise InvoiceNotFound(invoice_id)
    if invoice.confirmation_failures >= MAX_INVALID_CONFIRMATIONS:
        raise ConfirmationLocked(invoice_id)
    _raise_unless_confirmable(invoice)

    values, problems = confirmation_payload_problems(invoice.confirmation_schema, payload)
    if problems:
        # Count the refusal only while under the limit, in one conditional
        # UPDATE: concurrent guesses cannot together get more than five 422s.
        counted = Invoice.objects.filter(
            pk=invoice_id, confirmation_failures__lt=MAX_INVALID_CONFIRMATIONS
        ).update(confirmation_failures=F("confirmation_failures") + 1)
        if not counted:
            raise ConfirmationLocked(invoice_id)
        raise ConfirmationRejected(problems)

    try:
        # The confirmation is stored by the move's own UPDATE: both or neither.
        confirmed = _move(
            invoice_id=invoice_id,
            expected_from={Status.CREATED},
            to_status=Status.PROCESSING,
            resolution=Resolution.OK,
            cause="confirmation_received",
            actor=actor,
            details={"fields": sorted(values)},
            also_set={"confirmation_payload": values, "confirmed_at": timezone.now()},
        )
    except StatusMoveRefused as refused:
        raise InvoiceNotConfirmable(
            f"The invoice is {refused.current_status} and takes no confirmation."
        ) from None
    # After the move's commit (or the caller's, when it runs inside a transaction).
    tasks.enqueue_after_commit(tasks.forward_confirmation, invoice_id=invoice_id)
    return confirmed


def _raise_unless_confirmable(invoice: Invoice) -> None:
    if invoice.status != Status.CREATED:
        if invoice.status in (Status.PROCESSING, Status.PROCESS_PENDING):
            raise InvoiceNotConfirmable("The invoice is already confirmed.")
        raise InvoiceNotConfirmable(f"The invoice is {invoice.status} and takes no confirmation.")
    if invoice.expires_at <= timezone.now():
        raise InvoiceNotConfirmable("The invoice has expired.")


def invoice_forward_confirmation(*, invoice_id: str) -> Invoice | None:
    """Hand a stored confirmation to the provider and apply its answer.

    Safe to run twice: an invoice that has left `processing` is not forwarded
    again. `ProviderUnavailable` propagates so the task retries later.
    """
    invoice = selectors.invoice_get(invoice_id=invoice_id)
    if invoice is None or invoice.status != Status.PROCESSING:
        return invoice
    connector = get_connector(invoice.connector)
    try:
        answer = connector.forward_confirmation(
            invoice_data(invoice, invoice.service), invoice.confirmation_payload or {}
        )
    except ProviderRejected as rejected:
        answer = ProviderStatus(
            status=Status.PROCESS_FAILED,
            resolution=Resolution.PROVIDER_ERROR,
            message=f"The provider refused the confirmation: {rejected}",
        )
    return invoice_apply_provider_status(
        invoice_id=invoice_id,
        answer=answer,
        cause="provider_answered_confirmation",
        actor=Actor("connector", invoice.connector),
    )


def invoice_apply_provider_status(
    *, invoice_id: str, answer: ProviderStatus, cause: str, actor: Actor
) -> Invoice | None:
    """Turn a provider's answer into one guarded move; an answer that changes nothing is a no-op."""
    invoice = Invoice.objects.filter(pk=invoice_id).only("status").first()
    if invoice is None or answer.status == invoice.status:
        return invoice
    if answer.status not in Status.values or answer.status == Status.CREATED:
        logger.warning("invoice %s: ignoring provider status %r", invoice_id, answer.status)
        return invoice
    try:
        return _move(
            invoice_id=invoice_id,
            to_status=answer.status,
            resolution=answer.resolution,
            resolution_message=answer.message,
            processed_amount=answer.processed_amount,
            cause=cause,
            actor=actor,
        )
    except StatusMoveRefused as refused:
        logger.warning("invoice %s: provider answer not applied: %s", invoice_id, refused)
        return None


# Idempotency keys ------------------------------------------------------------

IDEMPOTENCY_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: bytes


class IdempotencyKeyReused(Exception):
    """The key was first used with another request body."""


class IdempotencyKeyInProgress(Exception):
    """The first request with this key is still being handled."""


def idempotency_begin(
    *, merchant: Merchant, test_mode: bool, key: str, fingerprint: str
) -> StoredResponse | IdempotencyKey:
    """Claim `key` for this request, or return the answer given to it before.

    Returns the claimed row (finish it with `idempotency_finish`) or the stored
    response to replay; raises when the key belongs to another body or is busy.
    """
    for _ in range(2):
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(
                    merchant=merchant, test_mode=test_mode, key=key, request_fingerprint=fingerprint
                )
        except IntegrityError:
            existing = IdempotencyKey.objects.filter(
                merchant=merchant, test_mode=test_mode, key=key
            ).first()
        if existing is None:
            continue  # released meanwhile: claim it again
        if existing.created_at < timezone.now() - IDEMPOTENCY_WINDOW:
            IdempotencyKey.objects.filter(pk=existing.pk, created_at=existing.created_at).delete()
            continue
        if existing.request_fingerprint != fingerprint:
            raise IdempotencyKeyReused(key)
        if existing.response_status is None:
            raise IdempotencyKeyInProgress(key)
        return StoredResponse(status=existing.response_status, body=bytes(existing.response_body))
    raise IdempotencyKeyInProgress(key)


def idempotency_finish(*, claim: IdempotencyKey, response: StoredResponse | None) -> None:
    """Store the answer to replay, or (None) release the key so the request can be retried."""
    if response is None:
        IdempotencyKey.objects.filter(pk=claim.pk).delete()
        return
    IdempotencyKey.objects.filter(pk=claim.pk).update(
        response_status=response.status, response_body=response.body
    )


def idempotency_keys_purge() -> int:
    """Forget keys older than the replay window."""
    deleted, _ = IdempotencyKey.objects.filter(
        created_at__lt=timezone.now() - IDEMPOTENCY_WINDOW
    ).delete()
    return deleted


# Polling and expiry ------------------------------------------------------------

POLL_CLAIM_BATCH = 100
EXPIRY_BATCH = 500


def poll_delay(attempts: int) -> timedelta:
    """10 s, 20 s, 40 s ... at most 10 minutes."""
    seconds = settings.POLL_FIRST_DELAY_SECONDS * 2 ** min(attempts, 20)
    return timedelta(seconds=min(seconds, settings.POLL_MAX_DELAY_SECONDS))


def invoices_claim_due_polls(*, limit: int = POLL_CLAIM_BATCH) -> list[str]:
    """Claim invoices whose poll is due, pushing each one's next poll out by its back-off.

    `FOR UPDATE SKIP LOCKED` over the partial index on `next_poll_at`: two
    sweepers never claim the same invoice, and the query never scans rows
    that are not due. Only the state machine sets `next_poll_at`, and only
    while an invoice waits on its provider, so the index alone is the filter
    (`invoice_poll` checks the status again before asking).
    """
    now = timezone.now()
    with transaction.atomic():
        due = list(
            Invoice.objects.select_for_update(skip_locked=True)
            .filter(next_poll_at__lte=now)
            .order_by("next_poll_at")
            .values_list("id", "poll_attempts")[:limit]
        )
        for invoice_id, attempts in due:
            Invoice.objects.filter(pk=invoice_id).update(
                poll_attempts=attempts + 1, next_poll_at=now + poll_delay(attempts + 1)
            )
    return [invoice_id for invoice_id, _ in due]


def invoice_poll(*, invoice_id: str, actor: Actor | None = None) -> Invoice | None:
    """Ask the provider for the invoice's status and apply what it says."""
    invoice = selectors.invoice_get(invoice_id=invoice_id)
    if invoice is None or invoice.status not in WAITING_ON_PROVIDER:
        return invoice
    connector = get_connector(invoice.connector)
    try:
        answer = connector.fetch_status(invoice_data(invoice, invoice.service))
    except ProviderError as error:
        # The next poll is already scheduled; this one is only logged.
        logger.warning("invoice %s: polling %s failed: %s", invoice_id, connector.name, error)
        return invoice
    return invoice_apply_provider_status(
        invoice_id=invoice_id,
        answer=answer,
        cause="provider_polled",
        actor=actor or Actor("connector", invoice.connector),
    )


def invoices_expire_overdue(*, batch: int = EXPIRY_BATCH, max_batches: int = 20) -> int:
    """Move open invoices past `expires` to `expired`, oldest first, in indexed batches."""
    expired = 0
    for _ in range(max_batches):
        overdue = list(
            Invoice.objects.filter(status__in=OPEN_STATUSES, expires_at__lte=timezone.now())
            .order_by("expires_at")
            .values_list("id", flat=True)[:batch]
        )
        for invoice_id in overdue:
            try:
                _move(
                    invoice_id=invoice_id,
                    expected_from=OPEN_STATUSES,
                    to_status=Status.EXPIRED,
                    resolution=Resolution.EXPIRED,
                    cause="expired",
                    actor=Actor("system", "expiry"),
                )
                expired += 1
            except StatusMoveRefused:
                pass  # someone moved it first; the refusal is recorded
        if len(overdue) < batch:
            break
    return expired


# Operators -------------------------------------------------------------------

OPERATOR_MOVES = {
    "processed": (Status.PROCESSED, Resolution.OK),
    "process_failed": (Status.PROCESS_FAILED, Resolution.DECLINED),
    "expired": (Status.EXPIRED, Resolution.EXPIRED),
    "terminated": (Status.TERMINATED, Resolution.TERMINATED),
}


def invoice_operator_move(*, invoice_id: str, outcome: str, reason: str, operator: str) -> Invoice:
    """An operator marks an invoice paid, failed, expired or terminated, with a recorded reason."""
    to_status, resolution = OPERATOR_MOVES[outcome]
    return _move(
        invoice_id=invoice_id,
        to_status=to_status,
        resolution=resolution,
        resolution_message=reason,
        cause="operator_action",
        actor=Actor("operator", operator),
        details={"reason": reason},
    )


def invoices_poll_soon(*, invoice_ids: list[str]) -> int:
    """Ask a worker to poll these invoices' providers now (those still waiting on one)."""
    waiting = list(
        Invoice.objects.filter(pk__in=invoice_ids, status__in=WAITING_ON_PROVIDER).values_list(
            "id", flat=True
        )
    )
    for invoice_id in waiting:
        tasks.enqueue_after_commit(tasks.poll_invoice, invoice_id=invoice_id)
    return len(waiting)


# Provider notifications -----------------------------------------------------------


class NotificationRefused(Exception):
    """Not a notification we accept: unknown connector, bad signature, malformed body."""


class NotificationEndpointUnknown(NotificationRefused):
    """No service with this code uses this connector."""


def provider_notification_receive(
    *, connector_name: str, request, service_code: str | None = None
) -> bool:
    """Verify and keep a provider's notification; processing happens in a task.

    With `service_code` (the service's own notification URL) it is verified with
    that service's secret and applies to that service's invoices only; without,
    with the connector's process-wide settings (the URL of before per-service
    credentials, for orders created then).
    Returns False for an event id already received (the provider repeats itself).
    """
    service = None
    if service_code is not None:
        service = selectors.service_for_notifications(
            connector_name=connector_name, service_code=service_code
        )
        if service is None:
            raise NotificationEndpointUnknown(
                f"No service {service_code!r} uses the {connector_name!r} connector."
            )
    try:
        connector = get_connector(connector_name)
        notification = connector.parse_notification(
            request, selectors.service_connector_settings(service=service) if service else {}
        )
    except (UnknownConnector, ProviderRejected) as refused:
        raise NotificationRefused(str(refused)) from None
    answer = notification.status
    try:
        with transaction.atomic():
            event = ProviderEvent.objects.create(
                connector=connector.name,
                service=service,
                event_id=notification.event_id,
                provider_reference=notification.provider_reference,
                status=answer.status,
                resolution=answer.resolution,
                message=answer.message or "",
                processed_amount=answer.processed_amount,
            )
            tasks.enqueue_after_commit(tasks.process_provider_event, event_pk=event.pk)
    except IntegrityError:
        return False
    return True


def provider_event_process(*, event_pk: int) -> None:
    """Apply a kept notification to its invoice, once."""
    event = ProviderEvent.objects.filter(pk=event_pk, processed_at__isnull=True).first()
    if event is None:
        return
    # A secret speaks only for its own account: a service's notification for
    # that service's invoices, the process-wide secret's for services that
    # have no secrets of their own. Either way the lookup is by (service,
    # provider reference), the unique index.
    if event.service_id is not None:
        service_ids = [event.service_id]
    else:
        service_ids = list(
            Service.objects.filter(connector=event.connector, connector_secrets="").values_list(
                "id", flat=True
            )
        )
    invoices = Invoice.objects.filter(
        connector=event.connector,
        service_id__in=service_ids,
        provider_reference=event.provider_reference,
    )
    invoice_id = invoices.values_list("id", flat=True).first()
    if invoice_id is None:
        outcome = "no invoice has this provider reference"
    else:
        moved = invoice_apply_provider_status(
            invoice_id=invoice_id,
            answer=ProviderStatus(
                status=event.status,
                resolution=event.resolution,
                message=event.message or None,
                processed_amount=event.processed_amount,
            ),
            cause="provider_notified",
            actor=Actor("connector", event.connector),
        )
        outcome = f"applied to {invoice_id}" if moved else f"nothing to apply to {invoice_id}"
    ProviderEvent.objects.filter(pk=event_pk).update(processed_at=timezone.now(), outcome=outcome)


def provider_events_sweep(*, older_than_seconds: float = 30) -> list[int]:
    """Notifications kept but not processed (their task was lost): to process again."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return list(
        ProviderEvent.objects.filter(processed_at__isnull=True, received_at__lte=cutoff)
        .order_by("received_at")
        .values_list("pk", flat=True)[:500]
    )


# Bank statements ----------------------------------------------------------------

STATEMENT_CAUSE = "statement"
# A transfer can still land on an invoice that expired meanwhile: the state
# machine records that as a late payment.
SETTLEABLE_BY_TRANSFER = (*OPEN_STATUSES, Status.EXPIRED)


def invoice_settle_by_transfer(
    *, invoice_id: str, received: Decimal, actor: Actor, details: Mapping[str, Any]
) -> tuple[Invoice, bool]:
    """A credit on the merchant's account pays this invoice: the full amount (or more)
    is `processed` with the amount received, less is `partially_processed`.

    Returns the moved invoice and whether more than asked was paid; raises
    `StatusMoveRefused` when the invoice left the statuses a payment settles.
    """
    asked, currency = Invoice.objects.values_list("payment_amount", "currency").get(pk=invoice_id)
    asked = amount_in_currency(asked, currency)
    overpaid = received > asked
    if received < asked:
        to_status, resolution = Status.PARTIALLY_PROCESSED, Resolution.INSUFFICIENT_AMOUNT
        message = f"Paid {received} of {asked} by bank transfer."
    else:
        to_status, resolution = Status.PROCESSED, Resolution.OK
        message = f"Paid {received}, {received - asked} more than asked." if overpaid else None
    invoice = _move(
        invoice_id=invoice_id,
        expected_from=SETTLEABLE_BY_TRANSFER,
        to_status=to_status,
        resolution=resolution,
        resolution_message=message,
        processed_amount=received,
        cause=STATEMENT_CAUSE,
        actor=actor,
        details={**details, "overpaid": overpaid},
    )
    return invoice, overpaid
