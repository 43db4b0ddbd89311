"""Tenant scoping, proved for every model in the admin registry and both roles.

Built from ``admin.site._registry`` and ``tests.factories.FACTORIES``: a model registered
later is covered automatically, and a tenant-owned model without a factory, or with an
admin that is not a ``TenantScopedAdmin``, fails here.

For each tenant-owned model, the customer user is granted every permission on it (view,
add, change, delete) so the test proves the scoping itself, not the group's permissions.
"""

import json

import pytest
from django.contrib import admin
from django.contrib.admin.filters import AllValuesFieldListFilter, RelatedFieldListFilter
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import models
from django.forms import ModelChoiceField, ModelMultipleChoiceField
from django.test import RequestFactory
from django.urls import reverse

from portal import tenancy
from portal.admin_scoping import TenantScopedAdmin, tenant_path_of_model
from portal.checks import scoped_admin_errors
from portal.models import Tenant
from tests.factories import FACTORIES

REGISTRY = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)
TENANT_MODELS = [model for model, _ in REGISTRY if tenancy.find_tenant_path(model)]
OTHER_MODELS = [model for model, _ in REGISTRY if not tenancy.find_tenant_path(model)]
ROLES = ["support", "customer"]


def label(model):
    return model._meta.label


def url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def tenant_of(model, obj):
    return tenancy.tenant_id_of(obj, tenant_path_of_model(model))


def grant_all(user, model):
    ct = ContentType.objects.get_for_model(model)
    user.user_permissions.add(*Permission.objects.filter(content_type=ct))
    # a fresh user object: Django caches permissions per instance
    return type(user).objects.get(pk=user.pk)


def request_for(user, path="/"):
    request = RequestFactory().get(path)
    request.user = user
    return request


@pytest.fixture
def scoped(tenant, other_tenant, customer_user, support_user, client):
    """Build own/other rows of ``model`` and a logged-in client for ``role``."""

    def build(model, role):
        make = FACTORIES[model]
        own, other = make(tenant), make(other_tenant)
        user = customer_user if role == "customer" else support_user
        if role == "customer":
            user = grant_all(user, model)
        client.force_login(user)
        return own, other, user, client

    return build


# -- structure ---------------------------------------------------------------------------


def test_registry_has_tenant_models():
    # The scoping test must never pass by covering nothing.
    names = {label(m) for m in TENANT_MODELS}
    assert {
        "portal.Tenant",
        "portal.Membership",
        "integrations.Connection",
        "integrations.Flow",
        "integrations.Batch",
        "integrations.SyncCycle",
        "audit.AuditEntry",
    } <= names


def test_every_tenant_model_admin_is_tenant_scoped():
    assert scoped_admin_errors() == []
    for model in TENANT_MODELS:
        assert isinstance(admin.site._registry[model], TenantScopedAdmin), label(model)


def test_every_tenant_model_has_a_factory():
    missing = [label(m) for m in TENANT_MODELS if m not in FACTORIES]
    assert not missing, f"add a factory for {missing} to tests/factories.py (see its docstring)"


def test_check_flags_an_unscoped_admin():
    site = admin.AdminSite(name="probe")
    site.register(Tenant, admin.ModelAdmin)
    errors = scoped_admin_errors(site)
    assert [e.id for e in errors] == ["portal.E001"]
    assert "portal.Tenant" in errors[0].msg


def test_check_flags_an_unscoped_inline():
    from portal.models import Membership

    class PlainInline(admin.TabularInline):
        model = Membership

    class ScopedTenantAdmin(TenantScopedAdmin):
        tenant_path = "pk"
        inlines = [PlainInline]

    site = admin.AdminSite(name="probe3")
    site.register(Tenant, ScopedTenantAdmin)
    assert [e.id for e in scoped_admin_errors(site)] == ["portal.E003"]


def test_check_flags_a_wrong_tenant_path():
    from integrations.models import Batch

    site = admin.AdminSite(name="probe2")
    site.register(Batch, TenantScopedAdmin)  # tenant_path defaults to "tenant": Batch has none
    assert [e.id for e in scoped_admin_errors(site)] == ["portal.E002"]


# -- every tenant-owned model x both roles ----------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("model", TENANT_MODELS, ids=label)
def test_changelist(scoped, model, role):
    own, other, user, client = scoped(model, role)
    response = client.get(url(model, "changelist"))
    assert response.status_code == 200
    shown = {obj.pk for obj in response.context["cl"].queryset}
    assert own.pk in shown
    assert (other.pk in shown) is (role == "support")
    if role == "customer":
        allowed = tenancy.tenants_for(user)
        assert all(tenant_of(model, obj) in allowed for obj in response.context["cl"].queryset)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("model", TENANT_MODELS, ids=label)
def test_change_view_of_other_tenant_is_404(scoped, model, role):
    own, other, user, client = scoped(model, role)
    assert client.get(url(model, "change", own.pk)).status_code == 200
    expected = 200 if role == "support" else 404
    assert client.get(url(model, "change", other.pk)).status_code == expected
    assert client.get(url(model, "history", other.pk)).status_code == expected
    assert client.get(url(model, "delete", other.pk)).status_code in ((expected, 403) if role == "support" else (404,))
    if role == "customer":
        assert client.post(url(model, "delete", other.pk), {"post": "yes"}).status_code == 404
        assert type(other).objects.filter(pk=other.pk).exists()


def _model_choice_fields(form):
    for name, field in form.fields.items():
        if isinstance(field, (ModelChoiceField, ModelMultipleChoiceField)):
            yield name, field


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("model", TENANT_MODELS, ids=label)
def test_foreign_key_dropdowns(scoped, model, role):
    own, other, user, client = scoped(model, role)
    model_admin = admin.site._registry[model]
    request = request_for(user)
    forms_seen = []
    if model_admin.has_add_permission(request):
        response = client.get(url(model, "add"), {"system": "expensify"})
        assert response.status_code == 200
        forms_seen.append(response.context["adminform"].form)
    if model_admin.has_change_permission(request, own):
        response = client.get(url(model, "change", own.pk))
        forms_seen.append(response.context["adminform"].form)
    allowed = tenancy.tenants_for(user)
    for form in forms_seen:
        for name, field in _model_choice_fields(form):
            related = field.queryset.model
            if tenancy.find_tenant_path(related) is None:
                continue
            tenants = {tenant_of(related, obj) for obj in field.queryset}
            if role == "customer":
                assert tenants <= allowed, f"{label(model)}.{name} offers another tenant's rows"
            else:
                everywhere = {tenant_of(related, obj) for obj in related._default_manager.all()}
                assert tenants == everywhere, f"{label(model)}.{name}: support sees every tenant's rows"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("model", TENANT_MODELS, ids=label)
def test_list_filter_choices(scoped, model, role):
    own, other, user, client = scoped(model, role)
    response = client.get(url(model, "changelist"))
    allowed = tenancy.tenants_for(user)
    scoped_rows = tenancy.scope(model._default_manager.all(), user, tenant_path_of_model(model))
    for spec in response.context["cl"].filter_specs:
        if isinstance(spec, RelatedFieldListFilter):
            related = spec.field.related_model
            if tenancy.find_tenant_path(related) is None:
                continue
            pks = [pk for pk, _ in spec.lookup_choices]
            tenants = {tenant_of(related, obj) for obj in related._default_manager.filter(pk__in=pks)}
            if role == "customer":
                assert tenants <= allowed, f"{label(model)} filter {spec.field_path} lists another tenant's rows"
            else:
                assert len(tenants) == 2, f"{label(model)} filter {spec.field_path}: support sees both tenants"
        elif isinstance(spec, AllValuesFieldListFilter) and role == "customer":
            values = set(spec.lookup_choices)
            assert values <= set(scoped_rows.values_list(spec.field_path, flat=True))


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("model", TENANT_MODELS, ids=label)
def test_search_results_and_export(scoped, model, role):
    own, other, user, client = scoped(model, role)
    model_admin = admin.site._registry[model]
    request = request_for(user)
    qs, _ = model_admin.get_search_results(request, model._default_manager.all(), "")
    pks = set(qs.values_list("pk", flat=True))
    assert own.pk in pks
    assert (other.pk in pks) is (role == "support")
    if hasattr(model_admin, "get_export_queryset"):
        request = request_for(user, url(model, "changelist"))
        exported = set(model_admin.get_export_queryset(request).values_list("pk", flat=True))
        assert own.pk in exported
        assert (other.pk in exported) is (role == "support")


def _autocomplete_sources(target):
    """(source model, field name) pairs in the registry whose FK points at ``target``."""
    for model, _ in REGISTRY:
        for field in model._meta.get_fields():
            if field.is_relation and field.concrete and field.many_to_one and field.related_model is target:
                yield model, field.name


# Models that can be an autocomplete target: searchable and pointed at by a registered model.
AUTOCOMPLETE_TARGETS = [m for m in TENANT_MODELS if admin.site._registry[m].search_fields and any(_autocomplete_sources(m))]


def test_autocomplete_is_exercised():
    assert {"portal.Tenant", "integrations.Connection", "integrations.Flow"} <= {label(m) for m in AUTOCOMPLETE_TARGETS}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("model", AUTOCOMPLETE_TARGETS, ids=label)
def test_autocomplete(scoped, model, role):
    own, other, user, client = scoped(model, role)
    for source, field_name in _autocomplete_sources(model):
        response = client.get(
            reverse("admin:autocomplete"),
            {"app_label": source._meta.app_label, "model_name": source._meta.model_name, "field_name": field_name, "term": ""},
        )
        assert response.status_code == 200, (label(source), field_name)
        ids = {r["id"] for r in json.loads(response.content)["results"]}
        assert str(own.pk) in ids
        assert (str(other.pk) in ids) is (role == "support")


@pytest.mark.parametrize("model", TENANT_MODELS, ids=label)
def test_customer_cannot_create_or_move_rows_into_another_tenant(scoped, model, other_tenant):
    own, other, user, client = scoped(model, "customer")
    model_admin = admin.site._registry[model]
    request = request_for(user)
    before = _rows_of_tenant(model, other_tenant.pk)

    # last line of defence, whatever the form did
    with pytest.raises(PermissionDenied):
        model_admin.save_model(request, other, None, True)

    if model_admin.has_add_permission(request):
        response = client.post(url(model, "add") + "?system=expensify", _post_data(model_admin, request, other, client, "add"))
        assert response.status_code == 200, "the add form must be refused"
        assert response.context["adminform"].form.errors
    if model_admin.has_change_permission(request, own):
        response = client.post(url(model, "change", own.pk), _post_data(model_admin, request, other, client, "change", own))
        own.refresh_from_db()
        assert tenant_of(model, own) in tenancy.tenants_for(user)
    assert _rows_of_tenant(model, other_tenant.pk) == before


def _rows_of_tenant(model, tenant_id):
    path = tenant_path_of_model(model)
    return sorted(model._default_manager.filter(**{tenancy.lookup(path): [tenant_id]}).values_list("pk", flat=True))


def _post_data(model_admin, request, template_obj, client, view, own=None):
    """POST data for the admin form, filled from another tenant's row (``template_obj``)."""
    page = client.get(url(model_admin.model, view, *([own.pk] if own else [])) + ("?system=expensify" if view == "add" else ""))
    form = page.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = _value_of(template_obj, name, field)
        if value is None:
            continue
        data[name] = value
    for formset in page.context.get("inline_admin_formsets", []):
        mgmt = formset.formset.management_form
        for key in ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS"):
            data[f"{mgmt.prefix}-{key}"] = mgmt.initial.get(key, 0) if key != "TOTAL_FORMS" else 0
        data[f"{mgmt.prefix}-INITIAL_FORMS"] = 0
    return data


def _value_of(obj, name, field):
    try:
        model_field = obj._meta.get_field(name)
    except Exception:
        return None
    if isinstance(model_field, models.ForeignKey):
        return getattr(obj, model_field.attname) or ""
    if isinstance(model_field, models.ManyToManyField):
        return [o.pk for o in getattr(obj, name).all()]
    value = getattr(obj, name)
    if isinstance(model_field, models.BooleanField):
        return "on" if value else None
    if isinstance(model_field, models.JSONField):
        return json.dumps(value)
    return "" if value is None else value


# -- models outside any tenant: support only ---------------------------------------------------


@pytest.mark.parametrize("model", OTHER_MODELS, ids=label)
def test_models_outside_tenants_are_closed_to_customers(customer_client, support_client, model):
    assert customer_client.get(url(model, "changelist")).status_code == 403
    model_admin = admin.site._registry[model]
    support_user = support_client.get(reverse("admin:index")).wsgi_request.user
    if model_admin.has_view_permission(request_for(support_user)):
        assert support_client.get(url(model, "changelist")).status_code == 200
