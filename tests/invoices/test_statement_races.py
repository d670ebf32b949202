"""Two imports of one statement at once, on PostgreSQL: each invoice moves once."""

import threading

import pytest
from django.db import connection

from invoices.models import CallbackDelivery, InvoiceEvent, StatementEntry
from invoices.statements import statement_import
from tests.statements import CAMT053, MT940, snapshot, statement_world

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

IMPORTS = 4


@pytest.mark.parametrize("statement", [CAMT053, MT940])
def test_imports_of_the_same_file_at_once_move_each_invoice_once(statement):
    statement_world(callback_url="http://127.0.0.1:9/callbacks")
    barrier = threading.Barrier(IMPORTS)
    results = [None] * IMPORTS

    def run(index):
        try:
            barrier.wait()
            results[index] = statement_import(
                data=statement.read_bytes(),
                file_name=statement.name,
                file_format="auto",
                imported_by=f"thread:{index}",
                test_mode=True,
            ).statement_import
        except Exception as error:  # recorded so the test shows it, not a hung thread
            results[index] = repr(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(IMPORTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert all(not isinstance(result, str) for result in results), results
    # Every credit was taken by exactly one import; the others saw it as a duplicate.
    assert sum(r.matched + r.unmatched for r in results) == StatementEntry.objects.count()
    assert {r.entries_read for r in results} == {results[0].entries_read}
    moved = InvoiceEvent.objects.filter(cause="statement")
    assert moved.count() == len(set(moved.values_list("invoice_id", flat=True)))
    assert moved.count() == sum(r.matched for r in results) == (4 if statement == CAMT053 else 3)
    # One callback per move, written with it.
    assert CallbackDelivery.objects.count() == moved.count()

    before = snapshot()
    again = statement_import(
        data=statement.read_bytes(),
        file_name=statement.name,
        file_format="auto",
        imported_by="after",
        test_mode=True,
    ).statement_import
    assert again.duplicates == again.entries_read
    assert snapshot() == before
