import secrets

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse

from audit import log as audit

from . import login_throttle, role_guard, user_admin
from .admin_scoping import TenantScopedAdmin, TenantScopedTabularInline
from .models import Membership, Tenant

PRODUCT_NAME = "ml-connector portal"
admin.site.site_header = PRODUCT_NAME  # the header of every page, not "Django administration"
admin.site.site_title = PRODUCT_NAME
admin.site.index_title = "All sections"
# The product navigation in the header (templates/admin/base_site.html) and the dashboard's section list replace
# Django's app sidebar, which took 270 px of every page: at 1366 px the batch list's problem column fell off screen.
admin.site.enable_nav_sidebar = False

user_admin.install()
login_throttle.install_admin()


def _customer_role_only(request, db_field, field):
    """Only a superuser hands out the support role: everyone else is offered the customer role alone."""
    if db_field.name == "role" and not request.user.is_superuser:
        field.choices = [c for c in field.choices if c[0] != Membership.SUPPORT]
    return field


class MembershipRoleForm:
    """Refuses a support membership, or a change to one, from anyone but a superuser."""

    @staticmethod
    def guard(form_class, request):
        class Guarded(form_class):
            def clean(self):
                cleaned = super().clean()
                if request.user.is_superuser:
                    return cleaned
                was_support = self.instance.pk and type(self.instance).objects.filter(
                    pk=self.instance.pk, role=Membership.SUPPORT).exists()
                if cleaned.get("role") == Membership.SUPPORT or was_support:
                    raise ValidationError("Only a superuser gives or changes the support role.")
                user = cleaned.get("user")
                if user is not None and not role_guard.may_manage(request.user, user):
                    raise ValidationError("Only a superuser changes the memberships of a superuser or support user.")
                return cleaned

        Guarded.__name__ = form_class.__name__
        return Guarded


class MembershipInline(TenantScopedTabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.exclude(role=Membership.SUPPORT)

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        return _customer_role_only(request, db_field, super().formfield_for_choice_field(db_field, request, **kwargs))

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = MembershipRoleForm.guard(formset.form, request)
        return formset


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
    """Support manages customer users here: add a membership, deactivate users, reset passwords.

    Only a superuser gives, changes or removes the support role."""

    customer_read_only = True
    list_display = ["user", "tenant", "role", "user_active"]
    list_filter = ["role", "tenant"]
    search_fields = ["user__username", "user__email", "tenant__name", "tenant__slug"]
    autocomplete_fields = ["user", "tenant"]
    list_select_related = ["user", "tenant"]
    actions = ["deactivate_users", "reset_passwords"]

    @admin.display(description="active", boolean=True, ordering="user__is_active")
    def user_active(self, membership):
        return membership.user.is_active

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        return _customer_role_only(request, db_field, super().formfield_for_choice_field(db_field, request, **kwargs))

    def get_form(self, request, obj=None, change=False, **kwargs):
        return MembershipRoleForm.guard(super().get_form(request, obj, change, **kwargs), request)

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.role == Membership.SUPPORT and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.role == Membership.SUPPORT and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        refused = obj.role == Membership.SUPPORT or not role_guard.may_manage(request.user, obj.user)
        if refused and not request.user.is_superuser:
            raise PermissionDenied("Only a superuser gives the support role or changes a support user's memberships.")
        super().save_model(request, obj, form, change)

    def delete_queryset(self, request, queryset):
        if not request.user.is_superuser and queryset.filter(role=Membership.SUPPORT).exists():
            raise PermissionDenied("Only a superuser removes the support role.")
        super().delete_queryset(request, queryset)

    def _managed_users(self, request, queryset):
        users, refused = {}, []
        for membership in queryset.select_related("user"):
            user = membership.user
            if role_guard.may_manage(request.user, user):
                users[user.pk] = user
            else:
                refused.append(user.get_username())
        if refused:
            self.message_user(request, f"Left alone (only a superuser manages them): {', '.join(sorted(set(refused)))}.",
                              messages.WARNING)
        return list(users.values())

    @admin.action(description="Deactivate these users (they can no longer log in)", permissions=["change"])
    def deactivate_users(self, request, queryset):
        users = self._managed_users(request, queryset)
        for user in users:
            type(user).objects.filter(pk=user.pk).update(is_active=False)
            for membership in user.memberships.all():
                audit.record(membership.tenant_id, "user.deactivated", actor=audit.actor_name(request.user),
                             source_ref=f"user:{user.pk}", message=f"{user.get_username()} deactivated")
        self.message_user(request, f"{len(users)} user(s) deactivated.", messages.SUCCESS)

    @admin.action(description="Reset passwords (a new one is shown once)", permissions=["change"])
    def reset_passwords(self, request, queryset):
        users = self._managed_users(request, queryset)
        issued = []
        for user in users:
            new = secrets.token_urlsafe(12)
            user.set_password(new)
            user.save(update_fields=["password"])
            issued.append((user.get_username(), new))
            for membership in user.memberships.all():
                audit.record(membership.tenant_id, "user.password_reset", actor=audit.actor_name(request.user),
                             source_ref=f"user:{user.pk}", message=f"password of {user.get_username()} reset")
        context = {**self.admin_site.each_context(request), "title": "New passwords", "issued": issued,
                   "opts": self.opts}
        return TemplateResponse(request, "admin/portal/membership/new_passwords.html", context)
