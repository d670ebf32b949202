"""A payment provider on loopback, speaking the API the `http` connector expects.

It issues unique requisites per order, takes confirmations, answers status
queries and pushes signed notifications, and it can be told what to do:
an outcome per order, and faults (latency, 5xx, timeouts, malformed bodies,
duplicated and out-of-order notifications). `make run` starts it for the
demo; the tests start it as a real process.

The API (all JSON, `Authorization: Bearer <api key>`):
    POST /v1/orders                  {merchant_order_id, amount, currency, display_kind,
                                      notify_url} -> 201 order (idempotent per
                                      merchant_order_id)
    GET  /v1/orders/<id>             -> 200 order
    POST /v1/orders/<id>/confirm     {payload} -> 200 order (idempotent)
Control (no auth, loopback only):
    POST /_control/orders/<id>       {outcome, paid_amount?, duplicates?, out_of_order?,
                                      notify?, apply_now?} sets what the order will do
                                      (apply_now: at once, not at its confirmation)
    POST /_control/faults            {latency?, fail_next?, timeout_next?, malformed_next?}
Notifications: POST notify_url {event_id, order_id, merchant_order_id, status,
paid_amount, sequence, occurred_at}, header X-Provider-Signature: t=<unix>,v1=<hex
HMAC-SHA256(secret, "<t>.<body>")>.
Statuses: created, checking, pending, paid, partially_paid, declined.
"""

import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypedDict

import requests
from stdnum import luhn

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Provider-Signature"
FINAL = {"paid", "partially_paid", "declined"}
# The credentials of the second emulated provider (`run_provider_emulator --second`),
# which the demo's second http service stores as its own: two providers, two accounts.
SECOND_PROVIDER = {"api_key": "emulator-2-api-key", "notify_secret": "emulator-2-notify-secret"}
# A request held this long outlasts any client's read timeout.
TIMEOUT_HOLD_SECONDS = 15

# A JSON object as a client sent it: nothing about its values is checked before use.
JsonObject = dict[str, Any]


class Event(TypedDict):
    """A notification as the emulator sends it to notify_url."""

    event_id: str
    order_id: str
    merchant_order_id: str
    status: str
    paid_amount: str | None
    sequence: int
    occurred_at: int


def provider_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def _luhn_completed(digits: str) -> str:
    return digits + luhn.calc_check_digit(digits)


@dataclass
class Order:
    id: str
    merchant_order_id: str
    amount: Decimal
    currency: str
    display_kind: str
    notify_url: str | None
    requisites: dict[str, str]
    status: str = "created"
    paid_amount: Decimal | None = None
    sequence: int = 0
    plan: JsonObject = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {
            "order_id": self.id,
            "merchant_order_id": self.merchant_order_id,
            "amount": str(self.amount),
            "currency": self.currency,
            "status": self.status,
            "paid_amount": str(self.paid_amount) if self.paid_amount is not None else None,
            "requisites": self.requisites,
            # What the customer may confirm with: a free-text note, whose words
            # (fail, partial, pending) pick the demo outcome.
            "confirmation_schema": {
                "message": {
                    "required": False,
                    "regexp": "^.{1,100}$",
                    "type": "text",
                    "example": "paid",
                }
            },
        }


class ProviderEmulator:
    def __init__(self, *, api_key: str, notify_secret: str, settle_delay: float = 0.2) -> None:
        self.api_key = api_key
        self.notify_secret = notify_secret
        self.settle_delay = settle_delay
        self.orders: dict[str, Order] = {}
        self.by_merchant_order: dict[str, str] = {}
        self.faults = {"latency": 0.0, "fail_next": 0, "timeout_next": 0, "malformed_next": 0}
        self.lock = threading.Lock()

    # Requisites -------------------------------------------------------------

    def _requisites(self, order_id: str, kind: str) -> dict[str, str]:
        reference = order_id.removeprefix("ord_").upper()
        if kind == "invoice":
            return {
                "receiver_name": "Emulated Provider LLC",
                "iban": "UA213223130000026007233566001",
                "receiver_code": "12345678",
                "bank_name": "Emulated Bank",
                "purpose": f"Payment for order {reference}",
            }
        if kind == "card_transfer":
            body = "4" + "".join(str(secrets.randbelow(10)) for _ in range(14))
            return {"card_number": _luhn_completed(body), "bank_name": "Emulated Bank"}
        if kind == "barcode":
            return {"barcode": reference, "barcode_format": "code128", "reference": reference}
        if kind == "test":
            return {"invoice_receipt_number": str(1_000_000_000 + secrets.randbelow(9_000_000_000))}
        link = f"https://pay.emulator.test/o/{order_id}"
        return {"qr_code": link, "deeplink": link} if kind == "qr" else {"deeplink": link}

    # API --------------------------------------------------------------------

    def create_order(self, data: JsonObject) -> tuple[int, dict[str, object]]:
        try:
            merchant_order_id = str(data["merchant_order_id"])
            amount = Decimal(str(data["amount"]))
            currency = str(data["currency"])
            kind = str(data.get("display_kind", "deeplink"))
        except (KeyError, ArithmeticError, ValueError):
            return 400, {"error": "merchant_order_id, amount and currency are required"}
        with self.lock:
            if existing := self.by_merchant_order.get(merchant_order_id):
                return 200, self.orders[existing].as_json()
            order_id = "ord_" + secrets.token_hex(8)
            order = Order(
                id=order_id,
                merchant_order_id=merchant_order_id,
                amount=amount,
                currency=currency,
                display_kind=kind,
                notify_url=data.get("notify_url"),
                requisites=self._requisites(order_id, kind),
            )
            self.orders[order_id] = order
            self.by_merchant_order[merchant_order_id] = order_id
        return 201, order.as_json()

    def confirm(self, order_id: str, data: JsonObject) -> tuple[int, dict[str, object]]:
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                return 404, {"error": "no such order"}
            if order.status != "created":
                return 200, order.as_json()  # confirming twice changes nothing
            message = str((data.get("payload") or {}).get("message", ""))
            outcome = order.plan.get("outcome") or {
                "fail": "declined",
                "partial": "partially_paid",
                "pending": "pending",
            }.get(message, "paid")
            order.plan.setdefault("outcome", outcome)
            order.status = "checking"
            answer = order.as_json()
        threading.Timer(self.settle_delay, self._settle, args=(order_id,)).start()
        return 200, answer

    def status(self, order_id: str) -> tuple[int, dict[str, object]]:
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                return 404, {"error": "no such order"}
            # A pending payment arrives by the next time anyone asks, unless told to wait.
            if order.status == "pending" and not order.plan.get("stay_pending"):
                self._move(order, "paid")
            return 200, order.as_json()

    def _settle(self, order_id: str) -> None:
        with self.lock:
            order = self.orders[order_id]
            outcome = order.plan.get("outcome", "paid")
            if order.status in FINAL:
                return
            events = [self._move(order, outcome)]
        self._notify(order, events)

    def _move(self, order: Order, status: str) -> Event:
        """Change the order's status and return the event that tells of it (under the lock)."""
        order.status = status
        if status == "paid":
            order.paid_amount = Decimal(order.plan.get("paid_amount") or order.amount)
        elif status == "partially_paid":
            default = (order.amount / 2).quantize(Decimal("0.01"), ROUND_DOWN)
            order.paid_amount = Decimal(order.plan.get("paid_amount") or default)
        order.sequence += 1
        return {
            "event_id": "evt_" + secrets.token_hex(8),
            "order_id": order.id,
            "merchant_order_id": order.merchant_order_id,
            "status": status,
            "paid_amount": str(order.paid_amount) if order.paid_amount is not None else None,
            "sequence": order.sequence,
            "occurred_at": int(time.time()),
        }

    def _notify(self, order: Order, events: list[Event]) -> None:
        if not order.notify_url or not order.plan.get("notify", True):
            return
        if order.plan.get("out_of_order") and events[-1]["status"] in FINAL:
            # An older "pending" event that only arrives after the final one.
            stale: Event = {
                **events[-1],
                "event_id": "evt_" + secrets.token_hex(8),
                "status": "pending",
                "paid_amount": None,
                "sequence": events[-1]["sequence"] - 1,
            }
            events = [*events, stale]
        copies = 1 + int(order.plan.get("duplicates", 0))
        for event in events:
            for _ in range(copies):
                self._send(order.notify_url, event)

    def _send(self, url: str, event: Event) -> None:
        body = json.dumps(event).encode()
        signature = provider_signature(
            secret=self.notify_secret, timestamp=int(time.time()), body=body
        )
        try:
            requests.post(
                url,
                data=body,
                headers={"Content-Type": "application/json", SIGNATURE_HEADER: signature},
                timeout=(3, 10),
            )
        except requests.RequestException as error:
            logger.warning("emulator: notification to %s failed: %s", url, error)

    # Control ------------------------------------------------------------------

    def control_order(self, order_id: str, data: JsonObject) -> tuple[int, dict[str, object]]:
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                return 404, {"error": "no such order"}
            order.plan.update(data)
            events: list[Event] = []
            if data.get("apply_now") and order.status not in FINAL:
                events.append(self._move(order, data.get("outcome", "paid")))
            answer = order.as_json()
        if events:
            self._notify(order, events)
        return 200, answer

    def control_faults(self, data: JsonObject) -> tuple[int, dict[str, object]]:
        with self.lock:
            for name in self.faults:
                if name in data:
                    self.faults[name] = type(self.faults[name])(data[name])
            return 200, dict(self.faults)

    def take_fault(self) -> str | None:
        with self.lock:
            for name in ("timeout_next", "fail_next", "malformed_next"):
                if self.faults[name] > 0:
                    self.faults[name] -= 1
                    return name
        return None


_ORDER = re.compile(r"^/v1/orders/(ord_[0-9a-f]{16})$")
_CONFIRM = re.compile(r"^/v1/orders/(ord_[0-9a-f]{16})/confirm$")
_CONTROL_ORDER = re.compile(r"^/_control/orders/(ord_[0-9a-f]{16})$")


def make_handler(emulator: ProviderEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _reply(self, status: int, payload: dict[str, object] | bytes) -> None:
            body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> JsonObject | None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                data = json.loads(raw or b"{}")
            except ValueError:
                return None
            return data if isinstance(data, dict) else None

        def _api(self, method: str) -> None:
            data = self._body() if method == "POST" else {}
            if self.path.startswith("/_control/"):
                return self._control(data)
            if self.headers.get("Authorization") != f"Bearer {emulator.api_key}":
                return self._reply(401, {"error": "bad api key"})
            if emulator.faults["latency"]:
                time.sleep(emulator.faults["latency"])
            fault = emulator.take_fault()
            if fault == "timeout_next":
                time.sleep(TIMEOUT_HOLD_SECONDS)
            elif fault == "fail_next":
                return self._reply(503, {"error": "temporarily unavailable"})
            elif fault == "malformed_next":
                return self._reply(200, b"<html>upstream proxy error</html>")
            if data is None:
                return self._reply(400, {"error": "body must be a JSON object"})
            if method == "POST" and self.path == "/v1/orders":
                return self._reply(*emulator.create_order(data))
            if method == "POST" and (match := _CONFIRM.match(self.path)):
                return self._reply(*emulator.confirm(match.group(1), data))
            if method == "GET" and (match := _ORDER.match(self.path)):
                return self._reply(*emulator.status(match.group(1)))
            return self._reply(404, {"error": "no such endpoint"})

        def _control(self, data: JsonObject | None) -> None:
            if data is None:
                return self._reply(400, {"error": "body must be a JSON object"})
            if self.path == "/_control/faults":
                return self._reply(*emulator.control_faults(data))
            if match := _CONTROL_ORDER.match(self.path):
                return self._reply(*emulator.control_order(match.group(1), data))
            return self._reply(404, {"error": "no such control"})

        def do_GET(self) -> None:
            self._api("GET")

        def do_POST(self) -> None:
            self._api("POST")

        def log_message(self, format: str, *args: Any) -> None:
            logger.info("emulator: " + format, *args)

    return Handler


def serve(*, host: str, port: int, api_key: str, notify_secret: str) -> ThreadingHTTPServer:
    emulator = ProviderEmulator(api_key=api_key, notify_secret=notify_secret)
    server = ThreadingHTTPServer((host, port), make_handler(emulator))
    server.daemon_threads = True
    return server
