"""Each web process's copies of invoices and merchants, dropped when PostgreSQL announces a change.

Run against real PostgreSQL with committed data (transaction=True): the
announcements come from the triggers of migration 0008 on COMMIT, heard by
the process's own listener connection. Other writers are plain psycopg
connections, as another process or an operator's psql would be.
"""

import io
import json
import threading
import time

import psycopg
import pytest
from django.conf import settings
from django.core.signals import request_started
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from config.replay import ReplayingWSGIHandler
from invoices import local_copies
from invoices.models import Invoice
from invoices.services import merchant_rotate_secrets
from invoices.state_machine import Actor, invoice_move_status
from invoices.statuses import Resolution, Status
from tests.api import API, basic_auth, decimal_json

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _listener() -> local_copies._Listener:
    """This process's listener, once it is listening."""
    listener = local_copies._listener("default")
    deadline = time.monotonic() + 10
    while listener.epoch() is None:
        assert time.monotonic() < deadline, "the listener never started listening"
        time.sleep(0.01)
    return listener


def _other_connection() -> psycopg.Connection:
    db = settings.DATABASES["default"]
    return psycopg.connect(
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        user=db["USER"] or None,
        password=db["PASSWORD"] or None,
        dbname=connection.settings_dict["NAME"],
        autocommit=True,
    )


def _write_elsewhere(sql: str, *params) -> None:
    """Commit a write on another connection and wait until this process heard of it."""
    listener = _listener()
    before = listener._epoch
    with _other_connection() as other:
        other.execute(sql, params)
    deadline = time.monotonic() + 5
    while True:
        with listener._lock:
            listener._apply_arrived()
            if listener._epoch != before:
                return
        assert time.monotonic() < deadline, "no announcement arrived for the write"
        time.sleep(0.005)


def _read(shop, invoice_id: str) -> tuple[dict, int]:
    with CaptureQueriesContext(connection) as queries:
        response = shop.get(f"{API}/{invoice_id}")
    assert response.status_code == 200, response.content
    return decimal_json(response)["data"]["attributes"], len(queries)


def _created(shop, reference_id: str) -> str:
    response = shop.create(reference_id)
    assert response.status_code == 201, response.content
    return response.json()["data"]["id"]


def test_a_repeated_api_read_and_page_make_no_query(shop, client):
    invoice_id = _created(shop, "copies-repeat")
    _listener()
    first, _ = _read(shop, invoice_id)
    again, queries = _read(shop, invoice_id)
    assert (again, queries) == (first, 0)

    client.get(f"/hpp/?cpi={invoice_id}")
    with CaptureQueriesContext(connection) as page_queries:
        page = client.get(f"/hpp/?cpi={invoice_id}")
    assert page.status_code == 200
    assert shop.merchant.name in page.content.decode()
    assert len(page_queries) == 0


def test_a_repeated_create_only_writes(shop, django_assert_num_queries):
    _created(shop, "copies-create-1")
    _listener()
    _created(shop, "copies-create-2")
    with django_assert_num_queries(1) as captured:
        invoice_id = _created(shop, "copies-create-3")
    assert captured.captured_queries[0]["sql"].startswith("WITH ")
    assert _read(shop, invoice_id)[0]["reference_id"] == "copies-create-3"
    duplicate = shop.create("copies-create-3")
    assert duplicate.status_code == 409
    assert duplicate.json()["errors"][0]["meta"] == {"id": invoice_id}


def test_a_change_committed_elsewhere_is_shown_on_the_next_read(shop):
    invoice_id = _created(shop, "copies-elsewhere")
    _listener()
    _read(shop, invoice_id)
    _write_elsewhere(
        "UPDATE invoices_invoice SET description = %s WHERE id = %s", "changed by psql", invoice_id
    )
    attributes, queries = _read(shop, invoice_id)
    assert (attributes["description"], queries) == ("changed by psql", 1)


def test_a_move_in_this_process_is_shown_at_once(shop, client):
    invoice_id = _created(shop, "copies-own-move")
    _listener()
    _read(shop, invoice_id)
    client.get(f"/hpp/?cpi={invoice_id}")
    invoice_move_status(
        invoice_id=invoice_id,
        expected_from={Status.CREATED},
        to_status=Status.PROCESSING,
        resolution=Resolution.OK,
        cause="test",
        actor=Actor("test"),
    )
    # No waiting for the announcement: the mover's own process dropped its copy.
    attributes, _ = _read(shop, invoice_id)
    assert attributes["status"] == "processing"
    page = client.get(f"/hpp/?cpi={invoice_id}").content.decode()
    assert "Checking your payment" in page
    assert "Waiting for your payment" not in page


def test_bookkeeping_writes_announce_nothing(shop):
    """The callbacks lease and polling schedule change on every delivery and poll: they
    must not cost every process its copy of the invoice."""
    kept, other = _created(shop, "copies-kept"), _created(shop, "copies-other")
    _listener()
    _read(shop, kept)
    with _other_connection() as elsewhere:
        elsewhere.execute(
            "UPDATE invoices_invoice SET callbacks_lease_until = now(), next_poll_at = now(),"
            " poll_attempts = poll_attempts + 1 WHERE id = %s",
            (kept,),
        )
    # Announcements arrive in commit order: once the later one is here, the first would be.
    _write_elsewhere("UPDATE invoices_invoice SET description = 'x' WHERE id = %s", other)
    _, queries = _read(shop, kept)
    assert queries == 0


def test_a_rotated_key_and_a_deactivated_merchant_are_refused_at_once(shop):
    invoice_id = _created(shop, "copies-keys")
    _listener()
    old_auth = shop.auth()
    _read(shop, invoice_id)
    merchant_rotate_secrets(merchant=shop.merchant)
    _write_elsewhere("SELECT pg_notify('invoices_row_changes', 'unrelated')")  # let it land
    refused = shop.client.get(f"{API}/{invoice_id}", HTTP_AUTHORIZATION=old_auth)
    assert refused.status_code == 401
    shop.merchant.refresh_from_db()
    _read(shop, invoice_id)

    _write_elsewhere(
        "UPDATE invoices_merchant SET is_active = false WHERE id = %s", shop.merchant.pk
    )
    assert shop.get(f"{API}/{invoice_id}").status_code == 401
    assert shop.create("copies-after-deactivation").status_code == 401


def test_a_read_overtaken_by_a_change_is_not_kept(shop):
    invoice_id = _created(shop, "copies-overtaken")
    _listener()
    reads = []

    def read_while_it_changes():
        reads.append("read")
        if len(reads) == 1:
            # The row was read before this change committed; its copy would be stale.
            _write_elsewhere(
                "UPDATE invoices_invoice SET description = 'new' WHERE id = %s", invoice_id
            )
        return "the row as read"

    key = local_copies.invoice_key(invoice_id)
    local_copies.read_through(key, read_while_it_changes)
    local_copies.read_through(key, read_while_it_changes)
    assert reads == ["read", "read"]
    local_copies.read_through(key, read_while_it_changes)
    assert reads == ["read", "read"]  # the second read was kept


def test_nothing_read_inside_a_transaction_is_kept(shop):
    invoice_id = _created(shop, "copies-in-transaction")
    _listener()
    with transaction.atomic():
        _read(shop, invoice_id)
        _, queries = _read(shop, invoice_id)
    assert queries == 1


def test_a_lost_listener_connection_drops_every_copy_and_listening_resumes(shop):
    invoice_id = _created(shop, "copies-lost")
    listener = _listener()
    _read(shop, invoice_id)
    assert _read(shop, invoice_id)[1] == 0
    with _other_connection() as other:
        other.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = %s",
            (f"LISTEN {local_copies.CHANNEL}",),
        )
    deadline = time.monotonic() + 5
    while listener.epoch() is not None:  # the broken connection is noticed...
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert _read(shop, invoice_id)[1] == 1  # ...every copy is gone, reads go to the database
    _listener()  # ...and listening resumes
    _read(shop, invoice_id)
    assert _read(shop, invoice_id)[1] == 0


def test_the_listener_hears_the_channel_the_triggers_announce_on():
    from importlib import import_module

    trigger_migration = import_module("invoices.migrations.0008_change_notifications")
    assert trigger_migration.CHANNEL == local_copies.CHANNEL


def test_concurrent_readers_and_writers_never_keep_a_stale_copy(shop):
    """Threads read while another connection keeps changing the row: once the writes stop
    and their announcements are in, every reader sees the last one."""
    invoice_id = _created(shop, "copies-concurrent")
    _listener()
    stop = threading.Event()

    auth = shop.auth()

    def reader():
        client = Client(HTTP_AUTHORIZATION=auth)
        try:
            while not stop.is_set():
                assert client.get(f"{API}/{invoice_id}").status_code == 200
        finally:
            connection.close()

    readers = [threading.Thread(target=reader) for _ in range(4)]
    for thread in readers:
        thread.start()
    with _other_connection() as other:
        for number in range(200):
            other.execute(
                "UPDATE invoices_invoice SET description = %s WHERE id = %s",
                (f"write {number}", invoice_id),
            )
    _write_elsewhere("SELECT pg_notify('invoices_row_changes', 'unrelated')")
    stop.set()
    for thread in readers:
        thread.join()
    assert _read(shop, invoice_id)[0]["description"] == "write 199"


def _wsgi_get(application, path: str, authorization: str) -> tuple[str, bytes]:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SCRIPT_NAME": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "HTTP_AUTHORIZATION": authorization,
        "wsgi.input": io.BytesIO(b""),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
    }
    answered = {}
    body = b"".join(application(environ, lambda status, headers: answered.update(status=status)))
    return answered["status"], body


def test_a_repeated_api_read_is_replayed_until_the_invoice_or_the_keys_change(shop):
    invoice_id = _created(shop, "copies-replay")
    _listener()
    application = ReplayingWSGIHandler()
    path, auth = f"{API}/{invoice_id}", shop.auth()
    django_runs = []

    def count(**kwargs):
        django_runs.append(1)

    request_started.connect(count)
    try:
        first = _wsgi_get(application, path, auth)
        assert first[0] == "200 OK"
        with CaptureQueriesContext(connection) as queries:
            assert _wsgi_get(application, path, auth) == first
        assert (len(django_runs), len(queries)) == (1, 0)

        keys = shop.credentials
        wrong_key = basic_auth(keys.account_id, keys.secret_key_test + "x")
        assert _wsgi_get(application, path, wrong_key)[0] == "401 Unauthorized"
        assert len(django_runs) == 2

        _write_elsewhere(
            "UPDATE invoices_invoice SET description = 'new' WHERE id = %s", invoice_id
        )
        changed = _wsgi_get(application, path, auth)
        assert json.loads(changed[1])["data"]["attributes"]["description"] == "new"
        assert len(django_runs) == 3

        merchant_rotate_secrets(merchant=shop.merchant)
        _write_elsewhere("SELECT pg_notify('invoices_row_changes', 'unrelated')")
        assert _wsgi_get(application, path, auth)[0] == "401 Unauthorized"
    finally:
        request_started.disconnect(count)


def test_every_column_but_the_bookkeeping_ones_is_announced():
    """A column added to the invoice must be added to the trigger too, or changes to it
    would never reach the copies."""
    from importlib import import_module

    trigger_migration = import_module("invoices.migrations.0008_change_notifications")
    announced = {name.strip() for name in trigger_migration.SHOWN_INVOICE_COLUMNS.split(",")}
    bookkeeping = {"next_poll_at", "poll_attempts", "callbacks_lease_until"}
    columns = {field.column for field in Invoice._meta.concrete_fields}
    assert announced == columns - bookkeeping
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT array_length(tgattr::int2[], 1) FROM pg_trigger"
            " WHERE tgname = 'invoices_invoice_updated'"
        )
        assert cursor.fetchone() == (len(announced),)
