"""Operators' admin: merchants, services and invoices with their timelines."""

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from connectors.registry import connector_names
from invoices import callbacks, selectors, services
from invoices.currencies import amount_in_currency
from invoices.models import (
    CallbackDelivery,
    Invoice,
    InvoiceEvent,
    Merchant,
    MerchantService,
    RefusedMove,
    Service,
)
from invoices.state_machine import StatusMoveRefused

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
            {
                "fields": [
                    "callback_url",
                    "callbacks_only_final",
                    "require_signed_links",
                    "frame_ancestors",
                ]
            },
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
        for field, field_problems in problems.items():
            for message in field_problems:
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


class RefusedMoveInline(admin.TabularInline):
    model = RefusedMove
    verbose_name = "refused move"
    verbose_name_plural = "Refused moves (lost races, impossible requests)"
    extra = 0
    can_delete = False
    fields = ["created_at", "current_status", "to_status", "reason", "cause", "actor"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _attempts_table(delivery: CallbackDelivery) -> str:
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{} ms</td><td>{}</td><td><code>{}</code></td></tr>",
        (
            (
                attempt.started_at.strftime("%Y-%m-%d %H:%M:%S"),
                attempt.status_code or "—",
                attempt.latency_ms,
                attempt.error or "—",
                attempt.response_excerpt[:200],
            )
            for attempt in delivery.tries.all()
        ),
    )
    if not rows:
        return "no attempt yet"
    return format_html(
        "<table><tr><th>time</th><th>code</th><th>latency</th><th>error</th>"
        "<th>response</th></tr>{}</table>",
        rows,
    )


class CallbackDeliveryInline(admin.TabularInline):
    model = CallbackDelivery
    verbose_name = "callback"
    verbose_name_plural = "Callbacks and their attempts"
    extra = 0
    can_delete = False
    ordering = ["sequence"]
    fields = ["sequence", "state", "url", "webhook_id", "next_attempt_at", "attempt_log"]
    readonly_fields = fields

    @admin.display(description="attempts")
    def attempt_log(self, delivery):
        return _attempts_table(delivery)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tries")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class OperatorMoveForm(forms.Form):
    reason = forms.CharField(
        max_length=500, widget=forms.Textarea(attrs={"rows": 3}), help_text="Kept in the timeline."
    )


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
    # Searched by get_search_results below: exactly, through the primary key and the
    # unique reference index, as a substring or case-insensitive search would scan
    # every invoice.
    search_fields = ["id", "reference_id"]
    search_help_text = "An invoice id or a reference_id, exactly as it was given."
    list_select_related = ["merchant", "service"]
    # Counting a million rows on every page view is what makes admin lists slow.
    show_full_result_count = False

    def get_search_results(self, request, queryset, search_term):
        return selectors.invoices_found_by_operator(invoices=queryset, term=search_term), False

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
    inlines = [InvoiceEventInline, RefusedMoveInline, CallbackDeliveryInline]
    actions = [
        "resend_callback",
        "poll_provider_now",
        "mark_paid",
        "mark_failed",
        "expire",
        "terminate",
    ]

    @admin.action(description="Resend the latest callback")
    def resend_callback(self, request, queryset):
        sent = sum(callbacks.invoice_callback_resend(invoice_id=i.id) for i in queryset)
        self.message_user(request, f"{sent} callback(s) queued to be sent again.")

    @admin.action(description="Poll the provider now")
    def poll_provider_now(self, request, queryset):
        count = services.invoices_poll_soon(invoice_ids=[i.id for i in queryset])
        self.message_user(
            request, f"{count} invoice(s) waiting on a provider will be polled in a moment."
        )

    @admin.action(description="Mark paid (with a reason)")
    def mark_paid(self, request, queryset):
        return self._operator_move(request, queryset, "processed", "Mark paid")

    @admin.action(description="Mark failed (with a reason)")
    def mark_failed(self, request, queryset):
        return self._operator_move(request, queryset, "process_failed", "Mark failed")

    @admin.action(description="Expire (with a reason)")
    def expire(self, request, queryset):
        return self._operator_move(request, queryset, "expired", "Expire")

    @admin.action(description="Terminate (with a reason)")
    def terminate(self, request, queryset):
        return self._operator_move(request, queryset, "terminated", "Terminate")

    def _operator_move(self, request, queryset, outcome: str, title: str):
        form = OperatorMoveForm(request.POST if "reason" in request.POST else None)
        if not form.is_valid():
            return TemplateResponse(
                request,
                "admin/invoices/invoice/operator_move.html",
                {
                    **self.admin_site.each_context(request),
                    "title": f"{title}: {queryset.count()} invoice(s)",
                    "invoices": queryset,
                    "form": form,
                    "action": request.POST["action"],
                    "opts": self.model._meta,
                },
            )
        for invoice in queryset:
            try:
                services.invoice_operator_move(
                    invoice_id=invoice.id,
                    outcome=outcome,
                    reason=form.cleaned_data["reason"],
                    operator=request.user.get_username(),
                )
                self.message_user(request, f"{invoice.id}: moved to {outcome}.")
            except StatusMoveRefused as refused:
                self.message_user(
                    request,
                    f"{invoice.id}: refused, it is {refused.current_status}.",
                    level=messages.WARNING,
                )
        return None

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


class ResendFailedForm(forms.Form):
    merchant = forms.ModelChoiceField(queryset=Merchant.objects.all())
    since = forms.DateTimeField(help_text="Callbacks written from this time (UTC) ...")
    until = forms.DateTimeField(help_text="... until this time (UTC).")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("since") and cleaned.get("until") and cleaned["since"] >= cleaned["until"]:
            raise forms.ValidationError("The start must be before the end.")
        return cleaned


@admin.register(CallbackDelivery)
class CallbackDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "webhook_id",
        "invoice",
        "merchant",
        "sequence",
        "state",
        "attempts",
        "last_attempt_at",
        "delivered_at",
        "created_at",
    ]
    list_filter = [
        "state",
        "test_mode",
        "merchant",
        ("created_at", admin.DateFieldListFilter),
    ]
    # Exact: the invoice's key is indexed here, and the webhook id is unique. A
    # case-insensitive match (Django's "=") is answered by neither index.
    search_fields = ["invoice__exact", "webhook_id__exact"]
    search_help_text = "An invoice id or a webhook id, exactly as it was given."
    list_select_related = ["invoice", "merchant"]
    show_full_result_count = False
    actions = ["resend"]
    fields = [
        "webhook_id",
        "invoice",
        "merchant",
        "sequence",
        "test_mode",
        "url",
        "state",
        "attempts",
        "next_attempt_at",
        "pending_since",
        "last_attempt_at",
        "delivered_at",
        "created_at",
        "attempt_log",
        "body_text",
    ]
    readonly_fields = fields

    @admin.display(description="attempts")
    def attempt_log(self, delivery):
        return _attempts_table(delivery)

    @admin.display(description="body")
    def body_text(self, delivery):
        return format_html("<pre>{}</pre>", bytes(delivery.body).decode())

    @admin.action(description="Resend selected callbacks")
    def resend(self, request, queryset):
        count = callbacks.callbacks_resend(delivery_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} callback(s) queued to be sent again.")

    def get_urls(self):
        return [
            path(
                "resend-failed/",
                self.admin_site.admin_view(self.resend_failed_view),
                name="invoices_callbackdelivery_resend_failed",
            ),
            *super().get_urls(),
        ]

    def resend_failed_view(self, request):
        """Every failed callback of one merchant in a time range, resent in one go."""
        if not self.has_change_permission(request):
            return HttpResponseRedirect(reverse("admin:index"))
        form = ResendFailedForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            count = callbacks.callbacks_resend_failed(
                merchant=form.cleaned_data["merchant"],
                since=form.cleaned_data["since"],
                until=form.cleaned_data["until"],
            )
            self.message_user(request, f"{count} failed callback(s) queued to be sent again.")
            return HttpResponseRedirect(reverse("admin:invoices_callbackdelivery_changelist"))
        return TemplateResponse(
            request,
            "admin/invoices/callbackdelivery/resend_failed.html",
            {
                **self.admin_site.each_context(request),
                "title": "Resend failed callbacks of a merchant",
                "form": form,
                "opts": self.model._meta,
            },
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # Viewing the list and running its actions; nothing is edited by hand.
        return request.user.is_active and request.user.is_staff
