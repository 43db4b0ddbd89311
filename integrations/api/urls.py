from django.urls import re_path

from . import views, webhooks

urlpatterns = [
    # With or without a trailing slash: a cron's URL is often typed by hand.
    re_path(r"^flows/(?P<flow_id>[0-9]+)/trigger/?$", views.trigger_flow, name="flow-trigger"),
    re_path(r"^webhooks/bill/(?P<connection_id>[0-9]+)/?$", webhooks.bill_webhook, name="webhook-bill"),
    re_path(r"^.*$", views.not_found),  # anything else under /api/v1/ is a JSON 404, never the admin's pages
]
