"""Concurrent moves on PostgreSQL: one state never turns into two moves."""

import threading

import pytest
from django.db import connection

from invoices.models import Invoice, InvoiceEvent
from invoices.state_machine import (
    ALLOWED_MOVES,
    Actor,
    StatusMoveRefused,
    invoice_move_status,
)
from tests.factories import InvoiceFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 20


def _race(invoice_id, targets):
    barrier = threading.Barrier(len(targets))
    results = [None] * len(targets)

    def attempt(index, to_status):
        try:
            barrier.wait()
            invoice_move_status(
                invoice_id=invoice_id,
                expected_from={"created"},
                to_status=to_status,
                resolution="ok",
                processed_amount=(
                    {"processed": invoice_amount, "partially_processed": invoice_amount / 2}.get(
                        to_status
                    )
                ),
                cause="race",
                actor=Actor("thread", str(index)),
            )
            results[index] = "moved"
        except StatusMoveRefused:
            results[index] = "refused"
        except Exception as error:  # recorded so the test shows it, not a hung thread
            results[index] = repr(error)
        finally:
            connection.close()

    invoice_amount = Invoice.objects.get(pk=invoice_id).amount
    threads = [
        threading.Thread(target=attempt, args=(index, target))
        for index, target in enumerate(targets)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_twenty_threads_moving_from_created_to_different_targets():
    invoice = InvoiceFactory(status="created")
    destinations = sorted(ALLOWED_MOVES["created"])
    targets = [destinations[index % len(destinations)] for index in range(THREADS)]

    results = _race(invoice.id, targets)

    assert results.count("moved") == 1, results
    assert results.count("refused") == THREADS - 1, results
    winner = targets[results.index("moved")]
    stored = Invoice.objects.get(pk=invoice.id)
    assert (stored.status, stored.sequence) == (winner, 2)
    events = list(InvoiceEvent.objects.filter(invoice=invoice))
    assert [(e.from_status, e.to_status, e.sequence) for e in events] == [("created", winner, 2)]
