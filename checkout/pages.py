"""What every hosted page shares: the language it speaks, and how it is rendered."""

from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django_htmx.middleware import HtmxDetails

from invoices.languages import DEFAULT_LOCALE, LOCALES
from invoices.models import Invoice


def page_language(request: HttpRequest, invoice: Invoice | None = None) -> str:
    asked = request.GET.get("locale") or (invoice.locale if invoice else None)
    if asked in LOCALES:
        return asked
    return request.LANGUAGE_CODE if request.LANGUAGE_CODE in LOCALES else DEFAULT_LOCALE


def is_htmx(request: HttpRequest) -> bool:
    """Whether htmx sent the request, as django-htmx's HtmxMiddleware read it into
    `request.htmx` (an attribute HttpRequest does not declare)."""
    details = getattr(request, "htmx", None)
    if not isinstance(details, HtmxDetails):
        raise ImproperlyConfigured("The hosted pages need django_htmx.middleware.HtmxMiddleware.")
    return bool(details)


def render_page(
    request: HttpRequest,
    template: str,
    context: Mapping[str, object],
    *,
    language: str,
    status: int = 200,
) -> HttpResponse:
    """A page rendered by Django for this request (its CSRF token included), in `language`."""
    with translation.override(language):
        response = render(request, template, {**context, "language": language}, status=status)
    response["Content-Language"] = language
    return response


def not_found(request: HttpRequest) -> HttpResponse:
    return render_page(
        request,
        "checkout/message.html",
        {"kind": "not_found"},
        language=page_language(request),
        status=404,
    )
