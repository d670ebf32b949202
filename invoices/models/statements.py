"""Bank statements read, and their credits: matched to invoices, or waiting for an operator."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from invoices.models.fields import AMOUNT_FIELD
from invoices.models.invoices import Invoice
from invoices.models.merchants import Merchant


class StatementImport(models.Model):
    """One bank statement file read: who brought it, and what came of its entries."""

    created_at = models.DateTimeField(default=timezone.now)
    # `operator:<username>`, `merchant:<account id>` or `command:<user>`, as in the timeline.
    imported_by = models.CharField(max_length=200)
    # Set for a merchant's API import: only that merchant's invoices were matched.
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    test_mode = models.BooleanField(help_text="Settles test-mode invoices only (else live ones).")
    file_name = models.CharField(max_length=255)
    file_format = models.CharField(max_length=32, help_text="camt.053.001.02, MT940, ...")
    file_sha256 = models.CharField(max_length=64)
    entries_read = models.PositiveIntegerField(default=0)
    matched = models.PositiveIntegerField(default=0)
    unmatched = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    debits_ignored = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.created_at:%Y-%m-%d %H:%M})"


class StatementEntry(models.Model):
    """One credit of a bank statement, kept once per account and bank reference."""

    class State(models.TextChoices):
        MATCHED = "matched"
        UNMATCHED = "unmatched"
        ASSIGNED = "assigned", "assigned by an operator"
        DISMISSED = "dismissed"

    statement_import = models.ForeignKey(
        StatementImport, on_delete=models.PROTECT, related_name="entries", db_index=False
    )
    account_iban = models.CharField(max_length=34)
    bank_reference = models.CharField(max_length=255)
    test_mode = models.BooleanField()
    amount = models.DecimalField(**AMOUNT_FIELD)
    currency = models.CharField(max_length=3)
    booked_on = models.DateField(null=True, blank=True)
    debtor_name = models.CharField(max_length=255, blank=True)
    remittance_unstructured = models.TextField(blank=True)
    remittance_structured = models.CharField(max_length=500, blank=True)
    state = models.CharField(max_length=16, choices=State.choices)
    invoice = models.ForeignKey(
        Invoice,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="statement_entries",
        db_index=False,
    )
    # What came of the entry, in words: the move made, or why none was.
    outcome = models.CharField(max_length=300)
    # Paid more than asked: the invoice is processed with the amount received, and
    # the operator decides what to do with the difference.
    overpaid = models.BooleanField(default=False)
    resolved_by = models.CharField(max_length=150, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "statement entries"
        permissions = [
            ("reconcile_statement", "Can import bank statements and assign or dismiss entries")
        ]
        constraints = [
            # A bank repeating a credit (the same file twice, overlapping statements)
            # cannot settle anything twice; test and live imports are kept apart.
            models.UniqueConstraint(
                fields=["account_iban", "bank_reference", "test_mode"],
                name="statement_entry_unique",
            ),
            models.CheckConstraint(
                condition=Q(state__in=["matched", "unmatched", "assigned", "dismissed"]),
                name="statement_entry_state_known",
            ),
        ]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(state="unmatched"),
                name="statement_entry_unmatched",
            ),
            models.Index(fields=["statement_import", "id"], name="statement_entry_import"),
            # An invoice's credits; a plain index, as ids are never searched with LIKE.
            models.Index(fields=["invoice", "created_at"], name="statement_entry_invoice"),
        ]

    def __str__(self) -> str:
        return f"{self.account_iban} {self.bank_reference}"
