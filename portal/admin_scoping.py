"""Tenant scoping for the admin: every ModelAdmin of a tenant-owned model inherits this.

``TenantScopedAdmin.tenant_path`` is the lookup from the model to ``portal.Tenant``
("tenant", "flow__tenant", "connection__tenant"; "pk" for Tenant itself). For a customer
user (see ``portal.tenancy.tenants_for``) the mixin scopes:

* the changelist, change/history/delete views (another tenant's object is a 404), bulk
  actions, list_editable and export (they all start from ``get_queryset``);
* foreign-key and many-to-many dropdowns to any tenant-owned model, including raw-id and
  autocomplete validation (the form field's queryset);
* autocomplete results (``get_search_results``; Django's autocomplete view starts from the
  target admin's ``get_queryset`` too);
* list_filter choices for relations and free-valued fields (plain field names are wrapped in
  scoped filter classes; a custom ``SimpleListFilter`` must build its lookups from
  ``model_admin.get_queryset(request)``);
* writes: the tenant dropdown lists only the user's tenants (pre-set and locked when there
  is exactly one); the form refuses an object that would land in another tenant, and
  ``save_model`` refuses it again (PermissionDenied) as the last line.

Support users and superusers (``tenants_for(user) is None``) see everything.
``portal.checks`` fails ``manage.py check`` (and the test suite) when a registered model
with a path to Tenant has an admin that is not a TenantScopedAdmin.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.filters import (
    AllValuesFieldListFilter,
    RelatedFieldListFilter,
    RelatedOnlyFieldListFilter,
    SimpleListFilter,
)
from django.contrib.admin.utils import NotRelationField, get_fields_from_path, unquote
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import models
from django.http import Http404

from . import tenancy
from .admin_paging import BoundedCountPaginator
from .models import Tenant

NOT_YOUR_TENANT = "You can only create or move rows within your own tenant."


def tenant_path_of_model(model, admin_site=None):
    """The tenant path of ``model``: its registered TenantScopedAdmin's, else found by walking FKs."""
    site = admin_site or admin.site
    model_admin = site._registry.get(model)
    if isinstance(model_admin, TenantScopedAdmin):
        return model_admin.tenant_path
    return tenancy.find_tenant_path(model)


def scope_related(request, model, queryset, admin_site=None):
    """Limit ``queryset`` (rows of ``model``) to the request user's tenants, if the model is tenant-owned."""
    path = tenant_path_of_model(model, admin_site)
    if path is None:
        return queryset
    return tenancy.scope(queryset, request.user, path)


class AlwaysAppliesMixin:
    """A filter given a value always filters, and a value outside its choices matches nothing.

    Django's changelist drops a filter whose ``has_output()`` is false (a relation filter
    with a single choice, a simple filter with none) after taking its parameter out of the
    query: the list would show more rows than the filter says, and "select all" actions
    would reach them. Such a filter stays applied here; a value the user was not offered
    (another tenant's id) gives an empty list, never a wider one.
    """

    def has_output(self):
        return super().has_output() or bool(self.used_parameters)

    def offered_values(self):
        """The values this filter offered as strings; None when any value may be asked for."""
        return None

    def asked_values(self):
        return [str(v) for v in getattr(self, "lookup_val", None) or ()]

    def queryset(self, request, queryset):
        offered = self.offered_values()
        if offered is not None and any(value not in offered for value in self.asked_values()):
            return queryset.none()
        return super().queryset(request, queryset)


class ScopedRelatedFieldListFilter(AlwaysAppliesMixin, RelatedOnlyFieldListFilter):
    """Relation filter offering the user's own rows of the related model.

    A tenant-owned related model (a flow, a tenant) is read from its own small table, scoped to
    the user's tenants: "the flows present among a million audit entries" would be a DISTINCT
    over the whole list on every page. Other related models keep Django's "only those present
    in the (scoped) list", so a customer never sees, say, another tenant's users.
    """

    def field_choices(self, field, request, model_admin):
        related = field.related_model
        if tenant_path_of_model(related, model_admin.admin_site) is None:
            return super().field_choices(field, request, model_admin)
        ordering = self.field_admin_ordering(field, request, model_admin)
        if tenancy.tenants_for(request.user) is None:
            return field.get_choices(include_blank=False, ordering=ordering)
        own = scope_related(request, related, related._default_manager.all(), model_admin.admin_site).values("pk")
        return field.get_choices(include_blank=False, limit_choices_to={"pk__in": own}, ordering=ordering)

    def offered_values(self):
        return {str(pk) for pk, _ in self.lookup_choices}


RECENT_VALUES_WINDOW = 5000


class ScopedAllValuesFieldListFilter(AlwaysAppliesMixin, AllValuesFieldListFilter):
    """The values found in the newest ``RECENT_VALUES_WINDOW`` rows of the scoped list, also across relations.

    A DISTINCT over the whole list reads every row (a million audit entries: a second per
    page); the newest rows hold the values people filter on, and any other value can still
    be asked for in the address (the list stays scoped, so it can only match the user's own
    rows). The value asked for is always among the choices, so the filter shows as applied.
    """

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        newest = model_admin.get_queryset(request).values_list(field_path, flat=True)[:RECENT_VALUES_WINDOW]
        values = set(newest)
        shown = {str(v) for v in values}
        values |= {v for v in self.lookup_val or () if v not in shown}
        self.lookup_choices = sorted(values, key=lambda v: (v is None, str(v)))

    def offered_values(self):
        return None  # an older value is a fair question; the scoped list answers it with the user's rows only


class ScopedSimpleListFilterMixin(AlwaysAppliesMixin):
    def offered_values(self):
        return {str(value) for value, _ in self.lookup_choices}

    def asked_values(self):
        return [] if self.value() is None else [str(self.value())]


_simple_filters = {}


def _always_applied_simple_filter(cls):
    """``cls`` (a project's SimpleListFilter) with the always-applies behaviour, made once per class."""
    if issubclass(cls, AlwaysAppliesMixin):
        return cls
    if cls not in _simple_filters:
        _simple_filters[cls] = type(cls.__name__, (ScopedSimpleListFilterMixin, cls), {"__module__": cls.__module__})
    return _simple_filters[cls]


def _scoped_filter_for(model, item):
    """Replace a plain or known filter spec with its tenant-safe equivalent."""
    if isinstance(item, str):
        name, cls = item, None
    elif isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str):
        name, cls = item
    elif isinstance(item, type) and issubclass(item, SimpleListFilter):
        return _always_applied_simple_filter(item)  # its author scopes its lookups; a value stays applied
    else:
        return item
    try:
        field = get_fields_from_path(model, name)[-1]
    except (FieldDoesNotExist, NotRelationField):
        return item
    if cls is None:
        if field.is_relation:
            return (name, ScopedRelatedFieldListFilter)
        if getattr(field, "flatchoices", None) or isinstance(field, (models.BooleanField, models.DateField)):
            return item  # static choices: nothing tenant-specific to leak
        return (name, ScopedAllValuesFieldListFilter)
    if issubclass(cls, RelatedFieldListFilter) and not issubclass(cls, RelatedOnlyFieldListFilter):
        return (name, ScopedRelatedFieldListFilter)
    if issubclass(cls, AllValuesFieldListFilter) and not issubclass(cls, ScopedAllValuesFieldListFilter):
        return (name, ScopedAllValuesFieldListFilter)
    return item


class TenantScopedAdmin(admin.ModelAdmin):
    #: lookup path from this model to portal.Tenant ("pk" when the model is Tenant)
    tenant_path = "tenant"
    #: customers may at most view rows (add/change/delete stay with support)
    customer_read_only = False
    #: fields never shown to customer users (e.g. credentials)
    customer_exclude: tuple[str, ...] = ()
    #: columns the list never shows (big JSON): not read for a changelist page
    list_defer: tuple[str, ...] = ()
    paginator = BoundedCountPaginator

    # -- who -----------------------------------------------------------------
    def tenant_ids(self, request):
        return tenancy.tenants_for(request.user)

    def is_support(self, request):
        return self.tenant_ids(request) is None

    # -- reading -------------------------------------------------------------
    def get_queryset(self, request):
        return tenancy.scope(super().get_queryset(request), request.user, self.tenant_path)

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        # The changelist's rows need no more than the list's columns (the history view pages log entries here too).
        if self.list_defer and getattr(queryset, "model", None) is self.model:
            queryset = queryset.defer(*self.list_defer)
        return super().get_paginator(request, queryset, per_page, orphans, allow_empty_first_page)

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return tenancy.scope(queryset, request.user, self.tenant_path), may_have_duplicates

    def get_list_filter(self, request):
        return [_scoped_filter_for(self.model, item) for item in super().get_list_filter(request)]

    def _require_in_scope(self, request, object_id):
        if object_id is not None and self.get_object(request, unquote(object_id)) is None:
            raise Http404(f"No {self.opts.verbose_name} matches the given query.")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        self._require_in_scope(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        self._require_in_scope(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        self._require_in_scope(request, object_id)
        return super().delete_view(request, object_id, extra_context)

    # -- permissions -----------------------------------------------------------
    def has_add_permission(self, request, *args):
        if self.customer_read_only and not self.is_support(request):
            return False
        return super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        if self.customer_read_only and not self.is_support(request):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if self.customer_read_only and not self.is_support(request):
            return False
        return super().has_delete_permission(request, obj)

    # -- forms -----------------------------------------------------------------
    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or ())
        if not self.is_support(request):
            exclude += [f for f in self.customer_exclude if f not in exclude]
        return exclude or None

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if self.is_support(request) or not self.customer_exclude:
            return fieldsets
        hidden = set(self.customer_exclude)
        return [(name, {**opts, "fields": _drop(opts.get("fields", ()), hidden)}) for name, opts in fieldsets]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not self.is_support(request):
            fields = [f for f in fields if f not in self.customer_exclude]
        return fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is None or not hasattr(field, "queryset") or self.is_support(request):
            return field
        field.queryset = scope_related(request, db_field.related_model, field.queryset, self.admin_site)
        if db_field.related_model is Tenant:
            only = tenancy.single_tenant(request.user)
            if only is not None:
                field.initial = only.pk
                field.empty_label = None
                field.disabled = True
                field.help_text = "Your tenant."
        return field

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is None or not hasattr(field, "queryset") or self.is_support(request):
            return field
        field.queryset = scope_related(request, db_field.related_model, field.queryset, self.admin_site)
        return field

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        allowed = self.tenant_ids(request)
        if allowed is None:
            return form
        path = self.tenant_path
        first = path.split("__")[0] if path not in ("pk", "id", "") else None

        class TenantGuardForm(form):
            def _post_clean(self):
                super()._post_clean()
                if path in ("pk", "id", "") and self.instance._state.adding:
                    self.add_error(None, NOT_YOUR_TENANT)
                    return
                try:
                    tenant_id = tenancy.tenant_id_of(self.instance, path)
                except Exception:  # an unset relation along the path: the field error says why
                    tenant_id = None
                if tenant_id is None:
                    if not self.errors:
                        self.add_error(first if first in self.fields else None, "Choose a row of your own tenant.")
                elif tenant_id not in allowed:
                    self.add_error(first if first in self.fields and not self.fields[first].disabled else None, NOT_YOUR_TENANT)

        TenantGuardForm.__name__ = form.__name__
        return TenantGuardForm

    def save_model(self, request, obj, form, change):
        self.assert_tenant_allowed(request, obj)
        super().save_model(request, obj, form, change)

    def delete_model(self, request, obj):
        self.assert_tenant_allowed(request, obj)
        super().delete_model(request, obj)

    def assert_tenant_allowed(self, request, obj):
        allowed = self.tenant_ids(request)
        if allowed is None:
            return
        if self.tenant_path in ("pk", "id", "") and obj._state.adding:
            raise PermissionDenied(NOT_YOUR_TENANT)
        if tenancy.tenant_id_of(obj, self.tenant_path) not in allowed:
            raise PermissionDenied(NOT_YOUR_TENANT)


class TenantScopedInlineMixin:
    """For inlines of tenant-owned rows: dropdowns and the inline's rows scoped like the parent admin."""

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        path = tenancy.find_tenant_path(self.model)
        return queryset if path is None else tenancy.scope(queryset, request.user, path)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset") and tenancy.tenants_for(request.user) is not None:
            field.queryset = scope_related(request, db_field.related_model, field.queryset, self.admin_site)
        return field

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset") and tenancy.tenants_for(request.user) is not None:
            field.queryset = scope_related(request, db_field.related_model, field.queryset, self.admin_site)
        return field


class TenantScopedTabularInline(TenantScopedInlineMixin, admin.TabularInline):
    pass


class TenantScopedStackedInline(TenantScopedInlineMixin, admin.StackedInline):
    pass


def _drop(fields, hidden):
    out = []
    for item in fields:
        if isinstance(item, (tuple, list)):
            kept = tuple(f for f in item if f not in hidden)
            if kept:
                out.append(kept)
        elif item not in hidden:
            out.append(item)
    return tuple(out)
