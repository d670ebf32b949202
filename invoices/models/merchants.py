"""Merchants, the services they sell, and the first answers to their API requests."""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from invoices.models.fields import AMOUNT_FIELD, CURRENCY_CHOICES
from invoices.statuses import DisplayKind


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
    # The stubs cannot infer the generics from the lazy "Service" reference.
    services: "models.ManyToManyField[Service, MerchantService]" = models.ManyToManyField(
        "Service", through="MerchantService", related_name="merchants", blank=True
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        permissions = [("rotate_merchant_keys", "Can rotate a merchant's secret keys")]

    def __str__(self) -> str:
        return f"{self.name} ({self.account_id})"


METHOD_NAME_MAX_LENGTH = 200


def method_name_translations_problems(value: object) -> list[str]:
    """Why per-language method names cannot be shown, if they cannot.

    The pages speak only settings.LANGUAGES: a name under any other code would
    never be shown, and an empty one would leave the method unnamed.
    """
    if not isinstance(value, dict):
        return ['Must be a JSON object of language code to name, e.g. {"uk": "Назва"}.']
    languages = [code for code, _ in settings.LANGUAGES]
    problems: list[str] = []
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


def validate_method_name_translations(value: object) -> None:
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
