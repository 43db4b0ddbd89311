"""A scoped list filter always applies: a value outside the user's choices is an empty list (issue 9, point 7)."""

import pytest
from django.contrib import admin
from django.test import RequestFactory

from integrations.models import Batch, BatchState
from portal.admin_scoping import TenantScopedAdmin
from tests import factories

pytestmark = pytest.mark.django_db

URL = "/integrations/batch/"


@pytest.fixture
def rows(tenant, other_tenant):
    mine = factories.make_flow(tenant)
    theirs = factories.make_flow(other_tenant)
    for _ in range(3):
        factories.make_batch(tenant, flow=mine, error_code="MAP-UNMAPPED-CATEGORY")
    factories.make_batch(other_tenant, flow=theirs, error_code="JDE-REJECTED")
    return mine, theirs


def listed(client, query):
    response = client.get(URL + query)
    assert response.status_code == 200
    return {b.pk for b in response.context["cl"].result_list}


@pytest.mark.parametrize("param", ["flow__id__exact", "flow__tenant__id__exact"])
def test_a_single_choice_filter_with_another_tenants_value_lists_nothing(customer_client, rows, other_tenant, param):
    mine, theirs = rows
    value = theirs.pk if param.startswith("flow__id") else other_tenant.pk
    assert listed(customer_client, "") == set(Batch.objects.filter(flow=mine).values_list("pk", flat=True))
    assert listed(customer_client, f"?{param}={value}") == set()


def test_a_single_choice_filter_with_the_users_value_still_filters(customer_client, rows, tenant):
    mine, _ = rows
    other_flow_same_tenant = factories.make_flow(tenant)
    factories.make_batch(tenant, flow=other_flow_same_tenant)
    expected = set(Batch.objects.filter(flow=mine).values_list("pk", flat=True))
    assert listed(customer_client, f"?flow__id__exact={mine.pk}") == expected


def test_a_free_value_filter_outside_the_choices_lists_nothing(customer_client, rows):
    assert listed(customer_client, "?error_code=JDE-REJECTED") == set()
    assert len(listed(customer_client, "?error_code=MAP-UNMAPPED-CATEGORY")) == 3


def test_select_all_actions_reach_only_the_filtered_rows(customer_client, rows):
    mine, theirs = rows
    page = listed(customer_client, f"?flow__id__exact={theirs.pk}")  # what the browser would tick: nothing
    customer_client.post(URL + f"?flow__id__exact={theirs.pk}",
                         {"action": "skip", "select_across": "1", "index": "0", "_selected_action": list(page) or ["0"]})
    assert set(Batch.objects.filter(flow=mine).values_list("state", flat=True)) == {BatchState.HELD}


class OnlyNamed(admin.SimpleListFilter):
    title = "named"
    parameter_name = "named"

    def lookups(self, request, model_admin):
        return [("held", "held")]

    def queryset(self, request, queryset):  # the usual pattern: an unknown value returns everything
        return queryset.filter(state=BatchState.HELD) if self.value() == "held" else queryset


def test_a_projects_simple_filter_with_an_unknown_value_lists_nothing(rows, customer_user, tenant):
    site = admin.AdminSite()

    class BatchAdmin(TenantScopedAdmin):
        tenant_path = "flow__tenant"
        list_filter = [OnlyNamed]

    model_admin = BatchAdmin(Batch, site)
    request = RequestFactory().get("/", {"named": "someone-elses"})
    request.user = customer_user
    changelist = model_admin.get_changelist_instance(request)
    assert list(changelist.get_queryset(request)) == []
    request = RequestFactory().get("/", {"named": "held"})
    request.user = customer_user
    assert model_admin.get_changelist_instance(request).get_queryset(request).count() == 3
