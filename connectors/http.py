"""The `http` connector: a provider reached over HTTP (the API of `connectors.emulator`).

Every call has connect and read timeouts. Only calls that are safe to repeat
are retried: creating an order is idempotent per merchant order id, status
is a GET; a confirmation is retried only when it never reached the provider
(connection refused). A circuit breaker per provider account stops calling
one that keeps failing, so one slow provider cannot hold every worker, nor
stop the services of another.

Settings of a service (`connector_settings`, the secrets stored encrypted):
    base_url       the provider's API, http(s)
    api_key        secret: sent as `Authorization: Bearer <api_key>`
    notify_secret  secret: verifies the provider's signed notifications
All three, or none: a service without them uses the process-wide
PROVIDER_HTTP_URL, PROVIDER_HTTP_API_KEY and PROVIDER_HTTP_NOTIFY_SECRET.
"""

import hmac
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.http import HttpRequest
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from connectors.base import (
    InvoiceData,
    IssuedRequisites,
    ProviderNotification,
    ProviderRejected,
    ProviderStatus,
    ProviderUnavailable,
)
from connectors.emulator import SIGNATURE_HEADER, provider_signature

# Notifications older than this are refused as replays.
NOTIFICATION_TOLERANCE_SECONDS = 300

_STATUSES = {
    "created": ProviderStatus(status="created"),
    "checking": ProviderStatus(status="processing"),
    "pending": ProviderStatus(status="process_pending"),
    "declined": ProviderStatus(
        status="process_failed", resolution="declined", message="Declined by the provider."
    ),
}


class CircuitBreaker:
    """Open after `failures` failures in a row; half-open (one try) after `cooldown` seconds."""

    def __init__(self, *, failures: int, cooldown: float):
        self.threshold = failures
        self.cooldown = cooldown
        self.consecutive_failures = 0
        self.opened_at: float | None = None
        self.lock = threading.Lock()

    def check(self) -> None:
        with self.lock:
            if self.opened_at is None:
                return
            if time.monotonic() - self.opened_at < self.cooldown:
                raise ProviderUnavailable("provider circuit is open after repeated failures")
            self.opened_at = time.monotonic()  # half-open: let this one call through

    def record(self, *, ok: bool) -> None:
        with self.lock:
            if ok:
                self.consecutive_failures = 0
                self.opened_at = None
                return
            self.consecutive_failures += 1
            if self.consecutive_failures >= self.threshold:
                self.opened_at = time.monotonic()


SETTING_NAMES = ("base_url", "api_key", "notify_secret")


@dataclass(frozen=True)
class Account:
    """One account at one provider: where to call, how to authenticate, how it signs."""

    base_url: str
    api_key: str
    notify_secret: str


def account_of(service_settings: Mapping[str, Any]) -> Account:
    if "base_url" in service_settings:
        return Account(
            base_url=str(service_settings["base_url"]).rstrip("/"),
            api_key=str(service_settings["api_key"]),
            notify_secret=str(service_settings["notify_secret"]),
        )
    return Account(
        base_url=settings.PROVIDER_HTTP_URL,
        api_key=settings.PROVIDER_HTTP_API_KEY,
        notify_secret=settings.PROVIDER_HTTP_NOTIFY_SECRET,
    )


def _session(retry: Retry) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _provider_status(data: Mapping[str, Any]) -> ProviderStatus:
    """The platform's words for a provider's order or event."""
    status = data.get("status")
    if status in _STATUSES:
        return _STATUSES[status]
    if status in ("paid", "partially_paid"):
        try:
            paid = Decimal(str(data["paid_amount"]))
        except (KeyError, InvalidOperation) as error:
            raise ProviderUnavailable(f"provider sent {status} without an amount") from error
        if status == "paid":
            return ProviderStatus(status="processed", processed_amount=paid)
        return ProviderStatus(
            status="partially_processed",
            resolution="insufficient_amount",
            message="The provider received less than the amount.",
            processed_amount=paid,
        )
    raise ProviderUnavailable(f"provider sent an unknown status {status!r}")


class HttpProviderConnector:
    name = "http"
    polls_status = True
    issues_locally = False
    secret_settings: Mapping[str, str] = {
        "api_key": "API key",
        "notify_secret": "Notification secret",
    }

    def __init__(self) -> None:
        safe_statuses = (502, 503, 504)
        # Idempotent calls: retried on connection errors, read errors and 5xx.
        self._idempotent = _session(
            Retry(
                total=2,
                backoff_factor=0.2,
                status_forcelist=safe_statuses,
                allowed_methods={"GET", "POST"},
                raise_on_status=False,
            )
        )
        # A confirmation is repeated only when it cannot have arrived.
        self._once = _session(Retry(total=2, connect=2, read=0, status=0, other=0))
        self._breakers: dict[tuple[str, str], CircuitBreaker] = {}
        self._breakers_lock = threading.Lock()

    def breaker_for(self, service_settings: Mapping[str, Any]) -> CircuitBreaker:
        """The circuit of the provider account these settings name (shared by its services)."""
        account = account_of(service_settings)
        key = (account.base_url, account.api_key)
        with self._breakers_lock:
            if key not in self._breakers:
                self._breakers[key] = CircuitBreaker(
                    failures=settings.PROVIDER_HTTP_BREAKER_FAILURES,
                    cooldown=settings.PROVIDER_HTTP_BREAKER_COOLDOWN_SECONDS,
                )
            return self._breakers[key]

    def settings_problems(self, *, settings: Mapping[str, Any], display_kind: str) -> list[str]:
        if unknown := sorted(set(settings) - set(SETTING_NAMES)):
            return [
                f"Unknown setting(s): {', '.join(unknown)}. The http connector takes base_url,"
                " and the API key and notification secret in their own fields."
            ]
        given = [name for name in SETTING_NAMES if name in settings]
        if not given:
            return []  # the process-wide PROVIDER_HTTP_* settings
        problems = []
        if missing := [name for name in SETTING_NAMES if name not in given]:
            problems.append(
                "base_url, the API key and the notification secret go together: "
                f"{', '.join(missing)} missing (set all three, or none to use the"
                " PROVIDER_HTTP_* settings)."
            )
        if "base_url" in settings:
            try:
                URLValidator(schemes=["http", "https"])(settings["base_url"])
            except ValidationError:
                problems.append(
                    f"base_url must be an http(s) URL such as https://api.provider.example,"
                    f" not {settings['base_url']!r}."
                )
        for name in ("api_key", "notify_secret"):
            value = settings.get(name)
            if name in settings and (not isinstance(value, str) or not value.strip()):
                problems.append(f"The {self.secret_settings[name].lower()} must not be empty.")
        return problems

    # Calls -------------------------------------------------------------------

    def _call(
        self,
        session: requests.Session,
        service_settings: Mapping[str, Any],
        method: str,
        path: str,
        body: Mapping[str, object] | None = None,
    ) -> dict[str, Any]:
        account = account_of(service_settings)
        breaker = self.breaker_for(service_settings)
        breaker.check()
        try:
            response = session.request(
                method,
                account.base_url + path,
                json=body,
                headers={"Authorization": f"Bearer {account.api_key}"},
                timeout=(
                    settings.PROVIDER_HTTP_CONNECT_TIMEOUT_SECONDS,
                    settings.PROVIDER_HTTP_READ_TIMEOUT_SECONDS,
                ),
            )
        except requests.RequestException as error:
            breaker.record(ok=False)
            raise ProviderUnavailable(f"provider unreachable: {error}") from error
        if response.status_code >= 500:
            breaker.record(ok=False)
            raise ProviderUnavailable(f"provider answered {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            breaker.record(ok=False)
            raise ProviderUnavailable(
                f"provider answered {response.status_code} with a body that is not JSON"
            ) from None
        breaker.record(ok=True)
        if response.status_code >= 400 or not isinstance(data, dict):
            raise ProviderRejected(f"provider refused ({response.status_code}): {data}")
        return data

    def issue_requisites(self, invoice: InvoiceData) -> IssuedRequisites:
        data = self._call(
            self._idempotent,
            invoice.settings,
            "POST",
            "/v1/orders",
            {
                "merchant_order_id": invoice.id,
                "amount": str(invoice.amount),
                "currency": invoice.currency,
                "display_kind": invoice.display_kind,
                "notify_url": invoice.notify_url,
            },
        )
        requisites = data.get("requisites")
        if not isinstance(data.get("order_id"), str) or not isinstance(requisites, dict):
            raise ProviderRejected("provider's order has no order_id or requisites")
        schema = data.get("confirmation_schema")
        return IssuedRequisites(
            requisites={key: str(value) for key, value in requisites.items()},
            provider_reference=data["order_id"],
            checkout_page=data.get("checkout_page"),
            confirmation_schema=schema if isinstance(schema, dict) else None,
        )

    def forward_confirmation(
        self, invoice: InvoiceData, payload: Mapping[str, str]
    ) -> ProviderStatus:
        data = self._call(
            self._once,
            invoice.settings,
            "POST",
            f"/v1/orders/{invoice.provider_reference}/confirm",
            {"payload": dict(payload)},
        )
        return _provider_status(data)

    def fetch_status(self, invoice: InvoiceData) -> ProviderStatus:
        data = self._call(
            self._idempotent, invoice.settings, "GET", f"/v1/orders/{invoice.provider_reference}"
        )
        return _provider_status(data)

    def parse_notification(
        self, request: HttpRequest, service_settings: Mapping[str, Any]
    ) -> ProviderNotification:
        body = request.body
        offered = request.headers.get(SIGNATURE_HEADER, "")
        try:
            parts = dict(part.split("=", 1) for part in offered.split(","))
            timestamp = int(parts["t"])
        except (ValueError, KeyError):
            raise ProviderRejected("missing or malformed signature header") from None
        expected = provider_signature(
            secret=account_of(service_settings).notify_secret, timestamp=timestamp, body=body
        )
        if not hmac.compare_digest(expected, offered):
            raise ProviderRejected("signature does not match this service's notification secret")
        if abs(time.time() - timestamp) > NOTIFICATION_TOLERANCE_SECONDS:
            raise ProviderRejected("notification is too old")
        try:
            data = json.loads(body)
            event_id, order_id = str(data["event_id"]), str(data["order_id"])
            status = _provider_status(data)
        except (ValueError, KeyError, TypeError, ProviderUnavailable) as error:
            raise ProviderRejected(f"malformed notification: {error}") from None
        return ProviderNotification(event_id=event_id, provider_reference=order_id, status=status)
