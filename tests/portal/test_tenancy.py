"""Who sees which tenant; role groups; tenant pre-set for single-tenant customers."""

import pytest
from django.contrib.auth.models import Group, Permission

from integrations.models import Flow
from portal import roles, tenancy
from portal.models import Membership
from tests.factories import make_connection, make_flow, make_tenant, make_user

pytestmark = pytest.mark.django_db


def fresh(user):
    return type(user).objects.get(pk=user.pk)


def test_tenants_for(customer_user, support_user, superuser, tenant, other_tenant, make_customer):
    assert tenancy.tenants_for(customer_user) == {tenant.pk}
    assert tenancy.tenants_for(support_user) is None
    assert tenancy.tenants_for(superuser) is None
    both = make_customer(tenant, other_tenant)
    assert tenancy.tenants_for(both) == {tenant.pk, other_tenant.pk}
    assert tenancy.tenants_for(make_user(is_staff=True)) == frozenset()
    from django.contrib.auth.models import AnonymousUser

    assert tenancy.tenants_for(AnonymousUser()) == frozenset()
    assert tenancy.tenants_for(None) == frozenset()


def test_inactive_user_sees_nothing(support_user):
    support_user.is_active = False
    assert tenancy.tenants_for(support_user) == frozenset()


def test_scope(customer_user, support_user, tenant, other_tenant):
    mine, theirs = make_flow(tenant), make_flow(other_tenant)
    assert list(tenancy.scope(Flow.objects.all(), customer_user, "tenant")) == [mine]
    assert set(tenancy.scope(Flow.objects.all(), support_user, "tenant")) == {mine, theirs}
    assert list(tenancy.scope(Flow.objects.all(), make_user(), "tenant")) == []


def test_find_tenant_path():
    from audit.models import AuditEntry
    from integrations.models import Batch, Connection, SyncCycle
    from portal.models import Tenant

    assert tenancy.find_tenant_path(Tenant) == "pk"
    assert tenancy.find_tenant_path(Connection) == "tenant"
    assert tenancy.find_tenant_path(Batch) == "flow__tenant"
    assert tenancy.find_tenant_path(SyncCycle) == "flow__tenant"
    assert tenancy.find_tenant_path(AuditEntry) == "tenant"
    assert tenancy.find_tenant_path(Group) is None
    assert tenancy.find_tenant_path(Permission) is None


def test_membership_puts_the_user_in_the_role_group(role_groups, tenant):
    user = make_user()
    membership = Membership.objects.create(user=user, tenant=tenant, role=Membership.CUSTOMER)
    user = fresh(user)
    assert user.is_staff
    assert list(user.groups.values_list("name", flat=True)) == ["customer"]
    membership.role = Membership.SUPPORT
    membership.save()
    assert list(fresh(user).groups.values_list("name", flat=True)) == ["support"]
    membership.delete()
    assert not fresh(user).groups.exists()


def perms(group_name):
    group = Group.objects.get(name=group_name)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


def test_customer_group_permissions(role_groups):
    granted = perms("customer")
    assert {
        "integrations.view_batch",
        "integrations.change_batch",
        "integrations.view_flow",
        "integrations.view_synccycle",
        "audit.view_auditentry",
        "mappings.view_mappingrule",
        "mappings.change_mappingrule",
        "mappings.add_mappingrule",
    } <= granted
    forbidden = {
        "integrations.change_flow",
        "integrations.add_flow",
        "integrations.delete_batch",
        "integrations.add_connection",
        "integrations.change_connection",
        "audit.change_auditentry",
        "audit.delete_auditentry",
        "portal.add_tenant",
        "portal.change_tenant",
        "portal.view_membership",
        "auth.view_user",
        "django_q.view_schedule",
    }
    assert granted & forbidden == set()


def test_support_group_permissions(role_groups):
    granted = perms("support")
    assert {
        "integrations.change_connection",
        "integrations.change_flow",
        "integrations.change_batch",
        "portal.add_tenant",
        "portal.change_membership",
        "audit.view_auditentry",
        "django_q.view_schedule",
        "auth.add_user",
    } <= granted
    assert {"audit.change_auditentry", "audit.delete_auditentry", "audit.add_auditentry"} & granted == set()


def test_ensure_groups_is_idempotent(role_groups):
    before = perms("customer")
    roles.ensure_groups()
    assert perms("customer") == before and Group.objects.filter(name="customer").count() == 1


def grant(user, *codenames):
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return fresh(user)


def test_single_tenant_customer_gets_the_tenant_preset(client, customer_user, tenant, other_tenant):
    user = grant(customer_user, "add_flow", "view_flow")
    client.force_login(user)
    form = client.get("/integrations/flow/add/").context["adminform"].form
    assert form.fields["tenant"].disabled and form.fields["tenant"].initial == tenant.pk
    source, target = make_connection(tenant, "expensify"), make_connection(tenant, "jde")
    data = {
        "tenant": other_tenant.pk,
        "name": "Mine",
        "kind": "expensify_to_jde",
        "source": source.pk,
        "target": target.pk,
        "enabled": "on",
        "schedule_type": "interval",
        "interval_minutes": 60,
        "cron": "",
        "options": "{}",
        "cursor": "{}",
    }
    response = client.post("/integrations/flow/add/", data)
    assert response.status_code == 302
    assert Flow.objects.get(name="Mine").tenant == tenant  # the posted tenant was ignored


def test_multi_tenant_customer_chooses_among_own_tenants_only(client, make_customer, tenant, other_tenant):
    third = make_tenant("initech")
    user = grant(make_customer(tenant, other_tenant), "add_flow", "view_flow")
    client.force_login(user)
    form = client.get("/integrations/flow/add/").context["adminform"].form
    assert not form.fields["tenant"].disabled
    assert set(form.fields["tenant"].queryset) == {tenant, other_tenant}
    source, target = make_connection(third, "expensify"), make_connection(third, "jde")
    data = {
        "tenant": third.pk,
        "name": "Theirs",
        "kind": "expensify_to_jde",
        "source": source.pk,
        "target": target.pk,
        "enabled": "on",
        "schedule_type": "interval",
        "interval_minutes": 60,
        "cron": "",
        "options": "{}",
        "cursor": "{}",
    }
    response = client.post("/integrations/flow/add/", data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert {"tenant", "source", "target"} <= set(errors)
    assert not Flow.objects.filter(name="Theirs").exists()


def test_customer_cannot_move_own_row_to_another_of_their_tenants_connections(client, make_customer, tenant, other_tenant):
    # even within their own tenants, the flow's connections must belong to the flow's tenant (model rule)
    user = grant(make_customer(tenant, other_tenant), "change_flow", "view_flow")
    client.force_login(user)
    flow = make_flow(tenant)
    theirs = make_connection(other_tenant, "jde")
    data = {
        "tenant": tenant.pk,
        "name": flow.name,
        "kind": flow.kind,
        "source": flow.source_id,
        "target": theirs.pk,
        "enabled": "on",
        "schedule_type": "interval",
        "interval_minutes": 60,
        "cron": "",
        "options": "{}",
        "cursor": "{}",
    }
    response = client.post(f"/integrations/flow/{flow.pk}/change/", data)
    assert "belongs to another tenant" in response.context["adminform"].form.errors["target"][0]


def test_customer_without_membership_sees_no_rows(client, tenant, role_groups):
    make_flow(tenant)
    user = make_user(is_staff=True)
    user.groups.add(Group.objects.get(name="customer"))
    client.force_login(user)
    response = client.get("/integrations/flow/")
    assert response.status_code == 200 and response.context["cl"].result_count == 0


def test_customer_admin_index_lists_only_what_they_may_use(customer_client):
    html = customer_client.get("/").content.decode()
    assert "Batches" in html and "Flows" in html and "Audit entries" in html
    assert "Memberships" not in html and "Users" not in html and "Scheduled tasks" not in html


def test_scoped_inline_limits_rows_and_dropdowns(customer_user, support_user, tenant, other_tenant):
    from django.contrib import admin
    from django.test import RequestFactory

    from portal.admin import MembershipInline
    from portal.models import Tenant

    Membership.objects.create(user=make_user(), tenant=other_tenant)
    inline = MembershipInline(Tenant, admin.site)
    customer_user = grant(customer_user, "view_membership")  # the inline shows rows only to those who may view them
    for user, tenants in ((customer_user, {tenant}), (support_user, {tenant, other_tenant})):
        request = RequestFactory().get("/")
        request.user = fresh(user)
        field = inline.formfield_for_foreignkey(Membership._meta.get_field("tenant"), request)
        assert set(field.queryset) == tenants
        assert {m.tenant for m in inline.get_queryset(request)} == tenants
