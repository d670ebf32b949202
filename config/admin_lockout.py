"""The page axes answers with while a user and address are locked out of the admin login.

Axes' own template setting renders with axes' context alone: the page would
lose the admin site's header and title, and could only give the wait as an
ISO 8601 duration. This renders our template inside the admin's chrome and
gives the wait in whole minutes, so it can be said in each language's plural.
"""

import math
from collections.abc import Mapping

from axes.helpers import get_client_username, get_cool_off
from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None,
    credentials: Mapping[str, object] | None,
) -> HttpResponse:
    """Replaces the login view's own answer (`original_response`) with the lockout page."""
    cool_off = get_cool_off(request)
    context = {
        **admin.site.each_context(request),
        "title": gettext("Too many failed logins"),
        "username": get_client_username(request, credentials) or "",
        # Rounded up: "try again in 15 minutes" must not send anyone back too early.
        "cooloff_minutes": max(1, math.ceil(cool_off.total_seconds() / 60)),
    }
    return render(
        request, "admin/locked_out.html", context, status=settings.AXES_HTTP_RESPONSE_CODE
    )
