"""Checkout HTML rendered from its data alone, so that a page can be kept and sent again.

The hosted page took about 2 ms of Django templates on every visit, while
what it shows changes only when the invoice (or its service) does. Pages are
rendered without the request: the one per-visitor part, the CSRF token, is
rendered as an unguessable placeholder and put in as each response is made.
`RenderedPages` keeps rendered HTML under a digest of everything it was
rendered from, so a change to any of it is a new entry, never a stale page.
"""

import hashlib
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable

from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils import translation

# Random per process: no merchant or provider text can contain it by accident or design.
CSRF_PLACEHOLDER = "csrf" + secrets.token_hex(16)


def render_html(template: str, context: dict, *, language: str) -> str:
    with translation.override(language):
        return render_to_string(
            template, {**context, "language": language, "csrf_token": CSRF_PLACEHOLDER}
        )


def with_csrf_token(request: HttpRequest, html: str) -> str:
    """The page as this visitor gets it; the token (and its cookie) only where a form is."""
    if CSRF_PLACEHOLDER not in html:
        return html
    # Django's own token: a fresh mask of the visitor's secret, its cookie set as always.
    return html.replace(CSRF_PLACEHOLDER, get_token(request))


def digest(*rendered_from) -> bytes:
    """A key for everything a page is rendered from (model field values, language, ...)."""
    return hashlib.blake2b(repr(rendered_from).encode(), digest_size=16).digest()


class RenderedPages:
    """The most recently used rendered pages of this process."""

    def __init__(self, max_entries: int):
        self._max_entries = max_entries
        self._pages: OrderedDict[bytes, str] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_render(self, key: bytes, render: Callable[[], str]) -> str:
        with self._lock:
            html = self._pages.get(key)
            if html is not None:
                self._pages.move_to_end(key)
                return html
        html = render()
        with self._lock:
            self._pages[key] = html
            while len(self._pages) > self._max_entries:
                self._pages.popitem(last=False)
        return html
