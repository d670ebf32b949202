"""Operators' admin: merchants, services and invoices with their timelines."""

from django import forms
from django.contrib import admin
from django.db import models
from django.template.response import TemplateResponse

from connectors.registry import connector_names
from invoices import services
from invoices.currencies import amount_in_currency
from invoices.models import Invoice, InvoiceEvent, Merchant, MerchantService, Service

admin.site.site_header = "Invoice checkout — operators"
admin.site.site_title = "Invoice checkout"


def _credentials_page(request, *, title: str, issued: list):
    """The one page that shows freshly issued secret keys; they are not kept anywhere."""
    return TemplateResponse(
        request,
        "admin/invoices/merchant/credentials.html",
        {**admin.site.each_context(request), "title": title, "issued": issued},
    )


class MerchantServiceInline(admin.TabularInline):
    model = MerchantService
    extra = 0
    autocomplete_fields = ["service"]
    fields = ["service", "enabled", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "account_id",
        "is_active",
        "callbacks_only_final",
        "require_signed_links",
        "created_at",
    ]
    list_filter = ["is_active", "callbacks_only_final", "require_signed_links"]
    search_fields = ["name", "=account_id"]
    readonly_fields = [
        "account_id",
        "public_key_test",
        "public_key_live",
        "keys_issued_at",
        "created_at",
    ]
    fieldsets = [
        (None, {"fields": ["name", "is_active", "account_id", "created_at"]}),
        (
            "Keys",
            {
                "description": "Secret keys and the webhook secret are shown once, when "
                "issued; use the “Rotate secret keys” action to issue new ones.",
                "fields": ["public_key_test", "public_key_live", "keys_issued_at"],
            },
        ),
        (
            "Callbacks and checkout",
            {"fields": ["callback_url", "callbacks_only_final", "require_signed_links"]},
        ),
    ]
    inlines = [MerchantServiceInline]
    actions = ["rotate_secret_keys"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def save_model(self, request, obj, form, change):
        if not change:
            request.issued_credentials = services.merchant_issue_keys(merchant=obj)
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        return _credentials_page(
            request,
            title=f"Merchant {obj.name} created",
            issued=[(obj, request.issued_credentials)],
        )

    @admin.action(description="Rotate secret keys and webhook secret")
    def rotate_secret_keys(self, request, queryset):
        issued = [
            (merchant, services.merchant_rotate_secrets(merchant=merchant)) for merchant in queryset
        ]
        return _credentials_page(request, title="New secret keys", issued=issued)


class ServiceForm(forms.ModelForm):
    connector = forms.ChoiceField(choices=[])

    class Meta:
        model = Service
        fields = [
            "code",
            "enabled",
            "method_code",
            "method_name",
            "method_logo",
            "display_kind",
            "currency",
            "min_amount",
            "max_amount",
            "lifetime",
            "connector",
            "connector_settings",
            "confirmation_schema",
            "is_otp_flow",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["connector"].choices = [(name, name) for name in connector_names()]

    def clean(self):
        cleaned = super().clean()
        problems = services.service_problems(
            connector_name=cleaned.get("connector", ""),
            connector_settings=cleaned.get("connector_settings"),
            display_kind=cleaned.get("display_kind", ""),
            currency=cleaned.get("currency", ""),
            confirmation_schema=cleaned.get("confirmation_schema"),
        )
        for field, messages in problems.items():
            for message in messages:
                self.add_error(field if field in self.fields else None, message)
        return cleaned


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    form = ServiceForm
    list_display = ["code", "method_name", "currency", "display_kind", "connector", "enabled"]
    list_filter = ["enabled", "display_kind", "connector", "currency"]
    search_fields = ["code", "method_code", "method_name"]
    fieldsets = [
        (None, {"fields": ["code", "enabled"]}),
        ("Method", {"fields": ["method_code", "method_name", "method_logo", "display_kind"]}),
        ("Money", {"fields": ["currency", "min_amount", "max_amount", "lifetime"]}),
        (
            "Provider",
            {"fields": ["connector", "connector_settings", "confirmation_schema", "is_otp_flow"]},
        ),
    ]


class InvoiceEventInline(admin.TabularInline):
    model = InvoiceEvent
    verbose_name = "status move"
    verbose_name_plural = "Timeline"
    extra = 0
    can_delete = False
    ordering = ["sequence"]
    fields = [
        "sequence",
        "created_at",
        "from_status",
        "to_status",
        "resolution",
        "resolution_message",
        "cause",
        "actor",
        "details",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "reference_id",
        "merchant",
        "service",
        "amount_display",
        "status",
        "resolution",
        "test_mode",
        "created_at",
    ]
    list_filter = [
        "status",
        "test_mode",
        "service",
        "merchant",
        ("created_at", admin.DateFieldListFilter),
    ]
    # Exact matches use the primary key and the unique reference index: a
    # substring search would scan every invoice.
    search_fields = ["=id", "=reference_id"]
    list_select_related = ["merchant", "service"]
    # Counting a million rows on every page view is what makes admin lists slow.
    show_full_result_count = False
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "id",
                    "reference_id",
                    "merchant",
                    "service",
                    "connector",
                    "test_mode",
                    "status",
                    "resolution",
                    "resolution_message",
                    "sequence",
                ]
            },
        ),
        ("Money", {"fields": ["amount_display", "payment_amount", "processed_amount"]}),
        (
            "Times",
            {"fields": ["created_at", "updated_at", "processed_at", "expires_at"]},
        ),
        (
            "Flow data",
            {
                "fields": [
                    "requisites",
                    "provider_reference",
                    "is_otp_flow",
                    "confirmation_required",
                    "confirmation_schema_json",
                    "checkout_page",
                ]
            },
        ),
        (
            "Merchant's request",
            {
                "fields": [
                    "description",
                    "descriptor",
                    "customer",
                    "metadata",
                    "callback_url",
                    "return_url",
                    "return_urls",
                    "locale",
                    "options",
                ]
            },
        ),
    ]
    inlines = [InvoiceEventInline]

    def get_readonly_fields(self, request, obj=None):
        return [field for fieldset in self.fieldsets for field in fieldset[1]["fields"]]

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, invoice: Invoice) -> str:
        return f"{amount_in_currency(invoice.amount, invoice.currency)} {invoice.currency}"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # Invoices change only through status moves, never by editing fields.
        return False
