"""Services: what a customer pays with, and its connector's settings and secrets."""

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from connectors.registry import connector_names, secret_setting_labels
from invoices import selectors, services
from invoices.admin.common import ModelAdmin, ModelForm
from invoices.currencies import amount_in_currency
from invoices.models import Service

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


class _ServiceForm(ModelForm[Service]):
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        connector = self.fields["connector"]
        assert isinstance(connector, forms.ChoiceField)  # declared above
        connector.choices = [(name, name) for name in connector_names()]
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

    def clean_method_name_translations(self) -> object:
        # An emptied box means no names in other languages: the column holds an object.
        translations = self.cleaned_data["method_name_translations"]
        return {} if translations is None else translations

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
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


def _service_form() -> type[_ServiceForm]:
    """The form with a field declared on the class, as the admin's fieldsets require, for
    each connector secret."""
    form = type("ServiceForm", (_ServiceForm,), _secret_form_fields())
    assert issubclass(form, _ServiceForm)  # type() answers `type`: this says which
    return form


ServiceForm = _service_form()


@admin.register(Service)
class ServiceAdmin(ModelAdmin[Service]):
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

    def save_model(
        self, request: HttpRequest, obj: Service, form: _ServiceForm, change: bool
    ) -> None:
        services.service_save(
            service=obj,
            new_secrets=form.new_secrets,
            forget_secrets=form.cleaned_data.get("forget_secrets", False),
        )
