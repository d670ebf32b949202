"""Operators as the admin knows them: staff users in one of the operators' groups."""

from datetime import timedelta

from django.contrib.admin.utils import quote
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django.utils import timezone

OPERATOR_PASSWORD = "a-long-operator-password"


def operator_in_group(group: str, username: str | None = None) -> User:
    """A staff member (not a superuser) whose only permissions are the group's."""
    user = User.objects.create_user(
        username or f"{group}-operator", password=OPERATOR_PASSWORD, is_staff=True
    )
    user.groups.add(Group.objects.get(name=group))
    return user


def resend_failed_form(merchant, reason: str) -> dict:
    """The "resend failed callbacks of a merchant" form, for the hour either side of now."""
    now = timezone.now()
    return {
        "merchant": merchant.pk,
        "since": (now - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S"),
        "until": (now + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S"),
        "reason": reason,
    }


def invoice_admin_url(invoice_id: str, view: str = "change", *more: str) -> str:
    """An invoice's admin URL as the admin's own links write it: its id quoted (_ is _5F)."""
    return reverse(f"admin:invoices_invoice_{view}", args=[quote(invoice_id), *more])
