"""Why a request cannot become an invoice: each problem tied to the request attribute
that caused it, so the API can name them all at once."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from invoices.currencies import has_valid_precision, minor_unit_digits
from invoices.languages import LOCALES
from invoices.models import Service

MAX_AMOUNT_DIGITS = 15
RETURN_URL_OUTCOMES = ("success", "pending", "fail", "expired")
MAX_INVOICE_LIFETIME = timedelta(days=365)


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


def invoice_problems(
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
    if callback_url and (problem := url_problem(callback_url, allow_http=test_mode)):
        problems.append(FieldProblem("callback_url", "invalid_url", problem))
    if return_url and (problem := url_problem(return_url, allow_http=True)):
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
        elif problem := url_problem(url, allow_http=True):
            problems.append(FieldProblem(f"return_urls/{outcome}", "invalid_url", problem))
    if locale is not None and locale not in LOCALES:
        problems.append(
            FieldProblem("locale", "unsupported_locale", f"Use one of {', '.join(LOCALES)}.")
        )
    if expires_at is not None and (expiry := expiry_problem(expires_at, now=now)):
        problems.append(expiry)
    return problems


def expiry_problem(expires_at: datetime, *, now: datetime) -> FieldProblem | None:
    """Why an invoice cannot expire then, if it cannot."""
    if now < expires_at <= now + MAX_INVOICE_LIFETIME:
        return None
    return FieldProblem("expires", "invalid_expiry", "Must be in the future, within 365 days.")


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


def url_problem(url: str, *, allow_http: bool) -> str | None:
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
