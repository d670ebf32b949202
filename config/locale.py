"""Django's locale middleware for what people read; the merchant API speaks one language.

The API's answers (documents, error details) are English whatever the
request's Accept-Language, so they do not vary on it: Django's middleware
would still parse that header, look the path up for a language prefix, and
send `Vary: Accept-Language` and `Content-Language`, telling caches to keep
one copy per language of identical bytes. Under the API prefix the default
language is activated (no other request's language leaks into the thread)
and the response is left as the API made it.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

from invoices.api.errors import API_PREFIX


class PageLocaleMiddleware(LocaleMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        if request.path_info.startswith(API_PREFIX):
            translation.activate(settings.LANGUAGE_CODE)
            request.LANGUAGE_CODE = settings.LANGUAGE_CODE
            return None
        return super().process_request(request)

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if request.path_info.startswith(API_PREFIX):
            return response
        return super().process_response(request, response)
