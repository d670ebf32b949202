"""The worker processes `make run` and the Procfile start: real Celery, real brokers."""

import time
import uuid

import pytest
from celery import Celery
from django.conf import settings

from config.celery import app
from tests.processes import celery_worker, project_env


def test_celery_is_configured_for_at_least_once_delivery():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_serializer == "json"
    if settings.REDIS_URL:
        assert app.conf.broker_transport_options["visibility_timeout"] == 3600


def _run_a_task_through(worker, sender: Celery):
    marker = uuid.uuid4().hex
    assert worker.wait_for("ready.", timeout=60), worker.output
    # `celery.accumulate` is built into every worker: it proves a message
    # travelled through the broker and was executed, without any app task.
    # The worker logs each task's result only at LOG_LEVEL=DEBUG (config/settings.py).
    sender.send_task("celery.accumulate", args=[marker], queue="default")
    assert worker.wait_for(f"('{marker}',)", timeout=30), worker.output


@pytest.mark.redis
def test_a_worker_on_redis_runs_tasks_and_answers_pings():
    # Messages other tests left queued (whose workers stopped mid-task) are about
    # invoices of databases long gone: a solo worker would spend its time on them.
    app.control.purge()
    worker = celery_worker(env=project_env(LOG_LEVEL="DEBUG"), name=f"redis-{uuid.uuid4().hex[:6]}")
    try:
        _run_a_task_through(worker, app)
        # A solo worker answers between tasks, so ask again for a while.
        deadline = time.monotonic() + 30
        replies = []
        while time.monotonic() < deadline and not any(
            name.startswith("redis-") for reply in replies for name in reply
        ):
            replies = app.control.ping(timeout=2)
        assert any(name.startswith("redis-") for reply in replies for name in reply), replies
    finally:
        worker.stop()


def test_a_worker_on_the_embedded_filesystem_broker_runs_tasks(tmp_path):
    env = project_env(
        REDIS_URL="",
        VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path}/db",
        LOG_LEVEL="DEBUG",
    )
    worker = celery_worker(env=env, name="filesystem")
    queue = tmp_path / "broker" / "queue"
    sender = Celery(
        broker="filesystem://",
        broker_transport_options={
            "data_folder_in": str(queue),
            "data_folder_out": str(queue),
            "processed_folder": str(tmp_path / "broker" / "processed"),
            "control_folder": str(tmp_path / "broker" / "control"),
            "store_processed": False,
        },
    )
    try:
        _run_a_task_through(worker, sender)
    finally:
        worker.stop()
