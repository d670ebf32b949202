"""Callbacks and their attempts: shown, and resent by an operator with a reason."""

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from invoices import operator_actions
from invoices.admin.common import (
    OnlyPermittedActions,
    OperatorReasonForm,
    ReadOnlyAdmin,
    ReadOnlyInline,
    list_reason,
    operator_may,
    shown_time,
)
from invoices.models import CallbackDelivery, Invoice, Merchant
from invoices.operator_groups import RESEND_CALLBACK


def _attempts_table(delivery: CallbackDelivery) -> str:
    rows = format_html_join(
        "",
        '<tr><td class="attempt-time">{}</td><td class="attempt-code">{}</td>'
        '<td class="attempt-latency">{} ms</td><td class="attempt-error">{}</td>'
        '<td class="attempt-response"><code>{}</code></td></tr>',
        (
            (
                shown_time(attempt.started_at),
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


class CallbackDeliveryInline(ReadOnlyInline[CallbackDelivery, Invoice]):
    model = CallbackDelivery
    verbose_name = "callback"
    verbose_name_plural = "Callbacks and their attempts"
    ordering = ["sequence"]
    fields = readonly_fields = (
        "sequence",
        "state",
        "url",
        "webhook_id",
        "next_attempt",
        "attempt_log",
    )

    @admin.display(description="next attempt")
    def next_attempt(self, delivery: CallbackDelivery) -> str:
        return shown_time(delivery.next_attempt_at)

    @admin.display(description="attempts")
    def attempt_log(self, delivery: CallbackDelivery) -> str:
        return _attempts_table(delivery)

    def get_queryset(self, request: HttpRequest) -> QuerySet[CallbackDelivery]:
        return super().get_queryset(request).prefetch_related("tries")


class ResendFailedForm(OperatorReasonForm):
    merchant = forms.ModelChoiceField(queryset=Merchant.objects.all())
    since = forms.DateTimeField(help_text="Callbacks written from this time (UTC) ...")
    until = forms.DateTimeField(help_text="... until this time (UTC).")
    field_order = ["merchant", "since", "until", "reason"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if cleaned.get("since") and cleaned.get("until") and cleaned["since"] >= cleaned["until"]:
            raise forms.ValidationError("The start must be before the end.")
        return cleaned


@admin.register(CallbackDelivery)
class CallbackDeliveryAdmin(
    OnlyPermittedActions[CallbackDelivery], ReadOnlyAdmin[CallbackDelivery]
):
    # Nothing here is edited by hand: seeing needs invoices.view_callbackdelivery,
    # resending invoices.resend_callback.
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
    fields = readonly_fields = (
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
    )

    @admin.display(description="attempts")
    def attempt_log(self, delivery: CallbackDelivery) -> str:
        return _attempts_table(delivery)

    @admin.display(description="body")
    def body_text(self, delivery: CallbackDelivery) -> str:
        return format_html('<pre class="callback-body">{}</pre>', bytes(delivery.body).decode())

    def has_resend_callback_permission(self, request: HttpRequest) -> bool:
        return operator_may(request, RESEND_CALLBACK)

    @admin.action(
        description="Resend selected callbacks (with a reason)", permissions=[RESEND_CALLBACK]
    )
    def resend(
        self, request: HttpRequest, queryset: QuerySet[CallbackDelivery]
    ) -> TemplateResponse | None:
        if not self.has_resend_callback_permission(request):
            raise PermissionDenied
        reason, asking = list_reason(
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

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "resend-failed/",
                self.admin_site.admin_view(self.resend_failed_view),
                name="invoices_callbackdelivery_resend_failed",
            ),
            *super().get_urls(),
        ]

    def resend_failed_view(self, request: HttpRequest) -> HttpResponse:
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

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        may_resend = {"may_resend": self.has_resend_callback_permission(request)}
        return super().changelist_view(request, {**(extra_context or {}), **may_resend})
