"""The hosted pages in a real browser: headless Chromium driven by Playwright's sync API.

Needs the `playwright` package and Debian's Chromium (`/usr/bin/chromium`, or
CHROMIUM_PATH); Playwright's own browser download is never used. Without them
the browser suite is skipped, or, with REQUIRE_SERVICES=1 (as in CI), every
browser test fails at once saying what is missing.

The accessibility checks also need axe-core's `axe.min.js`: from AXE_CORE_JS,
else `node_modules/axe-core/axe.min.js` in the repository; without it they are
skipped with the reason.

One Chromium serves all the browser tests; each test opens its own contexts
(cookies, permissions, JavaScript on or off) and closes them. A test fails when
any of its pages logged an error: a CSP refusal, an asset that did not load, a
script error.
"""

import os
import threading
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.processes import celery_worker, project_env, worker_database_url
from tests.zbar import pyzbar_module, read_qr_bytes

try:
    from playwright.sync_api import expect
except ImportError:  # the suite is skipped, or fails with REQUIRE_SERVICES=1: see `browser`
    expect = None

BROWSER_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BROWSER_DIR.parent.parent
# Into the ignored var/ by default, so a test run leaves the tree as it was;
# `make screenshots` writes the ones the README shows, in docs/screenshots/.
SCREENSHOTS = Path(os.environ.get("SCREENSHOTS_DIR") or PROJECT_ROOT / "var" / "screenshots")
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# A phone as customers hold it (390 x 844 CSS pixels at 3 device pixels each), and a desktop.
VIEWPORTS = {
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 3,
        "is_mobile": True,
        "has_touch": True,
    },
    "desktop": {"viewport": {"width": 1280, "height": 900}, "device_scale_factor": 1},
}
TIMEOUT_MS = 10_000

# The demo's services of every display kind (contract section 3), and an amount for each
# currency. (`provider_card_transfer_uah_invoice` needs the provider emulator running.)
DEMO_SERVICES = {
    "test_uah_invoice": "test",
    "bank_transfer_uah_invoice": "invoice",
    "sepa_qr_eur_invoice": "invoice",
    "upi_qr_inr_invoice": "qr",
    "pix_qr_brl_invoice": "qr",
    "cash_voucher_mxn_invoice": "barcode",
    "card_transfer_uah_invoice": "card_transfer",
    "bank_app_deeplink_uah_invoice": "deeplink",
}
AMOUNTS = {
    "UAH": Decimal("2126.68"),
    "EUR": Decimal("49.90"),
    "INR": Decimal("499.00"),
    "BRL": Decimal("99.90"),
    "MXN": Decimal("250.00"),
}


def _browser_problem() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)"
    return None


BROWSER_PROBLEM = _browser_problem()


def _axe_core_path() -> Path | None:
    candidates = [os.environ.get("AXE_CORE_JS"), PROJECT_ROOT / "node_modules/axe-core/axe.min.js"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def pytest_collection_modifyitems(config, items):
    """Without a browser, skip this directory's tests (REQUIRE_SERVICES=1: the fixture fails)."""
    if not BROWSER_PROBLEM or REQUIRE_SERVICES:
        return
    skip = pytest.mark.skip(reason=f"browser tests: {BROWSER_PROBLEM}")
    for item in items:
        if BROWSER_DIR in Path(item.path).parents:
            item.add_marker(skip)


@pytest.fixture(scope="package")
def browser(django_db_setup):
    """One Chromium for all the browser tests, closed before any other test runs.

    Playwright's sync API keeps an asyncio loop registered on the test thread while it
    runs, which Django takes for an async context and refuses ORM calls in. The test's
    own ORM calls are plain sync code, so the check is switched off while the browser
    lives, and the test database is made before Playwright starts.
    """
    if BROWSER_PROBLEM:
        if REQUIRE_SERVICES:
            pytest.fail(f"REQUIRE_SERVICES=1 but {BROWSER_PROBLEM}", pytrace=False)
        pytest.skip(BROWSER_PROBLEM)
    from playwright.sync_api import sync_playwright

    saved = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if saved is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = saved


@pytest.fixture(scope="session")
def axe_core_js() -> Path:
    path = _axe_core_path()
    if path is None:
        message = (
            "axe-core not found: set AXE_CORE_JS to axe.min.js, or `npm install axe-core` "
            "in the repository (node_modules/axe-core/axe.min.js)"
        )
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(message)  # CI installs it: its absence is a broken run, not a skip
        pytest.skip(message)
    return path


@dataclass
class Browsing:
    """Opens pages on the live server; remembers every console error and uncaught exception."""

    browser: object
    base_url: str
    contexts: list = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def page(self, *, viewport: str = "phone", **options):
        context = self.browser.new_context(
            base_url=self.base_url, **{**VIEWPORTS[viewport], **options}
        )
        context.set_default_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("console", lambda message: self._console(page, message))
        return page

    def _console(self, page, message) -> None:
        if message.type != "error":
            return
        source = (message.location or {}).get("url", "")
        # A page's own 4xx status is the test's to check; browsers ask for /favicon.ico unasked.
        failed_load = message.text.startswith("Failed to load resource")
        if failed_load and (source == page.url or source.endswith("/favicon.ico")):
            return
        self.problems.append(f"console error on {page.url}: {message.text} ({source})")

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture(scope="module")
def worker(django_db_setup, tmp_path_factory):
    """One Celery worker for a module, on the test database and Redis, as in production
    (tests that use it are marked postgres and redis)."""
    process = celery_worker(
        env=project_env(
            DATABASE_URL=worker_database_url(), VAR_DIR=str(tmp_path_factory.mktemp("worker"))
        ),
        name="browser",
    )
    try:
        assert process.wait_for("ready.", timeout=60), process.output
        yield process
    finally:
        process.stop()


@pytest.fixture
def browsing(browser, live_server):
    """Pages of this test; it fails when any of them logged an error (a CSP refusal, a 404
    asset, a script error)."""
    browsing = Browsing(browser=browser, base_url=live_server.url)
    yield browsing
    browsing.close()
    assert not browsing.problems, "\n".join(browsing.problems)


@pytest.fixture
def demo(live_server):
    """The demo services of every display kind and the "Demo Shop" merchant."""
    from invoices.demo import demo_load
    from invoices.models import Merchant

    credentials = demo_load()
    merchant = Merchant.objects.get(account_id=credentials.merchant.account_id)
    return DemoShop(merchant=merchant, credentials=credentials.merchant)


@dataclass
class DemoShop:
    merchant: object
    credentials: object

    def invoice(self, service_code: str = "test_uah_invoice", **options):
        from invoices.models import Service
        from invoices.services import invoice_create
        from invoices.state_machine import Actor

        currency = Service.objects.get(code=service_code).currency
        arguments = {
            "merchant": self.merchant,
            "service_code": service_code,
            "reference_id": f"browser-{uuid.uuid4().hex[:12]}",
            "amount": AMOUNTS[currency],
            "currency": currency,
            "test_mode": True,
            "actor": Actor("merchant", "api"),
            "description": "Order #42",
            **options,
        }
        invoice = invoice_create(**arguments)
        assert invoice.status == "created", (invoice.status, invoice.resolution)
        return invoice


@dataclass
class ShopReturnPage:
    """The merchant's page a customer is sent back to: a real HTTP server on loopback."""

    visits: list[dict[str, list[str]]] = field(default_factory=list)

    def __post_init__(self):
        shop = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                shop.visits.append(parse_qs(urlsplit(self.path).query))
                body = (
                    b'<!doctype html><html lang="en"><head><meta charset="utf-8">'
                    b"<title>Demo Shop</title></head><body><main><h1>Back at the shop</h1>"
                    b"</main></body></html>"
                )
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/orders/42/done"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def shop_return_page():
    page = ShopReturnPage()
    yield page
    page.stop()


@pytest.fixture(scope="session")
def read_qr():
    """The texts of the QR codes zbar finds in a PNG, read as a phone's scanner reads them."""
    pyzbar_module()  # skip or fail here, before a browser is opened for nothing

    def read(png: bytes) -> list[str]:
        return [data.decode("utf-8") for data in read_qr_bytes(png)]

    return read


def screenshot(page, name: str) -> None:
    """<SCREENSHOTS>/<name>.png, one pixel per CSS pixel.

    `caret="initial"`: Playwright would otherwise hide the caret by giving inputs a style
    attribute, which htmx then copies while settling a swap, and the CSP refuses.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(
        path=str(SCREENSHOTS / f"{name}.png"), full_page=True, scale="css", caret="initial"
    )


# What the accessibility checks hold every page to: no violation of these impacts.
BLOCKING_IMPACTS = ("serious", "critical")


def axe_violations(page, axe_core_js: Path, *, rules: list[str] | None = None) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now (all its rules,
    or only `rules`).

    The page's context must be opened with `bypass_csp=True`: the checkout CSP lets
    no script in but its own.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(axe_core_js))
    options = {"resultTypes": ["violations"]}
    if rules:
        options["runOnly"] = {"type": "rule", "values": rules}
    result = page.evaluate("async options => await window.axe.run(document, options)", options)
    return [
        violation for violation in result["violations"] if violation["impact"] in BLOCKING_IMPACTS
    ]


def describe_violations(where: str, violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{where}: {violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"][:5]:
            summary = " ".join(node.get("failureSummary", "").split())
            lines.append(f"    {' '.join(map(str, node['target']))}: {summary}")
    return "\n".join(lines)
