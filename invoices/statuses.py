"""The vocabulary of contract section 4: statuses and resolutions."""

from django.db import models


class Status(models.TextChoices):
    CREATED = "created"
    PROCESSING = "processing"
    PROCESS_PENDING = "process_pending"
    PROCESSED = "processed"
    PARTIALLY_PROCESSED = "partially_processed"
    PROCESS_FAILED = "process_failed"
    EXPIRED = "expired"
    TERMINATED = "terminated"


class Resolution(models.TextChoices):
    OK = "ok"
    INVALID_DETAILS = "invalid_details"
    DECLINED = "declined"
    INSUFFICIENT_AMOUNT = "insufficient_amount"
    PROVIDER_ERROR = "provider_error"
    EXPIRED = "expired"
    LATE_PAYMENT = "late_payment"
    TERMINATED = "terminated"


FINAL_STATUSES = frozenset(
    {
        Status.PROCESSED,
        Status.PARTIALLY_PROCESSED,
        Status.PROCESS_FAILED,
        Status.EXPIRED,
        Status.TERMINATED,
    }
)
PAID_STATUSES = frozenset({Status.PROCESSED, Status.PARTIALLY_PROCESSED})


class Relation(models.TextChoices):
    """How an invoice was made from an earlier one of the same order (the payer's second
    chance): fresh details for an expired invoice, or the rest of a partly paid one."""

    REISSUE = "reissue"
    REMAINDER = "remainder"


class DisplayKind(models.TextChoices):
    """How the hosted page shows requisites (contract section 3)."""

    INVOICE = "invoice", "Bank transfer details"
    QR = "qr", "QR code"
    BARCODE = "barcode", "Barcode"
    CARD_TRANSFER = "card_transfer", "Card transfer"
    DEEPLINK = "deeplink", "Deeplink"
    TEST = "test", "Test (sandbox)"
