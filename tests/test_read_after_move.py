"""Read after a move: whatever moves an invoice, every web process shows the new status at once.

Three web processes (gunicorn, one worker each, as the Procfile's `web` scales
out) on PostgreSQL and Redis have each answered the invoice before it moves:
its API document, its hosted page and its status poll, so any copy a process
kept of them is warm. After the move, the very next read of each in each
process (no sleep, no retry) shows the new status. No per-process copy may
outlive a move: the shared cache, versioned by the invoice's `sequence`, and
PostgreSQL are the truth.

Moves that a worker or beat makes (the confirmation forward, a provider
notification's processing, a poll, the expiry sweep) are made here, in the
test process, by calling the task: a worker is just another process, and
this one has the web processes' cache (Redis), as a worker has.
"""

import copy
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser

import pytest
import requests
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from redis.exceptions import TimeoutError as RedisTimeoutError

from config.celery import app as celery_app
from config.redis_circuit import redis_circuit
from connectors.emulator import SIGNATURE_HEADER, provider_signature
from invoices import tasks
from invoices.models import Invoice, Merchant, ProviderEvent
from invoices.selectors import merchant_credentials
from tests.api import API, seed_request
from tests.factories import InvoiceFactory, MerchantServiceFactory
from tests.operators import OPERATOR_PASSWORD, invoice_admin_url, operator_in_group
from tests.processes import WebServer, project_env, worker_database_url

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

TIMEOUT = 10  # seconds, for one request to a local process

# What the customer reads in the status box for each status (checkout/presentation.py).
STATUS_TEXT = {
    "created": "Waiting for your payment",
    "processing": "Checking your payment",
    "process_pending": "Your bank is confirming the payment",
    "processed": "Paid",
    "partially_processed": "Partially paid",
    "process_failed": "Payment failed",
    "expired": "This invoice has expired",
    "terminated": "This invoice was cancelled",
}

# The caches as the environment configures them, as every web process and worker has them
# (the suite's `_isolated_cache` gives each test caches in memory instead).
CONFIGURED_CACHES = copy.deepcopy(settings.CACHES)


@pytest.fixture(scope="module")
def web(django_db_setup, tmp_path_factory):
    """Three web processes on the test database and the configured Redis, for the module."""
    env = project_env(
        DATABASE_URL=worker_database_url(),
        VAR_DIR=str(tmp_path_factory.mktemp("web")),
        # Every confirmation here comes from 127.0.0.1; the per-client limit is not under test.
        CONFIRM_ATTEMPTS_PER_CLIENT_PER_MINUTE="1000000",
        LOG_LEVEL="WARNING",
    )
    servers = [WebServer(env=env) for _ in range(3)]
    try:
        for server in servers:
            server.wait_until_ready()
        yield servers
    finally:
        for server in servers:
            server.stop()
        # No worker runs here: the forwards and polls the moves queued would wait in
        # Redis for the next test's worker, about invoices that no longer exist.
        celery_app.control.purge()


@pytest.fixture(autouse=True)
def _caches_as_a_worker_has_them(_isolated_cache, settings):
    settings.CACHES = {**settings.CACHES, "default": CONFIGURED_CACHES["default"]}


# What a process shows ---------------------------------------------------------------


class _StatusBoxes(HTMLParser):
    """Every status box of a page: its `data-status` and the text the customer reads."""

    def __init__(self, html: str):
        super().__init__()
        self.statuses: list[str | None] = []
        self.texts: list[str] = []
        self._reading = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id") == "status":
            self.statuses.append(attrs.get("data-status"))
        if "status-text" in (attrs.get("class") or "").split():
            self._reading = True
            self.texts.append("")

    def handle_endtag(self, tag):
        if tag == "p":
            self._reading = False

    def handle_data(self, data):
        if self._reading:
            self.texts[-1] += data

    def shown(self) -> str:
        texts = [" ".join(text.split()) for text in self.texts]
        return f"data-status={self.statuses} text={texts}"


def _box(status: str) -> str:
    return f"data-status={[status]} text={[STATUS_TEXT[status]]}"


@dataclass
class Checkout:
    """The three processes, and a merchant whose invoices they serve."""

    web: list[str]
    merchant: Merchant

    @property
    def auth(self) -> tuple[str, str]:
        keys = merchant_credentials(merchant=self.merchant)
        return keys.account_id, keys.secret_key_test

    def create(self, reference_id: str) -> dict:
        response = requests.post(
            f"{self.web[0]}{API}", json=seed_request(reference_id), auth=self.auth, timeout=TIMEOUT
        )
        assert response.status_code == 201, response.text
        return response.json()["data"]

    def api_confirm(self, base: str, invoice_id: str, message: str) -> requests.Response:
        return requests.post(
            f"{base}{API}/{invoice_id}/confirm",
            json={
                "payload": {"invoice_receipt_number": self.receipt(invoice_id), "message": message}
            },
            timeout=TIMEOUT,
        )

    @staticmethod
    def receipt(invoice_id: str) -> str:
        return Invoice.objects.get(pk=invoice_id).requisites["invoice_receipt_number"]

    def seen(self, invoice_id: str) -> dict[str, str]:
        """What each process answers now, by "process N <read>"."""
        seen = {}
        for number, base in enumerate(self.web, 1):
            document = requests.get(f"{base}{API}/{invoice_id}", auth=self.auth, timeout=TIMEOUT)
            assert document.status_code == 200, document.text
            attributes = document.json()["data"]["attributes"]
            seen[f"process {number} API document"] = (
                f"status={attributes['status']} sequence={attributes['sequence']}"
            )
            english = {"Accept-Language": "en"}
            page = requests.get(
                f"{base}/hpp/", {"cpi": invoice_id}, headers=english, timeout=TIMEOUT
            )
            assert page.status_code == 200, page.text
            seen[f"process {number} hosted page"] = _StatusBoxes(page.text).shown()
            # As htmx polls it (the box's hx-get), and as fetched without JavaScript.
            for read, headers in (
                ("status poll", {}),
                ("status poll (htmx)", {"HX-Request": "true"}),
            ):
                poll = requests.get(
                    f"{base}/hpp/{invoice_id}/status?locale=en", headers=headers, timeout=TIMEOUT
                )
                assert poll.status_code == 200, poll.text
                seen[f"process {number} {read}"] = _StatusBoxes(poll.text).shown()
        return seen

    @staticmethod
    def expected(status: str, sequence: int) -> dict[str, str]:
        expected = {}
        for number in (1, 2, 3):
            expected[f"process {number} API document"] = f"status={status} sequence={sequence}"
            for read in ("hosted page", "status poll", "status poll (htmx)"):
                expected[f"process {number} {read}"] = _box(status)
        return expected


def _csrf_token(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def _truth(invoice_id: str) -> tuple[str, int]:
    return Invoice.objects.values_list("status", "sequence").get(pk=invoice_id)


# Invoices in the status a path moves from -------------------------------------------


def created(checkout: Checkout) -> str:
    return checkout.create(f"order-{secrets.token_hex(4)}")["id"]


def confirmed(message: str) -> Callable[[Checkout], str]:
    """Confirmed through the API (`processing`), the forward still to come."""

    def prepare(checkout: Checkout) -> str:
        invoice_id = created(checkout)
        assert checkout.api_confirm(checkout.web[0], invoice_id, message).status_code == 202
        return invoice_id

    return prepare


def pending(checkout: Checkout) -> str:
    """Forwarded, and the sandbox answered "pending": it pays at the next poll."""
    invoice_id = confirmed("pending")(checkout)
    tasks.forward_confirmation(invoice_id=invoice_id)
    return invoice_id


def overdue(checkout: Checkout) -> str:
    invoice_id = created(checkout)
    Invoice.objects.filter(pk=invoice_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    return invoice_id


def at_the_http_provider(checkout: Checkout) -> str:
    """An invoice of the `http` connector, whose provider notifies (its requisites as issued)."""
    service = MerchantServiceFactory(
        merchant=checkout.merchant,
        service__code="card_transfer_uah_http",
        service__display_kind="card_transfer",
        service__connector="http",
        service__connector_settings={},
    ).service
    return InvoiceFactory(
        merchant=checkout.merchant,
        service=service,
        connector="http",
        provider_reference=f"ord_{secrets.token_hex(8)}",
        requisites={"card_number": "4111111111111111", "card_holder": "Test Provider"},
    ).id


# The moves -----------------------------------------------------------------------------


def api_confirm(process: int):
    def move(checkout: Checkout, invoice_id: str) -> None:
        response = checkout.api_confirm(checkout.web[process], invoice_id, "ok")
        assert response.status_code == 202, response.text

    return move


def page_form(process: int, action: str, fields: Callable[[str], dict], *, htmx: bool):
    """A form of the hosted page, posted as the customer's browser does, with or without htmx."""

    def move(checkout: Checkout, invoice_id: str) -> None:
        browser = requests.Session()
        base = checkout.web[process]
        page = browser.get(
            f"{base}/hpp/", params={"cpi": invoice_id, "locale": "en"}, timeout=TIMEOUT
        )
        data = {"csrfmiddlewaretoken": _csrf_token(page.text), **fields(invoice_id)}
        response = browser.post(
            f"{base}/hpp/{invoice_id}/{action}?locale=en",
            data=data,
            headers={"HX-Request": "true"} if htmx else {},
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        assert response.status_code == (200 if htmx else 303), response.text

    return move


def confirm_form(process: int, *, htmx: bool = False):
    return page_form(
        process,
        "confirm",
        lambda invoice_id: {
            "invoice_receipt_number": Checkout.receipt(invoice_id),
            "message": "ok",
        },
        htmx=htmx,
    )


def panel_button(process: int, outcome: str, *, htmx: bool = False):
    return page_form(process, "simulate", lambda invoice_id: {"outcome": outcome}, htmx=htmx)


def worker_forward(checkout: Checkout, invoice_id: str) -> None:
    tasks.forward_confirmation(invoice_id=invoice_id)


def provider_notification(process: int):
    """The provider's signed notification to one process; a worker applies it."""

    def move(checkout: Checkout, invoice_id: str) -> None:
        invoice = Invoice.objects.get(pk=invoice_id)
        event_id = f"evt_{secrets.token_hex(8)}"
        body = json.dumps(
            {
                "event_id": event_id,
                "order_id": invoice.provider_reference,
                "status": "paid",
                "paid_amount": str(invoice.amount),
            }
        ).encode()
        signature = provider_signature(
            secret=settings.PROVIDER_HTTP_NOTIFY_SECRET, timestamp=int(time.time()), body=body
        )
        response = requests.post(
            f"{checkout.web[process]}/providers/http/notify",
            data=body,
            headers={"Content-Type": "application/json", SIGNATURE_HEADER: signature},
            timeout=TIMEOUT,
        )
        assert response.json() == {"status": "accepted"}, response.text
        tasks.process_provider_event(event_pk=ProviderEvent.objects.get(event_id=event_id).pk)

    return move


def polling(checkout: Checkout, invoice_id: str) -> None:
    tasks.poll_invoice(invoice_id=invoice_id)


def expiry_sweep(checkout: Checkout, invoice_id: str) -> None:
    tasks.expire_overdue_invoices()


def _operator(base: str, group: str) -> requests.Session:
    """A member of `group`, logged in through the admin's login form of this process."""
    user = operator_in_group(group)
    browser = requests.Session()
    login = browser.get(f"{base}/admin/login/", timeout=TIMEOUT)
    response = browser.post(
        f"{base}/admin/login/",
        data={
            "csrfmiddlewaretoken": _csrf_token(login.text),
            "username": user.username,
            "password": OPERATOR_PASSWORD,
            "next": "/admin/",
        },
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert response.status_code == 302, response.text
    return browser


def admin_list_action(process: int, action: str, group: str = "finance"):
    """The invoice list's action, with the reason its reason page asks for."""

    def move(checkout: Checkout, invoice_id: str) -> None:
        base = checkout.web[process]
        operator = _operator(base, group)
        response = operator.post(
            base + reverse("admin:invoices_invoice_changelist"),
            data={
                "csrfmiddlewaretoken": operator.cookies["csrftoken"],
                "action": action,
                "index": "0",
                "_selected_action": [invoice_id],
                "reason": "Read after move",
            },
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        assert response.status_code == 302, response.text

    return move


def admin_page_action(process: int, action: str):
    """The action offered on the invoice's own admin page, with its reason."""

    def move(checkout: Checkout, invoice_id: str) -> None:
        base = checkout.web[process]
        operator = _operator(base, "finance")
        response = operator.post(
            base + invoice_admin_url(invoice_id, "act", action),
            data={
                "csrfmiddlewaretoken": operator.cookies["csrftoken"],
                "reason": "Read after move",
            },
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        assert response.status_code == 302, response.text

    return move


def admin_poll_now(process: int):
    """Support asks for a poll from the list; the worker that takes the message polls."""
    ask = admin_list_action(process, "poll_provider_now", group="support")

    def move(checkout: Checkout, invoice_id: str) -> None:
        ask(checkout, invoice_id)
        tasks.poll_invoice(invoice_id=invoice_id)

    return move


@dataclass(frozen=True)
class MovePath:
    name: str
    prepare: Callable[[Checkout], str]
    move: Callable[[Checkout, str], None]
    to_status: str


# Processes are numbered from 0 here; each path moves through a different one in turn.
PATHS = [
    MovePath("api_confirm", created, api_confirm(0), "processing"),
    MovePath("page_confirm_form", created, confirm_form(1), "processing"),
    MovePath("page_confirm_form_htmx", created, confirm_form(2, htmx=True), "processing"),
    MovePath("test_panel_paid", created, panel_button(2, "paid"), "processed"),
    MovePath(
        "test_panel_partial_htmx",
        created,
        panel_button(0, "partial", htmx=True),
        "partially_processed",
    ),
    MovePath("test_panel_failed", created, panel_button(1, "failed"), "process_failed"),
    MovePath("worker_forward_paid", confirmed("ok"), worker_forward, "processed"),
    MovePath("worker_forward_pending", confirmed("pending"), worker_forward, "process_pending"),
    MovePath("worker_forward_declined", confirmed("fail"), worker_forward, "process_failed"),
    MovePath("provider_notification", at_the_http_provider, provider_notification(1), "processed"),
    MovePath("polling", pending, polling, "processed"),
    MovePath("expiry_sweep", overdue, expiry_sweep, "expired"),
    MovePath("admin_list_mark_paid", created, admin_list_action(2, "mark_paid"), "processed"),
    MovePath(
        "admin_list_mark_failed", created, admin_list_action(0, "mark_failed"), "process_failed"
    ),
    MovePath("admin_list_expire", created, admin_list_action(1, "expire"), "expired"),
    MovePath("admin_list_terminate", created, admin_list_action(2, "terminate"), "terminated"),
    MovePath(
        "admin_page_mark_paid", confirmed("ok"), admin_page_action(0, "mark_paid"), "processed"
    ),
    MovePath(
        "admin_page_mark_failed",
        confirmed("ok"),
        admin_page_action(1, "mark_failed"),
        "process_failed",
    ),
    MovePath("admin_page_expire", pending, admin_page_action(2, "expire"), "expired"),
    MovePath(
        "admin_page_terminate", confirmed("ok"), admin_page_action(0, "terminate"), "terminated"
    ),
    MovePath("admin_poll_provider_now", pending, admin_poll_now(1), "processed"),
]


@pytest.mark.parametrize("path", PATHS, ids=[path.name for path in PATHS])
def test_every_process_shows_the_new_status_at_the_next_read(path, web, shop):
    _move_and_read(path, web, shop)


def worker_forward_after_a_slow_redis_answer(checkout: Checkout, invoice_id: str) -> None:
    """The worker's last call to Redis took longer than READ_MODEL_TIMEOUT_SECONDS (50 ms:
    a moment of load is enough), so its circuit is open, as after any RedisError: its
    move's write must still reach Redis, or every other process shows the old status."""
    redis_circuit.trip(RedisTimeoutError("Timeout reading from socket"))
    worker_forward(checkout, invoice_id)


def test_a_move_by_a_process_that_just_had_a_slow_redis_answer_is_seen_at_once(web, shop):
    _move_and_read(
        MovePath(
            "worker_forward_after_a_slow_redis_answer",
            confirmed("ok"),
            worker_forward_after_a_slow_redis_answer,
            "processed",
        ),
        web,
        shop,
    )


def _move_and_read(path: MovePath, web: list[WebServer], shop) -> None:
    checkout = Checkout(web=[server.url for server in web], merchant=shop.merchant)
    logged_before = [len(server.log.lines) for server in web]
    invoice_id = path.prepare(checkout)
    before = _truth(invoice_id)
    warm = checkout.seen(invoice_id)
    assert warm == checkout.expected(*before), f"before the move, at {before}"

    path.move(checkout, invoice_id)
    status, sequence = _truth(invoice_id)
    assert (status, sequence) == (path.to_status, before[1] + 1), "the move itself"

    seen = checkout.seen(invoice_id)
    stale = {
        where: shown
        for where, shown in seen.items()
        if shown != checkout.expected(status, sequence)[where]
    }
    assert not stale, (
        f"{path.name}: {before[0]} → {status} (sequence {sequence}), read at once: "
        + "; ".join(f"{where} showed {shown}" for where, shown in stale.items())
        + _complaints(web, logged_before)
    )


def _complaints(servers: list[WebServer], logged_before: list[int]) -> str:
    """What the processes logged above INFO during the test, access log aside."""
    said = [
        f"\nprocess {number}: {line.rstrip()}"
        for number, (server, start) in enumerate(zip(servers, logged_before, strict=True), 1)
        for line in server.log.lines[start:]
        if re.search(r"WARNING|ERROR|CRITICAL|Traceback", line)
    ]
    return "".join(said)
