"""The audit trail in the admin: read-only, append-only. No add, no change, no delete."""

from django.contrib import admin
from django.utils.html import format_html

from integrations.ops import display
from portal.admin_scoping import TenantScopedAdmin

from .models import AuditEntry


def _pretty(value):
    """Before/after as labelled values; the raw JSON behind a "technical details" toggle."""
    if value in (None, "", {}, []):
        return "-"
    return format_html("{}{}", display.labelled_values(value), display.technical_details(value))


@admin.register(AuditEntry)
class AuditEntryAdmin(TenantScopedAdmin):
    list_display = ["created", "event", "tenant", "flow", "source_ref", "target_ref", "actor", "short_message"]
    list_filter = ["event", "tenant", "flow", ("created", admin.DateFieldListFilter)]  # a date hierarchy reads every row
    # references by any part (trigram indexes on PostgreSQL), an action id whole (its B-tree index)
    search_fields = ["source_ref", "target_ref", "action_id__exact"]
    list_select_related = ["tenant", "flow"]
    list_defer = ("before", "after")
    fields = [
        "created",
        "event",
        "tenant",
        "flow",
        "batch",
        "source_ref",
        "target_ref",
        "actor",
        "action_id",
        "message",
        "before_json",
        "after_json",
    ]
    readonly_fields = fields
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.display(description="message")
    def short_message(self, obj):
        return obj.message if len(obj.message) <= 120 else obj.message[:117] + "..."

    @admin.display(description="before")
    def before_json(self, obj):
        return _pretty(obj.before)

    @admin.display(description="after")
    def after_json(self, obj):
        return _pretty(obj.after)
