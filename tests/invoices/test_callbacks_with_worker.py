"""Nothing lost: real Celery workers on Redis, PostgreSQL, a real receiver, and faults."""

import json
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict

import pytest
from django.db import connection
from django.test import Client

from invoices.models import CallbackDelivery
from invoices.selectors import merchant_credentials
from tests.api import API
from tests.factories import move_to_processing
from tests.merchant_verifier import verify_legacy, verify_standard_webhook
from tests.processes import (
    PROJECT_ROOT,
    PrivateRedis,
    celery_worker,
    project_env,
    worker_database_url,
)
from tests.receiver import CallbackReceiver

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def receiver():
    server = CallbackReceiver()
    yield server
    server.close()


def _worker_env(tmp_path, **overrides):
    return project_env(
        DATABASE_URL=worker_database_url(),
        VAR_DIR=str(tmp_path),
        CALLBACK_LEASE_SECONDS="3",
        CALLBACK_RETRY_BASE_SECONDS="1",
        **overrides,
    )


def _assert_signed(shop, request):
    keys = merchant_credentials(merchant=shop.merchant)
    assert verify_legacy(
        secret_key=keys.secret_key_test,
        body=request.body,
        x_signature=request.headers["X-Signature"],
    )
    assert verify_standard_webhook(
        webhook_secret=keys.webhook_secret, headers=request.headers, body=request.body
    )


def test_a_confirmed_invoice_calls_back_for_each_move(shop, receiver, tmp_path):
    data = shop.create("order-1", callback_url=receiver.url).json()["data"]
    receipt = data["attributes"]["flow_data"]["requisites"]["invoice_receipt_number"]
    worker = celery_worker(env=_worker_env(tmp_path), name="callbacks")
    try:
        assert worker.wait_for("ready.", timeout=60), worker.output
        confirm = shop.confirm(data["id"], {"invoice_receipt_number": receipt, "message": "ok"})
        assert confirm.status_code == 202
        received = receiver.wait_for(2, timeout=30)
    finally:
        worker.stop()

    assert len(received) == 2, worker.output
    sequences = [json.loads(r.body)["data"]["attributes"]["sequence"] for r in received]
    statuses = [json.loads(r.body)["data"]["attributes"]["status"] for r in received]
    assert sorted(zip(sequences, statuses, strict=True)) == [(2, "processing"), (3, "processed")]
    for request in received:
        _assert_signed(shop, request)
    final = max(received, key=lambda r: json.loads(r.body)["data"]["attributes"]["sequence"])
    assert final.body == shop.get(f"{API}/{data['id']}").content
    assert set(CallbackDelivery.objects.values_list("state", flat=True)) == {"delivered"}


def _database_sessions_opened() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def test_a_worker_keeps_its_database_connection_from_task_to_task(shop, receiver, tmp_path):
    """Celery's default closes it after every task: a new PostgreSQL backend per callback."""
    ids = [
        shop.create(f"order-{n}", callback_url=receiver.url).json()["data"]["id"] for n in range(20)
    ]
    worker = celery_worker(env=_worker_env(tmp_path), name="reuse")
    try:
        assert worker.wait_for("ready.", timeout=60), worker.output
        opened_before = _database_sessions_opened()
        for invoice_id in ids:
            move_to_processing(invoice_id)
        assert len(receiver.wait_for(20, timeout=30)) == 20, worker.output
        opened = _database_sessions_opened() - opened_before
    finally:
        worker.stop()
    # 20 deliveries (and the test's own reads) on the connection the worker already had.
    assert opened <= 2, f"{opened} new database sessions for 20 callbacks"


def test_a_worker_whose_database_connection_was_cut_reconnects(shop, receiver, tmp_path):
    first, second = (shop.create(r, callback_url=receiver.url).json()["data"]["id"] for r in "ab")
    # At LOG_LEVEL=DEBUG the worker logs each task it finished (see below).
    worker = celery_worker(env=_worker_env(tmp_path, LOG_LEVEL="DEBUG"), name="cut")
    try:
        assert worker.wait_for("ready.", timeout=60), worker.output
        move_to_processing(first)
        assert len(receiver.wait_for(1, timeout=30)) == 1, worker.output
        # Cut between tasks: the callback arrives before its task records the attempt.
        assert worker.wait_for("succeeded", timeout=30), worker.output
        with connection.cursor() as cursor:  # as a PostgreSQL restart or failover would
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        move_to_processing(second)
        assert len(receiver.wait_for(2, timeout=30)) == 2, worker.output
    finally:
        worker.stop()
    assert "Traceback" not in worker.output


def test_a_worker_killed_mid_delivery_loses_nothing(shop, tmp_path):
    receiver = CallbackReceiver(delays=[4])
    try:
        invoice_id = shop.create("order-1", callback_url=receiver.url).json()["data"]["id"]
        move_to_processing(invoice_id)
        first = celery_worker(env=_worker_env(tmp_path), name="doomed")
        try:
            deadline = time.monotonic() + 30
            while receiver.arrived == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert receiver.arrived == 1, first.output
            first.process.kill()  # SIGKILL while the POST is in flight
            first.process.wait()
        finally:
            first.stop()
        assert CallbackDelivery.objects.get().state == "pending"

        second = celery_worker(env=_worker_env(tmp_path), name="rescuer", beat=True)
        try:
            deadline = time.monotonic() + 45
            while time.monotonic() < deadline:
                if CallbackDelivery.objects.get().state == "delivered":
                    break
                time.sleep(0.2)
        finally:
            second.stop()
        delivery = CallbackDelivery.objects.get()
        assert delivery.state == "delivered", second.output
        # At least once: the interrupted POST may also have reached the merchant.
        assert len(receiver.received) >= 1
        assert {r.headers["webhook-id"] for r in receiver.received} == {delivery.webhook_id}
    finally:
        receiver.close()


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_a_broker_restart_between_enqueue_and_delivery_loses_nothing(shop, receiver, tmp_path):
    broker = PrivateRedis(tmp_path)
    broker.start()
    try:
        invoice_id = shop.create("order-1", callback_url=receiver.url).json()["data"]["id"]
        move_to_processing(invoice_id)
        env = _worker_env(tmp_path, REDIS_URL=broker.url)
        enqueue = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "shell",
                "-c",
                "from invoices import tasks; "
                f"tasks.deliver_callbacks.delay(invoice_id='{invoice_id}')",
            ],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert enqueue.returncode == 0, enqueue.stderr
        assert broker.queued("callbacks") == 1

        broker.stop()
        broker.start()
        assert broker.queued("callbacks") == 0, "the restart dropped the message"

        worker = celery_worker(env=env, name="after-restart", beat=True)
        try:
            received = receiver.wait_for(1, timeout=45)
        finally:
            worker.stop()
        assert len(received) == 1, worker.output
        assert CallbackDelivery.objects.get().state == "delivered"
    finally:
        broker.stop()


def test_two_hundred_invoices_settled_concurrently_each_call_back_exactly(shop, receiver, tmp_path):
    invoices = {}
    for number in range(200):
        data = shop.create(f"order-{number}", callback_url=receiver.url).json()["data"]
        invoices[data["id"]] = data["attributes"]["flow_data"]["requisites"][
            "invoice_receipt_number"
        ]

    worker = celery_worker(env=_worker_env(tmp_path), name="load", concurrency=4)
    statuses = []
    try:
        assert worker.wait_for("ready.", timeout=60), worker.output
        pending = list(invoices.items())
        lock = threading.Lock()

        def confirm_some():
            client = Client()
            try:
                while True:
                    with lock:
                        if not pending:
                            return
                        invoice_id, receipt = pending.pop()
                    response = client.post(
                        f"{API}/{invoice_id}/confirm",
                        {"payload": {"invoice_receipt_number": receipt, "message": "ok"}},
                        content_type="application/json",
                        REMOTE_ADDR=f"10.0.{len(pending) % 250}.1",
                    )
                    statuses.append(response.status_code)
            finally:
                connection.close()

        threads = [threading.Thread(target=confirm_some) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        received = receiver.wait_for(400, timeout=180)
        time.sleep(1)  # anything beyond the expected would show up now
        received = list(receiver.received)
    finally:
        worker.stop()

    assert Counter(statuses) == {202: 200}
    per_invoice = defaultdict(list)
    for request in received:
        attributes = json.loads(request.body)["data"]
        per_invoice[attributes["id"]].append(attributes["attributes"]["sequence"])
        _assert_signed(shop, request)
    duplicates = len(received) - len({r.headers["webhook-id"] for r in received})
    print(
        f"\ncallbacks: {len(received)} received for {len(per_invoice)} invoices "
        f"(expected 400 for 200), duplicates {duplicates}, "
        f"missing {sum(1 for i in invoices if sorted(set(per_invoice[i])) != [2, 3])}"
    )
    assert set(per_invoice) == set(invoices)
    assert all(sorted(sequences) == [2, 3] for sequences in per_invoice.values())
    assert len(received) == 400
    assert CallbackDelivery.objects.filter(state="delivered").count() == 400
