"""A production-sized invoice table, and the plans of the queries that must stay flat on it.

The harness (`make bench`) fills the table to 10,000 and then to 1,000,000
invoices and reports these plans beside the list endpoint's throughput;
tests/invoices/test_query_plans.py asserts on them at a smaller scale. Every
query is captured from the code that sends it (the list selector, the poll,
expiry and callback sweeps, the admin's search), so a change there shows here.

Runs inside Django (`manage.py shell -c`, or the test suite), on PostgreSQL.
"""

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from unittest import mock

from django.contrib import admin
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from invoices import callback_delivery, callback_http, selectors, services
from invoices.models import CallbackDelivery, Invoice, Merchant, Service

# One invoice every 20 seconds: about 4,300 a day, so 10,000 invoices are the
# last two days and 1,000,000 the last seven and a half months. Rows are
# numbered from the newest (n = 1) back in time, so adding rows adds history.
APART = timedelta(seconds=20)
LIFETIME = timedelta(hours=24)

# Only invoices younger than their lifetime (plus the few minutes the expiry
# sweep lags behind) are still open; older ones reached a final status. Of the
# open ones, the few waiting on the provider have `next_poll_at`, some due,
# some not. One in a thousand was terminated by an operator: a status rarer
# than a page of the list. A third of the moved invoices called back; in the
# last hour some of those callbacks are still being retried, the rest were
# delivered.
INSERT_INVOICES = """
WITH new_invoices AS (
    INSERT INTO invoices_invoice (
        id, merchant_id, test_mode, service_id, connector, currency, reference_id,
        status, resolution, sequence, amount, payment_amount, processed_amount,
        return_urls, options, requisites, is_otp_flow, confirmation_schema_json,
        confirmation_required, confirmation_failures, created_at, updated_at, processed_at,
        expires_at, next_poll_at, poll_attempts
    )
    SELECT
        'cpi_' || substr(md5('bulk-' || n), 1, 16),
        (%(merchants)s::bigint[])[slot],
        (%(test_modes)s::boolean[])[slot],
        (%(services)s::bigint[])[service],
        (%(connectors)s::text[])[service],
        (%(currencies)s::text[])[service],
        'bulk-' || n,
        status,
        CASE status WHEN 'expired' THEN 'expired' WHEN 'process_failed' THEN 'declined'
                    WHEN 'terminated' THEN 'terminated' ELSE 'ok' END,
        CASE WHEN status = 'created' THEN 1
             WHEN status IN ('processing', 'process_pending', 'expired') THEN 2 ELSE 3 END,
        amount,
        amount,
        CASE status WHEN 'processed' THEN amount WHEN 'partially_processed' THEN amount / 2 END,
        '{}', '{}', '{}', false, '{}', false, 0,
        created_at,
        created_at,
        CASE WHEN status IN ('processed', 'partially_processed')
             THEN created_at + interval '10 minutes' END,
        created_at + %(lifetime)s,
        CASE WHEN status IN ('processing', 'process_pending')
             THEN %(now)s + make_interval(secs => mod(n, 120) - 60) END,
        0
    FROM (
        SELECT n, created_at, slot, service, amount,
            CASE WHEN created_at + %(lifetime)s > %(now)s - interval '5 minutes' THEN
                CASE WHEN dice < 700 THEN 'created' WHEN dice < 760 THEN 'processing'
                     WHEN dice < 800 THEN 'process_pending' WHEN dice < 960 THEN 'processed'
                     WHEN dice < 999 THEN 'process_failed' ELSE 'terminated' END
            ELSE
                CASE WHEN dice < 620 THEN 'processed' WHEN dice < 630 THEN 'partially_processed'
                     WHEN dice < 930 THEN 'expired' WHEN dice < 999 THEN 'process_failed'
                     ELSE 'terminated' END
            END AS status
        FROM (
            SELECT n,
                %(now)s - n * %(apart)s AS created_at,
                mod(abs(hashtext('dice-' || n)::bigint), 1000) AS dice,
                1 + mod(n, cardinality(%(merchants)s::bigint[])) AS slot,
                1 + mod(n / 7, cardinality(%(services)s::bigint[])) AS service,
                round((100 + mod(n, 99991)) / 100.0, 2) AS amount
            FROM generate_series(%(first)s::integer, %(last)s::integer) AS n
        ) AS drawn
    ) AS invoice
    RETURNING id, merchant_id, test_mode, status, sequence, created_at
)
INSERT INTO invoices_callbackdelivery (
    invoice_id, merchant_id, test_mode, sequence, webhook_id, url, body, state, attempts,
    next_attempt_at, pending_since, last_attempt_at, delivered_at, created_at
)
SELECT id, merchant_id, test_mode, sequence, 'msg_' || md5(id), 'https://shop.example/callbacks',
    convert_to('{}', 'UTF8'), state,
    CASE state WHEN 'delivered' THEN 1 ELSE 3 END,
    CASE state WHEN 'pending' THEN created_at + interval '30 minutes' ELSE created_at END,
    created_at, created_at,
    CASE state WHEN 'delivered' THEN created_at + interval '1 second' END,
    created_at
FROM (
    SELECT *,
        CASE WHEN created_at > %(now)s - interval '1 hour' AND mod(abs(hashtext(id)::bigint), 2) = 0
             THEN 'pending'
             WHEN mod(abs(hashtext(id)::bigint), 500) = 0 THEN 'failed'
             ELSE 'delivered' END AS state
    FROM new_invoices
    WHERE status <> 'created' AND mod(abs(hashtext('callback-' || id)::bigint), 3) = 0
) AS moved
"""


def invoices_insert(
    *,
    first: int,
    last: int,
    slots: list[tuple[Merchant, bool]],
    services: list[Service],
    now: datetime,
) -> None:
    """Rows `first`..`last` of the history, spread over (merchant, test_mode) `slots`.

    A slot listed three times gets three times the invoices of one listed once.
    The caller runs ANALYZE (or VACUUM ANALYZE) before asking for plans.
    """
    params = {
        "first": first,
        "last": last,
        "merchants": [merchant.pk for merchant, _ in slots],
        "test_modes": [test_mode for _, test_mode in slots],
        "services": [service.pk for service in services],
        "connectors": [service.connector for service in services],
        "currencies": [service.currency for service in services],
        "now": now,
        "apart": APART,
        "lifetime": LIFETIME,
    }
    with connection.cursor() as cursor:
        cursor.execute(INSERT_INVOICES, params)


def captured_select(action: Callable[[], object], *, nth: int = 0) -> str:
    """The first (or `nth`) SELECT `action` sends, with its parameters; nothing it writes
    is kept.

    The sweeps act on what they select; here they only select: no invoice is
    moved and no delivery is enqueued.
    """
    with (
        mock.patch("invoices.services.moves.invoice_move_status"),
        mock.patch("invoices.tasks.deliver_callbacks"),
        CaptureQueriesContext(connection) as queries,
        transaction.atomic(),
    ):
        action()
        transaction.set_rollback(True)
    # A UNION's first part is parenthesised.
    selects = [q["sql"] for q in queries if q["sql"].lstrip("( ").upper().startswith("SELECT")]
    return selects[nth]


def flat_queries(*, merchant: Merchant, test_mode: bool) -> dict[str, str]:
    """The SQL of every query that must not grow with the table, by name."""

    def listing(**filters) -> Callable[[], object]:
        return lambda: selectors.invoice_list(
            merchant=merchant, test_mode=test_mode, page_size=20, **filters
        )

    second_page = listing()().next_cursor
    mine = Invoice.objects.filter(merchant=merchant, test_mode=test_mode)
    middle = mine.order_by("-created_at", "-id")[mine.count() // 2]
    reference = mine.order_by("created_at").values_list("reference_id", flat=True).first()
    awaiting_callback = (
        CallbackDelivery.objects.filter(
            state="pending", next_attempt_at__lte=timezone.now(), invoice__in=mine
        )
        .values_list("invoice_id", flat=True)
        .first()
    )

    if awaiting_callback is None:
        raise RuntimeError("the history has no callback due for a retry: is it filled?")

    def callbacks_delivery() -> None:
        answered = callback_http.PostResult(status_code=200, error="", excerpt="", latency_ms=0)
        with mock.patch("invoices.callback_http.post_callback", return_value=answered):
            callback_delivery.invoice_callbacks_deliver(invoice_id=awaiting_callback)

    def operator_search(model, term: str) -> Callable[[], object]:
        # The first page of the admin's list, found by its search box.
        model_admin = admin.site._registry[model]
        found, _ = model_admin.get_search_results(None, model_admin.get_queryset(None), term)
        return lambda: list(found.select_related(*model_admin.list_select_related)[:100])

    several_statuses = {
        "list, filter[status]=processing,process_pending": ["processing", "process_pending"],
        "list, filter[status]=processed,partially_processed": ["processed", "partially_processed"],
    }
    # Several statuses are read as the page's ids, then those rows (selectors.invoice_list).
    rows_of_the_page = {
        f"{name}, then its rows": captured_select(listing(statuses=statuses), nth=1)
        for name, statuses in several_statuses.items()
    }
    return {
        name: captured_select(action)
        for name, action in {
            "list": listing(),
            "list, filter[status]=created": listing(statuses=["created"]),
            **{name: listing(statuses=statuses) for name, statuses in several_statuses.items()},
            "list, filter[status]=terminated": listing(statuses=["terminated"]),
            "list, filter[reference_id]": listing(reference_id=reference),
            "list, page[after] (page 2)": listing(after=second_page),
            "list, page[after] (middle of the history)": listing(
                after=selectors._encode_cursor(middle)
            ),
            "poll sweep": services.invoices_claim_due_polls,
            "expiry sweep": lambda: services.invoices_expire_overdue(max_batches=1),
            "callbacks sweep": callback_delivery.callbacks_sweep,
            "one invoice's due callbacks (worker)": callbacks_delivery,
            "admin search, an invoice id": operator_search(Invoice, middle.id),
            "admin search, a reference_id": operator_search(Invoice, reference),
            "admin search of callbacks, an invoice id": operator_search(
                CallbackDelivery, awaiting_callback
            ),
        }.items()
    } | rows_of_the_page


def _nodes(node: dict) -> Iterator[dict]:
    yield node
    for child in node.get("Plans", ()):
        yield from _nodes(child)


def _describe(node: dict) -> str:
    text = node["Node Type"]
    if "Index Name" in node:
        text += f" using {node['Index Name']}"
    if "Relation Name" in node:
        text += f" on {node['Relation Name']}"
    return text


def explain(sql: str) -> dict:
    """What running `sql` took: its plan's nodes, the buffers it touched, its time."""
    with transaction.atomic(), connection.cursor() as cursor:
        # ANALYZE runs the query; a sweep's FOR UPDATE locks are let go at once.
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}")
        (document,) = cursor.fetchone()
        transaction.set_rollback(True)
    if isinstance(document, str):
        document = json.loads(document)
    plan = document[0]["Plan"]
    nodes = list(_nodes(plan))
    return {
        "nodes": [_describe(node) for node in nodes],
        "seq_scans": sorted({n["Relation Name"] for n in nodes if n["Node Type"] == "Seq Scan"}),
        "rows": plan["Actual Rows"],
        "shared_hit": plan["Shared Hit Blocks"],
        "shared_read": plan["Shared Read Blocks"],
        "execution_ms": round(document[0]["Execution Time"], 3),
    }


def flat_query_plans(*, merchant: Merchant, test_mode: bool) -> dict[str, dict]:
    return {
        name: explain(sql)
        for name, sql in flat_queries(merchant=merchant, test_mode=test_mode).items()
    }


BENCH_SHOPS = 3


def bench_fill_and_explain(*, total: int) -> None:
    """For the harness: fill the generated history up to `total` invoices, besides those
    the run itself made, then print the plans as JSON.

    The run's own invoices are all new and nearly all still open: a table of
    only those (a fast create phase makes more than 10,000) would have no
    history, no callbacks waiting for a retry, nothing for the indexes to skip.

    The demo merchant gets 40% of the rows (three quarters of them in test
    mode), three other shops the rest in both modes, so the indexes have to
    tell them apart.
    """
    demo = Merchant.objects.get(name="Demo Shop")
    shops = list(Merchant.objects.filter(name__startswith="Bench Shop").order_by("name"))
    for number in range(len(shops), BENCH_SHOPS):
        shops.append(services.merchant_create(name=f"Bench Shop {number + 1}")[0])
    slots = [(demo, True)] * 3 + [(demo, False)]
    slots += [(shop, mode) for shop in shops for mode in (True, False)]
    bulk = Invoice.objects.filter(reference_id__startswith="bulk-").count()
    missing = total - bulk
    if missing > 0:
        invoices_insert(
            first=bulk + 1,
            last=bulk + missing,
            slots=slots,
            services=list(Service.objects.order_by("pk")),
            now=timezone.now(),
        )
        with connection.cursor() as cursor:
            # What autovacuum would do after such an insert, done now so that
            # it does not run during the measurements: statistics for the
            # planner, and a visibility map for index-only scans.
            cursor.execute("VACUUM (ANALYZE) invoices_invoice, invoices_callbackdelivery")
            # Written to disk now, not by a checkpoint in the middle of a measurement.
            cursor.execute("CHECKPOINT")
    print(
        json.dumps(
            {
                "invoices": Invoice.objects.count(),
                "plans": flat_query_plans(merchant=demo, test_mode=True),
            }
        )
    )
