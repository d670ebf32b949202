"""A merchant's callback endpoint for tests: a real HTTP server on loopback."""

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    connection: tuple[str, int]  # the client's address and port: one per TCP connection


@dataclass
class CallbackReceiver:
    """Records every POST; answers with `statuses` in turn (then 200), after `delays` seconds.

    The answer's body is "answered <status>", or the matching entry of `answers`.
    """

    statuses: list[int] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    arrived: int = 0  # requests that reached the server, answered or not yet

    def __post_init__(self):
        receiver = self
        self._lock = threading.Lock()
        self._requests = 0

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keeps connections alive, as merchants' servers do

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    index = receiver._requests
                    receiver._requests += 1
                    receiver.arrived += 1
                delay = receiver.delays[index] if index < len(receiver.delays) else 0
                if delay:
                    time.sleep(delay)
                status = receiver.statuses[index] if index < len(receiver.statuses) else 200
                with receiver._lock:
                    receiver.received.append(
                        Received(
                            self.path,
                            dict(self.headers.items()),
                            body,
                            time.time(),
                            self.client_address,
                        )
                    )
                answer = (
                    receiver.answers[index]
                    if index < len(receiver.answers)
                    else f"answered {status}"
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/callbacks"

    def wait_for(self, count: int, *, timeout: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.received) < count:
            time.sleep(0.05)
        return list(self.received)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
