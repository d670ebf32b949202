"""Bank statements: imported by an operator, their unmatched credits assigned or dismissed."""

from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from invoices import statements
from invoices.admin.common import OperatorReasonForm, ReadOnlyAdmin, operator_may, shown_money
from invoices.models import StatementEntry, StatementImport
from invoices.operator_groups import RECONCILE_STATEMENT

_RecordT = TypeVar("_RecordT", bound=Model)


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

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        if upload.size is None or upload.size > settings.STATEMENT_MAX_BYTES:
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

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if cleaned.get("decision") == "assign" and not cleaned.get("invoice_id"):
            self.add_error("invoice_id", "Name the invoice the credit pays.")
        return cleaned


def _statement_form_page(
    request: HttpRequest,
    model_admin: "StatementAdmin[_RecordT]",
    *,
    title: str,
    intro: str,
    form: forms.Form,
    submit: str,
    cancel_url: str,
) -> TemplateResponse:
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


class StatementAdmin(ReadOnlyAdmin[_RecordT]):
    """Statements and their entries are records: shown, never edited by hand."""

    def has_reconcile_statement_permission(self, request: HttpRequest) -> bool:
        return operator_may(request, RECONCILE_STATEMENT)


@admin.register(StatementImport)
class StatementImportAdmin(StatementAdmin[StatementImport]):
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

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "upload/",
                self.admin_site.admin_view(self.upload_view),
                name="invoices_statementimport_upload",
            ),
            *super().get_urls(),
        ]

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        """Import a statement file: its credits settle invoices, the rest waits as unmatched."""
        if not self.has_reconcile_statement_permission(request):
            raise PermissionDenied
        form = StatementUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload: UploadedFile = form.cleaned_data["file"]
            assert upload.name is not None  # FileField refuses a file without a name
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

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        may = {"may_import": self.has_reconcile_statement_permission(request)}
        return super().changelist_view(request, {**(extra_context or {}), **may})


@admin.register(StatementEntry)
class StatementEntryAdmin(StatementAdmin[StatementEntry]):
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
        return shown_money(entry.amount, entry.currency)

    @admin.display(description="remittance")
    def remittance(self, entry: StatementEntry) -> str:
        return " ".join(filter(None, [entry.remittance_structured, entry.remittance_unstructured]))

    @admin.display(description="")
    def resolve_link(self, entry: StatementEntry) -> str:
        if entry.state != StatementEntry.State.UNMATCHED:
            return ""
        url = reverse("admin:invoices_statemententry_resolve", args=[entry.pk])
        return format_html('<a href="{}">assign or dismiss</a>', url)

    def get_list_display(
        self, request: HttpRequest
    ) -> list[str | Callable[[StatementEntry], str | bool]]:
        shown = list(super().get_list_display(request))
        if self.has_reconcile_statement_permission(request):
            return shown
        return [name for name in shown if name != "resolve_link"]

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:entry_id>/resolve/",
                self.admin_site.admin_view(self.resolve_view),
                name="invoices_statemententry_resolve",
            ),
            *super().get_urls(),
        ]

    def resolve_view(self, request: HttpRequest, entry_id: int) -> HttpResponse:
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
            intro=f"{shown_money(entry.amount, entry.currency)}"
            f" from {entry.debtor_name or 'unknown'}"
            f" on {entry.booked_on or 'an unknown day'}: "
            f"“{self.remittance(entry)}”. Why it waits: {entry.outcome}",
            form=form,
            submit="Save",
            cancel_url=back,
        )
