"""`make run`'s set-up from scratch, twice, and the production guard."""

import json
import re
import secrets

import pytest
from cryptography.fernet import Fernet

from tests.processes import fresh_postgres_database, manage, project_env


def _setup_twice(env):
    outputs = []
    for _ in range(2):
        for command in (("migrate", "--noinput"), ("load_demo",)):
            result = manage(*command, env=env)
            assert result.returncode == 0, result.stdout + result.stderr
        outputs.append(result.stdout)
    return outputs


def _counts(env):
    script = (
        "from invoices.models import *; from django.contrib.auth.models import Group, User; "
        "from django.db import connection; import json; "
        "print(json.dumps({'services': sorted(Service.objects.values_list('code', flat=True)), "
        "'merchants': Merchant.objects.count(), 'links': MerchantService.objects.count(), "
        "'admins': User.objects.filter(is_superuser=True).count(), "
        "'groups': sorted(Group.objects.values_list('name', flat=True)), "
        "'tables': sorted(connection.introspection.table_names())}))"
    )
    result = manage("shell", "-c", script, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _assert_demo_stable(outputs, counts):
    first, second = outputs
    # Made by `migrate` itself, with no other command: the operators' groups.
    assert counts.pop("groups") == ["admin", "finance", "support", "viewer"]
    assert "login admin / admin" in first
    key = re.search(r"secret_key_test (sk_test_\w+)", first).group(1)
    assert key in second, "re-running load_demo must not change the demo merchant's keys"
    assert counts == {
        "services": [
            "bank_app_deeplink_uah_invoice",
            "bank_transfer_uah_invoice",
            "card_transfer_uah_invoice",
            "cash_voucher_mxn_invoice",
            "pix_qr_brl_invoice",
            "provider_card_transfer_uah_invoice",
            "second_provider_card_transfer_uah_invoice",
            "sepa_qr_eur_invoice",
            "test_uah_invoice",
            "upi_qr_inr_invoice",
        ],
        "merchants": 1,
        "links": 10,
        "admins": 1,
    }


def test_migrate_and_load_demo_twice_on_a_fresh_sqlite_file(tmp_path):
    env = project_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'fresh.sqlite3'}", VAR_DIR=str(tmp_path), REDIS_URL=""
    )
    outputs = _setup_twice(env)
    counts = _counts(env)
    # Without Redis the admin login counts failures in a table `migrate` made.
    assert "login_failure_cache" in counts.pop("tables")
    _assert_demo_stable(outputs, counts)


@pytest.mark.postgres
def test_migrate_and_load_demo_twice_on_a_fresh_postgres_database(tmp_path):
    with fresh_postgres_database("coma_setup") as url:
        env = project_env(DATABASE_URL=url, VAR_DIR=str(tmp_path))
        outputs = _setup_twice(env)
        counts = _counts(env)
        counts.pop("tables")
        _assert_demo_stable(outputs, counts)


def test_production_refuses_to_start_without_real_settings(tmp_path):
    env = project_env(DJANGO_DEBUG="0", VAR_DIR=str(tmp_path))
    for name in (
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "DATABASE_URL",
        "MERCHANT_KEY_SECRET",
        "CONNECTOR_SECRETS_KEY",
    ):
        env.pop(name, None)
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "DJANGO_DEBUG=0 needs real values for: SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL" in (
        result.stderr
    )


def test_production_refuses_to_start_without_the_connector_secrets_key(tmp_path):
    env = project_env(
        DJANGO_DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(40),
        MERCHANT_KEY_SECRET=secrets.token_urlsafe(40),
        ALLOWED_HOSTS="pay.example",
        DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        VAR_DIR=str(tmp_path),
    )
    env.pop("CONNECTOR_SECRETS_KEY", None)
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "DJANGO_DEBUG=0 needs real values for: CONNECTOR_SECRETS_KEY" in result.stderr

    env["CONNECTOR_SECRETS_KEY"] = "not-a-fernet-key"
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "CONNECTOR_SECRETS_KEY must be a comma-separated list of Fernet keys" in result.stderr

    env["CONNECTOR_SECRETS_KEY"] = Fernet.generate_key().decode()
    assert manage("check", env=env).returncode == 0


def test_load_demo_refuses_production(tmp_path):
    env = project_env(
        DJANGO_DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(40),
        MERCHANT_KEY_SECRET=secrets.token_urlsafe(40),
        CONNECTOR_SECRETS_KEY=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="pay.example",
        DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        VAR_DIR=str(tmp_path),
    )
    assert manage("migrate", "--noinput", env=env).returncode == 0
    result = manage("load_demo", env=env)
    assert result.returncode != 0
    assert "Refusing to load demo data with DJANGO_DEBUG=0" in result.stderr
