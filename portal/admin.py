from django.contrib import admin

from .admin_scoping import TenantScopedAdmin, TenantScopedTabularInline
from .models import Membership, Tenant


class MembershipInline(TenantScopedTabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdmin):
    tenant_path = "pk"
    customer_read_only = True
    list_display = ["name", "slug", "active", "time_zone", "base_currency", "created_at"]
    list_filter = ["active"]
    search_fields = ["name", "slug", "alert_emails"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created_at"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "active"]}),
        ("Accounting", {"fields": ["time_zone", "base_currency"]}),
        ("Alerts", {"fields": ["alert_emails"]}),
        ("History", {"fields": ["created_at"]}),
    ]

    def get_inlines(self, request, obj):
        return [MembershipInline] if self.is_support(request) else []

    def get_prepopulated_fields(self, request, obj=None):
        return self.prepopulated_fields if self.has_change_permission(request, obj) else {}


@admin.register(Membership)
class MembershipAdmin(TenantScopedAdmin):
    customer_read_only = True
    list_display = ["user", "tenant", "role"]
    list_filter = ["role", "tenant"]
    search_fields = ["user__username", "user__email", "tenant__name", "tenant__slug"]
    autocomplete_fields = ["user", "tenant"]
    list_select_related = ["user", "tenant"]
