"""Security headers of the hosted pages: a strict CSP and the merchant's framing policy."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

CHECKOUT_PREFIX = "/hpp/"
_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "
    "frame-ancestors {ancestors}"
)


# Kept on the response for the middleware, as an attribute HttpResponse does not declare.
_FRAME_ANCESTORS = "checkout_frame_ancestors"


def framing_allow(response: HttpResponse, *, origins: str) -> None:
    """Let these origins (the merchant's `frame_ancestors`, space-separated) frame this page."""
    setattr(response, _FRAME_ANCESTORS, origins)


class CheckoutSecurityHeadersMiddleware:
    """No inline scripts or styles run on a checkout page, and only the merchant may frame it.

    A view that knows the invoice's merchant names the origins that merchant
    allows with `framing_allow`; every other page cannot be framed.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(CHECKOUT_PREFIX):
            ancestors = getattr(response, _FRAME_ANCESTORS, "") or "'none'"
            response["Content-Security-Policy"] = _POLICY.format(ancestors=ancestors)
            response.setdefault("Referrer-Policy", "same-origin")
            response.setdefault("X-Content-Type-Options", "nosniff")
        return response
