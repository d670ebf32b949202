"""Merchants: their services, and their keys, issued and rotated with a reason."""

from weakref import WeakKeyDictionary

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse

from invoices import services
from invoices.admin.common import (
    ModelForm,
    OnlyPermittedActions,
    TabularInline,
    list_reason,
    operator_may,
)
from invoices.keys import IssuedCredentials
from invoices.models import Merchant, MerchantService
from invoices.operator_groups import ROTATE_MERCHANT_KEYS

# The keys save_model issues to a merchant being added, for response_add of the same
# request to show once: kept with the request, gone with it.
_issued_on_add: WeakKeyDictionary[HttpRequest, IssuedCredentials] = WeakKeyDictionary()


def _credentials_page(
    request: HttpRequest, *, title: str, issued: list[tuple[Merchant, IssuedCredentials]]
) -> TemplateResponse:
    """The one page that shows freshly issued secret keys; they are not kept anywhere."""
    return TemplateResponse(
        request,
        "admin/invoices/merchant/credentials.html",
        {**admin.site.each_context(request), "title": title, "issued": issued},
    )


class MerchantServiceInline(TabularInline[MerchantService, Merchant]):
    model = MerchantService
    extra = 0
    autocomplete_fields = ["service"]
    fields = ["service", "enabled", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Merchant)
class MerchantAdmin(OnlyPermittedActions[Merchant]):
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

    def save_model(
        self, request: HttpRequest, obj: Merchant, form: ModelForm[Merchant], change: bool
    ) -> None:
        if not change:
            _issued_on_add[request] = services.merchant_issue_keys(merchant=obj)
        super().save_model(request, obj, form, change)

    def response_add(
        self, request: HttpRequest, obj: Merchant, post_url_continue: str | None = None
    ) -> TemplateResponse:
        return _credentials_page(
            request,
            title=f"Merchant {obj.name} created",
            issued=[(obj, _issued_on_add[request])],
        )

    def has_rotate_merchant_keys_permission(self, request: HttpRequest) -> bool:
        return operator_may(request, ROTATE_MERCHANT_KEYS)

    @admin.action(
        description="Rotate secret keys and webhook secret (with a reason)",
        permissions=["rotate_merchant_keys"],
    )
    def rotate_secret_keys(
        self, request: HttpRequest, queryset: QuerySet[Merchant]
    ) -> TemplateResponse | None:
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
