"""Merchants, services, invoices and the append-only log of their moves.

Models hold data and constraints only; every write goes through
`invoices.services` and every status move through `invoices.state_machine`.
"""

import json
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from invoices.currencies import MINOR_UNIT_DIGITS
from invoices.statuses import DisplayKind, Relation, Resolution, Status

CURRENCY_CHOICES = [(code, code) for code in sorted(MINOR_UNIT_DIGITS)]
# Enough for 10^16 in any currency and for the four fraction digits of CLF/UYW;
# each amount is shown with its own currency's exponent.
AMOUNT_FIELD = {"max_digits": 20, "decimal_places": 4}


class Merchant(models.Model):
    """An account that sells. Its secret keys are never stored, see `invoices.keys`."""

    name = models.CharField(max_length=200)
    account_id = models.CharField(max_length=21, unique=True, editable=False)
    public_key_test = models.CharField(max_length=40, unique=True, editable=False)
    public_key_live = models.CharField(max_length=40, unique=True, editable=False)
    secret_key_test_salt = models.CharField(max_length=64, editable=False)
    secret_key_test_hash = models.CharField(max_length=64, editable=False)
    secret_key_live_salt = models.CharField(max_length=64, editable=False)
    secret_key_live_hash = models.CharField(max_length=64, editable=False)
    webhook_secret_salt = models.CharField(max_length=64, editable=False)
    keys_issued_at = models.DateTimeField(default=timezone.now, editable=False)
    callback_url = models.URLField(
        max_length=2048,
        blank=True,
        help_text="Default callback URL for invoices created without one.",
    )
    callbacks_only_final = models.BooleanField(
        default=False, help_text="Send callbacks only for final statuses."
    )
    require_signed_links = models.BooleanField(
        default=False,
        help_text="Refuse checkout links without a valid HMAC signature.",
    )
    frame_ancestors = models.CharField(
        max_length=1000,
        blank=True,
        validators=[
            RegexValidator(
                r"^(https?://[A-Za-z0-9.\-]+(:[0-9]+)?)?( https?://[A-Za-z0-9.\-]+(:[0-9]+)?)*$",
                "Space-separated origins such as https://shop.example.",
            )
        ],
        help_text="Origins allowed to show the hosted page in an iframe (none by default).",
    )
    is_active = models.BooleanField(default=True)
    services = models.ManyToManyField(
        "Service", through="MerchantService", related_name="merchants", blank=True
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        permissions = [("rotate_merchant_keys", "Can rotate a merchant's secret keys")]

    def __str__(self) -> str:
        return f"{self.name} ({self.account_id})"


METHOD_NAME_MAX_LENGTH = 200


def method_name_translations_problems(value) -> list[str]:
    """Why per-language method names cannot be shown, if they cannot.

    The pages speak only settings.LANGUAGES: a name under any other code would
    never be shown, and an empty one would leave the method unnamed.
    """
    if not isinstance(value, dict):
        return ['Must be a JSON object of language code to name, e.g. {"uk": "Назва"}.']
    languages = [code for code, _ in settings.LANGUAGES]
    problems = []
    for code, name in value.items():
        if code not in languages:
            problems.append(
                f"{code!r} is not a language of the pages (one of: {', '.join(languages)})."
            )
        elif not isinstance(name, str) or not name.strip():
            problems.append(f"The name for {code!r} must be a non-empty string.")
        elif len(name) > METHOD_NAME_MAX_LENGTH:
            problems.append(
                f"The name for {code!r} is longer than {METHOD_NAME_MAX_LENGTH} characters."
            )
    return problems


def validate_method_name_translations(value) -> None:
    if problems := method_name_translations_problems(value):
        raise ValidationError(problems)


class Service(models.Model):
    """What a customer pays with: a method in one currency, served by a connector."""

    code = models.CharField(
        max_length=100,
        unique=True,
        validators=[RegexValidator(r"^[a-z0-9_]+$", "Lowercase letters, digits and _.")],
        help_text="Merchants send this in `service`, e.g. upi_qr_inr_invoice.",
    )
    method_code = models.CharField(max_length=100)
    method_name = models.CharField(
        max_length=METHOD_NAME_MAX_LENGTH,
        help_text="Shown where no name in the page's language is given, and in the API.",
    )
    method_name_translations = models.JSONField(
        default=dict,
        # Also for rows the code of the release before this field inserts while it migrates.
        db_default={},
        blank=True,
        validators=[validate_method_name_translations],
        help_text='The name in other page languages, e.g. {"uk": "Банківський переказ"}.',
    )
    method_logo = models.CharField(
        max_length=500,
        blank=True,
        help_text="Absolute URL, or a path under static/ such as methods/upi.svg.",
    )
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    display_kind = models.CharField(max_length=20, choices=DisplayKind.choices)
    connector = models.CharField(max_length=50)
    connector_settings = models.JSONField(default=dict, blank=True)
    # The connector's secret settings (a provider's API key, its notification
    # secret) as one Fernet token of their JSON, never in clear: written and
    # read only through invoices.connector_secrets. Empty: none stored.
    connector_secrets = models.TextField(default="", db_default="", blank=True, editable=False)
    min_amount = models.DecimalField(**AMOUNT_FIELD, null=True, blank=True)
    max_amount = models.DecimalField(**AMOUNT_FIELD, null=True, blank=True)
    lifetime = models.DurationField(
        default=timedelta(hours=24), help_text="How long an invoice stays payable."
    )
    confirmation_schema = models.JSONField(
        null=True,
        blank=True,
        help_text="Fields the customer confirms with; empty = the connector's schema.",
    )
    is_otp_flow = models.BooleanField(default=False)
    # The payer's second chance, switched on by the operator per service.
    reissue_limit = models.PositiveSmallIntegerField(
        default=0,
        db_default=0,
        help_text="How often the payer (or the merchant) may get new payment details for an "
        "expired invoice of one order. 0: never.",
    )
    remainder_enabled = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Whether a partly paid invoice offers a linked invoice for the rest.",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_amount__isnull=True)
                | Q(max_amount__isnull=True)
                | Q(min_amount__lte=models.F("max_amount")),
                name="service_min_amount_not_above_max",
            ),
            models.CheckConstraint(
                condition=Q(display_kind__in=DisplayKind.values),
                name="service_display_kind_known",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class MerchantService(models.Model):
    """A service switched on (or off) for one merchant."""

    # Indexed by merchant_service_unique (merchant, service), as other foreign keys below
    # by the composite index that begins with them: a second index would only slow writes.
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, db_index=False)
    service = models.ForeignKey(Service, on_delete=models.PROTECT)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "service"], name="merchant_service_unique")
        ]

    def __str__(self) -> str:
        return f"{self.merchant.account_id} · {self.service.code}"


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
    def confirmation_schema(self) -> dict:
        return json.loads(self.confirmation_schema_json)


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


class IdempotencyKey(models.Model):
    """The first answer to a request sent with an `Idempotency-Key` header.

    A row without `response_status` is a request still being handled.
    """

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, db_index=False)
    test_mode = models.BooleanField()
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.BinaryField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "test_mode", "key"], name="idempotency_key_unique"
            )
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_key_created")]

    def __str__(self) -> str:
        return self.key


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
