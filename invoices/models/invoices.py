"""Invoices and the append-only records of what happened to them: moves, refusals,
operators' actions."""

import json
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone

from invoices.models.fields import AMOUNT_FIELD
from invoices.models.merchants import Merchant, Service
from invoices.statuses import Relation, Resolution, Status


class Invoice(models.Model):
    """One payment by transfer: contract section 1.3, with timestamps as datetimes."""

    id = models.CharField(primary_key=True, max_length=20, editable=False)
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="invoices", db_index=False
    )
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="invoices")
    # The connector at creation: the provider that knows this invoice, even if
    # the service is later moved to another one.
    connector = models.CharField(max_length=50)
    # Whether that provider is asked for the status while the invoice waits on
    # it: fixed with the connector, so a move schedules its polls from the row.
    provider_polled = models.BooleanField(default=False, db_default=False)
    reference_id = models.CharField(max_length=255)
    test_mode = models.BooleanField()

    status = models.CharField(max_length=32, choices=Status.choices, default=Status.CREATED)
    resolution = models.CharField(max_length=32, choices=Resolution.choices, default=Resolution.OK)
    resolution_message = models.TextField(null=True, blank=True)
    sequence = models.PositiveIntegerField(default=1)

    amount = models.DecimalField(**AMOUNT_FIELD)
    currency = models.CharField(max_length=3)
    payment_amount = models.DecimalField(**AMOUNT_FIELD)
    processed_amount = models.DecimalField(**AMOUNT_FIELD, null=True, blank=True)

    description = models.TextField(null=True, blank=True)
    descriptor = models.CharField(max_length=255, null=True, blank=True)
    customer = models.JSONField(null=True, blank=True)
    metadata = models.JSONField(null=True, blank=True)
    callback_url = models.URLField(max_length=2048, null=True, blank=True)
    return_url = models.URLField(max_length=2048, null=True, blank=True)
    return_urls = models.JSONField(default=dict, blank=True)
    locale = models.CharField(max_length=8, null=True, blank=True)
    options = models.JSONField(default=dict, blank=True)

    # flow_data: what the connector issued for this invoice, frozen at creation.
    requisites = models.JSONField(default=dict, blank=True)
    provider_reference = models.CharField(max_length=255, null=True, blank=True)
    is_otp_flow = models.BooleanField(default=False)
    # Kept as the exact JSON text: it is sent as a string, and a jsonb column
    # would reorder its keys.
    confirmation_schema_json = models.TextField(default="{}")
    confirmation_required = models.BooleanField(default=False)
    checkout_page = models.URLField(max_length=2048, null=True, blank=True)

    # What the customer confirmed with, and how often a confirmation was refused.
    confirmation_payload = models.JSONField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmation_failures = models.PositiveIntegerField(default=0)

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()

    # An order's invoices form a chain: a reissue of an expired invoice, or the
    # remainder of a partly paid one, links to the invoice it was made from, and
    # that one to it. Both ends are kept on their rows, so the resource of either
    # is built from its row alone.
    previous_invoice = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    previous_relation = models.CharField(
        max_length=16, choices=Relation.choices, null=True, blank=True
    )
    next_invoice = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    next_relation = models.CharField(max_length=16, choices=Relation.choices, null=True, blank=True)
    # How many reissues of its order precede this invoice: the service's limit counts them.
    reissue_count = models.PositiveSmallIntegerField(default=0, db_default=0)

    # Provider polling: when to ask next (None = nothing to ask), and how often
    # it was asked since the last move (the back-off grows with it).
    next_poll_at = models.DateTimeField(null=True, blank=True)
    poll_attempts = models.PositiveIntegerField(default=0)
    # One worker at a time delivers this invoice's callbacks, until this time.
    callbacks_lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # What operators may do beyond looking: each job gets only what it needs
        # (see invoices/operator_groups.py).
        permissions = [
            ("move_invoice_status", "Can mark invoices paid, failed, expired or terminated"),
            ("resend_callback", "Can resend callbacks to the merchant"),
            ("poll_provider", "Can ask the provider for an invoice's status now"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=Status.values), name="invoice_status_known"
            ),
            models.CheckConstraint(
                condition=Q(resolution__in=Resolution.values), name="invoice_resolution_known"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="invoice_amount_positive"),
            models.CheckConstraint(
                condition=Q(payment_amount__gt=0), name="invoice_payment_amount_positive"
            ),
            models.CheckConstraint(condition=Q(sequence__gte=1), name="invoice_sequence_positive"),
            # One order per reference: its first invoice holds the reference alone,
            # and the invoices made from it (previous_invoice) share it.
            models.UniqueConstraint(
                fields=["merchant", "test_mode", "reference_id"],
                condition=Q(previous_invoice__isnull=True),
                name="invoice_reference_unique_per_merchant_mode",
            ),
            # Each invoice is followed at most once, and follows at most one: a chain.
            # (Partial unique indexes, not unique fields: those would add a LIKE index
            # that every write of an invoice pays for.)
            models.UniqueConstraint(
                fields=["previous_invoice"],
                condition=Q(previous_invoice__isnull=False),
                name="invoice_follows_one",
            ),
            models.UniqueConstraint(
                fields=["next_invoice"],
                condition=Q(next_invoice__isnull=False),
                name="invoice_followed_once",
            ),
            models.CheckConstraint(
                condition=Q(previous_invoice__isnull=True, previous_relation__isnull=True)
                | Q(previous_invoice__isnull=False, previous_relation__in=Relation.values),
                name="invoice_previous_relation_named",
            ),
            models.CheckConstraint(
                condition=Q(next_invoice__isnull=True, next_relation__isnull=True)
                | Q(next_invoice__isnull=False, next_relation__in=Relation.values),
                name="invoice_next_relation_named",
            ),
            # A provider's order id names one invoice of the service that asked for it:
            # notifications are routed by it. Per service, since each service may be
            # its own provider account, and two accounts may number orders alike.
            models.UniqueConstraint(
                fields=["service", "provider_reference"],
                condition=Q(provider_reference__isnull=False),
                name="invoice_provider_reference_unique_per_service",
            ),
        ]
        indexes = [
            # Every invoice of an order (the unique constraint covers only its first).
            models.Index(
                fields=["merchant", "test_mode", "reference_id"], name="invoice_order_reference"
            ),
            # The merchant's newest-first list and its cursor.
            models.Index(
                fields=["merchant", "test_mode", "-created_at", "-id"],
                name="invoice_merchant_list",
            ),
            # The same list filtered by status. Walking the list above and
            # skipping other statuses costs what precedes the last match: a
            # status rarer than a page (in flight, partially paid) walks the
            # merchant's whole history. With this index one status is a
            # range read in order, a few are merged and sorted.
            models.Index(
                fields=["merchant", "test_mode", "status", "-created_at", "-id"],
                name="invoice_merchant_status_list",
            ),
            models.Index(fields=["status", "expires_at"], name="invoice_status_expiry"),
            models.Index(
                fields=["next_poll_at"],
                condition=Q(next_poll_at__isnull=False),
                name="invoice_poll_due",
            ),
        ]

    def __str__(self) -> str:
        return self.id

    @property
    def serial_number(self) -> str:
        return self.id.removeprefix("cpi_")

    @property
    def confirmation_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = json.loads(self.confirmation_schema_json)
        return schema


class InvoiceEvent(models.Model):
    """One status move (or the creation) of an invoice. Never updated or deleted."""

    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="events", db_index=False
    )
    sequence = models.PositiveIntegerField(help_text="The invoice's sequence after this event.")
    from_status = models.CharField(max_length=32, null=True, blank=True)
    to_status = models.CharField(max_length=32)
    resolution = models.CharField(max_length=32)
    resolution_message = models.TextField(null=True, blank=True)
    cause = models.CharField(max_length=64)
    actor = models.CharField(max_length=200)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["invoice", "sequence"]
        constraints = [
            # Two moves can never claim the same step of one invoice.
            models.UniqueConstraint(
                fields=["invoice", "sequence"], name="invoice_event_sequence_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} #{self.sequence}: {self.from_status or '∅'} → {self.to_status}"


class OperatorAction(models.Model):
    """What an operator did to an invoice from the admin: who, when, what, why, and what came of it.

    Written only after the permission check passed, so it lists what was done,
    including moves the state machine refused, never what was forbidden.
    """

    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="operator_actions", db_index=False
    )
    action = models.CharField(max_length=32)
    operator = models.CharField(max_length=150)
    reason = models.CharField(max_length=500)
    outcome = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["invoice", "created_at", "id"]
        indexes = [
            models.Index(fields=["invoice", "created_at"], name="operator_action_invoice"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id}: {self.action} by {self.operator}"


class RefusedMove(models.Model):
    """A status move that was asked for and refused: who lost a race, or asked the impossible."""

    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="refused_moves", db_index=False
    )
    current_status = models.CharField(max_length=32)
    to_status = models.CharField(max_length=32)
    reason = models.CharField(max_length=200)
    cause = models.CharField(max_length=64)
    actor = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["invoice", "created_at"]
        indexes = [models.Index(fields=["invoice", "created_at"], name="refused_move_invoice")]

    def __str__(self) -> str:
        return f"{self.invoice_id}: {self.current_status} → {self.to_status} refused"
