"""The indexes added for a year of data serve the queries they were made for (PostgreSQL's plans).

Sequential scans (and, for filters, plain index scans) are switched off for the test's
transaction: a condition an index can serve then shows that index in its plan, one no index can
serve still shows a Seq Scan. So a migration whose index expression does not match the ORM's SQL
(``->`` where the ORM writes ``->>``) fails here, whatever the table's size.
"""

import pytest
from django.contrib import admin
from django.db import connection
from django.test import RequestFactory

from audit.models import AuditEntry
from integrations.models import Batch, SyncCycle
from integrations.scale import measure
from integrations.scale.history import Plan, seed

pytestmark = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="PostgreSQL plans")


def plan_of(queryset, bitmap_only=True):
    """The plan of ``queryset``; ``bitmap_only``: an index may serve its conditions only (not an ordered walk)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        if bitmap_only:
            cursor.execute("SET LOCAL enable_indexscan = off")
            cursor.execute("SET LOCAL enable_indexonlyscan = off")
        else:
            cursor.execute("SET LOCAL enable_sort = off")  # an ordered query: its order from an index
    return queryset.explain()


@pytest.fixture
def year(db):
    seed(Plan(tenants=2, batches=60, audit=120, cycles=60, rules=3))
    return measure.users()


def search(model, user, term):
    request = RequestFactory().get("/", {"q": term})
    request.user = user
    model_admin = admin.site._registry[model]
    return model_admin.get_search_results(request, model_admin.get_queryset(request), term)[0]


def test_batch_search_uses_the_trigram_indexes(year):
    # (support's search: the whole table; a customer's adds the tenant's rows, which the planner may read first)
    accounts, _ = year
    plan = plan_of(search(Batch, accounts["support"], "R12").order_by())
    assert "Seq Scan on integrations_batch" not in plan, plan
    for name in ("batch_source_id_trgm", "batch_external_ref_trgm", "batch_target_document_id_trgm", "batch_posting_target_trgm"):
        assert name in plan, plan


def test_audit_search_uses_indexes(year):
    accounts, _ = year
    plan = plan_of(search(AuditEntry, accounts["support"], "R12").order_by())
    assert "Seq Scan on audit_auditentry" not in plan, plan
    assert "audit_source_ref_trgm" in plan and "audit_target_ref_trgm" in plan, plan


def test_a_flows_last_cycle_is_read_from_its_index(year):
    flow = SyncCycle.objects.values_list("flow_id", flat=True).first()
    plan = plan_of(SyncCycle.objects.filter(flow_id=flow).order_by("-started_at")[:1], bitmap_only=False)  # dashboard
    assert "cycle_flow_latest_idx" in plan and "Sort" not in plan, plan


def test_the_dashboards_posted_window_is_read_from_its_index(year):
    from datetime import timedelta

    from django.utils import timezone

    plan = plan_of(Batch.objects.filter(posted_at__gte=timezone.now() - timedelta(days=28)))  # the dashboard's window
    assert "batch_posted_at_idx" in plan, plan
