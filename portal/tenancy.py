"""Who may see which tenant's rows: the one place that answers it.

``tenants_for(user)`` returns ``None`` (no restriction) for superusers and support staff,
otherwise the set of tenant ids the user holds a customer membership in (possibly empty).
``scope(queryset, user, path)`` applies it to a queryset along a lookup path to the tenant
("tenant", "flow__tenant", "pk" for Tenant itself). Admin scoping (``admin_scoping``) and
any view that lists tenant data build on these two.
"""

from __future__ import annotations

from django.core.exceptions import FieldDoesNotExist
from django.db import models

from .models import Membership, Tenant

_CACHE_ATTR = "_portal_tenant_ids"


def is_support(user) -> bool:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return tenants_for(user) is None


def tenants_for(user):
    """``None`` = every tenant (superuser or support membership); else a frozenset of tenant ids."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    if user.is_superuser:
        return None
    cached = getattr(user, _CACHE_ATTR, False)
    if cached is not False:
        return cached
    rows = list(Membership.objects.filter(user=user).values_list("tenant_id", "role"))
    if any(role == Membership.SUPPORT for _, role in rows):
        result = None
    else:
        result = frozenset(tenant_id for tenant_id, role in rows if role == Membership.CUSTOMER)
    try:
        setattr(user, _CACHE_ATTR, result)  # per request: the user object lives as long as the request
    except AttributeError:
        pass
    return result


def forget(user):
    """Drop the per-user cache (after memberships change within one request or test)."""
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def lookup(path: str) -> str:
    return "pk__in" if path in ("pk", "id", "") else f"{path}__in"


def scope(queryset, user, path: str):
    ids = tenants_for(user)
    if ids is None:
        return queryset
    if not ids:
        return queryset.none()
    return queryset.filter(**{lookup(path): ids})


def find_tenant_path(model, max_depth: int = 3) -> str | None:
    """The shortest forward FK/one-to-one path from ``model`` to ``Tenant`` ("pk" for Tenant), or None."""
    if model is Tenant:
        return "pk"
    frontier, seen = [(model, "")], {model}
    for _ in range(max_depth):
        next_frontier = []
        for current, prefix in frontier:
            for field in current._meta.get_fields():
                if not (field.is_relation and field.concrete and (field.many_to_one or field.one_to_one)):
                    continue
                related = field.related_model
                if related is None or isinstance(related, str):
                    continue
                path = f"{prefix}{field.name}"
                if related is Tenant:
                    return path
                if related not in seen:
                    seen.add(related)
                    next_frontier.append((related, f"{path}__"))
        frontier = next_frontier
    return None


def validate_tenant_path(model, path: str) -> str | None:
    """An error message when ``path`` does not lead from ``model`` to Tenant, else None."""
    if path in ("pk", "id", ""):
        return None if model is Tenant else f"{model.__name__}: tenant_path {path!r} only fits Tenant itself"
    current = model
    for part in path.split("__"):
        try:
            field = current._meta.get_field(part)
        except FieldDoesNotExist:
            return f"{model.__name__}: tenant_path {path!r}: no field {part!r} on {current.__name__}"
        if not field.is_relation or field.related_model is None:
            return f"{model.__name__}: tenant_path {path!r}: {part!r} is not a relation"
        current = field.related_model
    return None if current is Tenant else f"{model.__name__}: tenant_path {path!r} ends at {current.__name__}, not Tenant"


def tenant_id_of(obj, path: str):
    """The tenant id an (possibly unsaved) object belongs to, following ``path``; None if unknown."""
    if path in ("pk", "id", ""):
        return obj.pk
    parts = path.split("__")
    current = obj
    for part in parts[:-1]:
        if current is None:
            return None
        field = current._meta.get_field(part)
        if getattr(current, field.attname, None) is None:
            return None
        current = getattr(current, part)
    if current is None:
        return None
    last = current._meta.get_field(parts[-1])
    return getattr(current, last.attname, None)


def user_may_use_tenant(user, tenant_id) -> bool:
    ids = tenants_for(user)
    return ids is None or tenant_id in ids


def single_tenant(user):
    """The one tenant of a customer user with exactly one membership, else None."""
    ids = tenants_for(user)
    if ids is not None and len(ids) == 1:
        return Tenant.objects.filter(pk=next(iter(ids))).first()
    return None


def is_tenant_model(model) -> bool:
    return isinstance(model, type) and issubclass(model, models.Model) and find_tenant_path(model) is not None
