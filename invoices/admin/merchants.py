"""Merchants: their services, and their keys, issued and rotated with a reason."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.template.response import TemplateResponse
from django.urls import reverse

from invoices import services
from invoices.admin.common import OnlyPermittedActions, list_reason, operator_may
from invoices.models import Merchant, MerchantService
from invoices.operator_groups import ROTATE_MERCHANT_KEYS


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
class MerchantAdmin(OnlyPermittedActions, admin.ModelAdmin):
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

    def has_rotate_merchant_keys_permission(self, request):
        return operator_may(request, ROTATE_MERCHANT_KEYS)

    @admin.action(
        description="Rotate secret keys and webhook secret (with a reason)",
        permissions=["rotate_merchant_keys"],
    )
    def rotate_secret_keys(self, request, queryset):
        if not self.has_rotate_merchant_keys_permission(request):
            raise PermissionDenied
        reason, asking = list_reason(
            request,
            self,
            "rotate_secret_keys",
            queryset,
            title=f"Rotate the secret keys of {queryset.count()} merchant(s)",
            intro="Their current secret keys and webhook secret stop working at once; "
            "the new ones are shown once, on the next page.",
            submit="Rotate secret keys",
            cancel_url=reverse("admin:invoices_merchant_changelist"),
        )
        if reason is None:
            return asking
        issued = []
        for merchant in queryset:
            issued.append((merchant, services.merchant_rotate_secrets(merchant=merchant)))
            # The merchant's History: who rotated its keys, when and why.
            self.log_change(request, merchant, f"Rotated secret keys: {reason}")
        return _credentials_page(request, title="New secret keys", issued=issued)
