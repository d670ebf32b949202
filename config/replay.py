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
a missing or malformed one changes its answer). Responses that set cookies
or are not 200 are never kept.

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

from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpResponse
from django.http.cookie import parse_cookie
from django.utils.cache import cc_delim_re, get_max_age

_REPLAYABLE = "_replayable"


def _always() -> bool:
    return True


def mark_replayable(
    response: HttpResponse, *, while_true: Callable[[], bool] | None = None
) -> HttpResponse:
    """Declare that this exact request gets these exact bytes: always (within the response's
    max-age), or as long as `while_true()` says what they were made from is unchanged."""
    setattr(response, _REPLAYABLE, while_true or _always)
    return response


def _meta_name(header: str) -> str:
    name = header.upper().replace("-", "_")
    return name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + name


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
        # The cookies Django's own middleware reads from a request.
        self._cookies = (
            settings.SESSION_COOKIE_NAME,
            settings.CSRF_COOKIE_NAME,
            settings.LANGUAGE_COOKIE_NAME,
            CookieStorage.cookie_name,
        )
        # path -> (the request headers its responses vary on, how many replies it has)
        self._vary: dict[str, tuple[tuple[str, ...], int]] = {}
        # key -> (headers, body, monotonic time after which it must not be replayed,
        #         what must still be true for it to be replayed)
        self._replies: OrderedDict[
            tuple, tuple[list[tuple[str, str]], bytes, float, Callable[[], bool]]
        ] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        if (
            environ.get("REQUEST_METHOD") == "GET"
            and "HTTP_IF_NONE_MATCH" not in environ
            and (known := self._vary.get(environ.get("PATH_INFO", ""))) is not None
        ):
            vary, _ = known
            key = self._key(environ, vary)
            with self._lock:
                reply = self._replies.get(key)
                if reply is not None:
                    self._replies.move_to_end(key)
            if reply is not None:
                headers, body, ends, still_true = reply
                if time.monotonic() < ends and still_true():
                    start_response("200 OK", list(headers))
                    return [body]
                with self._lock:
                    if self._replies.get(key) is reply:
                        self._drop(key)
        return super().__call__(environ, start_response)

    def get_response(self, request):
        response = super().get_response(request)
        still_true = getattr(response, _REPLAYABLE, None)
        if (
            still_true is not None
            and request.method == "GET"
            and response.status_code == 200
            and not response.cookies
            and not response.streaming
            and "HTTP_IF_NONE_MATCH" not in request.META
        ):
            self._keep(request.META, response, still_true)
        return response

    def _keep(self, environ: dict, response: HttpResponse, still_true: Callable[[], bool]) -> None:
        varies_on = [header for header in cc_delim_re.split(response.get("Vary", "")) if header]
        if still_true is _always:
            kept_seconds = get_max_age(response)
        else:
            # Until still_true() says otherwise; the bound only frees the memory.
            kept_seconds = self.WATCHED_MAX_SECONDS
        if "*" in varies_on or not kept_seconds:
            return
        vary = tuple(sorted(_meta_name(header) for header in varies_on))
        path = environ.get("PATH_INFO", "")
        key = self._key(environ, vary)
        with self._lock:
            known_vary, count = self._vary.get(path, (vary, 0))
            if known_vary != vary:  # the view changed how it varies: start this path afresh
                self._forget(path)
                count = 0
            if key not in self._replies:
                count += 1
            self._vary[path] = (vary, count)
            self._replies[key] = (
                list(response.items()),
                response.content,
                time.monotonic() + kept_seconds,
                still_true,
            )
            while len(self._replies) > self._max_entries:
                self._drop(next(iter(self._replies)))

    def _drop(self, key: tuple) -> None:
        """Forget one reply; the caller holds the lock."""
        del self._replies[key]
        path = key[0]
        vary, count = self._vary[path]
        if count > 1:
            self._vary[path] = (vary, count - 1)
        else:
            del self._vary[path]

    def _forget(self, path: str) -> None:
        for key in [key for key in self._replies if key[0] == path]:
            del self._replies[key]
        self._vary.pop(path, None)

    def _key(self, environ: dict, vary: tuple[str, ...]) -> tuple:
        cookies = parse_cookie(environ["HTTP_COOKIE"]) if environ.get("HTTP_COOKIE") else {}
        return (
            environ.get("PATH_INFO", ""),
            environ.get("QUERY_STRING", ""),
            *(environ.get(name) for name in self._origin),
            *(environ.get(name) for name in vary),
            *(cookies.get(name) for name in self._cookies),
        )
