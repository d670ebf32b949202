"""The admin login locks a user out from one address after repeated wrong passwords.

Driven through the real login form, with the client address set per request,
against the cache axes is configured with: the database table on the embedded
default, Redis when REDIS_URL is set.
"""

import time
from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-operator-password"
WRONG = "not-the-password"
HOME = "198.51.100.10"
ELSEWHERE = "203.0.113.20"


@pytest.fixture(autouse=True)
def _lockout_settings(settings):
    # Each wrong password costs a full PBKDF2 otherwise (a fifth of a second).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


@pytest.fixture
def limit(settings):
    assert settings.AXES_FAILURE_LIMIT >= 2, "these tests need room for a failure before the limit"
    return settings.AXES_FAILURE_LIMIT


@pytest.fixture
def operator(django_user_model):
    return django_user_model.objects.create_user("operator", password=PASSWORD, is_staff=True)


@pytest.fixture
def colleague(django_user_model):
    return django_user_model.objects.create_user("colleague", password=PASSWORD, is_staff=True)


def log_in(client, username, password, address, **headers):
    return client.post(
        reverse("admin:login"),
        {"username": username, "password": password},
        REMOTE_ADDR=address,
        **headers,
    )


def logged_in(client, user) -> bool:
    return client.session.get(SESSION_KEY) == str(user.pk)


def fail(times, username="operator", address=HOME, **headers):
    """`times` wrong passwords, each from a fresh browser; the last answer."""
    for _ in range(times):
        answer = log_in(Client(), username, WRONG, address, **headers)
    return answer


def test_after_the_limit_the_right_password_is_refused_for_that_user_from_that_address(
    limit, operator, colleague
):
    for _ in range(limit - 1):
        assert log_in(Client(), "operator", WRONG, HOME).status_code == 200  # the form again
    assert log_in(Client(), "operator", WRONG, HOME).status_code == 429

    browser = Client()
    refused = log_in(browser, "operator", PASSWORD, HOME)
    assert refused.status_code == 429
    assert "Too many failed login attempts" in refused.text
    assert not logged_in(browser, operator)

    # Neither the operator from elsewhere nor a colleague from the same address is locked out.
    elsewhere = Client()
    assert log_in(elsewhere, "operator", PASSWORD, ELSEWHERE).status_code == 302
    assert logged_in(elsewhere, operator)
    same_address = Client()
    assert log_in(same_address, "colleague", PASSWORD, HOME).status_code == 302
    assert logged_in(same_address, colleague)


def test_the_right_password_works_again_once_the_cool_off_has_passed(settings, limit, operator):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=3)
    assert fail(limit).status_code == 429
    locked_at = time.monotonic()

    def at(seconds_after_lockout):
        time.sleep(max(0.0, locked_at + seconds_after_lockout - time.monotonic()))

    browser = Client()
    assert log_in(browser, "operator", PASSWORD, HOME).status_code == 429
    # Trying again while locked out does not make the wait longer. (The database cache
    # stores expiry times in whole seconds, so its lockout may end up to a second early.)
    at(1.0)
    assert log_in(browser, "operator", PASSWORD, HOME).status_code == 429
    assert not logged_in(browser, operator)

    at(3.3)
    assert log_in(browser, "operator", PASSWORD, HOME).status_code == 302
    assert logged_in(browser, operator)


@pytest.mark.parametrize(
    ("language", "minutes", "says"),
    [
        (None, 15, ["Too many failed login attempts", "Try again in 15 minutes."]),
        (None, 1, ["Try again in 1 minute."]),
        ("uk", 15, ["Забагато невдалих спроб входу", "Спробуйте знову через 15 хвилин."]),
        ("uk", 3, ["Спробуйте знову через 3 хвилини."]),
        ("uk", 1, ["Спробуйте знову через 1 хвилину."]),
    ],
)
def test_the_lockout_page_says_why_and_how_long_in_the_browsers_language(
    settings, limit, operator, language, minutes, says
):
    settings.AXES_COOLOFF_TIME = timedelta(minutes=minutes)
    headers = {"HTTP_ACCEPT_LANGUAGE": language} if language else {}
    fail(limit, **headers)

    page = log_in(Client(), "operator", PASSWORD, HOME, **headers)
    assert page.status_code == 429
    assert page["Content-Language"] == (language or "en")
    for text in says:
        assert text in page.text
    quoted_username = "«operator»" if language == "uk" else "“operator”"
    assert quoted_username in page.text
    assert admin.site.site_header in page.text  # inside the admin's own chrome


def test_a_success_before_the_limit_logs_in_and_starts_the_count_afresh(limit, operator):
    for _ in range(2):
        fail(limit - 1)
        browser = Client()
        assert log_in(browser, "operator", PASSWORD, HOME).status_code == 302
        assert logged_in(browser, operator)
    # Without the reset the second round's failures would have added up to the limit.


def test_a_forged_x_forwarded_for_does_not_dodge_the_lockout(limit, operator):
    fail(limit, HTTP_X_FORWARDED_FOR="192.0.2.1")

    browser = Client()
    dodge = log_in(browser, "operator", PASSWORD, HOME, HTTP_X_FORWARDED_FOR="192.0.2.99")
    assert dodge.status_code == 429
    assert not logged_in(browser, operator)


def test_behind_our_proxy_the_lockout_follows_the_client_it_names(settings, limit, operator):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.1"
    # The left part is the attacker's own invention; our proxy appended their real address.
    fail(limit, address=proxy, HTTP_X_FORWARDED_FOR=f"192.0.2.1, {HOME}")

    attacker = Client()
    forged = f"192.0.2.2, {HOME}"
    assert (
        log_in(attacker, "operator", PASSWORD, proxy, HTTP_X_FORWARDED_FOR=forged).status_code
        == 429
    )

    # The operator behind the same proxy, from their own address, still logs in.
    behind_proxy = Client()
    answer = log_in(behind_proxy, "operator", PASSWORD, proxy, HTTP_X_FORWARDED_FOR=ELSEWHERE)
    assert answer.status_code == 302
    assert logged_in(behind_proxy, operator)
