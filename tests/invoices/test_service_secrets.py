"""Providers' secrets per service: encrypted at rest, masked in the admin, rotatable."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django import forms
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from invoices import selectors, services
from invoices.models import Service
from tests.factories import ServiceFactory

API_KEY = "live-api-key-0123456789-WXYZ"
NOTIFY_SECRET = "notify-secret-9876543210-QRST"


@pytest.fixture
def http_service(db):
    service = ServiceFactory(
        code="card_transfer_uah_provider",
        display_kind="card_transfer",
        connector="http",
        connector_settings={"base_url": "https://api.provider.example"},
    )
    return services.service_save(
        service=service, new_secrets={"api_key": API_KEY, "notify_secret": NOTIFY_SECRET}
    )


def _change_url(service: Service) -> str:
    return f"/admin/invoices/service/{service.pk}/change/"


def _form_data(response, **changes) -> dict:
    """The change form as the browser would send it back untouched, with `changes`."""
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def test_the_admin_shows_secrets_masked_and_a_blank_field_keeps_them(admin_client, http_service):
    page = admin_client.get(_change_url(http_service))
    content = page.content.decode()
    assert "Stored: ••••WXYZ." in content and "Stored: ••••QRST." in content
    assert API_KEY not in content and NOTIFY_SECRET not in content
    assert http_service.connector_secrets not in content  # not even the ciphertext

    saved = admin_client.post(_change_url(http_service), _form_data(page, method_name="Renamed"))
    assert saved.status_code == 302, saved.context["adminform"].form.errors
    http_service.refresh_from_db()
    assert http_service.method_name == "Renamed"
    assert selectors.service_connector_secrets(service=http_service) == {
        "api_key": API_KEY,
        "notify_secret": NOTIFY_SECRET,
    }


def test_a_new_value_replaces_one_secret_and_keeps_the_other(admin_client, http_service):
    page = admin_client.get(_change_url(http_service))
    saved = admin_client.post(
        _change_url(http_service), _form_data(page, secret_api_key="  rotated-api-key-0000  ")
    )
    assert saved.status_code == 302
    http_service.refresh_from_db()
    assert selectors.service_connector_secrets(service=http_service) == {
        "api_key": "rotated-api-key-0000",
        "notify_secret": NOTIFY_SECRET,
    }
    assert "Stored: ••••0000." in admin_client.get(_change_url(http_service)).content.decode()


def test_forgetting_the_secrets_falls_back_to_the_process_wide_settings(admin_client, http_service):
    page = admin_client.get(_change_url(http_service))
    saved = admin_client.post(
        _change_url(http_service),
        _form_data(page, connector_settings="{}", forget_secrets="on"),
    )
    assert saved.status_code == 302
    http_service.refresh_from_db()
    assert http_service.connector_secrets == ""
    assert selectors.service_connector_settings(service=http_service) == {}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"connector_settings": '{"base_url": "ftp://files.provider.example"}'},
            "base_url must be an http(s) URL such as https://api.provider.example,"
            " not &#x27;ftp://files.provider.example&#x27;.",
        ),
        (
            {"connector_settings": '{"base_url": "https://api.provider.example", "api_key": "k"}'},
            "api_key is secret: enter it in the “API key” field, where it is stored encrypted,"
            " and remove it from the settings.",
        ),
        (
            {"forget_secrets": "on", "secret_api_key": "only-the-key"},
            "base_url, the API key and the notification secret go together: notify_secret"
            " missing (set all three, or none to use the PROVIDER_HTTP_* settings).",
        ),
        (
            {"forget_secrets": "on", "secret_api_key": "   ", "secret_notify_secret": "s"},
            "api_key missing",
        ),
        (
            {"connector": "static", "connector_settings": '{"requisites": {}}'},
            "The static connector takes no secret api_key, notify_secret: forget the stored"
            " secrets or pick the connector they belong to.",
        ),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(
    admin_client, http_service, changes, message
):
    page = admin_client.get(_change_url(http_service))
    refused = admin_client.post(_change_url(http_service), _form_data(page, **changes))
    assert refused.status_code == 200
    assert message in refused.content.decode()
    stored = Service.objects.get(pk=http_service.pk)
    assert stored.connector_secrets == http_service.connector_secrets
    assert stored.connector_settings == {"base_url": "https://api.provider.example"}


def test_a_new_service_gets_its_secrets_from_the_add_form(admin_client, db):
    page = admin_client.get("/admin/invoices/service/add/")
    data = _form_data(
        page,
        code="deeplink_uah_provider",
        method_code="deeplink",
        method_name="Deeplink",
        display_kind="deeplink",
        currency="UAH",
        lifetime="01:00:00",
        connector="http",
        connector_settings='{"base_url": "http://127.0.0.1:9"}',
        secret_api_key=API_KEY,
        secret_notify_secret=NOTIFY_SECRET,
    )
    saved = admin_client.post("/admin/invoices/service/add/", data)
    assert saved.status_code == 302, saved.context["adminform"].form.errors
    service = Service.objects.get(code="deeplink_uah_provider")
    assert API_KEY not in service.connector_secrets
    assert selectors.service_connector_settings(service=service) == {
        "base_url": "http://127.0.0.1:9",
        "api_key": API_KEY,
        "notify_secret": NOTIFY_SECRET,
    }


def test_rotating_the_key_re_encrypts_and_old_rows_still_decrypt(settings, db):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CONNECTOR_SECRETS_KEYS = [old_key]
    service = services.service_save(
        service=ServiceFactory(
            connector="http", connector_settings={"base_url": "https://api.provider.example"}
        ),
        new_secrets={"api_key": API_KEY, "notify_secret": NOTIFY_SECRET},
    )
    old_token = service.connector_secrets
    ServiceFactory(connector="test")  # no secrets: nothing to re-encrypt

    # The new key in front: rows written with the old one still decrypt.
    settings.CONNECTOR_SECRETS_KEYS = [new_key, old_key]
    assert selectors.service_connector_secrets(service=service)["api_key"] == API_KEY

    out = StringIO()
    call_command("connector_secrets_rotate", stdout=out)
    assert out.getvalue().strip() == "Re-encrypted the connector secrets of 1 service(s)."
    service.refresh_from_db()
    assert service.connector_secrets != old_token

    # Now the old key can go; without the new one nothing decrypts, and it says why.
    settings.CONNECTOR_SECRETS_KEYS = [new_key]
    assert selectors.service_connector_secrets(service=service) == {
        "api_key": API_KEY,
        "notify_secret": NOTIFY_SECRET,
    }
    settings.CONNECTOR_SECRETS_KEYS = [old_key]
    with pytest.raises(ImproperlyConfigured, match="cannot be decrypted with any key"):
        selectors.service_connector_secrets(service=service)
