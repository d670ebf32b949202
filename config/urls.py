from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from config.views import health

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
    path("healthz", health, name="health"),
]
