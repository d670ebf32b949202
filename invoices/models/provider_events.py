"""Providers' notifications, kept once per event id so that none is applied twice."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from invoices.models.fields import AMOUNT_FIELD
from invoices.models.merchants import Service


class ProviderEvent(models.Model):
    """A verified provider notification, kept once per provider event id."""

    connector = models.CharField(max_length=50)
    # The service whose notification URL received it, verified with that
    # service's secret; null for the connector-wide URL of the PROVIDER_HTTP_*
    # settings. It is applied only to that service's invoices. No index of its
    # own: provider_event_unique_per_service leads with it.
    service = models.ForeignKey(
        Service,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    event_id = models.CharField(max_length=255)
    provider_reference = models.CharField(max_length=255)
    status = models.CharField(max_length=32)
    resolution = models.CharField(max_length=32)
    message = models.TextField(blank=True)
    processed_amount = models.DecimalField(**AMOUNT_FIELD, null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            # A provider repeating an event (retries, bugs) cannot apply it twice;
            # two providers (or accounts) may use the same event ids.
            models.UniqueConstraint(
                fields=["connector", "event_id"],
                condition=Q(service__isnull=True),
                name="provider_event_unique",
            ),
            models.UniqueConstraint(
                fields=["service", "event_id"],
                condition=Q(service__isnull=False),
                name="provider_event_unique_per_service",
            ),
        ]
        indexes = [
            models.Index(
                fields=["received_at"],
                condition=Q(processed_at__isnull=True),
                name="provider_event_unprocessed",
            )
        ]

    def __str__(self) -> str:
        return f"{self.connector}:{self.event_id}"
