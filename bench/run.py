"""The benchmark harness: the app and a bare Django floor, side by side, under wrk.

    make bench            (DATABASE_URL and REDIS_URL must point at PostgreSQL and Redis)

Both run under gunicorn with one worker per CPU on the same machine, in the
same run, and wrk drives each endpoint for the same time at the same
concurrency. Figures are reported as ratios to the matching bare endpoint,
because the machines are shared and noisy: an absolute number means little,
a ratio measured side by side means a lot. Results also go to
bench/results.json.
"""

import argparse
import base64
import functools
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "bench" / "lua"
APP_PORT, BARE_PORT = 8911, 8912
BENCH_DATABASE = "coma_bench"

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


@dataclass
class Result:
    endpoint: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    baseline: str | None = None
    ratio: float | None = None


def parse_wrk(output: str) -> tuple[float, float, float, int]:
    """(requests/s, p50 ms, p99 ms, non-2xx/3xx + socket errors) from `wrk --latency` output."""
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))

    def percentile(name: str) -> float:
        value, unit = re.search(rf"^\s+{name}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M).groups()
        return float(value) * _UNITS[unit]

    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", output))
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if socket:
        errors += sum(int(n) for n in socket.groups())
    return rate, percentile("50"), percentile("99"), errors


def database_url(name: str) -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return parts._replace(path=f"/{name}").geturl()


def run(*args: str, env: dict, **kwargs) -> str:
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, **kwargs)
    if result.returncode:
        sys.exit(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def wait_until_up(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 (loopback, our own server)
            return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"{url} did not come up")


SETUP = """
import json, sys
from decimal import Decimal
from invoices.models import Merchant
from invoices.selectors import merchant_credentials
from invoices.services import invoice_create
from invoices.state_machine import Actor

merchant = Merchant.objects.get(name="Demo Shop")
keys = merchant_credentials(merchant=merchant)
def create(service, currency, reference):
    return invoice_create(merchant=merchant, service_code=service, reference_id=reference,
                          amount=Decimal("2126.68"), currency=currency, test_mode=True,
                          actor=Actor("bench")).id
kinds = {"test": ("test_uah_invoice", "UAH"), "invoice": ("bank_transfer_uah_invoice", "UAH"),
         "qr": ("upi_qr_inr_invoice", "INR"), "barcode": ("cash_voucher_mxn_invoice", "MXN"),
         "card_transfer": ("card_transfer_uah_invoice", "UAH"),
         "deeplink": ("bank_app_deeplink_uah_invoice", "UAH")}
pages = {kind: create(service, currency, f"page-{kind}") for kind, (service, currency) in kinds.items()}
fresh = [create("upi_qr_inr_invoice", "INR", f"fresh-{n}") for n in range(COUNT)]
confirmable = [create("test_uah_invoice", "UAH", f"confirm-{n}") for n in range(COUNT)]
print(json.dumps({"account_id": keys.account_id, "secret_key": keys.secret_key_test,
                  "pages": pages, "fresh": fresh, "confirmable": confirmable}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per endpoint")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--database", default=BENCH_DATABASE, help="dropped and created afresh on each run"
    )
    parser.add_argument("--app-port", type=int, default=APP_PORT)
    parser.add_argument("--bare-port", type=int, default=BARE_PORT)
    parser.add_argument(
        "--list-sizes",
        default="10000,1000000",
        help="generated history in the table when the list is measured (besides the"
        " invoices the run made), comma-separated",
    )
    parser.add_argument(
        "--invoices", type=int, default=3000, help="fresh invoices to confirm/render"
    )
    parser.add_argument("--callbacks", type=int, default=1000, help="backlog of callbacks to drain")
    parser.add_argument(
        "--paced-callbacks", type=int, default=300, help="moves timed to their callback"
    )
    parser.add_argument("--callback-rate", type=float, default=50, help="paced moves per second")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results.json"))
    options = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get(
        "REDIS_URL"
    ):
        sys.exit("make bench needs DATABASE_URL (PostgreSQL) and REDIS_URL (Redis)")
    if not shutil.which("wrk"):
        sys.exit("make bench needs wrk (apt-get install wrk)")

    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    cpus = os.cpu_count() or 2
    python = sys.executable
    base = {
        **os.environ,
        "DATABASE_URL": database_url(options.database),
        "DJANGO_DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "MERCHANT_KEY_SECRET": secrets.token_urlsafe(50),
        "CONNECTOR_SECRETS_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{options.app_port}",
        "VAR_DIR": str(workdir),
        # The benchmark is one client: the per-client confirm limit would measure itself.
        "CONFIRM_ATTEMPTS_PER_CLIENT_PER_MINUTE": "1000000000",
        "LOG_LEVEL": "WARNING",
    }
    with psycopg.connect(database_url("postgres"), autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {options.database} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {options.database}")
    print("bench: migrating and loading data", flush=True)
    run(python, "manage.py", "migrate", "--noinput", "-v0", env=base)
    run(python, "manage.py", "collectstatic", "--noinput", "-v0", env=base)
    run(python, "manage.py", "load_demo", "--allow-production", env=base)
    with psycopg.connect(base["DATABASE_URL"], autocommit=True) as connection:
        connection.execute(
            "CREATE TABLE bench_bare_row (id bigserial PRIMARY KEY, payload text, created timestamptz)"
        )
    setup = SETUP.replace("COUNT", str(options.invoices))
    data = json.loads(
        run(python, "manage.py", "shell", "-c", setup, env=base).strip().splitlines()[-1]
    )
    # Statistics, as autovacuum would have gathered them on a production database:
    # without them the planner guesses, and a guess can be a scan of the whole
    # table (a PostgreSQL with autovacuum off, as on some of these machines, never has them).
    with psycopg.connect(base["DATABASE_URL"], autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE)")

    gunicorn = [python, "-m", "gunicorn", "--workers", str(cpus), "--log-level", "warning"]
    processes = [
        subprocess.Popen(
            [*gunicorn, "--bind", f"127.0.0.1:{options.app_port}", "config.wsgi"],
            cwd=ROOT,
            env=base,
        ),
        subprocess.Popen(
            [*gunicorn, "--bind", f"127.0.0.1:{options.bare_port}", "bench.bare.wsgi"],
            cwd=ROOT,
            env={**base, "DJANGO_SETTINGS_MODULE": "bench.bare.settings"},
        ),
        subprocess.Popen(
            [
                python,
                "-m",
                "celery",
                "-A",
                "config.celery:app",
                "worker",
                "--loglevel",
                "WARNING",
                "--queues",
                "default,provider,callbacks",
                "--concurrency",
                # As the Procfile runs it: two processes per core, because a
                # delivery mostly waits (on the merchant's server, on PostgreSQL).
                str(2 * cpus),
            ],
            cwd=ROOT,
            env=base,
        ),
    ]
    try:
        app, bare = f"http://127.0.0.1:{options.app_port}", f"http://127.0.0.1:{options.bare_port}"
        wait_until_up(f"{app}/healthz")
        wait_until_up(f"{bare}/json")
        results = measure(options, data, app, bare, workdir, redis_url=base["REDIS_URL"])
        callbacks = measure_callbacks(options, base)
        # Last: the big table would weigh on every measurement after it.
        scales = measure_lists(options, base, data, app, bare, results)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)

    report(results, callbacks, scales, options)
    print(plans_table(scales))


MOVES = """
import json, time
from decimal import Decimal
from django.db import transaction
from invoices.models import CallbackDelivery, Merchant
from invoices.services import invoice_create
from invoices.state_machine import Actor, invoice_move_status

merchant = Merchant.objects.get(name="Demo Shop")
ids = [invoice_create(merchant=merchant, service_code="card_transfer_uah_invoice",
                      reference_id=f"callback-RUN-{n}", amount=Decimal("10.00"), currency="UAH",
                      test_mode=True, actor=Actor("bench"), callback_url="URL").id
       for n in range(COUNT)]

def move(invoice_id):
    invoice_move_status(invoice_id=invoice_id, to_status="processing", resolution="ok",
                        cause="bench", actor=Actor("bench"))

if PACE:
    for invoice_id in ids:
        move(invoice_id)
        time.sleep(PACE)
else:
    with transaction.atomic():  # a backlog: every callback becomes due at one commit
        for invoice_id in ids:
            move(invoice_id)
committed = time.time()
moved = {d.webhook_id: d.created_at.timestamp()
         for d in CallbackDelivery.objects.filter(invoice_id__in=ids)}
print(json.dumps({"committed": committed, "moved": moved}))
"""


def measure_callbacks(options, env: dict) -> dict:
    """Callbacks delivered per second by the worker, and the time from a move to its arrival.

    Throughput: a backlog of moves committed at once, drained by the worker.
    Latency: moves one at a time at a steady pace, each timed to its arrival.
    """
    arrivals: dict[str, float] = {}
    lock = threading.Lock()

    class Receiver(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keeps connections alive, as merchants' servers do

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                arrivals.setdefault(self.headers["webhook-id"], time.time())
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/callbacks"

    def moves(count: int, pace: float) -> dict:
        script = (
            MOVES.replace("COUNT", str(count))
            .replace("URL", url)
            .replace("RUN", secrets.token_hex(4))
            .replace("PACE", repr(pace))
        )
        written = json.loads(
            run(sys.executable, "manage.py", "shell", "-c", script, env=env).splitlines()[-1]
        )
        deadline = time.monotonic() + 180
        while any(i not in arrivals for i in written["moved"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        return written

    print(f"bench: a backlog of {options.callbacks} callbacks", flush=True)
    backlog = moves(options.callbacks, 0)
    drained = [arrivals[i] for i in backlog["moved"] if i in arrivals]
    span = max(drained) - backlog["committed"] if drained else 0
    rate = options.callback_rate
    print(f"bench: {options.paced_callbacks} moves at {rate}/s, each timed to its callback")
    paced = moves(options.paced_callbacks, 1 / rate)
    server.shutdown()
    latencies = sorted(
        (arrivals[i] - moment) * 1000 for i, moment in paced["moved"].items() if i in arrivals
    )
    return {
        "callbacks": len(backlog["moved"]) + len(paced["moved"]),
        "arrived": len(drained) + len(latencies),
        "per_second": round(len(drained) / span, 1) if span > 0 else None,
        "paced_moves_per_second": rate,
        "latency_p50_ms": round(latencies[len(latencies) // 2], 1) if latencies else None,
        "latency_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 1)
        if latencies
        else None,
    }


def basic_auth(data) -> str:
    return (
        "Basic " + base64.b64encode(f"{data['account_id']}:{data['secret_key']}".encode()).decode()
    )


def run_wrk(options, url: str, *, script: str | None = None, headers=(), env_extra=None) -> tuple:
    command = ["wrk", "-t2", f"-c{options.connections}", f"-d{options.duration}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    if script:
        command += ["-s", str(LUA / script)]
    env = {**os.environ, "THREADS": "2", **(env_extra or {})}
    output = subprocess.run(
        [*command, url], capture_output=True, text=True, env=env, check=True
    ).stdout
    return parse_wrk(output)


def record_result(results: list[Result], endpoint: str, figures: tuple, baseline: str | None):
    result = Result(endpoint, *figures, baseline=baseline)
    if baseline:
        floor = next(r for r in results if r.endpoint == baseline)
        result.ratio = round(result.requests_per_second / floor.requests_per_second, 2)
    results.append(result)
    print(f"bench: {endpoint}: {result.requests_per_second:.0f} req/s", flush=True)


def wait_for_idle_worker(redis_url: str, timeout: float = 120) -> float:
    """Seconds until the worker has nothing queued or in hand.

    Confirmations leave the worker forwarding them to the provider and
    delivering the callbacks of the moves that follow, for a while after wrk
    stops: the next endpoint measured would share the cores with that work.
    """
    client = redis.Redis.from_url(redis_url)
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        queued = sum(
            client.llen(key) for key in client.scan_iter("*") if client.type(key) == b"list"
        )
        if not queued and not client.hlen("unacked"):
            return time.monotonic() - started
        time.sleep(0.2)
    raise SystemExit(f"bench: the worker still had work after {timeout:.0f} s")


def measure(options, data, app: str, bare: str, workdir: Path, *, redis_url: str) -> list[Result]:
    auth = basic_auth(data)
    wrk = functools.partial(run_wrk, options)

    def paths_file(name: str, paths: list[str]) -> str:
        path = workdir / name
        path.write_text("\n".join(paths) + "\n")
        return str(path)

    results: list[Result] = []
    record = functools.partial(record_result, results)

    record("bare: small JSON", wrk(f"{bare}/json"), None)
    record("bare: insert one row", wrk(f"{bare}/insert", script="post_body.lua"), None)
    json_floor, insert_floor = "bare: small JSON", "bare: insert one row"

    record(
        "POST /api/payment-invoices",
        wrk(
            f"{app}/api/payment-invoices",
            script="create.lua",
            headers=[f"Authorization: {auth}", "Content-Type: application/json"],
        ),
        insert_floor,
    )
    page_invoice = data["pages"]["test"]
    record(
        "GET /api/payment-invoices/{id}",
        wrk(f"{app}/api/payment-invoices/{page_invoice}", headers=[f"Authorization: {auth}"]),
        json_floor,
    )
    record(
        "POST /api/payment-invoices/{id}/confirm",
        wrk(
            app,
            script="paths.lua",
            headers=["Content-Type: application/json"],
            env_extra={
                "PATHS_FILE": paths_file(
                    "confirm.txt",
                    [f"/api/payment-invoices/{i}/confirm" for i in data["confirmable"]],
                ),
                "METHOD": "POST",
                "BODY": '{"payload":{"invoice_receipt_number":"1","message":"x"}}',
            },
        ),
        insert_floor,
    )
    settled = wait_for_idle_worker(redis_url)
    print(f"bench: the worker finished the confirmations' work {settled:.1f} s later", flush=True)
    for kind, invoice_id in data["pages"].items():
        record(
            f"GET /hpp/?cpi= ({kind})", wrk(f"{app}/hpp/?cpi={invoice_id}&locale=en"), json_floor
        )
    record("GET /hpp/{id}/status (poll)", wrk(f"{app}/hpp/{page_invoice}/status"), json_floor)
    qr_invoice = data["pages"]["qr"]
    record(
        "GET /hpp/{id}/qr.svg (first render)",
        wrk(
            app,
            script="paths.lua",
            env_extra={
                "PATHS_FILE": paths_file("qr.txt", [f"/hpp/{i}/qr.svg" for i in data["fresh"]])
            },
        ),
        json_floor,
    )
    record("GET /hpp/{id}/qr.svg (cached)", wrk(f"{app}/hpp/{qr_invoice}/qr.svg"), json_floor)
    return results


# Fills the table with generated history, then explains the queries that must
# stay flat (bench/query_plans.py), in the app's own code and database.
FILL = "from bench.query_plans import bench_fill_and_explain; bench_fill_and_explain(total=TOTAL)"

# What a merchant asks the list for: the newest, what is still open, what is
# waiting on the provider (rarer than a page), and the next page.
LIST_QUERIES = {
    "": "",
    "?filter[status]=created": "?filter%5Bstatus%5D=created",
    "?filter[status]=processing,process_pending": (
        "?filter%5Bstatus%5D=processing%2Cprocess_pending"
    ),
}


BIG_TABLES = ("invoices_invoice", "invoices_callbackdelivery")


def count_label(count: int) -> str:
    return f"{count / 1e6:.3g}M" if count >= 999_500 else f"{round(count / 1e3):g}k"


def measure_lists(
    options, env: dict, data, app: str, bare: str, results: list[Result]
) -> list[dict]:
    """The merchant's list at each table size, and the plans of the queries that must stay flat.

    The bare floor is measured again beside each size: minutes pass between
    the first floor and these rows, and the machine is shared.
    """
    auth = basic_auth(data)
    wrk = functools.partial(run_wrk, options, headers=[f"Authorization: {auth}"])
    record = functools.partial(record_result, results)
    scales = []
    for size in (int(size) for size in options.list_sizes.split(",")):
        print(f"bench: filling the invoice history to {size:,} invoices", flush=True)
        started = time.monotonic()
        filled = json.loads(
            run(
                sys.executable,
                "manage.py",
                "shell",
                "-c",
                FILL.replace("TOTAL", str(size)),
                env=env,
            ).splitlines()[-1]
        )
        scale = {"fill_seconds": round(time.monotonic() - started, 1), **filled}
        scales.append(scale)
        label = f"{count_label(filled['invoices'])} invoices"
        floor = f"bare: small JSON (beside {label})"
        record(floor, run_wrk(options, f"{bare}/json"), None)
        for shown, query in LIST_QUERIES.items():
            record(
                f"GET /api/payment-invoices{shown} ({label})",
                wrk(f"{app}/api/payment-invoices{query}"),
                floor,
            )
        request = urllib.request.Request(  # noqa: S310 (loopback, our own server)
            f"{app}/api/payment-invoices", headers={"Authorization": auth}
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            second_page = json.load(response)["links"]["next"]
        record(
            f"GET /api/payment-invoices?page[after]= (page 2, {label})",
            wrk(f"{app}{second_page}"),
            floor,
        )
    return scales


def plans_table(scales: list[dict]) -> str:
    """Each query's plan and buffers at each table size, side by side."""
    sizes = [count_label(scale["invoices"]) for scale in scales]
    width = max(len(name) for name in scales[0]["plans"])
    lines = [
        f"{'query (EXPLAIN ANALYZE, BUFFERS)':<{width}}"
        + "".join(f"  {size + ' hit':>8} {'read':>6} {'ms':>6}" for size in sizes),
        "-" * (width + 24 * len(sizes)),
    ]
    for name in scales[0]["plans"]:
        plans = [scale["plans"][name] for scale in scales]
        figures = "".join(
            f"  {p['shared_hit']:>8} {p['shared_read']:>6} {p['execution_ms']:>6.2f}" for p in plans
        )
        lines.append(f"{name:<{width}}{figures}")
        # How each size reaches the big tables (joined lookups left out).
        reads = [
            " > ".join(
                n for n in p["nodes"] if n.startswith("Bitmap Index") or n.endswith(BIG_TABLES)
            )
            for p in plans
        ]
        if len(set(reads)) == 1:
            lines.append(f"    {reads[0]}")
        else:
            lines += [f"    {size}: {read}" for size, read in zip(sizes, reads, strict=True)]
    seq_scans = {
        f"{name} ({size})": scale["plans"][name]["seq_scans"]
        for size, scale in zip(sizes, scales, strict=True)
        for name in scale["plans"]
        if set(BIG_TABLES) & set(scale["plans"][name]["seq_scans"])
    }
    lines.append(f"sequential scans of invoices or callbacks: {seq_scans or 'none'}")
    return "\n".join(lines)


def report(results: list[Result], callbacks: dict, scales: list[dict], options) -> None:
    width = max(len(r.endpoint) for r in results)
    lines = [
        f"{'endpoint':<{width}}  {'req/s':>8}  {'p50 ms':>7}  {'p99 ms':>7}  {'errors':>6}  ratio",
        "-" * (width + 46),
    ]
    for r in results:
        ratio = (
            f"{r.ratio:.2f} of {r.baseline.removeprefix('bare: ')}"
            if r.ratio is not None
            else "floor"
        )
        lines.append(
            f"{r.endpoint:<{width}}  {r.requests_per_second:>8.0f}  {r.p50_ms:>7.2f}  "
            f"{r.p99_ms:>7.2f}  {r.errors:>6}  {ratio}"
        )
    lines.append(
        f"callbacks: {callbacks['arrived']} of {callbacks['callbacks']} arrived; "
        f"a backlog drained at {callbacks['per_second']}/s; "
        f"at {callbacks['paced_moves_per_second']} moves/s, move-to-arrival p50 "
        f"{callbacks['latency_p50_ms']} ms, p99 {callbacks['latency_p99_ms']} ms"
    )
    print("\n".join(lines))
    Path(options.output).write_text(
        json.dumps(
            {
                "duration_seconds": options.duration,
                "connections": options.connections,
                "cpus": os.cpu_count(),
                "results": [asdict(r) for r in results],
                "callbacks": callbacks,
                "list_scales": scales,
            },
            indent=2,
        )
    )
    print(f"bench: written to {options.output}")


if __name__ == "__main__":
    main()
