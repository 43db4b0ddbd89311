"""The two admin roles as Django groups, kept in step with the code on every migrate.

* ``support``: internal staff; every permission of the portal's apps and django-q2, user
  management; sees all tenants (``Membership.role == support``).
* ``customer``: a customer's finance users; own tenant only (TenantScopedAdmin). They edit
  GL mapping tables, read and act on batches (retry, release, hold, skip, corrections),
  and only view flows, cycles, connections (never credentials: the admin excludes them)
  and the audit trail.

A Membership puts its user in the group of its role and sets ``is_staff`` (admin login);
``ensure_groups()`` (post_migrate) creates and refreshes the groups' permissions.
"""

from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.db.models import Q

SUPPORT_GROUP = "support"
CUSTOMER_GROUP = "customer"

ALL = ("view", "add", "change", "delete")

# app label -> {model name (lower) or "*": actions}
CUSTOMER_PERMISSIONS = {
    "mappings": {"*": ALL},
    "integrations": {"batch": ("view", "change"), "flow": ("view",), "synccycle": ("view",), "connection": ("view",)},
    "audit": {"auditentry": ("view",)},
    "portal": {"tenant": ("view",)},
}
SUPPORT_PERMISSIONS = {
    "portal": {"*": ALL},
    "integrations": {"*": ALL},
    "mappings": {"*": ALL},
    "audit": {"*": ("view",)},
    "django_q": {"*": ALL},
    "auth": {"user": ("view", "add", "change"), "group": ("view",)},
    # Login lockouts: seen and released (an attempt deleted) by support.
    "axes": {"accessattempt": ("view", "delete"), "accesslog": ("view",), "accessfailurelog": ("view",)},
    # No TOTP devices: their keys are second factors; each user enrols their own (portal.two_factor) and
    # only a superuser removes a lost one.
}


def permissions_for(spec):
    query = Q(pk__in=[])
    for app_label, models in spec.items():
        try:
            app = apps.get_app_config(app_label)
        except LookupError:
            continue
        for model in app.get_models():
            name = model._meta.model_name
            actions = models.get(name, models.get("*", ()))
            codenames = [f"{action}_{name}" for action in actions]
            if codenames:
                query |= Q(content_type__app_label=app_label, content_type__model=name, codename__in=codenames)
    return Permission.objects.filter(query)


def ensure_groups():
    groups = {}
    for name, spec in ((SUPPORT_GROUP, SUPPORT_PERMISSIONS), (CUSTOMER_GROUP, CUSTOMER_PERMISSIONS)):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(permissions_for(spec))
        groups[name] = group
    return groups


def group_for_role(role):
    from .models import Membership

    name = SUPPORT_GROUP if role == Membership.SUPPORT else CUSTOMER_GROUP
    return Group.objects.get_or_create(name=name)[0]


def sync_user_groups(user):
    """Put the user in exactly the role groups their memberships call for; admin login for members."""
    from .models import Membership

    roles = set(Membership.objects.filter(user=user).values_list("role", flat=True))
    for role in (Membership.SUPPORT, Membership.CUSTOMER):
        group = group_for_role(role)
        if role in roles:
            user.groups.add(group)
        else:
            user.groups.remove(group)
    if roles and not user.is_staff:
        type(user).objects.filter(pk=user.pk).update(is_staff=True)
        user.is_staff = True
