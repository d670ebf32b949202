"""A callback's HTTP request: its signed headers, and one POST to a public address.

The SSRF guard resolves the merchant's host once, refuses any address that is
not globally routable and connects to the address it checked, so a second DNS
answer cannot point the request inside our network. Test-mode callbacks may
go to private addresses (a developer's localhost).
"""

import ipaddress
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import ConnectionPool

from invoices import selectors
from invoices.models import CallbackDelivery
from invoices.signing import legacy_signature, standard_webhook_signature, webhook_key

USER_AGENT = "invoice-checkout-callbacks/1.0"
RESPONSE_EXCERPT_BYTES = 1000


@dataclass(frozen=True)
class PostResult:
    status_code: int | None
    error: str
    excerpt: str
    latency_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def signed_headers(delivery: CallbackDelivery, *, timestamp: int) -> dict[str, str]:
    credentials = selectors.merchant_credentials(merchant=delivery.merchant)
    secret_key = credentials.secret_key_test if delivery.test_mode else credentials.secret_key_live
    body = bytes(delivery.body)
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Signature": legacy_signature(secret_key=secret_key, body=body),
        "webhook-id": delivery.webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_webhook_signature(
            key=webhook_key(credentials.webhook_secret),
            webhook_id=delivery.webhook_id,
            timestamp=timestamp,
            body=body,
        ),
    }


# The SSRF guard ---------------------------------------------------------------


class AddressNotAllowed(Exception):
    pass


def _public_addresses(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, refusing any that is not globally routable."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise AddressNotAllowed(f"cannot resolve {host}: {error}") from None
    addresses = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        # Loopback, private, link-local (cloud metadata), multicast, reserved,
        # shared and unspecified ranges are all not global.
        if not address.is_global or address.is_multicast:
            raise AddressNotAllowed(f"{host} resolves to {address}, which is not a public address")
        addresses.append(str(address))
    return addresses


class PinnedAddressAdapter(HTTPAdapter):
    """Connect to an address checked beforehand, keeping the URL's host for Host and TLS.

    Resolving once and connecting to what was checked is what stops DNS
    rebinding: a second lookup could answer with a private address.
    """

    def __init__(self, address: str) -> None:
        self._address = address
        super().__init__(max_retries=0)

    def add_headers(self, request: requests.PreparedRequest, **kwargs: Any) -> None:
        # The connection is to an address, so the name must travel in Host.
        request.headers.setdefault("Host", urlsplit(request.url or "").netloc)

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: bool | str | None,
        proxies: Mapping[str, str] | None = None,
        cert: tuple[str, str] | str | None = None,
    ) -> ConnectionPool:
        host_params, tls_kwargs = self.build_connection_pool_key_attributes(
            request,
            # requests passes `verify` on as it came, None too; its stubs say this method
            # takes no None while the method calling it does.
            verify,  # type: ignore[arg-type]
            cert,
        )
        hostname = host_params["host"]
        # urllib3 takes any pool keyword; requests' stubs name only the ones it sets itself.
        pool_kwargs: dict[str, object] = {**tls_kwargs}
        if host_params["scheme"] == "https":
            pool_kwargs = {**pool_kwargs, "server_hostname": hostname, "assert_hostname": hostname}
        pool: ConnectionPool = self.poolmanager.connection_from_host(
            **{**host_params, "host": self._address}, pool_kwargs=pool_kwargs
        )
        return pool


# Connections are kept between callbacks: a merchant receiving many callbacks
# gets them over a few kept-alive connections instead of a new TCP (and TLS)
# handshake each. One session per (scheme, host, checked address): a host that
# now resolves elsewhere gets a new session, never the old connection.
_SESSIONS: OrderedDict[tuple[str, str, str | None], requests.Session] = OrderedDict()
_SESSIONS_KEPT = 64
_sessions_lock = threading.Lock()


def _session_for(scheme: str, netloc: str, address: str | None) -> requests.Session:
    key = (scheme, netloc, address)
    with _sessions_lock:
        session = _SESSIONS.get(key)
        if session is not None:
            _SESSIONS.move_to_end(key)
            return session
        session = requests.Session()
        session.trust_env = False  # no proxies from the environment: callbacks go where they say
        if address is not None:
            session.mount(f"{scheme}://", PinnedAddressAdapter(address))
        else:
            session.mount(f"{scheme}://", HTTPAdapter(max_retries=0))
        _SESSIONS[key] = session
        if len(_SESSIONS) > _SESSIONS_KEPT:
            _, oldest = _SESSIONS.popitem(last=False)
            oldest.close()
        return session


def post_callback(
    url: str, body: bytes, headers: dict[str, str], *, allow_private: bool
) -> PostResult:
    """POST once, never following redirects; every outcome becomes a `PostResult`."""
    started = time.monotonic()

    def result(status_code: int | None = None, error: str = "", excerpt: str = "") -> PostResult:
        latency = int((time.monotonic() - started) * 1000)
        return PostResult(status_code, error, excerpt, latency)

    parts = urlsplit(url)
    address = None
    if not allow_private:
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            address = _public_addresses(parts.hostname or "", port)[0]
        except (AddressNotAllowed, ValueError) as refused:
            return result(error=f"refused: {refused}")
    session = _session_for(parts.scheme, parts.netloc, address)
    try:
        # A short answer read to its end leaves the connection reusable; a
        # longer one is cut at the excerpt and its connection closed.
        with session.post(
            url,
            data=body,
            headers=headers,
            timeout=(settings.CALLBACK_CONNECT_TIMEOUT_SECONDS, settings.CALLBACK_TIMEOUT_SECONDS),
            allow_redirects=False,
            stream=True,
        ) as response:
            excerpt = response.raw.read(RESPONSE_EXCERPT_BYTES, decode_content=True) or b""
            return result(response.status_code, excerpt=excerpt.decode(errors="replace"))
    except requests.exceptions.SSLError as error:
        return result(error=f"TLS error: {error}")
    except requests.exceptions.Timeout:
        return result(error=f"timed out after {settings.CALLBACK_TIMEOUT_SECONDS} s")
    except requests.exceptions.ConnectionError as error:
        return result(error=f"connection failed: {error}")
    except requests.exceptions.RequestException as error:
        return result(error=f"request failed: {error}")
