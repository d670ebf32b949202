"""A repeated visit to an invoice page is answered without Django while the invoice stays as
it was: the same page and headers, each visitor with their own CSRF secret, token and
cookie, as Django would give them, and a token Django accepts on the form's POST."""

import io
import re
import time
from email.utils import parsedate_to_datetime
from http.cookies import SimpleCookie

import pytest
from django.core.signals import request_started
from django.db import connection
from django.middleware.csrf import _unmask_cipher_token
from django.test import Client
from django.test.utils import CaptureQueriesContext

from config.replay import ReplayingWSGIHandler
from invoices.models import Invoice
from tests.invoices.test_local_copies import _created, _listener, _write_elsewhere

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"')


@pytest.fixture
def django_runs():
    runs = []

    def count(**kwargs):
        runs.append(1)

    request_started.connect(count)
    yield runs
    request_started.disconnect(count)


@pytest.fixture
def page(shop):
    invoice_id = _created(shop, "page-replay")
    _listener()
    return invoice_id


def _visit(application, invoice_id: str, **headers) -> tuple[str, list, bytes]:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/hpp/",
        "QUERY_STRING": f"cpi={invoice_id}&locale=en",
        "SCRIPT_NAME": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        **{"HTTP_" + name.upper(): value for name, value in headers.items()},
    }
    answered = {}

    def start_response(status, headers):
        answered.update(status=status, headers=headers)

    body = b"".join(application(environ, start_response))
    return answered["status"], answered["headers"], body


def _csrf(answer) -> tuple[str, str, SimpleCookie]:
    """The visitor's secret (from the cookie set), the page's token, and that cookie."""
    set_cookies = [value for name, value in answer[1] if name == "Set-Cookie"]
    assert len(set_cookies) == 1
    cookie = SimpleCookie(set_cookies[0])
    tokens = set(TOKEN.findall(answer[2]))
    assert len(tokens) == 1, "every form on the page carries the same token"
    return cookie["csrftoken"].value, tokens.pop().decode(), cookie


def _without(headers, name):
    return [(header, value) for header, value in headers if header != name]


def test_a_first_visit_is_replayed_with_a_secret_token_and_cookie_of_its_own(page, django_runs):
    application = ReplayingWSGIHandler()
    first = _visit(application, page)
    assert first[0] == "200 OK" and len(django_runs) == 1

    with CaptureQueriesContext(connection) as queries:
        again = _visit(application, page)
    assert (len(django_runs), len(queries)) == (1, 0)
    assert again[0] == "200 OK"
    assert _without(again[1], "Set-Cookie") == _without(first[1], "Set-Cookie")
    assert TOKEN.sub(b"", again[2]) == TOKEN.sub(b"", first[2])

    secret, token, cookie = _csrf(again)
    first_secret, first_token, first_cookie = _csrf(first)
    assert re.fullmatch(r"[A-Za-z0-9]{32}", secret) and secret != first_secret
    assert len(token) == 64 and token != first_token
    assert _unmask_cipher_token(token) == secret
    # The cookie's attributes are Django's: the same but for the value and the expiry
    # (a year from now, to the second).
    for attribute in ("max-age", "path", "samesite", "secure", "httponly", "domain"):
        assert cookie["csrftoken"][attribute] == first_cookie["csrftoken"][attribute]
    expires = parsedate_to_datetime(cookie["csrftoken"]["expires"]).timestamp()
    assert abs(expires - (time.time() + int(cookie["csrftoken"]["max-age"]))) < 5


def test_the_replayed_token_is_accepted_on_the_form_and_a_forged_one_is_not(page, django_runs):
    application = ReplayingWSGIHandler()
    _visit(application, page)
    secret, token, _ = _csrf(_visit(application, page))
    assert len(django_runs) == 1

    browser = Client(enforce_csrf_checks=True)
    browser.cookies["csrftoken"] = secret
    forged = browser.post(
        f"/hpp/{page}/simulate", {"outcome": "paid", "csrfmiddlewaretoken": token[::-1]}
    )
    assert forged.status_code == 403
    answered = browser.post(
        f"/hpp/{page}/simulate", {"outcome": "paid", "csrfmiddlewaretoken": token}
    )
    assert answered.status_code == 303
    assert Invoice.objects.get(pk=page).status == "processed"


def test_a_returning_visitor_keeps_their_secret_and_a_malformed_one_gets_a_new_one(
    page, django_runs
):
    application = ReplayingWSGIHandler()
    _visit(application, page)
    theirs = "A" * 16 + "b" * 16
    secret, token, _ = _csrf(_visit(application, page, cookie=f"csrftoken={theirs}; other=1"))
    assert secret == theirs and _unmask_cipher_token(token) == theirs

    malformed, _, _ = _csrf(_visit(application, page, cookie="csrftoken=not-a-secret!"))
    assert re.fullmatch(r"[A-Za-z0-9]{32}", malformed)
    assert len(django_runs) == 1

    # A token-shaped cookie of Django before 4.0 is Django's to unmask and rewrite.
    legacy = "c" * 64
    _visit(application, page, cookie=f"csrftoken={legacy}")
    assert len(django_runs) == 2


def test_a_change_to_the_invoice_ends_the_replay(page, django_runs):
    application = ReplayingWSGIHandler()
    _visit(application, page)
    _visit(application, page)
    assert len(django_runs) == 1

    _write_elsewhere(
        "UPDATE invoices_invoice SET status = 'processed', processed_amount = amount WHERE id = %s",
        page,
    )
    final = _visit(application, page)
    assert len(django_runs) == 2
    assert b'data-status="processed"' in final[2]
    # No form any more: no token and no cookie, and the page is replayed as it is.
    assert not TOKEN.search(final[2])
    assert not [name for name, _ in final[1] if name == "Set-Cookie"]
    assert _visit(application, page) == final
    assert len(django_runs) == 2


def test_htmx_and_language_variants_are_replayed_apart(page, django_runs):
    application = ReplayingWSGIHandler()
    plain = _visit(application, page, accept_language="uk")
    assert "HX-Request" in dict(plain[1])["Vary"]
    swapped = _visit(application, page, accept_language="uk", hx_request="true")
    assert len(django_runs) == 2
    assert _without(_visit(application, page, accept_language="uk")[1], "Set-Cookie") == (
        _without(plain[1], "Set-Cookie")
    )
    assert len(django_runs) == 2
    assert swapped[0] == "200 OK"


def test_a_visitor_with_a_session_or_language_cookie_is_answered_by_django(page, django_runs):
    application = ReplayingWSGIHandler()
    _visit(application, page)
    _visit(application, page, cookie="django_language=uk")
    _visit(application, page, cookie="sessionid=abc")
    assert len(django_runs) == 3


def test_many_visitors_at_once_each_get_their_own_secret(page, django_runs):
    from concurrent.futures import ThreadPoolExecutor

    application = ReplayingWSGIHandler()
    _visit(application, page)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: _visit(application, page), range(200)))
    secrets_given = [_csrf(answer)[0] for answer in answers]
    assert len(set(secrets_given)) == 200
    assert all(_unmask_cipher_token(_csrf(answer)[1]) == _csrf(answer)[0] for answer in answers)
    assert len(django_runs) == 1


def test_a_request_that_read_the_shape_before_a_form_appeared_goes_through_django(
    page, django_runs
):
    """A request reads its URL's shape without the lock: while it looks its reply up,
    the page may gain or lose its form. It must never get the other kind of reply."""
    application = ReplayingWSGIHandler()
    _write_elsewhere("UPDATE invoices_invoice SET status = 'processed' WHERE id = %s", page)
    _visit(application, page)
    url = ("/hpp/", f"cpi={page}&locale=en")
    shape_without_form = application._shapes[url]
    assert not shape_without_form.per_visitor_csrf

    _write_elsewhere("UPDATE invoices_invoice SET status = 'created' WHERE id = %s", page)
    with_form = _visit(application, page)
    assert application._shapes[url].per_visitor_csrf
    runs = len(django_runs)

    application._shapes[url] = shape_without_form  # as that request saw it
    answer = _visit(application, page)
    assert answer[0] == "200 OK" and len(django_runs) == runs + 1
    assert TOKEN.sub(b"", answer[2]) == TOKEN.sub(b"", with_form[2])
