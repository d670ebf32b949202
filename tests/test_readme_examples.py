"""README.md's shell examples, run as written against a live server, as a newcomer would.

Every ```sh block of the README is either run here or named in NOT_RUN with the
reason, so a new example cannot go unchecked. The server is what `make run`
starts (gunicorn, a Celery worker with beat, the provider emulator) on a fresh
database: SQLite and the embedded broker, or PostgreSQL and a Redis of its own
when the suite has them. What a reader fills in themselves is filled in the
same way: `AUTH=` with the keys `load_demo` printed, `ORDER=` with an order the
emulator holds, and the server's and emulator's addresses with this run's ports.
Everything else runs byte for byte, under `bash -euo pipefail`.
"""

import contextlib
import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass

import pytest
import requests
from django.conf import settings

from tests.processes import (
    PROJECT_ROOT,
    LoggedProcess,
    PrivateRedis,
    WebServer,
    celery_worker,
    free_port,
    fresh_postgres_database,
    manage,
    project_env,
)

README = PROJECT_ROOT / "README.md"
SHELL_BLOCK = re.compile(r"^( *)```sh\n(.*?)^\1```", re.S | re.M)

# Blocks that set the machine up or run this very suite, by their first line.
NOT_RUN = {
    "make run": "the two commands that run this suite and the server it tests",
    "DATABASE_URL=postgres://postgres@127.0.0.1:5432/coma REDIS_URL=": "how CI runs this suite",
    ".ci/start-pgbouncer": "CI's second run of this suite, through PgBouncer",
    "apt-get install wrk": "the benchmark, minutes long (tests/test_bench.py runs its harness)",
}


def readme_shell_blocks() -> list[str]:
    blocks = []
    for match in SHELL_BLOCK.finditer(README.read_text()):
        indent = match.group(1)
        lines = match.group(2).splitlines()
        blocks.append("\n".join(line.removeprefix(indent) for line in lines) + "\n")
    return blocks


def _block(first_line: str) -> str:
    found = [block for block in readme_shell_blocks() if block.startswith(first_line)]
    assert len(found) == 1, f"README.md has {len(found)} shell blocks starting {first_line!r}"
    return found[0]


@dataclass
class LiveDemo:
    url: str
    emulator_url: str
    env: dict[str, str]
    account_id: str
    secret_key_test: str
    processes: list

    @property
    def auth(self) -> tuple[str, str]:
        return (self.account_id, self.secret_key_test)

    @property
    def log(self) -> str:
        return "".join(process.output for process in self.processes)

    def run(self, block: str, **placeholders: str) -> subprocess.CompletedProcess:
        script = block.replace("http://127.0.0.1:8000", self.url).replace(
            "http://localhost:8765", self.emulator_url
        )
        for name, value in {
            "AUTH": f"{self.account_id}:{self.secret_key_test}",
            **placeholders,
        }.items():
            script, count = re.subn(rf"^{name}=.*$", f"{name}={value}", script, flags=re.M)
            assert count <= 1
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=PROJECT_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def invoice(self, invoice_id: str) -> dict:
        answer = requests.get(
            f"{self.url}/api/payment-invoices/{invoice_id}", auth=self.auth, timeout=10
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]["attributes"]


@pytest.fixture(scope="module")
def live_demo(tmp_path_factory):
    directory = tmp_path_factory.mktemp("readme")
    on_services = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    with contextlib.ExitStack() as stack:
        if on_services:
            database_url = stack.enter_context(fresh_postgres_database("coma_readme"))
        else:
            database_url = f"sqlite:///{directory / 'db.sqlite3'}"
        redis_url = ""
        if on_services and settings.REDIS_URL:
            # A Redis of its own: the suite's broker queue may hold other tests' tasks.
            redis = PrivateRedis(directory)
            stack.callback(redis.stop)
            redis.start()
            redis_url = redis.url
        web_port, emulator_port = free_port(), free_port()
        env = project_env(
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            VAR_DIR=str(directory),
            LOG_LEVEL="INFO",
            PUBLIC_BASE_URL=f"http://127.0.0.1:{web_port}",
            PROVIDER_EMULATOR_PORT=str(emulator_port),
        )
        for command in (("migrate", "--noinput"), ("load_demo",)):
            result = manage(*command, env=env)
            assert result.returncode == 0, result.stdout + result.stderr
        printed = result.stdout

        emulator = LoggedProcess(
            [sys.executable, "manage.py", "run_provider_emulator", "--port", str(emulator_port)],
            env=env,
        )
        stack.callback(emulator.stop)
        worker = celery_worker(env=env, name="readme", beat=True)
        stack.callback(worker.stop)
        web = WebServer(env=env, port=web_port)
        stack.callback(web.stop)
        web.wait_until_ready()
        assert emulator.wait_for("Provider emulator listening"), emulator.output
        assert worker.wait_for(" ready."), worker.output
        yield LiveDemo(
            url=web.url,
            emulator_url=f"http://localhost:{emulator_port}",
            env=env,
            account_id=re.search(r"account_id\s+(\S+)", printed).group(1),
            secret_key_test=re.search(r"secret_key_test\s+(\S+)", printed).group(1),
            processes=[emulator, worker, web.log],
        )


def _printed(output: str) -> list:
    """The JSON documents and plain lines a block printed, in order."""
    decoder, printed, position = json.JSONDecoder(), [], 0
    while position < len(output):
        if output[position].isspace():
            position += 1
        elif output[position] in "{[":
            document, position = decoder.raw_decode(output, position)
            printed.append(document)
        else:
            end = output.find("\n", position) % (len(output) + 1)
            printed.append(output[position:end])
            position = end
    return printed


def test_every_shell_block_is_run_here_or_said_why_not():
    run_here = (
        "# the demo merchant's account_id",
        ".venv/bin/python manage.py merchant_create",
        "EMULATOR=http://localhost:8765",
        "# a SEPA invoice paid by transfer",
        "# a partly paid invoice, and an invoice for the rest",
    )
    for block in readme_shell_blocks():
        assert block.startswith(run_here) or block.startswith(tuple(NOT_RUN)), (
            f"a shell block of README.md that no test runs:\n{block}"
        )
    for first_line in (*run_here, *NOT_RUN):
        _block(first_line)


def test_the_merchant_api_examples(live_demo):
    result = live_demo.run(_block("# the demo merchant's account_id"))
    assert result.returncode == 0, result.stdout + result.stderr

    created, read, listed, confirmed, status = _printed(result.stdout)
    assert created["data"]["type"] == "payment-invoices"
    assert created["data"]["attributes"]["amount"] == 2126.68
    assert created["data"]["attributes"]["status"] == "created"
    invoice_id = created["data"]["id"]
    assert read["data"]["id"] == invoice_id
    assert invoice_id in [invoice["id"] for invoice in listed["data"]]
    assert confirmed["data"]["attributes"]["status"] == "processing"
    # The worker forwarded the confirmation and the sandbox paid it.
    assert status == "processed"

    # What the run logged: the moves at INFO, none of beat's or the worker's routine lines.
    log = live_demo.log
    assert f"invoice {invoice_id}: created" in log
    assert f"invoice {invoice_id}: processing (confirmation_received)" in log
    assert f"invoice {invoice_id}: processed (provider_answered_confirmation)" in log
    for routine in ("Sending due task", "] received", "] succeeded in", "No hostname"):
        assert routine not in log


def test_the_bank_statement_example(live_demo):
    result = live_demo.run(_block("# a SEPA invoice paid by transfer"))
    assert result.returncode == 0, result.stdout + result.stderr

    imported, status = _printed(result.stdout)
    assert imported["file_format"] == "MT940"
    assert (imported["matched"], imported["unmatched"], imported["duplicates"]) == (1, 0, 0)
    (entry,) = imported["entries"]
    assert entry["state"] == "matched" and entry["outcome"] == "processed"
    assert status == "processed"
    assert f"invoice {entry['invoice_id']}: processed (statement)" in live_demo.log


def test_the_second_chance_example(live_demo):
    result = live_demo.run(_block("# a partly paid invoice, and an invoice for the rest"))
    assert result.returncode == 0, result.stdout + result.stderr

    rest, related = _printed(result.stdout)
    assert (rest["status"], rest["amount"]) == ("created", 1063.34)
    previous = rest["related_invoice"]["previous"]
    assert previous["relation"] == "remainder" and rest["related_invoice"]["next"] is None
    assert related["previous"] is None and related["next"]["relation"] == "remainder"
    assert previous["links"]["self"].endswith(previous["id"])
    assert f"invoice {previous['id']}: partially_processed" in live_demo.log


def test_the_merchant_create_example(live_demo):
    result = live_demo.run(_block(".venv/bin/python manage.py merchant_create"))
    assert result.returncode == 0, result.stdout + result.stderr
    printed = json.loads(result.stdout)
    assert set(printed) >= {
        "account_id",
        "secret_key_test",
        "secret_key_live",
        "public_key_test",
        "public_key_live",
        "webhook_secret",
    }
    # The new merchant's key works against the server at once.
    answer = requests.get(
        f"{live_demo.url}/api/payment-invoices",
        auth=(printed["account_id"], printed["secret_key_test"]),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text


def test_the_provider_emulator_examples(live_demo):
    answer = requests.post(
        f"{live_demo.url}/api/payment-invoices",
        auth=live_demo.auth,
        json={
            "data": {
                "type": "payment-invoices",
                "attributes": {
                    "reference_id": "readme-provider-1",
                    "amount": "250.00",
                    "currency": "UAH",
                    "test_mode": True,
                    "service": "provider_card_transfer_uah_invoice",
                    "flow": "charge",
                    "options": {},
                },
            }
        },
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    invoice_id = answer.json()["data"]["id"]
    shown = manage(
        "shell",
        "-c",
        f"from invoices.models import Invoice; "
        f"print(Invoice.objects.get(id='{invoice_id}').provider_reference)",
        env=live_demo.env,
    )
    order = shown.stdout.strip().splitlines()[-1]
    assert order.startswith("ord_"), shown.stdout + shown.stderr

    result = live_demo.run(_block("EMULATOR=http://localhost:8765"), ORDER=order)
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"fail_next": 3' in result.stdout

    # As the comment says: partially_processed, once, for 100.00.
    deadline = time.monotonic() + 20
    while (attributes := live_demo.invoice(invoice_id))["status"] != "partially_processed":
        assert time.monotonic() < deadline, attributes
        time.sleep(0.2)
    assert attributes["processed_amount"] == 100.0
    time.sleep(1)  # the duplicates arrive too, and change nothing
    assert live_demo.invoice(invoice_id)["sequence"] == attributes["sequence"]
