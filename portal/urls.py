from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from integrations.api.views import not_found
from integrations.ops.dashboard import dashboard_view

from . import two_factor

# The password-set pages are not admin views: without this they are headed "Django administration".
PRODUCT_PAGE = {"site_header": admin.site.site_header, "site_title": admin.site.site_title}

urlpatterns = [
    path("api/v1/", include("integrations.api.urls")),
    re_path(r"^api(?:/.*)?$", not_found),  # every path under /api/ answers JSON, never the admin's pages
    *two_factor.urlpatterns,
    # The one-time password-set link of an invited user (portal.onboarding): Django's password-reset token.
    path(
        "password-set/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(success_url="/password-set/done/", extra_context=PRODUCT_PAGE),
        name="password-set",
    ),
    path("password-set/done/", auth_views.PasswordResetCompleteView.as_view(extra_context=PRODUCT_PAGE),
         name="password_reset_complete"),
    path("admin/", RedirectView.as_view(url="/", permanent=False)),  # the admin lives at /
    path("", admin.site.admin_view(dashboard_view), name="dashboard"),  # the landing page, before the stock index
    path("", admin.site.urls),
]
