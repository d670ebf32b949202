"""Loaded first by pytest (`-p tests.environment` in pyproject.toml), before Django's settings.

The suite reads only its own environment: `make run` writes the developer's .env
with the database and broker of the server they run, and a test that purges a
queue or migrates a database must never reach those. Subprocesses the tests
start (gunicorn, Celery workers, manage.py) inherit this.
"""

import os

os.environ["ENV_FILE"] = ""
