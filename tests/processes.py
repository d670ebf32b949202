"""Real processes for tests: run manage.py, start a Celery worker or a web server, read its log."""

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def project_env(**overrides: str) -> dict[str, str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **overrides}
    return {name: value for name, value in env.items() if value is not None}


def manage(*args: str, env: dict[str, str], timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class LoggedProcess:
    """A child process whose combined output is collected line by line."""

    def __init__(self, args: list[str], *, env: dict[str, str]):
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            args,
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, *, timeout: float = 30) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output:
                return True
            if self.process.poll() is not None:
                self._reader.join(timeout=2)
                return text in self.output
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def celery_worker(
    *, env: dict[str, str], name: str, beat: bool = False, concurrency: int = 0
) -> LoggedProcess:
    """A worker on every queue; `beat` embeds the scheduler, `concurrency` > 0 forks children."""
    pool = (
        ["--pool", "prefork", "--concurrency", str(concurrency)]
        if concurrency
        else ["--pool", "solo"]
    )
    return LoggedProcess(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config.celery:app",
            "worker",
            "--loglevel",
            "INFO",
            "--queues",
            "default,provider,callbacks",
            *pool,
            *(["--beat"] if beat else []),
            "--without-mingle",
            "--without-gossip",
            "--hostname",
            f"{name}@%h",
        ],
        env=env,
    )


class WebServer:
    """The app under gunicorn with one worker, as the Procfile's `web` runs it, on a free port."""

    def __init__(self, *, env: dict[str, str], port: int | None = None):
        port = port or free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = LoggedProcess(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "--workers",
                "1",
                "--bind",
                f"127.0.0.1:{port}",
                "--access-logfile",
                "-",
            ],
            env=env,
        )

    def wait_until_ready(self, *, timeout: float = 60) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log.process.poll() is not None:
                break
            try:
                if requests.get(f"{self.url}/healthz", timeout=10).status_code == 200:
                    return
            except requests.RequestException:
                pass  # not listening yet, or still loading the app
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn at {self.url} did not come up:\n{self.log.output}")

    def stop(self) -> None:
        self.log.stop()


def worker_database_url() -> str:
    """The test database, for a worker process that must see what the test wrote."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


@contextlib.contextmanager
def fresh_postgres_database(prefix: str) -> Iterator[str]:
    """A new, empty database on the test run's PostgreSQL server, dropped afterwards: its URL."""
    import psycopg

    db = settings_database()
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = dict(host=db["HOST"], port=db["PORT"] or None, user=db["USER"], dbname="postgres")
    with psycopg.connect(**admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{name}"
    finally:
        with psycopg.connect(**admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def settings_database() -> dict:
    from django.conf import settings

    return settings.DATABASES["default"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateRedis:
    """A redis-server of this test's own, so restarting it disturbs nothing else."""

    def __init__(self, directory):
        self.port = free_port()
        self.directory = directory
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server"),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis.from_url(self.url)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self):
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=10)

    def queued(self, queue: str) -> int:
        import redis

        return redis.Redis.from_url(self.url).llen(queue)
