"""Where a request's time goes: each endpoint through the whole Django stack, in-process.

    python -m bench.profile                 # milliseconds per request, per endpoint
    python -m bench.profile --profile page  # and the costliest functions of one of them
    PROFILE_SORT=tottime python -m bench.profile --profile page  # by their own time
    PROFILE_DUMP=/tmp/page.prof python -m bench.profile --profile page  # and keep them

No server and no network between client and app: what remains is the app's
own cost (middleware, view, queries, templates) beside a view that only
returns a small JSON through the same stack. Runs against DATABASE_URL with
the demo data loaded (`manage.py load_demo`); it creates a few test-mode
invoices of the demo shop. For the worker, attach py-spy to a running one:
`py-spy record -p <worker pid>`.
"""

import argparse
import base64
import cProfile
import io
import itertools
import os
import pstats
import secrets
import time
from decimal import Decimal

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Production settings, as gunicorn runs under `make bench`: DEBUG wraps every
# cursor to record its queries and would be measured along with the app.
os.environ.setdefault("DJANGO_DEBUG", "0")
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("MERCHANT_KEY_SECRET", secrets.token_urlsafe(50))
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1")

import django

django.setup()

from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402

import config.urls  # noqa: E402
from invoices.keys import key_hash  # noqa: E402
from invoices.models import Merchant  # noqa: E402
from invoices.selectors import merchant_credentials  # noqa: E402
from invoices.services import invoice_create  # noqa: E402
from invoices.state_machine import Actor  # noqa: E402

FLOOR = "/bench-profile/small-json"
_references = itertools.count(1)


def _small_json(request):
    return JsonResponse({"status": "ok", "id": "cpi_0123456789abcdef"})


def _endpoints() -> dict[str, tuple[str, dict]]:
    merchant = Merchant.objects.get(name="Demo Shop")
    keys = merchant_credentials(merchant=merchant)
    # Re-derive the stored hash: keys come from MERCHANT_KEY_SECRET, which may
    # differ from the one the demo data was loaded with.
    merchant.secret_key_test_hash = key_hash(keys.secret_key_test)
    merchant.save(update_fields=["secret_key_test_hash"])  # and into the catalog (Redis)
    auth = (
        "Basic " + base64.b64encode(f"{keys.account_id}:{keys.secret_key_test}".encode()).decode()
    )
    stamp = f"{time.time():.0f}"

    def invoice(service: str, currency: str) -> str:
        return invoice_create(
            merchant=merchant,
            service_code=service,
            reference_id=f"profile-{service}-{stamp}",
            amount=Decimal("2126.68"),
            currency=currency,
            test_mode=True,
            actor=Actor("bench"),
        ).id

    test, qr = invoice("test_uah_invoice", "UAH"), invoice("upi_qr_inr_invoice", "INR")
    return {
        "floor": (FLOOR, {}),
        "status": (f"/hpp/{test}/status", {}),
        "qr": (f"/hpp/{qr}/qr.svg", {}),
        "page": (f"/hpp/?cpi={test}&locale=en", {}),
        "qr-page": (f"/hpp/?cpi={qr}&locale=en", {}),
        "read": (f"/api/payment-invoices/{test}", {"HTTP_AUTHORIZATION": auth}),
        "list": ("/api/payment-invoices", {"HTTP_AUTHORIZATION": auth}),
        "create": (
            "/api/payment-invoices",
            {
                "HTTP_AUTHORIZATION": auth,
                "REQUEST_METHOD": "POST",
                "CONTENT_TYPE": "application/vnd.api+json",
                "body": lambda: (
                    '{"data":{"type":"payment-invoices","attributes":{"reference_id":'
                    f'"profile-{next(_references)}-{stamp}","amount":2126.68,'
                    '"currency":"UAH","service":"test_uah_invoice","flow":"charge"}}}'
                ).encode(),
            },
        ),
    }


def _environ(url: str, headers: dict) -> dict:
    route, _, query = url.partition("?")
    headers = dict(headers)
    body = headers.pop("body", lambda: b"")()
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": route,
        "QUERY_STRING": query,
        "SCRIPT_NAME": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.9",
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.url_scheme": "http",
        **headers,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1000, help="per endpoint")
    parser.add_argument("--profile", help="an endpoint name: print its costliest functions")
    options = parser.parse_args()

    # Production settings serve hashed static names from the manifest.
    call_command("collectstatic", interactive=False, verbosity=0)
    config.urls.urlpatterns.insert(0, path(FLOOR.lstrip("/"), _small_json))
    handler = WSGIHandler()
    statuses: list[str] = []

    def start_response(status, headers):
        statuses.append(status)

    def call(url: str, headers: dict) -> None:
        b"".join(handler(_environ(url, headers), start_response))

    for name, (url, headers) in _endpoints().items():
        for _ in range(50):  # warm: connections, template and translation caches
            call(url, headers)
        if not statuses[-1].startswith(("200", "201")):
            raise SystemExit(f"{name}: {url} answered {statuses[-1]}")
        started = time.perf_counter()
        for _ in range(options.requests):
            call(url, headers)
        elapsed = (time.perf_counter() - started) / options.requests * 1000
        print(f"{name:<8} {elapsed:6.3f} ms/request  {url}")
        if name == options.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(options.requests):
                call(url, headers)
            profiler.disable()
            if dump := os.environ.get("PROFILE_DUMP"):
                profiler.dump_stats(dump)  # for pstats' print_callers, snakeviz
            pstats.Stats(profiler).sort_stats(
                os.environ.get("PROFILE_SORT", "cumulative")
            ).print_stats(40)


if __name__ == "__main__":
    main()
