"""What every part of the operators' admin shares: how times and money are shown,
read-only records, permission-checked actions, and the reason page every action asks first."""

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Generic, TypedDict, TypeVar, Unpack

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import formats, timezone

from invoices.currencies import amount_in_currency

_ModelT = TypeVar("_ModelT", bound=Model)
_ParentT = TypeVar("_ParentT", bound=Model)

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin as ModelAdmin
    from django.contrib.admin import TabularInline as TabularInline
    from django.forms import ModelForm as ModelForm
else:
    # Django's classes take no type arguments at run time (django_stubs_ext.monkeypatch
    # would give them some, but django-stubs is only a development requirement): these
    # take them, as the stubs' ModelAdmin[Model] does, and are Django's classes otherwise.
    class ModelAdmin(admin.ModelAdmin, Generic[_ModelT]):
        pass

    class TabularInline(admin.TabularInline, Generic[_ModelT, _ParentT]):
        pass

    class ModelForm(forms.ModelForm, Generic[_ModelT]):
        pass


def operator_may(request: HttpRequest, codename: str) -> bool:
    return request.user.has_perm(f"invoices.{codename}")


def shown_time(moment: datetime | None) -> str:
    """To the second, with the time zone: operators compare these with logs and bank statements."""
    if moment is None:
        return "—"
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def shown_money(amount: Decimal | None, currency: str) -> str:
    """With the currency's own digits: 150.00 UAH, 1500 JPY, never 150.0000."""
    if amount is None:
        return "—"
    return f"{amount_in_currency(amount, currency)} {currency}"


class ReadOnlyInline(TabularInline[_ModelT, _ParentT]):
    """A record of what happened: shown to whoever may see the invoice, never edited here."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: _ParentT | None = None) -> bool:
        return False

    # Django passes the parent (the invoice) as `obj`, as the stubs' InlineModelAdmin says;
    # their BaseModelAdmin says the inline's own model. Any model satisfies both.
    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class ReadOnlyAdmin(ModelAdmin[_ModelT]):
    """Records no one adds, edits or deletes by hand: seeing one needs its view
    permission, and whatever changes it goes through an action with its own."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: _ModelT | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: _ModelT | None = None) -> bool:
        return False


class OnlyPermittedActions(ModelAdmin[_ModelT]):
    """A ModelAdmin whose list actions answer 403 to whoever may not run them.

    Django leaves an action without the permission out of the list's menu, but
    answers a forged POST of it with "No action selected" and a redirect: a
    refusal should say it is one. Every action name the POST carries is checked
    (the list has two action menus, and Django picks one by `index`), against
    the permissions the action declares.
    """

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if request.method == "POST":
            for name in request.POST.getlist("action"):
                if not self._may_run_action(request, name):
                    raise PermissionDenied
        return super().changelist_view(request, extra_context)

    def _may_run_action(self, request: HttpRequest, name: str) -> bool:
        action: object
        if name in (self.actions or ()):
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


class ReasonWords(TypedDict):
    """What a reason page says: its title, its intro, its button, and where Cancel goes."""

    title: str
    intro: str
    submit: str
    cancel_url: str


def reason_page(
    request: HttpRequest,
    model_admin: ModelAdmin[_ModelT],
    *,
    chosen: QuerySet[_ModelT],
    form: forms.Form,
    hidden: list[tuple[str, str]],
    **words: Unpack[ReasonWords],
) -> TemplateResponse:
    """The step every operator action takes first: what is about to happen, and why."""
    listed = list(chosen[:_REASON_PAGE_LISTS])
    return TemplateResponse(
        request,
        "admin/invoices/reason_form.html",
        {
            **model_admin.admin_site.each_context(request),
            "title": words["title"],
            "intro": words["intro"],
            "listed": listed,
            "more": max(0, chosen.count() - len(listed)),
            "form": form,
            "hidden": hidden,
            "submit": words["submit"],
            "cancel_url": words["cancel_url"],
            "opts": model_admin.model._meta,
        },
    )


def _list_action_fields(request: HttpRequest, name: str) -> list[tuple[str, str]]:
    """The list's own POST, carried through the reason page: the action, the rows ticked
    on the page, and "select all" as itself (the ids it stands for could be millions)."""
    fields = [("action", name), ("index", "0")]
    if request.POST.get("select_across") == "1":
        fields.append(("select_across", "1"))
    ticked = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
    return fields + [(helpers.ACTION_CHECKBOX_NAME, pk) for pk in ticked]


def list_reason(
    request: HttpRequest,
    model_admin: ModelAdmin[_ModelT],
    name: str,
    chosen: QuerySet[_ModelT],
    **page: Unpack[ReasonWords],
) -> tuple[str | None, TemplateResponse | None]:
    """A list action's first step: the reason given with the POST, or the page asking for it
    (`page`: its title, intro, submit label and cancel URL)."""
    form = OperatorReasonForm(request.POST if "reason" in request.POST else None)
    if form.is_valid():
        return form.cleaned_data["reason"], None
    hidden = _list_action_fields(request, name)
    return None, reason_page(request, model_admin, chosen=chosen, form=form, hidden=hidden, **page)
