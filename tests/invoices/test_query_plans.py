"""The list, the sweeps and the admin's search read as much at 200,000 invoices as at 10,000.

The table is filled with generated history (bench/query_plans.py: several
merchants in both modes, statuses by age, a few invoices waiting on their
provider, callbacks mostly delivered), ANALYZEd, and every query the list
endpoint, the periodic sweeps and the admin's search send is captured from
the code that sends it and run under EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON),
once at each size.
`make bench` reports the same plans at 1,000,000 invoices.
"""

import functools

import pytest
from django.db import connection, transaction
from django.utils import timezone

from bench.query_plans import captured_select, explain, flat_query_plans, invoices_insert
from invoices import selectors
from invoices.models import Invoice
from tests.factories import MerchantFactory, ServiceFactory

# The marks ask for the test database; the plans are taken once, in `plans`.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

SMALL, LARGE = 10_000, 200_000

# The table each query is driven by: the one it must reach through an index.
QUERIES = {
    "list": "invoices_invoice",
    "list, filter[status]=created": "invoices_invoice",
    "list, filter[status]=processing,process_pending": "invoices_invoice",
    "list, filter[status]=terminated": "invoices_invoice",
    "list, filter[status]=processed,partially_processed": "invoices_invoice",
    "list, filter[status]=processing,process_pending, then its rows": "invoices_invoice",
    "list, filter[status]=processed,partially_processed, then its rows": "invoices_invoice",
    "list, filter[reference_id]": "invoices_invoice",
    "list, page[after] (page 2)": "invoices_invoice",
    "list, page[after] (middle of the history)": "invoices_invoice",
    "poll sweep": "invoices_invoice",
    "expiry sweep": "invoices_invoice",
    "callbacks sweep": "invoices_callbackdelivery",
    "one invoice's due callbacks (worker)": "invoices_callbackdelivery",
    "admin search, an invoice id": "invoices_invoice",
    "admin search, a reference_id": "invoices_invoice",
    "admin search of callbacks, an invoice id": "invoices_callbackdelivery",
}
BIG_TABLES = {"invoices_invoice", "invoices_callbackdelivery"}


@pytest.fixture(scope="module")
def plans(django_db_setup, django_db_blocker):
    """The plans at SMALL and at LARGE invoices, in one transaction rolled back after."""
    with django_db_blocker.unblock():
        with transaction.atomic():
            shop, *others = (MerchantFactory() for _ in range(4))
            services = [ServiceFactory(), ServiceFactory(currency="EUR")]
            slots = [(shop, True)] * 3 + [(shop, False)]
            slots += [(other, mode) for other in others for mode in (True, False)]
            found = {}
            for first, last in ((1, SMALL), (SMALL + 1, LARGE)):
                invoices_insert(
                    first=first, last=last, slots=slots, services=services, now=timezone.now()
                )
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE invoices_invoice, invoices_callbackdelivery")
                found[last] = flat_query_plans(merchant=shop, test_mode=True)
            transaction.set_rollback(True)
        with connection.cursor() as cursor:
            # The rolled-back rows are dead weight for the tests after these.
            cursor.execute("VACUUM invoices_invoice, invoices_callbackdelivery")
    return found


def test_every_query_is_measured(plans):
    assert set(plans[SMALL]) == set(plans[LARGE]) == set(QUERIES)


@pytest.mark.parametrize("name", QUERIES)
def test_reads_its_table_through_an_index(plans, name):
    for size in (SMALL, LARGE):
        plan = plans[size][name]
        assert not BIG_TABLES & set(plan["seq_scans"]), (size, plan["nodes"])
        table = QUERIES[name]
        reads = [n for n in plan["nodes"] if n.endswith(f" on {table}")]
        assert reads and all("Index" in n or "Bitmap Heap" in n for n in reads), (size, plan)
        # Something was found: a plan over nothing would prove nothing.
        assert plan["rows"] > 0, (size, plan)


@pytest.mark.parametrize("name", QUERIES)
def test_buffers_do_not_grow_with_the_table(plans, name):
    small, large = plans[SMALL][name], plans[LARGE][name]
    touched = [p["shared_hit"] + p["shared_read"] for p in (small, large)]
    # Twenty times the rows: a scan that grew with them would touch ten times
    # the buffers or more. Allowed for: a deeper index, and a plan that
    # changes shape at no cost in growth (walking the newest invoices of a
    # small table, reading every in-flight one by status in a large table).
    assert touched[1] <= 2 * touched[0] + 100, (touched, small["nodes"], large["nodes"])


def test_a_list_by_several_statuses_reads_no_more_behind_many_newer_invoices():
    """Several statuses cannot be one index range: the page comes from each status's own
    range, not from a walk over every newer invoice in another status."""
    shop, service = MerchantFactory(), ServiceFactory()
    statuses = ["expired", "partially_processed"]  # never among invoices made today

    def newest_page() -> tuple[list[str], dict]:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE invoices_invoice")
        list_it = functools.partial(
            selectors.invoice_list, merchant=shop, test_mode=True, page_size=20, statuses=statuses
        )
        # The ids of the page: the rows are then read by primary key.
        return [invoice.id for invoice in list_it().invoices], explain(captured_select(list_it))

    # Row n is made n * 20 s before now: rows 10,001-12,000 are two to three days old
    # (paid, expired, ...), rows 1-4,000 from the last day (open, paid, failed, ...).
    now = timezone.now()
    invoices_insert(first=10_001, last=12_000, slots=[(shop, True)], services=[service], now=now)
    page, plan = newest_page()
    assert len(page) == 20
    assert {Invoice.objects.get(pk=pk).status for pk in page} == set(statuses)

    invoices_insert(first=1, last=4_000, slots=[(shop, True)], services=[service], now=now)
    page_again, plan_again = newest_page()
    assert page_again == page
    touched = [p["shared_hit"] + p["shared_read"] for p in (plan, plan_again)]
    assert touched[1] <= 2 * touched[0] + 100, (touched, plan_again["nodes"])
