"""Security headers of the hosted pages: a strict CSP and the merchant's framing policy."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

CHECKOUT_PREFIX = "/hpp/"
_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "
    "frame-ancestors {ancestors}"
)


class CheckoutSecurityHeadersMiddleware:
    """No inline scripts or styles run on a checkout page, and only the merchant may frame it.

    A view that knows the invoice's merchant sets `response.frame_ancestors`
    to the origins that merchant allows; every other page cannot be framed.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(CHECKOUT_PREFIX):
            ancestors = getattr(response, "frame_ancestors", "") or "'none'"
            response["Content-Security-Policy"] = _POLICY.format(ancestors=ancestors)
            response.setdefault("Referrer-Policy", "same-origin")
            response.setdefault("X-Content-Type-Options", "nosniff")
        return response
