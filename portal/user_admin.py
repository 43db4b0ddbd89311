"""The user admin, with no way up: support manages customer users' accounts, superusers everything.

Support staff (not superusers) see and edit only customer users (``role_guard.may_manage``):
name, e-mail, active and a new password; never the superuser or staff flags, groups or
permissions (no permission picker). A superuser's or a support user's account, password
included, is a 404 to them. A superuser may grant anything, except that a customer user
keeps at most the customer group and no permissions of their own (the form says so).
"""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef

from . import role_guard
from .models import Membership

User = get_user_model()

SUPPORT_FIELDSETS = (
    (None, {"fields": ("username", "password")}),
    ("Personal info", {"fields": ("first_name", "last_name", "email")}),
    ("Status", {"fields": ("is_active",), "description": "Tenants and roles are given with memberships."}),
    ("Important dates", {"fields": ("last_login", "date_joined")}),
)
SUPPORT_ADD_FIELDSETS = ((None, {"classes": ("wide",), "fields": ("username", "usable_password", "password1", "password2")}),)


class PortalUserChangeForm(UserChangeForm):
    def clean(self):
        cleaned = super().clean()
        user = self.instance
        superuser = cleaned.get("is_superuser", user.is_superuser)
        if superuser or role_guard.is_support_member(user):
            return cleaned
        groups = cleaned.get("groups", user.groups.all() if user.pk else [])
        permissions = cleaned.get("user_permissions", user.user_permissions.all() if user.pk else [])
        extra_groups, extra_perms = role_guard.beyond_customer_role(groups, permissions)
        if extra_groups or extra_perms:
            raise ValidationError(
                "A customer user holds only the customer role; remove "
                + "; ".join(part for part in (", ".join(extra_groups), ", ".join(extra_perms[:10])) if part)
                + " (give a support membership for more)."
            )
        return cleaned


class PortalUserAdmin(UserAdmin):
    form = PortalUserChangeForm

    def get_urls(self):
        from django.urls import path

        from .onboarding import invite_view

        def invite(request):
            return invite_view(self, request)

        return [path("invite/", self.admin_site.admin_view(invite), name="auth_user_invite"), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        from . import tenancy

        can_invite = tenancy.tenants_for(request.user) is None and self.has_add_permission(request)
        return super().changelist_view(request, {**(extra_context or {}), "can_invite": can_invite})

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        support = Membership.objects.filter(user=OuterRef("pk"), role=Membership.SUPPORT)
        return queryset.filter(is_superuser=False).exclude(Exists(support)).exclude(pk=request.user.pk)

    def get_list_filter(self, request):
        return super().get_list_filter(request) if request.user.is_superuser else ("is_active",)

    def get_fieldsets(self, request, obj=None):
        if request.user.is_superuser:
            return super().get_fieldsets(request, obj)
        return SUPPORT_FIELDSETS if obj is not None else SUPPORT_ADD_FIELDSETS

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return fields if request.user.is_superuser else [*fields, "last_login", "date_joined"]

    def has_change_permission(self, request, obj=None):
        if obj is not None and not role_guard.may_manage(request.user, obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def user_change_password(self, request, id, form_url=""):
        user = self.get_object(request, id)
        if user is not None and not role_guard.may_manage(request.user, user):
            raise PermissionDenied  # a superuser's or support user's password is a superuser's to change
        return super().user_change_password(request, id, form_url)

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser:
            if change and not role_guard.may_manage(request.user, type(obj).objects.get(pk=obj.pk)):
                raise PermissionDenied
            obj.is_superuser = False  # nothing a support user saves can come out more powerful
            if not change:
                obj.is_staff = False  # a membership gives admin login
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        role_guard.confine_customer(form.instance)


def install(site=admin.site):
    if User in site._registry:
        site.unregister(User)
    site.register(User, PortalUserAdmin)
