"""The Celery app: `celery -A config.celery:app worker|beat`."""

import os
import warnings

from celery import Celery, Task
from celery.signals import task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Celery warns about a worker running as root (as it does in many development
# containers) because a pickled message could run code; these tasks accept JSON
# only. A production worker (DJANGO_DEBUG=0) still hears the warning.
if os.environ.get("DJANGO_DEBUG", "1") != "0":
    warnings.filterwarnings("ignore", message="You're running the worker with superuser")

app = Celery("coma")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
def _reuse_database_connection(task: Task[..., object] | None = None, **kwargs: object) -> None:
    """Drop a connection past CONN_MAX_AGE, and have Django's health check (CONN_HEALTH_CHECKS)
    test a kept one before the task's first query, as Django does before each request.

    Eager tasks run inside their caller's transaction: its connection is not ours to close.
    """
    if task is not None and not task.request.is_eager:
        from django.db import close_old_connections

        close_old_connections()
