"""Provider polling with back-off and SKIP LOCKED claims; expiry in batches; late payments."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from invoices import services
from invoices.models import Invoice, InvoiceEvent, RefusedMove
from invoices.state_machine import Actor, invoice_move_status
from tests.factories import InvoiceFactory

pytestmark = pytest.mark.django_db


def _confirm_pending(invoice):
    """Move a sandbox invoice to process_pending as its provider would."""
    return invoice_move_status(
        invoice_id=invoice.id,
        to_status="process_pending",
        resolution="ok",
        cause="provider_answered_confirmation",
        actor=Actor("connector", "test"),
    )


def test_waiting_on_the_provider_schedules_a_poll_and_a_final_status_clears_it(settings):
    settings.POLL_FIRST_DELAY_SECONDS = 10
    invoice = InvoiceFactory(status="created")
    before = timezone.now()
    _confirm_pending(invoice)
    invoice.refresh_from_db()
    assert timedelta(seconds=9) <= invoice.next_poll_at - before <= timedelta(seconds=11)

    invoice_move_status(
        invoice_id=invoice.id,
        to_status="processed",
        resolution="ok",
        processed_amount=invoice.amount,
        cause="t",
        actor="t",
    )
    invoice.refresh_from_db()
    assert invoice.next_poll_at is None


def test_static_invoices_are_not_polled():
    invoice = InvoiceFactory(status="created", connector="static")
    _confirm_pending(invoice)
    invoice.refresh_from_db()
    assert invoice.next_poll_at is None


def test_claims_push_the_next_poll_out_with_growing_back_off(settings):
    settings.POLL_FIRST_DELAY_SECONDS = 10
    settings.POLL_MAX_DELAY_SECONDS = 600
    invoice = InvoiceFactory(status="process_pending", next_poll_at=timezone.now())
    waits = []
    for _ in range(8):
        Invoice.objects.filter(pk=invoice.id).update(next_poll_at=timezone.now())
        before = timezone.now()
        assert services.invoices_claim_due_polls() == [invoice.id]
        invoice.refresh_from_db()
        waits.append(round((invoice.next_poll_at - before).total_seconds()))
        # Claimed: not due again until its back-off passes.
        assert services.invoices_claim_due_polls() == []
    assert waits == [20, 40, 80, 160, 320, 600, 600, 600]


def test_only_due_waiting_invoices_are_claimed():
    now = timezone.now()
    due = InvoiceFactory(status="processing", next_poll_at=now - timedelta(seconds=1))
    InvoiceFactory(status="processing", next_poll_at=now + timedelta(minutes=1))
    InvoiceFactory(status="processing", next_poll_at=None)
    assert services.invoices_claim_due_polls() == [due.id]


def test_a_pending_sandbox_payment_settles_at_the_poll():
    invoice = InvoiceFactory(status="created")
    _confirm_pending(invoice)
    services.invoice_poll(invoice_id=invoice.id)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.processed_amount) == ("processed", invoice.amount)
    event = InvoiceEvent.objects.filter(invoice=invoice).last()
    assert (event.cause, event.actor) == ("provider_polled", "connector:test")


def test_overdue_open_invoices_expire_and_others_do_not():
    past = timezone.now() - timedelta(seconds=1)
    overdue = [
        InvoiceFactory(status=s, expires_at=past)
        for s in ("created", "processing", "process_pending")
    ]
    fresh = InvoiceFactory(status="created")
    paid = InvoiceFactory(status="processed", expires_at=past)

    assert services.invoices_expire_overdue(batch=2) == 3

    for invoice in overdue:
        invoice.refresh_from_db()
        assert (invoice.status, invoice.resolution) == ("expired", "expired")
    fresh.refresh_from_db()
    paid.refresh_from_db()
    assert (fresh.status, paid.status) == ("created", "processed")
    event = InvoiceEvent.objects.filter(invoice=overdue[0]).get()
    assert (event.cause, event.actor) == ("expired", "system:expiry")


def test_a_late_provider_success_still_lands():
    invoice = InvoiceFactory(status="processing", expires_at=timezone.now() - timedelta(seconds=1))
    services.invoices_expire_overdue()
    from connectors.base import ProviderStatus

    services.invoice_apply_provider_status(
        invoice_id=invoice.id,
        answer=ProviderStatus(status="processed", processed_amount=invoice.amount),
        cause="provider_polled",
        actor=Actor("connector", "test"),
    )
    invoice.refresh_from_db()
    assert (invoice.status, invoice.resolution) == ("processed", "late_payment")


def test_operator_moves_keep_their_reason():
    invoice = InvoiceFactory(status="processing")
    services.invoice_operator_move(
        invoice_id=invoice.id,
        outcome="processed",
        reason="Seen on the bank statement",
        operator="ann",
    )
    invoice.refresh_from_db()
    assert (invoice.status, invoice.processed_amount) == ("processed", Decimal("2126.68"))
    assert invoice.resolution_message == "Seen on the bank statement"
    event = InvoiceEvent.objects.get(invoice=invoice)
    assert (event.actor, event.details) == (
        "operator:ann",
        {"reason": "Seen on the bank statement"},
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_claimers_never_take_the_same_invoice():
    now = timezone.now()
    ids = {InvoiceFactory(status="processing", next_poll_at=now).id for _ in range(60)}
    barrier = threading.Barrier(2)
    claims = []

    def claim():
        try:
            barrier.wait()
            claimed = []
            while batch := services.invoices_claim_due_polls(limit=5):
                claimed += batch
            claims.append(claimed)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    first, second = claims
    assert not set(first) & set(second)
    assert set(first) | set(second) == ids


@pytest.mark.postgres
def test_the_poll_claim_uses_the_partial_index():
    # With an empty table the planner would rather scan it; forbid that to see
    # which index serves the claim's query.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = (
        Invoice.objects.filter(next_poll_at__lte=timezone.now())
        .order_by("next_poll_at")
        .values_list("id", "poll_attempts")[:100]
        .explain()
    )
    assert "invoice_poll_due" in plan, plan


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_provider_answer_expiry_and_operator_race_one_wins():
    invoice = InvoiceFactory(status="processing", expires_at=timezone.now() - timedelta(seconds=1))
    barrier = threading.Barrier(3)
    outcomes = {}

    def provider():
        invoice_move_status(
            invoice_id=invoice.id,
            expected_from={"processing"},
            to_status="process_failed",
            resolution="declined",
            cause="provider_polled",
            actor=Actor("connector", "test"),
        )

    def expiry():
        if services.invoices_expire_overdue() == 0:
            raise LookupError("not expired")

    def operator():
        services.invoice_operator_move(
            invoice_id=invoice.id, outcome="terminated", reason="customer asked", operator="ann"
        )

    def run(name, action):
        try:
            barrier.wait()
            action()
            outcomes[name] = "moved"
        except Exception as error:
            outcomes[name] = type(error).__name__
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=item)
        for item in {"provider": provider, "expiry": expiry, "operator": operator}.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    invoice.refresh_from_db()
    moves = list(InvoiceEvent.objects.filter(invoice=invoice))
    assert len(moves) == 1, moves
    assert invoice.status == moves[0].to_status
    assert invoice.status in {"process_failed", "expired", "terminated"}
    assert list(outcomes.values()).count("moved") == 1, outcomes
    refused = list(RefusedMove.objects.filter(invoice=invoice))
    assert all(r.current_status == invoice.status for r in refused)
    # Every loser that tried the move left its refusal. The expiry sweep tries
    # only if it read the invoice as open: one that starts after the winner's
    # commit finds nothing overdue, and nothing was refused.
    causes = sorted(r.cause for r in refused)
    losers = {"provider": "provider_polled", "expiry": "expired", "operator": "operator_action"}
    tried = sorted(cause for name, cause in losers.items() if outcomes[name] != "moved")
    assert causes in (tried, [c for c in tried if c != "expired"]), (outcomes, refused)
