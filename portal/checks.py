"""System check: every registered model that belongs to a tenant has a TenantScopedAdmin.

Runs with ``manage.py check`` (and so at ``runserver``/``migrate``) and in the test suite,
so a new model whose admin forgets the mixin fails loudly instead of leaking rows.
"""

from django.core import checks


def scoped_admin_errors(admin_site=None):
    from django.contrib import admin

    from . import tenancy
    from .admin_scoping import TenantScopedAdmin, TenantScopedInlineMixin

    site = admin_site or admin.site
    errors = []
    for model, model_admin in site._registry.items():
        label = model._meta.label
        for inline in model_admin.inlines:
            if tenancy.find_tenant_path(inline.model) is not None and not issubclass(inline, TenantScopedInlineMixin):
                errors.append(
                    checks.Error(
                        f"{label}: inline {inline.__name__} shows tenant-owned {inline.model._meta.label} rows "
                        "but is not a TenantScopedInlineMixin: its dropdowns would list every tenant's rows.",
                        hint="Use portal.admin_scoping.TenantScopedTabularInline or TenantScopedStackedInline.",
                        obj=inline,
                        id="portal.E003",
                    )
                )
        if isinstance(model_admin, TenantScopedAdmin):
            problem = tenancy.validate_tenant_path(model, model_admin.tenant_path)
            if problem:
                errors.append(checks.Error(problem, obj=type(model_admin), id="portal.E002"))
            continue
        path = tenancy.find_tenant_path(model)
        if path is not None:
            errors.append(
                checks.Error(
                    f"{label} belongs to a tenant (via {path!r}) but its admin {type(model_admin).__name__} "
                    "is not a TenantScopedAdmin: customer users would see every tenant's rows.",
                    hint="Subclass portal.admin_scoping.TenantScopedAdmin and set tenant_path.",
                    obj=type(model_admin),
                    id="portal.E001",
                )
            )
    return errors


@checks.register(checks.Tags.admin)
def check_tenant_scoped_admins(app_configs=None, **kwargs):
    return scoped_admin_errors()
