from django.contrib import admin
from django.urls import include, path, re_path

from integrations.api.views import not_found

from . import two_factor

urlpatterns = [
    path("api/v1/", include("integrations.api.urls")),
    re_path(r"^api(?:/.*)?$", not_found),  # every path under /api/ answers JSON, never the admin's pages
    *two_factor.urlpatterns,
    path("", admin.site.urls),
]
