"""Who may hand out which power: the rules the user and membership admins enforce.

* Only a superuser grants superuser, staff-wide permissions (a group or a permission
  beyond the customer role) or the support role, and only a superuser touches a
  superuser's or a support user's account (password included).
* A customer user (no support membership, not a superuser) holds at most the customer
  group and no permission of their own: saving a membership and saving the user in the
  admin both put that right (``confine_customer``).
"""

from . import roles
from .models import Membership


def is_support_member(user):
    return user.pk is not None and Membership.objects.filter(user=user, role=Membership.SUPPORT).exists()


def is_customer_user(user):
    """Not a superuser and no support membership: the customer role is the most this user may hold."""
    return not user.is_superuser and not is_support_member(user)


def may_manage(actor, user):
    """May ``actor`` edit ``user``'s account (fields, password, active flag)?"""
    if actor.is_superuser:
        return True
    if user.pk == actor.pk:
        return False  # support edits its own account only through "change password"
    return is_customer_user(user)


def customer_permissions():
    return roles.permissions_for(roles.CUSTOMER_PERMISSIONS)


def beyond_customer_role(groups, permissions):
    """Groups other than ``customer`` and permissions outside the customer role, by name, for a message."""
    extra_groups = sorted(g.name for g in groups if g.name != roles.CUSTOMER_GROUP)
    allowed = set(customer_permissions().values_list("pk", flat=True))
    extra_perms = sorted(f"{p.content_type.app_label}.{p.codename}" for p in permissions if p.pk not in allowed)
    return extra_groups, extra_perms


def confine_customer(user):
    """Take from a customer user any group but ``customer`` and every permission of their own."""
    if not is_customer_user(user):
        return
    user.user_permissions.clear()
    for group in user.groups.exclude(name=roles.CUSTOMER_GROUP):
        user.groups.remove(group)
