"""Responses replayed by each web process without Django's stack while they stay true.

An invoice's QR code or barcode never changes once drawn, and every open
checkout page asks for it; every open page also polls its status every few
seconds, and nearly always finds the same one. What such a request costs is
mostly the middleware chain around the view. A view marks the response with
`mark_replayable`; this handler keeps its final bytes and headers (after all
middleware) and answers the next identical request with them directly.

"Identical" is strict, so a replay is exactly what Django would answer:
the same path and query string, a GET without If-None-Match, the same host
and scheme (entries only ever come from requests Django accepted), the same
values of every request header the response varies on, and the same values
of the cookies Django's middleware reads (session, CSRF, language, messages:
a missing or malformed one changes its answer). Responses that are not 200
or set cookies are never kept, with one exception below.

A page with a form differs for each visitor only in its CSRF token and the
csrftoken cookie that Django renews with it. A view that rendered such a
page with `config.csrf_tokens.PLACEHOLDER` where the token goes passes that
HTML as `csrf_template`; a visitor with no CSRF cookie, a malformed one, or
a well-formed secret then gets the page replayed with their own secret (a
new one, as Django would give, for the first two), a freshly masked token,
and the cookie as Django sets it. A visitor whose cookie is a pre-4.0 masked
token goes through Django, which rewrites it. Such a reply is keyed on
everything above but that cookie and the Cookie header as a whole: the
cookies Django reads are in the key anyway, and others do not change what
Django answers.

How long an entry lives: a response that never changes lives no longer than
its Cache-Control max-age. A response that holds only while something stays
as it was (the status poll, while the status is unchanged) comes with a
`while_true` callable, asked before every replay; the first False ends the
entry. Each process keeps the most recently used entries, up to
`REPLAY_MAX_ENTRIES`.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.cookies import Morsel

from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.handlers.wsgi import WSGIHandler, get_str_from_wsgi
from django.http import HttpResponse
from django.http.cookie import parse_cookie
from django.middleware.csrf import CSRF_TOKEN_LENGTH
from django.utils.cache import cc_delim_re, get_max_age
from django.utils.http import http_date

from config import csrf_tokens

_REPLAYABLE = "_replayable"
_CSRF_TEMPLATE = "_replayable_csrf_template"


def _always() -> bool:
    return True


def mark_replayable(
    response: HttpResponse,
    *,
    while_true: Callable[[], bool] | None = None,
    csrf_template: str | None = None,
) -> HttpResponse:
    """Declare that this exact request gets these exact bytes: always (within the response's
    max-age), or as long as `while_true()` says what they were made from is unchanged.

    `csrf_template`: the response's content as rendered, with the CSRF placeholder
    where this visitor's token was put in; each visitor then gets their own token.
    """
    setattr(response, _REPLAYABLE, while_true or _always)
    if csrf_template is not None:
        setattr(response, _CSRF_TEMPLATE, csrf_template)
    return response


def _cookies(environ: dict) -> dict[str, str]:
    """The request's cookies as Django reads them (decoded as UTF-8 first)."""
    return parse_cookie(get_str_from_wsgi(environ, "HTTP_COOKIE", ""))


def _meta_name(header: str) -> str:
    name = header.upper().replace("-", "_")
    return name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + name


@dataclass(frozen=True)
class _Shape:
    """How the replies of one URL are told apart."""

    vary: tuple[str, ...]  # the request headers (environ names) they vary on
    per_visitor_csrf: bool  # their body and csrftoken cookie are made for each visitor
    count: int  # how many replies of this URL are kept


@dataclass(frozen=True)
class _Reply:
    headers: list[tuple[str, str]]
    # The body, or for a per-visitor CSRF reply the parts around each token.
    body: bytes | list[bytes]
    ends: float  # monotonic time after which it must not be replayed
    still_true: Callable[[], bool]  # what must still be true for it to be replayed
    csrf_cookie: Morsel | None  # the csrftoken cookie as Django set it, for its attributes


class ReplayingWSGIHandler(WSGIHandler):
    # A reply kept while something stays true is dropped after this long anyway.
    WATCHED_MAX_SECONDS = 300

    def __init__(self) -> None:
        super().__init__()
        self._max_entries = getattr(settings, "REPLAY_MAX_ENTRIES", 2000)
        # What decides the host and scheme Django sees, behind a proxy too.
        self._origin = ["HTTP_HOST", "SERVER_NAME", "SERVER_PORT", "wsgi.url_scheme"]
        if settings.SECURE_PROXY_SSL_HEADER:
            self._origin.append(settings.SECURE_PROXY_SSL_HEADER[0])
        if settings.USE_X_FORWARDED_HOST:
            self._origin.append("HTTP_X_FORWARDED_HOST")
        if settings.USE_X_FORWARDED_PORT:
            self._origin.append("HTTP_X_FORWARDED_PORT")
        self._csrf_cookie = settings.CSRF_COOKIE_NAME
        # The cookies Django's own middleware reads from a request.
        self._cookies = (
            settings.SESSION_COOKIE_NAME,
            settings.CSRF_COOKIE_NAME,
            settings.LANGUAGE_COOKIE_NAME,
            CookieStorage.cookie_name,
        )
        # (path, query string) -> how its replies are told apart
        self._shapes: dict[tuple[str, str], _Shape] = {}
        self._replies: OrderedDict[tuple, _Reply] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        url = (environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""))
        if (
            environ.get("REQUEST_METHOD") == "GET"
            and "HTTP_IF_NONE_MATCH" not in environ
            and (shape := self._shapes.get(url)) is not None
        ):
            cookies = _cookies(environ)
            # The key says which kind of reply it finds: the shape read above may be
            # replaced meanwhile (a form appears or goes), the kind of a key never is.
            key = self._key(environ, url, shape, cookies)
            with self._lock:
                reply = self._replies.get(key)
                if reply is not None:
                    self._replies.move_to_end(key)
            if reply is not None:
                if time.monotonic() < reply.ends and reply.still_true():
                    if reply.csrf_cookie is None:
                        start_response("200 OK", list(reply.headers))
                        return [reply.body]
                    secret = csrf_tokens.visitor_secret(cookies.get(self._csrf_cookie))
                    if secret is not None:
                        return self._replay_for_visitor(reply, secret, start_response)
                else:
                    with self._lock:
                        if self._replies.get(key) is reply:
                            self._drop(key)
        return super().__call__(environ, start_response)

    @staticmethod
    def _replay_for_visitor(reply: _Reply, secret: str, start_response) -> list[bytes]:
        token = csrf_tokens.masked(secret).encode()
        # As Django's set_cookie: the same attributes, the expiry counted from now.
        cookie = reply.csrf_cookie.copy()
        cookie.set(cookie.key, secret, secret)
        if cookie["max-age"] != "":
            cookie["expires"] = http_date(time.time() + int(cookie["max-age"]))
        start_response("200 OK", [*reply.headers, ("Set-Cookie", cookie.output(header=""))])
        return [token.join(reply.body)]

    def get_response(self, request):
        response = super().get_response(request)
        still_true = getattr(response, _REPLAYABLE, None)
        if (
            still_true is not None
            and request.method == "GET"
            and response.status_code == 200
            and not response.streaming
            and "HTTP_IF_NONE_MATCH" not in request.META
        ):
            csrf_template = getattr(response, _CSRF_TEMPLATE, None)
            if csrf_template is None:
                if not response.cookies:
                    self._keep(request.META, response, still_true, response.content, None)
            elif (parts := self._token_parts(request, response, csrf_template)) is not None:
                cookie = response.cookies[self._csrf_cookie]
                self._keep(request.META, response, still_true, parts, cookie)
        return response

    @staticmethod
    def _token_parts(request, response: HttpResponse, template: str) -> list[bytes] | None:
        """The response's content split around its CSRF tokens, if it is exactly the
        template with one token put in and sets only the CSRF cookie, to that token's secret."""
        name = settings.CSRF_COOKIE_NAME
        if settings.CSRF_USE_SESSIONS or set(response.cookies) != {name}:
            return None
        if response.cookies[name].value != request.META.get("CSRF_COOKIE"):
            return None
        parts = template.encode(response.charset).split(csrf_tokens.PLACEHOLDER.encode())
        if len(parts) < 2:
            return None
        content = response.content
        token = content[len(parts[0]) : len(parts[0]) + CSRF_TOKEN_LENGTH]
        return parts if content == token.join(parts) else None

    def _keep(
        self,
        environ: dict,
        response: HttpResponse,
        still_true: Callable[[], bool],
        body: bytes | list[bytes],
        csrf_cookie: Morsel | None,
    ) -> None:
        varies_on = [header for header in cc_delim_re.split(response.get("Vary", "")) if header]
        if still_true is _always:
            kept_seconds = get_max_age(response)
        else:
            # Until still_true() says otherwise; the bound only frees the memory.
            kept_seconds = self.WATCHED_MAX_SECONDS
        if "*" in varies_on or not kept_seconds:
            return
        per_visitor_csrf = csrf_cookie is not None
        vary = tuple(
            sorted(
                name
                for name in map(_meta_name, varies_on)
                # The Cookie header differs for each visitor; the cookies Django reads are
                # in the key anyway (see the module's docstring).
                if not (per_visitor_csrf and name == "HTTP_COOKIE")
            )
        )
        url = (environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""))
        cookies = _cookies(environ)
        with self._lock:
            shape = self._shapes.get(url)
            if shape is not None and (shape.vary, shape.per_visitor_csrf) != (
                vary,
                per_visitor_csrf,
            ):
                # The view changed how its answers differ: start this URL afresh.
                self._forget(url)
                shape = None
            if shape is None:
                shape = _Shape(vary, per_visitor_csrf, 0)
            key = self._key(environ, url, shape, cookies)
            if key not in self._replies:
                shape = _Shape(vary, per_visitor_csrf, shape.count + 1)
            self._shapes[url] = shape
            self._replies.pop(key, None)  # a new reply is the most recently used
            self._replies[key] = _Reply(
                headers=list(response.items()),
                body=body,
                ends=time.monotonic() + kept_seconds,
                still_true=still_true,
                csrf_cookie=csrf_cookie,
            )
            while len(self._replies) > self._max_entries:
                self._drop(next(iter(self._replies)))

    def _drop(self, key: tuple) -> None:
        """Forget one reply; the caller holds the lock."""
        del self._replies[key]
        url = key[0]
        shape = self._shapes[url]
        if shape.count > 1:
            self._shapes[url] = _Shape(shape.vary, shape.per_visitor_csrf, shape.count - 1)
        else:
            del self._shapes[url]

    def _forget(self, url: tuple[str, str]) -> None:
        for key in [key for key in self._replies if key[0] == url]:
            del self._replies[key]
        self._shapes.pop(url, None)

    def _key(self, environ: dict, url: tuple[str, str], shape: _Shape, cookies: dict) -> tuple:
        return (
            url,
            shape.per_visitor_csrf,
            *(environ.get(name) for name in self._origin),
            *(environ.get(name) for name in shape.vary),
            *(
                None if shape.per_visitor_csrf and name == self._csrf_cookie else cookies.get(name)
                for name in self._cookies
            ),
        )
