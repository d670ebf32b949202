"""A Redis that accepts connections and never answers, as the only Redis of a web process
(its cache and its Celery broker): every answer still comes, each a short wait slower.

The process runs under gunicorn, as in production, on the test database; the
merchant API creates, reads and confirms, and the hosted page and its poll show the
confirmation. Nothing is queued (the broker hangs): the beat's sweeps and polls pick
the work up once Redis answers again.
"""

import time

import pytest
import requests

from invoices.models import Invoice
from invoices.selectors import merchant_credentials
from tests.api import API, seed_request
from tests.factories import MerchantServiceFactory, ServiceFactory
from tests.processes import WebServer, project_env, worker_database_url

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# Far below the minutes a hung broker held a confirmation before; far above the
# intended cost (a few 0.1 s timeouts), so a loaded machine does not fail it.
NO_HANG = 3.0


def test_with_redis_hung_the_api_and_the_page_answer_and_confirm_goes_through(
    silent_redis, tmp_path
):
    service = ServiceFactory(code="test_uah_invoice", min_amount=None, max_amount=None)
    keys = merchant_credentials(merchant=MerchantServiceFactory(service=service).merchant)
    auth = (keys.account_id, keys.secret_key_test)
    server = WebServer(
        env=project_env(
            DATABASE_URL=worker_database_url(), REDIS_URL=silent_redis, VAR_DIR=str(tmp_path)
        )
    )
    try:
        server.wait_until_ready()

        def timed(method: str, path: str, **kwargs) -> requests.Response:
            started = time.monotonic()
            response = requests.request(method, server.url + path, timeout=30, **kwargs)
            assert time.monotonic() - started < NO_HANG, (method, path, server.log.output)
            assert response.status_code < 500, server.log.output
            return response

        created = timed("POST", API, json=seed_request("order-hung"), auth=auth)
        assert created.status_code == 201, created.text
        invoice = created.json()["data"]
        assert timed("GET", f"{API}/{invoice['id']}", auth=auth).status_code == 200

        receipt = invoice["attributes"]["flow_data"]["requisites"]["invoice_receipt_number"]
        confirmed = timed(
            "POST",
            f"{API}/{invoice['id']}/confirm",
            json={"payload": {"invoice_receipt_number": receipt, "message": "paid"}},
        )
        assert confirmed.status_code == 202, confirmed.text
        assert Invoice.objects.get(pk=invoice["id"]).status == "processing"

        page = timed("GET", "/hpp/", params={"cpi": invoice["id"]})
        poll = timed("GET", f"/hpp/{invoice['id']}/status")
        for answer in (page, poll):
            assert answer.status_code == 200
            assert 'data-status="processing"' in answer.text
    finally:
        server.stop()
