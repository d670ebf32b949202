"""Operators' admin: merchants, services and invoices with their timelines."""

import json
from datetime import datetime
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join

from connectors.registry import connector_names, secret_setting_labels
from invoices import operator_actions, selectors, services, statements
from invoices.currencies import amount_in_currency
from invoices.models import (
    CallbackDelivery,
    Invoice,
    InvoiceEvent,
    Merchant,
    MerchantService,
    OperatorAction,
    RefusedMove,
    Service,
    StatementEntry,
    StatementImport,
)
from invoices.operator_actions import INVOICE_ACTIONS
from invoices.operator_groups import (
    MOVE_STATUS,
    POLL_PROVIDER,
    RECONCILE_STATEMENT,
    RESEND_CALLBACK,
    ROTATE_MERCHANT_KEYS,
)

admin.site.site_header = "Invoice checkout — operators"
admin.site.site_title = "Invoice checkout"


def _operator_may(request, codename: str) -> bool:
    return request.user.has_perm(f"invoices.{codename}")


def _time(moment: datetime | None) -> str:
    """To the second, with the time zone: operators compare these with logs and bank statements."""
    if moment is None:
        return "—"
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def _money(amount: Decimal | None, currency: str) -> str:
    """With the currency's own digits: 150.00 UAH, 1500 JPY, never 150.0000."""
    if amount is None:
        return "—"
    return f"{amount_in_currency(amount, currency)} {currency}"


class ReadOnlyInline(admin.TabularInline):
    """A record of what happened: shown to whoever may see the invoice, never edited here."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class OnlyPermittedActions:
    """A ModelAdmin whose list actions answer 403 to whoever may not run them.

    Django leaves an action without the permission out of the list's menu, but
    answers a forged POST of it with "No action selected" and a redirect: a
    refusal should say it is one. Every action name the POST carries is checked
    (the list has two action menus, and Django picks one by `index`), against
    the permissions the action declares.
    """

    def changelist_view(self, request, extra_context=None):
        if request.method == "POST":
            for name in request.POST.getlist("action"):
                if not self._may_run_action(request, name):
                    raise PermissionDenied
        return super().changelist_view(request, extra_context)

    def _may_run_action(self, request, name: str) -> bool:
        if name in self.actions:
            action = getattr(self, name)
        else:
            try:
                action = self.admin_site.get_action(name)
            except KeyError:
                return True  # not an action at all: Django answers "No action selected"
        permissions = getattr(action, "allowed_permissions", ())
        return all(getattr(self, f"has_{perm}_permission")(request) for perm in permissions)


class OperatorReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Kept with the invoice: who did this, when and why.",
    )


# The reason page lists this many of the chosen objects, then says how many more.
_REASON_PAGE_LISTS = 20


def _reason_page(request, model_admin, *, title, intro, chosen, form, hidden, submit, cancel_url):
    """The step every operator action takes first: what is about to happen, and why."""
    listed = list(chosen[:_REASON_PAGE_LISTS])
    return TemplateResponse(
        request,
        "admin/invoices/reason_form.html",
        {
            **model_admin.admin_site.each_context(request),
            "title": title,
            "intro": intro,
            "listed": listed,
            "more": max(0, chosen.count() - len(listed)),
            "form": form,
            "hidden": hidden,
            "submit": submit,
            "cancel_url": cancel_url,
            "opts": model_admin.model._meta,
        },
    )


def _list_action_fields(request, name: str) -> list[tuple[str, str]]:
    """The list's own POST, carried through the reason page: the action, the rows ticked
    on the page, and "select all" as itself (the ids it stands for could be millions)."""
    fields = [("action", name), ("index", "0")]
    if request.POST.get("select_across") == "1":
        fields.append(("select_across", "1"))
    ticked = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
    return fields + [(helpers.ACTION_CHECKBOX_NAME, pk) for pk in ticked]


def _list_reason(request, model_admin, name: str, chosen, **page) -> tuple[str | None, object]:
    """A list action's first step: the reason given with the POST, or the page asking for it
    (`page`: its title, intro, submit label and cancel URL)."""
    form = OperatorReasonForm(request.POST if "reason" in request.POST else None)
    if form.is_valid():
        return form.cleaned_data["reason"], None
    hidden = _list_action_fields(request, name)
    return None, _reason_page(request, model_admin, chosen=chosen, form=form, hidden=hidden, **page)


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
        return _operator_may(request, ROTATE_MERCHANT_KEYS)

    @admin.action(
        description="Rotate secret keys and webhook secret (with a reason)",
        permissions=["rotate_merchant_keys"],
    )
    def rotate_secret_keys(self, request, queryset):
        if not self.has_rotate_merchant_keys_permission(request):
            raise PermissionDenied
        reason, asking = _list_reason(
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


SECRET_FIELD_PREFIX = "secret_"  # noqa: S105 (a form field name, not a secret)


def _secret_form_fields() -> dict[str, forms.Field]:
    # Never rendered back (render_value=False): the page shows only a mask.
    return {
        SECRET_FIELD_PREFIX + name: forms.CharField(
            label=label,
            required=False,
            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        )
        for name, label in secret_setting_labels().items()
    }


class _ServiceForm(forms.ModelForm):
    connector = forms.ChoiceField(choices=[])
    forget_secrets = forms.BooleanField(
        required=False,
        label="Forget the stored secrets",
        help_text="The service then uses the process-wide settings of its connector"
        " (for http: PROVIDER_HTTP_*), unless new ones are typed above.",
    )

    class Meta:
        model = Service
        fields = [
            "code",
            "enabled",
            "method_code",
            "method_name",
            "method_name_translations",
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
        # Shown with the currency's own digits (1.00 UAH), not the column's four.
        if self.instance.currency:
            for name in ("min_amount", "max_amount"):
                if (amount := getattr(self.instance, name)) is not None:
                    self.initial[name] = amount_in_currency(amount, self.instance.currency)
        stored = selectors.service_secrets_masked(service=self.instance)
        for name in secret_setting_labels():
            field = self.fields.get(SECRET_FIELD_PREFIX + name)
            if field is None:
                continue
            field.help_text = (
                f"Stored: {stored[name]}. Leave blank to keep it; type a new value to replace it."
                if name in stored
                else "Not stored. Kept encrypted once saved, and never shown again."
            )
        self.new_secrets: dict[str, str] = {}

    def clean_method_name_translations(self):
        # An emptied box means no names in other languages: the column holds an object.
        translations = self.cleaned_data["method_name_translations"]
        return {} if translations is None else translations

    def clean(self):
        cleaned = super().clean()
        self.new_secrets = {
            name: value.strip()
            for name in secret_setting_labels()
            if (value := cleaned.get(SECRET_FIELD_PREFIX + name) or "").strip()
        }
        kept = (
            {}
            if cleaned.get("forget_secrets")
            else selectors.service_connector_secrets(service=self.instance)
        )
        problems = services.service_problems(
            connector_name=cleaned.get("connector", ""),
            connector_settings=cleaned.get("connector_settings"),
            display_kind=cleaned.get("display_kind", ""),
            currency=cleaned.get("currency", ""),
            confirmation_schema=cleaned.get("confirmation_schema"),
            method_name_translations=cleaned.get("method_name_translations"),
            connector_secrets={**kept, **self.new_secrets},
        )
        for field, field_problems in problems.items():
            for message in field_problems:
                self.add_error(field if field in self.fields else None, message)
        return cleaned


# Declared on the class, as the admin's fieldsets require, one per connector secret.
ServiceForm = type("ServiceForm", (_ServiceForm,), _secret_form_fields())


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    form = ServiceForm
    list_display = ["code", "method_name", "currency", "display_kind", "connector", "enabled"]
    list_filter = ["enabled", "display_kind", "connector", "currency"]
    search_fields = ["code", "method_code", "method_name"]
    fieldsets = [
        (None, {"fields": ["code", "enabled"]}),
        (
            "Method",
            {
                "fields": [
                    "method_code",
                    "method_name",
                    "method_name_translations",
                    "method_logo",
                    "display_kind",
                ]
            },
        ),
        ("Money", {"fields": ["currency", "min_amount", "max_amount", "lifetime"]}),
        ("The payer's second chance", {"fields": ["reissue_limit", "remainder_enabled"]}),
        (
            "Provider",
            {
                "fields": [
                    "connector",
                    "connector_settings",
                    *(SECRET_FIELD_PREFIX + name for name in secret_setting_labels()),
                    "forget_secrets",
                    "confirmation_schema",
                    "is_otp_flow",
                ]
            },
        ),
    ]

    def save_model(self, request, obj, form, change):
        services.service_save(
            service=obj,
            new_secrets=form.new_secrets,
            forget_secrets=form.cleaned_data.get("forget_secrets", False),
        )


class InvoiceEventInline(ReadOnlyInline):
    model = InvoiceEvent
    verbose_name = "status move"
    verbose_name_plural = "Timeline"
    ordering = ["sequence"]
    fields = [
        "sequence",
        "moved_at",
        "from_status",
        "to_status",
        "resolution",
        "resolution_message",
        "cause",
        "actor",
        "details_text",
    ]
    readonly_fields = fields

    @admin.display(description="time")
    def moved_at(self, event: InvoiceEvent) -> str:
        return _time(event.created_at)

    @admin.display(description="details")
    def details_text(self, event: InvoiceEvent) -> str:
        # One "name: value" line each, which wraps, rather than a JSON line that does not.
        lines = [
            (name, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
            for name, value in (event.details or {}).items()
        ]
        return format_html_join("", "<div><b>{}</b>: {}</div>", lines) or "—"


class OperatorActionInline(ReadOnlyInline):
    model = OperatorAction
    verbose_name = "operator action"
    verbose_name_plural = "Operator actions (who, when, why)"
    ordering = ["created_at", "id"]
    fields = ["done_at", "operator", "action", "reason", "outcome"]
    readonly_fields = fields

    @admin.display(description="time")
    def done_at(self, action: OperatorAction) -> str:
        return _time(action.created_at)


class RefusedMoveInline(ReadOnlyInline):
    model = RefusedMove
    verbose_name = "refused move"
    verbose_name_plural = "Refused moves (lost races, impossible requests)"
    fields = ["refused_at", "current_status", "to_status", "reason", "cause", "actor"]
    readonly_fields = fields

    @admin.display(description="time")
    def refused_at(self, refused: RefusedMove) -> str:
        return _time(refused.created_at)


def _attempts_table(delivery: CallbackDelivery) -> str:
    rows = format_html_join(
        "",
        '<tr><td class="attempt-time">{}</td><td class="attempt-code">{}</td>'
        '<td class="attempt-latency">{} ms</td><td class="attempt-error">{}</td>'
        '<td class="attempt-response"><code>{}</code></td></tr>',
        (
            (
                _time(attempt.started_at),
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
        '<table class="attempts"><tr><th>time</th><th>code</th><th>latency</th><th>error</th>'
        "<th>response</th></tr>{}</table>",
        rows,
    )


class CallbackDeliveryInline(ReadOnlyInline):
    model = CallbackDelivery
    verbose_name = "callback"
    verbose_name_plural = "Callbacks and their attempts"
    ordering = ["sequence"]
    fields = ["sequence", "state", "url", "webhook_id", "next_attempt", "attempt_log"]
    readonly_fields = fields

    @admin.display(description="next attempt")
    def next_attempt(self, delivery: CallbackDelivery) -> str:
        return _time(delivery.next_attempt_at)

    @admin.display(description="attempts")
    def attempt_log(self, delivery):
        return _attempts_table(delivery)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tries")


def _invoice_reason_words(name: str, invoices, *, cancel_url: str) -> dict:
    """What the reason page of an invoice action says: its title, intro and button."""
    action = INVOICE_ACTIONS[name]
    if action.to_status:
        intro = (
            f"These invoices will be moved to {action.to_status}, with the reason kept in "
            "their timeline. An invoice that has already moved on is left as it is."
        )
    else:
        intro = f"{action.label} for these invoices; the reason is kept with each of them."
    return {
        "title": f"{action.label}: {invoices.count()} invoice(s)",
        "intro": intro,
        "submit": action.label,
        "cancel_url": cancel_url,
    }


@admin.register(Invoice)
class InvoiceAdmin(OnlyPermittedActions, admin.ModelAdmin):
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
        (
            "Money",
            {"fields": ["amount_display", "payment_amount_display", "processed_amount_display"]},
        ),
        (
            "Order",
            {
                "description": "The invoices of the same order: a reissue of an expired "
                "invoice, or the remainder of a partly paid one.",
                "fields": [
                    ("previous_invoice", "previous_relation"),
                    ("next_invoice", "next_relation"),
                    "reissue_count",
                ],
            },
        ),
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
    inlines = [InvoiceEventInline, OperatorActionInline, RefusedMoveInline, CallbackDeliveryInline]
    actions = list(INVOICE_ACTIONS)

    # The permissions the actions declare; each is one of the invoices.* permissions
    # the operators' groups are made of (invoices/operator_groups.py).
    def has_move_invoice_status_permission(self, request):
        return _operator_may(request, MOVE_STATUS)

    def has_resend_callback_permission(self, request):
        return _operator_may(request, RESEND_CALLBACK)

    def has_poll_provider_permission(self, request):
        return _operator_may(request, POLL_PROVIDER)

    def _may(self, request, action: operator_actions.InvoiceAction) -> bool:
        return getattr(self, f"has_{action.permission}_permission")(request)

    @admin.action(description="Resend the latest callback", permissions=[RESEND_CALLBACK])
    def resend_callback(self, request, queryset):
        return self._act_on_list(request, queryset, "resend_callback")

    @admin.action(description="Poll the provider now", permissions=[POLL_PROVIDER])
    def poll_provider_now(self, request, queryset):
        return self._act_on_list(request, queryset, "poll_provider_now")

    @admin.action(description="Mark paid (with a reason)", permissions=["move_invoice_status"])
    def mark_paid(self, request, queryset):
        return self._act_on_list(request, queryset, "mark_paid")

    @admin.action(description="Mark failed (with a reason)", permissions=["move_invoice_status"])
    def mark_failed(self, request, queryset):
        return self._act_on_list(request, queryset, "mark_failed")

    @admin.action(description="Expire (with a reason)", permissions=["move_invoice_status"])
    def expire(self, request, queryset):
        return self._act_on_list(request, queryset, "expire")

    @admin.action(description="Terminate (with a reason)", permissions=["move_invoice_status"])
    def terminate(self, request, queryset):
        return self._act_on_list(request, queryset, "terminate")

    def _act_on_list(self, request, queryset, name: str):
        """The list's actions: ask for the reason first, then act on every chosen invoice."""
        changelist = reverse("admin:invoices_invoice_changelist")
        page = _invoice_reason_words(name, queryset, cancel_url=changelist)
        reason, asking = _list_reason(request, self, name, queryset, **page)
        if reason is None:
            return asking
        # The ids first: the moves change the rows a filtered "select all" was read from.
        self._act(request, name, list(queryset.values_list("pk", flat=True)), reason)
        return None

    def _act(self, request, name: str, invoice_ids, reason: str):
        action = INVOICE_ACTIONS[name]
        if not self._may(request, action):
            raise PermissionDenied
        results = operator_actions.invoices_operator_act(
            action=name,
            invoice_ids=invoice_ids,
            reason=reason,
            operator=request.user.get_username(),
        )
        for result in results:
            self.message_user(
                request,
                f"Invoice {result.invoice_id}: {result.outcome}.",
                level=messages.SUCCESS if result.done else messages.WARNING,
            )

    def get_urls(self):
        return [
            path(
                "<path:object_id>/act/<slug:name>/",
                self.admin_site.admin_view(self.act_view),
                name="invoices_invoice_act",
            ),
            *super().get_urls(),
        ]

    def act_view(self, request, object_id: str, name: str):
        """One action on the invoice's own page: its reason form (GET), then the action (POST)."""
        action = INVOICE_ACTIONS.get(name)
        if action is None:
            raise Http404("No such action.")
        # Permission first: whoever may not act learns nothing, not even whether it exists.
        if not (self.has_view_permission(request) and self._may(request, action)):
            raise PermissionDenied
        invoice = get_object_or_404(Invoice, pk=unquote(object_id))
        change_url = reverse("admin:invoices_invoice_change", args=[quote(invoice.pk)])
        form = OperatorReasonForm(request.POST if request.method == "POST" else None)
        if not form.is_valid():
            chosen = Invoice.objects.filter(pk=invoice.pk)
            page = _invoice_reason_words(name, chosen, cancel_url=change_url)
            return _reason_page(request, self, chosen=chosen, form=form, hidden=[], **page)
        self._act(request, name, [invoice.pk], form.cleaned_data["reason"])
        return HttpResponseRedirect(change_url)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The admin's own links quote the id (cpi_ → cpi_5F): look it up as Django does.
        invoice = self.get_object(request, unquote(object_id))
        offered = []
        if invoice is not None:
            offered = [
                (
                    action.label,
                    reverse("admin:invoices_invoice_act", args=[quote(invoice.pk), name]),
                )
                for name, action in INVOICE_ACTIONS.items()
                if self._may(request, action) and action.applies_to(invoice)
            ]
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), "operator_actions": offered}
        )

    def get_readonly_fields(self, request, obj=None):
        return [field for fieldset in self.fieldsets for field in fieldset[1]["fields"]]

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, invoice: Invoice) -> str:
        return _money(invoice.amount, invoice.currency)

    @admin.display(description="payment amount")
    def payment_amount_display(self, invoice: Invoice) -> str:
        return _money(invoice.payment_amount, invoice.currency)

    @admin.display(description="processed amount")
    def processed_amount_display(self, invoice: Invoice) -> str:
        return _money(invoice.processed_amount, invoice.currency)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # Invoices change only through status moves, never by editing fields.
        return False


class ResendFailedForm(OperatorReasonForm):
    merchant = forms.ModelChoiceField(queryset=Merchant.objects.all())
    since = forms.DateTimeField(help_text="Callbacks written from this time (UTC) ...")
    until = forms.DateTimeField(help_text="... until this time (UTC).")
    field_order = ["merchant", "since", "until", "reason"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("since") and cleaned.get("until") and cleaned["since"] >= cleaned["until"]:
            raise forms.ValidationError("The start must be before the end.")
        return cleaned


@admin.register(CallbackDelivery)
class CallbackDeliveryAdmin(OnlyPermittedActions, admin.ModelAdmin):
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
        return format_html('<pre class="callback-body">{}</pre>', bytes(delivery.body).decode())

    def has_resend_callback_permission(self, request):
        return _operator_may(request, RESEND_CALLBACK)

    @admin.action(
        description="Resend selected callbacks (with a reason)", permissions=[RESEND_CALLBACK]
    )
    def resend(self, request, queryset):
        if not self.has_resend_callback_permission(request):
            raise PermissionDenied
        reason, asking = _list_reason(
            request,
            self,
            "resend",
            queryset,
            title=f"Resend {queryset.count()} callback(s)",
            intro="These callbacks will be sent again, with the same body and webhook-id "
            "and a fresh retry window; the reason is kept with each invoice.",
            submit="Resend",
            cancel_url=reverse("admin:invoices_callbackdelivery_changelist"),
        )
        if reason is None:
            return asking
        selected = list(queryset.values_list("pk", flat=True))
        count = operator_actions.callbacks_operator_resend(
            delivery_ids=selected,
            reason=reason,
            operator=request.user.get_username(),
        )
        self.message_user(request, f"{count} callback(s) queued to be sent again.")
        return None

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
        if not self.has_resend_callback_permission(request):
            raise PermissionDenied
        form = ResendFailedForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            count = operator_actions.callbacks_operator_resend_failed(
                merchant=form.cleaned_data["merchant"],
                since=form.cleaned_data["since"],
                until=form.cleaned_data["until"],
                reason=form.cleaned_data["reason"],
                operator=request.user.get_username(),
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

    def changelist_view(self, request, extra_context=None):
        may_resend = {"may_resend": self.has_resend_callback_permission(request)}
        return super().changelist_view(request, {**(extra_context or {}), **may_resend})

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # Nothing here is edited by hand: seeing needs invoices.view_callbackdelivery,
        # resending invoices.resend_callback.
        return False


# Bank statements ------------------------------------------------------------------


class StatementUploadForm(forms.Form):
    file = forms.FileField(help_text="camt.053 / camt.054 (XML) or MT940, as the bank gave it.")
    file_format = forms.ChoiceField(
        choices=[("auto", "Recognise it"), ("camt", "camt (XML)"), ("mt940", "MT940")],
        initial="auto",
    )
    test_mode = forms.BooleanField(
        required=False,
        help_text="Settle test-mode invoices (a sample statement). Unticked: live invoices.",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.STATEMENT_MAX_BYTES:
            raise forms.ValidationError(
                f"Statement files are at most {settings.STATEMENT_MAX_BYTES} bytes."
            )
        return upload


class StatementEntryResolveForm(OperatorReasonForm):
    decision = forms.ChoiceField(
        choices=[("assign", "It pays this invoice"), ("dismiss", "It pays no invoice")],
        widget=forms.RadioSelect,
    )
    invoice_id = forms.CharField(
        max_length=20, required=False, help_text="The invoice it pays (cpi_...), to assign it."
    )
    field_order = ["decision", "invoice_id", "reason"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("decision") == "assign" and not cleaned.get("invoice_id"):
            self.add_error("invoice_id", "Name the invoice the credit pays.")
        return cleaned


def _statement_form_page(request, model_admin, *, title, intro, form, submit, cancel_url):
    return TemplateResponse(
        request,
        "admin/invoices/statement_form.html",
        {
            **model_admin.admin_site.each_context(request),
            "title": title,
            "intro": intro,
            "form": form,
            "submit": submit,
            "cancel_url": cancel_url,
            "opts": model_admin.model._meta,
        },
    )


class StatementAdmin(admin.ModelAdmin):
    """Statements and their entries are records: shown, never edited by hand."""

    def has_reconcile_statement_permission(self, request):
        return _operator_may(request, RECONCILE_STATEMENT)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(StatementImport)
class StatementImportAdmin(StatementAdmin):
    list_display = [
        "created_at",
        "file_name",
        "file_format",
        "imported_by",
        "test_mode",
        "entries_read",
        "matched",
        "unmatched",
        "duplicates",
        "entries_link",
    ]
    list_filter = ["test_mode", "file_format"]
    search_fields = ["file_name", "imported_by"]

    @admin.display(description="entries")
    def entries_link(self, record: StatementImport) -> str:
        url = reverse("admin:invoices_statemententry_changelist")
        return format_html(
            '<a href="{}?statement_import__id__exact={}">entries</a>', url, record.pk
        )

    def get_urls(self):
        return [
            path(
                "upload/",
                self.admin_site.admin_view(self.upload_view),
                name="invoices_statementimport_upload",
            ),
            *super().get_urls(),
        ]

    def upload_view(self, request):
        """Import a statement file: its credits settle invoices, the rest waits as unmatched."""
        if not self.has_reconcile_statement_permission(request):
            raise PermissionDenied
        form = StatementUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = statements.statement_import(
                    data=upload.read(),
                    file_name=upload.name,
                    file_format=form.cleaned_data["file_format"],
                    imported_by=f"operator:{request.user.get_username()}",
                    test_mode=form.cleaned_data["test_mode"],
                )
            except statements.StatementFormatError as error:
                form.add_error("file", f"Not a statement this reads: {error}")
            else:
                record = result.statement_import
                self.message_user(
                    request,
                    f"{record.file_name}: {record.entries_read} credits, {record.matched} "
                    f"matched, {record.unmatched} unmatched, {record.duplicates} duplicates.",
                )
                url = reverse("admin:invoices_statemententry_changelist")
                return HttpResponseRedirect(f"{url}?statement_import__id__exact={record.pk}")
        return _statement_form_page(
            request,
            self,
            title="Import a bank statement",
            intro="Each credit settles the invoice whose RF creditor reference or reference_id "
            "it names; one that matches nothing waits under Statement entries, unmatched. "
            "A credit imported before is reported, never applied twice.",
            form=form,
            submit="Import",
            cancel_url=reverse("admin:invoices_statementimport_changelist"),
        )

    def changelist_view(self, request, extra_context=None):
        may = {"may_import": self.has_reconcile_statement_permission(request)}
        return super().changelist_view(request, {**(extra_context or {}), **may})


@admin.register(StatementEntry)
class StatementEntryAdmin(StatementAdmin):
    list_display = [
        "created_at",
        "state",
        "amount_display",
        "debtor_name",
        "remittance",
        "invoice",
        "overpaid",
        "outcome",
        "resolve_link",
    ]
    list_filter = ["state", "overpaid", "test_mode", "account_iban"]
    search_fields = ["=bank_reference", "=invoice__id", "debtor_name", "remittance_unstructured"]
    list_select_related = ["invoice"]
    readonly_fields = [
        "statement_import",
        "account_iban",
        "bank_reference",
        "test_mode",
        "amount",
        "currency",
        "booked_on",
        "debtor_name",
        "remittance_unstructured",
        "remittance_structured",
        "state",
        "invoice",
        "outcome",
        "overpaid",
        "resolved_by",
        "resolved_at",
        "resolution_reason",
        "created_at",
    ]

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, entry: StatementEntry) -> str:
        return _money(entry.amount, entry.currency)

    @admin.display(description="remittance")
    def remittance(self, entry: StatementEntry) -> str:
        return " ".join(filter(None, [entry.remittance_structured, entry.remittance_unstructured]))

    @admin.display(description="")
    def resolve_link(self, entry: StatementEntry) -> str:
        if entry.state != StatementEntry.State.UNMATCHED:
            return ""
        url = reverse("admin:invoices_statemententry_resolve", args=[entry.pk])
        return format_html('<a href="{}">assign or dismiss</a>', url)

    def get_list_display(self, request):
        shown = super().get_list_display(request)
        if self.has_reconcile_statement_permission(request):
            return shown
        return [name for name in shown if name != "resolve_link"]

    def get_urls(self):
        return [
            path(
                "<int:entry_id>/resolve/",
                self.admin_site.admin_view(self.resolve_view),
                name="invoices_statemententry_resolve",
            ),
            *super().get_urls(),
        ]

    def resolve_view(self, request, entry_id: int):
        """An unmatched credit: assign it to the invoice it pays, or dismiss it, with a reason."""
        if not self.has_reconcile_statement_permission(request):
            raise PermissionDenied
        entry = get_object_or_404(StatementEntry, pk=entry_id)
        back = reverse("admin:invoices_statemententry_changelist") + "?state__exact=unmatched"
        form = StatementEntryResolveForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            operator = request.user.get_username()
            try:
                if form.cleaned_data["decision"] == "assign":
                    statements.statement_entry_assign(
                        entry_id=entry.pk,
                        invoice_id=form.cleaned_data["invoice_id"],
                        reason=form.cleaned_data["reason"],
                        operator=operator,
                    )
                else:
                    statements.statement_entry_dismiss(
                        entry_id=entry.pk, reason=form.cleaned_data["reason"], operator=operator
                    )
            except statements.StatementEntryRefused as refused:
                form.add_error(None, str(refused))
            else:
                self.message_user(request, f"Credit {entry.bank_reference}: done.")
                return HttpResponseRedirect(back)
        return _statement_form_page(
            request,
            self,
            title=f"Credit {entry.bank_reference}",
            intro=f"{_money(entry.amount, entry.currency)} from {entry.debtor_name or 'unknown'}"
            f" on {entry.booked_on or 'an unknown day'}: "
            f"“{self.remittance(entry)}”. Why it waits: {entry.outcome}",
            form=form,
            submit="Save",
            cancel_url=back,
        )
