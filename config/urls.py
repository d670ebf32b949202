from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from config.views import favicon, health
from invoices.api.main import api
from invoices.provider_views import provider_notify

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("hpp/", include("checkout.urls")),
    path("healthz", health, name="health"),
    path("favicon.ico", favicon),
    path("providers/<slug:connector>/notify", provider_notify, name="provider-notify"),
    path(
        "providers/<slug:connector>/<slug:service_code>/notify",
        provider_notify,
        name="provider-service-notify",
    ),
]
