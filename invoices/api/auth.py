"""HTTP Basic merchant key authentication: account id as user name, secret key as password."""

from dataclasses import dataclass, field
from typing import TypeVar

from django.http import HttpRequest
from ninja.security import HttpBasicAuth

from invoices import selectors
from invoices.models import Merchant
from invoices.state_machine import Actor


@dataclass(frozen=True)
class ApiCaller:
    merchant: Merchant
    test_mode: bool

    @property
    def actor(self) -> Actor:
        return Actor("merchant", self.merchant.account_id)


@dataclass(frozen=True)
class PresentedCredentials:
    account_id: str
    secret_key: str = field(repr=False)  # never in a log line or traceback


class MerchantKeyAuth(HttpBasicAuth):
    """HTTP Basic: account id as the user name, a secret key as the password.

    `deferred=True` only parses them, for an endpoint whose one selector call
    authenticates (the invoice read checks the key against the merchant it
    reads with the invoice): it gets PresentedCredentials and raises
    AuthenticationError when that call refuses them.
    """

    def __init__(self, *, deferred: bool = False) -> None:
        super().__init__()
        self.deferred = deferred

    def authenticate(
        self, request: HttpRequest, username: str, password: str
    ) -> ApiCaller | PresentedCredentials | None:
        if "\x00" in username or "\x00" in password:
            return None
        if self.deferred:
            return PresentedCredentials(account_id=username, secret_key=password)
        found = selectors.merchant_authenticate(account_id=username, secret_key=password)
        return ApiCaller(*found) if found else None


# ninja sets what `authenticate` returned as `request.auth`, an attribute HttpRequest
# does not declare: these read it back typed, for the endpoints of each kind of auth.

_Auth = TypeVar("_Auth")


def api_caller(request: HttpRequest) -> ApiCaller:
    """The caller of an endpoint behind `MerchantKeyAuth()`."""
    return _auth(request, ApiCaller)


def presented_credentials(request: HttpRequest) -> PresentedCredentials:
    """The credentials given to an endpoint behind `MerchantKeyAuth(deferred=True)`."""
    return _auth(request, PresentedCredentials)


def _auth(request: HttpRequest, kind: type[_Auth]) -> _Auth:
    found = getattr(request, "auth", None)
    if not isinstance(found, kind):
        # A route declared with another auth (or none): a bug, never the caller's fault.
        raise TypeError(f"request.auth is {type(found).__name__}, not {kind.__name__}")
    return found
