"""The callback outbox: one row per callback to send, and one per try at sending it."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from invoices.models.invoices import Invoice, InvoiceEvent
from invoices.models.merchants import Merchant


class CallbackDelivery(models.Model):
    """One callback to send (the outbox row), written in the transaction of its move."""

    class State(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed", "failed (gave up)"

    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="callbacks", db_index=False
    )
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="callbacks", db_index=False
    )
    event = models.OneToOneField(
        InvoiceEvent, on_delete=models.PROTECT, related_name="callback", null=True, blank=True
    )
    webhook_id = models.CharField(max_length=40, unique=True, help_text="Stable across retries.")
    sequence = models.PositiveIntegerField()
    test_mode = models.BooleanField()
    url = models.URLField(max_length=2048)
    body = models.BinaryField(help_text="The resource at the moment of the move, byte for byte.")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # Retries give up this long after the callback was written (or resent).
    pending_since = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "callbacks"
        verbose_name = "callback"
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state="pending"),
                name="callback_due",
            ),
            # A worker's read of one invoice's pending callbacks: with only the
            # due index, PostgreSQL intersected it with every pending callback
            # of every merchant, so the read grew with the backlog.
            models.Index(
                fields=["invoice", "sequence"],
                condition=Q(state="pending"),
                name="callback_invoice_pending",
            ),
            models.Index(
                fields=["merchant", "state", "created_at"], name="callback_merchant_state"
            ),
            models.Index(fields=["invoice", "sequence"], name="callback_invoice_sequence"),
        ]

    def __str__(self) -> str:
        return f"{self.webhook_id} ({self.invoice_id} #{self.sequence})"


class CallbackAttempt(models.Model):
    """One try at delivering a callback, whatever came of it."""

    delivery = models.ForeignKey(CallbackDelivery, on_delete=models.CASCADE, related_name="tries")
    started_at = models.DateTimeField(default=timezone.now)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    response_excerpt = models.TextField(blank=True)

    class Meta:
        ordering = ["started_at"]

    def __str__(self) -> str:
        return f"{self.delivery_id} at {self.started_at:%Y-%m-%d %H:%M:%S}"
