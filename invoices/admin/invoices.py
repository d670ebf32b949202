"""Invoices with their timelines, and the operators' actions on them."""

import json
from collections.abc import Iterable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets, quote, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html_join

from invoices import operator_actions, selectors
from invoices.admin.callbacks import CallbackDeliveryInline
from invoices.admin.common import (
    OnlyPermittedActions,
    OperatorReasonForm,
    ReadOnlyAdmin,
    ReadOnlyInline,
    ReasonWords,
    list_reason,
    operator_may,
    reason_page,
    shown_money,
    shown_time,
)
from invoices.models import Invoice, InvoiceEvent, OperatorAction, RefusedMove
from invoices.operator_actions import INVOICE_ACTIONS
from invoices.operator_groups import MOVE_STATUS, POLL_PROVIDER, RESEND_CALLBACK


class InvoiceEventInline(ReadOnlyInline[InvoiceEvent, Invoice]):
    model = InvoiceEvent
    verbose_name = "status move"
    verbose_name_plural = "Timeline"
    ordering = ["sequence"]
    fields = readonly_fields = (
        "sequence",
        "moved_at",
        "from_status",
        "to_status",
        "resolution",
        "resolution_message",
        "cause",
        "actor",
        "details_text",
    )

    @admin.display(description="time")
    def moved_at(self, event: InvoiceEvent) -> str:
        return shown_time(event.created_at)

    @admin.display(description="details")
    def details_text(self, event: InvoiceEvent) -> str:
        # One "name: value" line each, which wraps, rather than a JSON line that does not.
        lines = [
            (name, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
            for name, value in (event.details or {}).items()
        ]
        return format_html_join("", "<div><b>{}</b>: {}</div>", lines) or "—"


class OperatorActionInline(ReadOnlyInline[OperatorAction, Invoice]):
    model = OperatorAction
    verbose_name = "operator action"
    verbose_name_plural = "Operator actions (who, when, why)"
    ordering = ["created_at", "id"]
    fields = readonly_fields = ("done_at", "operator", "action", "reason", "outcome")

    @admin.display(description="time")
    def done_at(self, action: OperatorAction) -> str:
        return shown_time(action.created_at)


class RefusedMoveInline(ReadOnlyInline[RefusedMove, Invoice]):
    model = RefusedMove
    verbose_name = "refused move"
    verbose_name_plural = "Refused moves (lost races, impossible requests)"
    fields = readonly_fields = (
        "refused_at",
        "current_status",
        "to_status",
        "reason",
        "cause",
        "actor",
    )

    @admin.display(description="time")
    def refused_at(self, refused: RefusedMove) -> str:
        return shown_time(refused.created_at)


def _invoice_reason_words(
    name: str, invoices: QuerySet[Invoice], *, cancel_url: str
) -> ReasonWords:
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
class InvoiceAdmin(OnlyPermittedActions[Invoice], ReadOnlyAdmin[Invoice]):
    # Invoices change only through status moves, never by editing fields.
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

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Invoice], search_term: str
    ) -> tuple[QuerySet[Invoice], bool]:
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
    def has_move_invoice_status_permission(self, request: HttpRequest) -> bool:
        return operator_may(request, MOVE_STATUS)

    def has_resend_callback_permission(self, request: HttpRequest) -> bool:
        return operator_may(request, RESEND_CALLBACK)

    def has_poll_provider_permission(self, request: HttpRequest) -> bool:
        return operator_may(request, POLL_PROVIDER)

    def _may(self, request: HttpRequest, action: operator_actions.InvoiceAction) -> bool:
        may: bool = getattr(self, f"has_{action.permission}_permission")(request)
        return may

    @admin.action(description="Resend the latest callback", permissions=[RESEND_CALLBACK])
    def resend_callback(
        self, request: HttpRequest, queryset: QuerySet[Invoice]
    ) -> TemplateResponse | None:
        return self._act_on_list(request, queryset, "resend_callback")

    @admin.action(description="Poll the provider now", permissions=[POLL_PROVIDER])
    def poll_provider_now(
        self, request: HttpRequest, queryset: QuerySet[Invoice]
    ) -> TemplateResponse | None:
        return self._act_on_list(request, queryset, "poll_provider_now")

    @admin.action(description="Mark paid (with a reason)", permissions=["move_invoice_status"])
    def mark_paid(
        self, request: HttpRequest, queryset: QuerySet[Invoice]
    ) -> TemplateResponse | None:
        return self._act_on_list(request, queryset, "mark_paid")

    @admin.action(description="Mark failed (with a reason)", permissions=["move_invoice_status"])
    def mark_failed(
        self, request: HttpRequest, queryset: QuerySet[Invoice]
    ) -> TemplateResponse | None:
        return self._act_on_list(request, queryset, "mark_failed")

    @admin.action(description="Expire (with a reason)", permissions=["move_invoice_status"])
    def expire(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> TemplateResponse | None:
        return self._act_on_list(request, queryset, "expire")

    @admin.action(description="Terminate (with a reason)", permissions=["move_invoice_status"])
    def terminate(
        self, request: HttpRequest, queryset: QuerySet[Invoice]
    ) -> TemplateResponse | None:
        return self._act_on_list(request, queryset, "terminate")

    def _act_on_list(
        self, request: HttpRequest, queryset: QuerySet[Invoice], name: str
    ) -> TemplateResponse | None:
        """The list's actions: ask for the reason first, then act on every chosen invoice."""
        changelist = reverse("admin:invoices_invoice_changelist")
        page = _invoice_reason_words(name, queryset, cancel_url=changelist)
        reason, asking = list_reason(request, self, name, queryset, **page)
        if reason is None:
            return asking
        # The ids first: the moves change the rows a filtered "select all" was read from.
        self._act(request, name, list(queryset.values_list("pk", flat=True)), reason)
        return None

    def _act(
        self, request: HttpRequest, name: str, invoice_ids: Iterable[str], reason: str
    ) -> None:
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

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/act/<slug:name>/",
                self.admin_site.admin_view(self.act_view),
                name="invoices_invoice_act",
            ),
            *super().get_urls(),
        ]

    def act_view(self, request: HttpRequest, object_id: str, name: str) -> HttpResponse:
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
            return reason_page(request, self, chosen=chosen, form=form, hidden=[], **page)
        self._act(request, name, [invoice.pk], form.cleaned_data["reason"])
        return HttpResponseRedirect(change_url)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
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

    def get_readonly_fields(self, request: HttpRequest, obj: Invoice | None = None) -> list[str]:
        return flatten_fieldsets(self.get_fieldsets(request, obj))

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, invoice: Invoice) -> str:
        return shown_money(invoice.amount, invoice.currency)

    @admin.display(description="payment amount")
    def payment_amount_display(self, invoice: Invoice) -> str:
        return shown_money(invoice.payment_amount, invoice.currency)

    @admin.display(description="processed amount")
    def processed_amount_display(self, invoice: Invoice) -> str:
        return shown_money(invoice.processed_amount, invoice.currency)
