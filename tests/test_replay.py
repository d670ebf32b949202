"""A repeated image request is answered with Django's own earlier answer, byte for byte,
without running Django again; anything that could change the answer goes through Django."""

import io
import time

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from config.replay import ReplayingWSGIHandler
from tests.factories import demo_shop_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def qr_invoice():
    return demo_shop_invoice("upi_qr_inr_invoice", "INR", "order-replay")


@pytest.fixture(autouse=True)
def _keep_the_test_transaction():
    """As Django's test client does: the handler would close the test's connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def django_runs():
    runs = []

    def count(**kwargs):
        runs.append(1)

    request_started.connect(count)
    yield runs
    request_started.disconnect(count)


def _get(application, path, *, query="", host="testserver", **headers):
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SCRIPT_NAME": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": host,
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


def test_a_repeated_image_is_the_same_answer_without_running_django(
    qr_invoice, django_runs, django_assert_num_queries
):
    application = ReplayingWSGIHandler()
    path = f"/hpp/{qr_invoice.id}/qr.svg"
    first = _get(application, path, accept_language="uk")
    assert first[0] == "200 OK" and b"<svg" in first[2]
    assert len(django_runs) == 1

    with django_assert_num_queries(0):
        again = _get(application, path, accept_language="uk")
    assert again == first  # status, every header (security ones included) and body
    assert len(django_runs) == 1


def test_what_the_answer_varies_on_gets_its_own_answer(qr_invoice, django_runs):
    application = ReplayingWSGIHandler()
    path = f"/hpp/{qr_invoice.id}/qr.svg"
    ukrainian = _get(application, path, accept_language="uk")
    english = _get(application, path, accept_language="en")
    assert ("Content-Language", "uk") in ukrainian[1]
    assert ("Content-Language", "en") in english[1]
    assert len(django_runs) == 2
    assert _get(application, path, accept_language="en") == english
    assert len(django_runs) == 2


def test_revalidation_queries_and_other_hosts_go_through_django(qr_invoice, django_runs, settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    application = ReplayingWSGIHandler()
    path = f"/hpp/{qr_invoice.id}/qr.svg"
    status, headers, _ = _get(application, path)
    etag = dict(headers)["ETag"]

    assert _get(application, path, if_none_match=etag)[0] == "304 Not Modified"
    assert _get(application, path, query="v=2")[0] == "200 OK"
    assert _get(application, path, host="attacker.example")[0] == "400 Bad Request"
    assert len(django_runs) == 4


def test_only_marked_answers_are_replayed(qr_invoice, django_runs):
    application = ReplayingWSGIHandler()
    for path in (f"/hpp/{qr_invoice.id}/status", "/hpp/cpi_0000000000000000/qr.svg"):
        _get(application, path)
        _get(application, path)
    assert len(django_runs) == 4


def test_it_keeps_the_most_recently_used_answers(qr_invoice, django_runs, settings):
    settings.REPLAY_MAX_ENTRIES = 2
    application = ReplayingWSGIHandler()
    path = f"/hpp/{qr_invoice.id}/qr.svg"
    for language in ("en", "uk", "en", "de"):  # "uk" is the least recently used when "de" comes
        _get(application, path, accept_language=language)
    assert len(django_runs) == 3
    _get(application, path, accept_language="en")
    _get(application, path, accept_language="de")
    assert len(django_runs) == 3
    _get(application, path, accept_language="uk")
    assert len(django_runs) == 4


def test_the_cookies_django_reads_are_part_of_what_is_replayed(qr_invoice, django_runs):
    application = ReplayingWSGIHandler()
    path = f"/hpp/{qr_invoice.id}/qr.svg"
    in_ukrainian = _get(application, path, accept_language="en", cookie="django_language=uk")
    assert ("Content-Language", "uk") in in_ukrainian[1]
    plain = _get(application, path, accept_language="en", cookie="analytics=1")
    assert ("Content-Language", "en") in plain[1]
    assert len(django_runs) == 2

    bad_token = _get(application, path, accept_language="en", cookie="csrftoken=bad")
    assert any(name == "Set-Cookie" and "csrftoken=" in value for name, value in bad_token[1])
    # An answer that sets a cookie is never kept: Django answers the next one too.
    again = _get(application, path, accept_language="en", cookie="csrftoken=bad")
    assert any(name == "Set-Cookie" and "csrftoken=" in value for name, value in again[1])
    assert len(django_runs) == 4
    # Another visitor's cookies that Django does not read share the replay.
    assert _get(application, path, accept_language="en", cookie="analytics=2") == plain
    assert len(django_runs) == 4


def test_a_replay_lives_no_longer_than_the_response_may_be_cached(
    qr_invoice, django_runs, monkeypatch
):
    application = ReplayingWSGIHandler()
    path = f"/hpp/{qr_invoice.id}/qr.svg"
    status, headers, _ = _get(application, path)
    assert "max-age=3600" in dict(headers)["Cache-Control"]
    _get(application, path)
    assert len(django_runs) == 1

    later = time.monotonic() + 3601
    monkeypatch.setattr("config.replay.time.monotonic", lambda: later)
    _get(application, path)
    assert len(django_runs) == 2


# The status poll: replayed while this process's copy of the status is current ------------


def _until_replayed(application, path, runs, **request) -> tuple:
    """Tracking starts with the process's first read: poll until an answer skips Django."""
    deadline = time.monotonic() + 5
    while True:
        before = len(runs)
        answer = _get(application, path, **request)
        if len(runs) == before:
            return answer
        assert time.monotonic() < deadline, "the poll was never replayed"
        time.sleep(0.02)
