"""What the hosted pages do beyond reading: the redirect flow, the test panel, returning.

Views call these; they call `invoices.services` for every write, so the
hosted checkout and the merchant API share one set of rules.
"""

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from connectors.sandbox import SandboxConnector
from invoices import selectors, services
from invoices.models import Invoice, Merchant, Service
from invoices.state_machine import Actor
from invoices.statuses import FINAL_STATUSES, Status

if TYPE_CHECKING:
    # A lazily translated message (django-stubs' name for gettext_lazy's result).
    from django_stubs_ext import StrPromise

SIGNATURE_PARAMETER = "signature"

# What a customer is told about a broken link, in the page's language; the
# merchant's API gets the technical detail instead.
_LINK_PROBLEMS: dict[str, "StrPromise"] = {
    "amount": _("The amount is missing or not valid for this payment method."),
    "currency": _("The currency is missing or does not match the payment method."),
    "reference_id": _("The order reference is missing or too long."),
    "service": _("This payment method is not available."),
    "return_url": _("The address to return to is not valid."),
    "return_urls": _("The address to return to is not valid."),
    "expires": _("The payment deadline is not valid."),
    "locale": _("The language is not supported."),
    "other": _("The link is not valid."),
}


class LinkRefused(Exception):
    """The link is not signed as the merchant requires: nothing may be created."""


class LinkInvalid(Exception):
    def __init__(self, problems: list["StrPromise"]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(problem) for problem in problems))


def link_signature(*, secret_key: str, parameters: Mapping[str, str]) -> str:
    """hex HMAC-SHA256 over the other parameters sorted by name, joined as k=v&k=v."""
    message = "&".join(
        f"{name}={value}"
        for name, value in sorted(parameters.items())
        if name != SIGNATURE_PARAMETER
    )
    return hmac.new(secret_key.encode(), message.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class CheckoutLink:
    merchant: Merchant
    test_mode: bool
    parameters: dict[str, str]

    def with_service(self, service_code: str) -> str:
        """The same link choosing `service`, signed again when the merchant signs links."""
        parameters = {
            name: value for name, value in self.parameters.items() if name not in ("method",)
        }
        parameters["service"] = service_code
        parameters.pop(SIGNATURE_PARAMETER, None)
        if self.merchant.require_signed_links:
            parameters[SIGNATURE_PARAMETER] = link_signature(
                secret_key=_secret_key(self.merchant, self.test_mode), parameters=parameters
            )
        return f"{reverse('hpp')}?{urlencode(parameters)}"


def _secret_key(merchant: Merchant, test_mode: bool) -> str:
    keys = selectors.merchant_credentials(merchant=merchant)
    return keys.secret_key_test if test_mode else keys.secret_key_live


def checkout_link_read(*, query: Mapping[str, str]) -> CheckoutLink:
    """The merchant and mode behind a checkout link, its signature checked.

    Raises `LinkRefused` (unknown key, missing or wrong signature) or
    `LinkInvalid` (missing parameters).
    """
    # The signature covers every parameter of the link (the merchant's own
    # tracking parameters too), as the contract says; only the known ones are used.
    parameters = {name: query[name] for name in query}
    public_key = parameters.get("public_key", "")
    found = selectors.merchant_by_public_key(public_key=public_key)
    if found is None:
        raise LinkRefused("This payment link is not valid.")
    merchant, test_mode = found
    if merchant.require_signed_links:
        expected = link_signature(
            secret_key=_secret_key(merchant, test_mode), parameters=parameters
        )
        if not hmac.compare_digest(expected, parameters.get(SIGNATURE_PARAMETER, "")):
            raise LinkRefused("This payment link is not signed by the shop.")
    missing = [name for name in ("amount", "currency", "reference_id") if not parameters.get(name)]
    if missing:
        raise LinkInvalid([_LINK_PROBLEMS[name] for name in missing])
    return CheckoutLink(merchant=merchant, test_mode=test_mode, parameters=parameters)


def checkout_services(*, link: CheckoutLink) -> list[Service]:
    """The merchant's enabled services in the link's currency: the method-selection page."""
    return selectors.services_enabled_for_merchant(
        merchant=link.merchant, currency=link.parameters["currency"]
    )


def checkout_invoice_for_link(*, link: CheckoutLink) -> Invoice:
    """The invoice this link names (merchant + reference_id), created on the first visit;
    after a reissue or a remainder, the order's newest invoice."""
    parameters = link.parameters
    existing = selectors.invoice_id_by_reference(
        merchant=link.merchant, test_mode=link.test_mode, reference_id=parameters["reference_id"]
    )
    if existing:
        return _invoice_seen(existing)
    service_code = parameters.get("service") or selectors.service_code_for_method(
        merchant=link.merchant,
        method_code=parameters.get("method", ""),
        currency=parameters["currency"],
    )
    try:
        amount = Decimal(parameters["amount"])
    except InvalidOperation:
        raise LinkInvalid([_LINK_PROBLEMS["amount"]]) from None
    expires_at = None
    if parameters.get("expires"):
        try:
            expires_at = datetime.fromtimestamp(int(parameters["expires"]), tz=UTC)
        except (ValueError, OverflowError, OSError):
            raise LinkInvalid([_LINK_PROBLEMS["expires"]]) from None
    try:
        return services.invoice_create(
            merchant=link.merchant,
            service_code=service_code or "",
            reference_id=parameters["reference_id"],
            amount=amount,
            currency=parameters["currency"],
            test_mode=link.test_mode,
            actor=Actor("customer", "checkout_link"),
            description=parameters.get("description") or None,
            return_url=parameters.get("return_url") or None,
            locale=parameters.get("locale") or None,
            expires_at=expires_at,
        )
    except services.InvoiceRejected as rejected:
        fields = dict.fromkeys(problem.field.split("/")[0] for problem in rejected.problems)
        raise LinkInvalid(
            [_LINK_PROBLEMS.get(field, _LINK_PROBLEMS["other"]) for field in fields]
        ) from None
    except services.DuplicateReference as duplicate:
        # Opened twice at the same moment: both land on the one invoice.
        return _invoice_seen(duplicate.existing_id)


def _invoice_seen(invoice_id: str) -> Invoice:
    """An invoice this module has just found or made, read afresh: it is there."""
    invoice = selectors.invoice_get(invoice_id=invoice_id)
    if invoice is None:
        raise Invoice.DoesNotExist(f"invoice {invoice_id} has vanished")
    return invoice


# Test panel ------------------------------------------------------------------

SIMULATED_OUTCOMES = ("paid", "failed", "partial")


class SimulationRefused(Exception):
    pass


def invoice_simulate(*, invoice_id: str, outcome: str) -> Invoice:
    """In test mode, answer as the sandbox provider would, without a confirmation."""
    invoice = selectors.invoice_get(invoice_id=invoice_id)
    if invoice is None or not invoice.test_mode:
        raise SimulationRefused("Only test-mode invoices can simulate a provider answer.")
    if outcome not in SIMULATED_OUTCOMES or invoice.status in FINAL_STATUSES:
        raise SimulationRefused("Nothing to simulate.")
    sandbox_word = {"paid": "paid", "failed": "fail", "partial": "partial"}[outcome]
    answer = SandboxConnector().simulate(
        services.invoice_data(invoice, invoice.service), outcome=sandbox_word
    )
    services.invoice_apply_provider_status(
        invoice_id=invoice_id,
        answer=answer,
        cause="test_panel",
        actor=Actor("customer", "test_panel"),
    )
    return _invoice_seen(invoice_id)


# Returning the customer -----------------------------------------------------------

_RETURN_OUTCOME: dict[str, str] = {
    Status.PROCESSED: "success",
    Status.PARTIALLY_PROCESSED: "fail",
    Status.PROCESS_FAILED: "fail",
    Status.TERMINATED: "fail",
    Status.EXPIRED: "expired",
}


def return_url(invoice: Invoice) -> str | None:
    """Where the customer goes back to: return_urls by outcome, else return_url, + cpi and status.

    Only http(s) URLs are ever given back; anything else means no return.
    """
    outcome = _RETURN_OUTCOME.get(invoice.status, "pending")
    urls = invoice.return_urls or {}
    url = urls.get(outcome) or (urls.get("fail") if outcome == "expired" else None)
    url = url or invoice.return_url
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    query = [
        *parse_qsl(parts.query, keep_blank_values=True),
        ("cpi", invoice.id),
        ("status", invoice.status),
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))
