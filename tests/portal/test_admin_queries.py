"""Changelists cost the same number of queries for 1 row as for 6 (no N+1), for every tenant-owned admin."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import FACTORIES
from tests.portal.test_tenant_scoping import TENANT_MODELS, grant_all, label, url


def queries(client, path):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path).status_code == 200
    return len(ctx)


@pytest.mark.parametrize("role", ["support", "customer"])
@pytest.mark.parametrize("model", TENANT_MODELS, ids=label)
def test_changelist_query_count_does_not_grow_with_rows(client, tenant, support_user, customer_user, model, role):
    user = support_user if role == "support" else grant_all(customer_user, model)
    client.force_login(user)
    make = FACTORIES[model]
    if model._meta.label != "portal.Tenant":
        make(tenant)
    path = url(model, "changelist")
    queries(client, path)  # warm caches (content types, sessions)
    few = queries(client, path)
    for _ in range(5):
        make(tenant) if model._meta.label != "portal.Tenant" else None
    if model._meta.label == "portal.Tenant":
        from tests.factories import make_membership, make_tenant

        for _ in range(5):
            make_membership(make_tenant(), user=user)
    many = queries(client, path)
    assert many == few, f"{label(model)} changelist: {few} queries for one row, {many} for six"
