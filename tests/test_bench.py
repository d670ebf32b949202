"""The benchmark reads wrk's report correctly and waits for a quiet worker (the harness
itself runs with `make bench`)."""

import shutil
import threading
import time

import pytest
import redis

from bench.run import parse_wrk, wait_for_idle_worker
from tests.processes import PrivateRedis

WRK_OUTPUT = """Running 3s test @ http://127.0.0.1:8912/json
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.40ms    1.02ms  20.11ms   85.44%
    Req/Sec     2.37k   150.21     2.60k    80.00%
  Latency Distribution
     50%    3.08ms
     75%    3.60ms
     90%    4.40ms
     99%    1.20s
  14123 requests in 3.00s, 2.98MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:   4707.33
Transfer/sec:      0.99MB
"""


def test_rate_percentiles_in_milliseconds_and_every_kind_of_error():
    rate, p50, p99, errors = parse_wrk(WRK_OUTPUT)
    assert rate == 4707.33
    assert (p50, p99) == (3.08, 1200.0)
    assert errors == 10


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_the_next_endpoint_waits_until_the_worker_has_nothing_queued_or_in_hand(tmp_path):
    broker = PrivateRedis(tmp_path)
    broker.start()
    try:
        client = redis.Redis.from_url(broker.url)
        client.rpush("callbacks", "a delivery")
        client.hset("unacked", "tag", "a delivery in hand")
        client.set("a cache entry", "not work")

        def worker():
            time.sleep(0.3)
            client.delete("callbacks")
            time.sleep(0.3)
            client.delete("unacked")

        thread = threading.Thread(target=worker)
        thread.start()
        waited = wait_for_idle_worker(broker.url, timeout=10)
        thread.join()
        assert waited >= 0.6
        assert wait_for_idle_worker(broker.url, timeout=10) < 0.1
    finally:
        broker.stop()
