"""A year of data in the admin (issue 15, point 3), in small: every list and the dashboard cost
at most 12 queries for both roles, the same number at ten times the rows, and no query on a list
page reads a whole big table (no full COUNT, no DISTINCT over it, no date-hierarchy scan).

The volumes come from the seeder the full-size measurement uses (``manage.py seed_history``);
the pages and users from ``manage.py measure_admin``.
"""

import re

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from integrations.models import Batch
from integrations.scale import measure
from integrations.scale.history import Plan, seed
from portal import admin_scoping

MAX_QUERIES = 12
BIG_TABLES = ("integrations_batch", "audit_auditentry", "integrations_synccycle")


def grow(batches):
    # tenants 3, five flows each; audit five per batch; deep pages exist from 101 rows (page 2 here, 50 at full size)
    seed(Plan(tenants=3, batches=batches, audit=batches * 5, cycles=batches, rules=batches // 10))


def capture(deep_page):
    """{(page, role): [sql, ...]} for every measured page."""
    accounts, tenant = measure.users()
    seen = {}
    for role in measure.ROLES:
        client = Client()
        client.force_login(accounts[role])
        for name, path in measure.pages(tenant, deep_page=deep_page):
            client.get(path)  # warm the per-process caches (content types, templates)
            with CaptureQueriesContext(connection) as ctx:
                response = client.get(path)
            assert response.status_code == 200, (name, role, response.status_code)
            seen[(name, role)] = [q["sql"] for q in ctx.captured_queries]
    return seen


def test_every_page_is_bounded_flat_and_reads_no_whole_table(db):
    grow(120)
    small = capture(deep_page=2)
    grow(1080)
    assert Batch.objects.count() == 1200
    large = capture(deep_page=2)
    assert len(small) == 2 * 12  # every page, both roles: the test covers what the command measures
    for key, queries in large.items():
        assert len(queries) <= MAX_QUERIES, (key, len(queries), queries)
        assert len(queries) == len(small[key]), f"{key}: {len(small[key])} queries at 120 batches, {len(queries)} at 1200"
        if key[0] == "dashboard":
            continue  # its aggregates are windowed or indexed: tests/ops/test_dashboard.py
        for sql in queries:
            assert whole_table_reads(sql) is None, (key, whole_table_reads(sql), sql[:300])


def whole_table_reads(sql):
    """Why ``sql`` reads a whole big table, or None."""
    for table in BIG_TABLES:
        if f'"{table}"' not in sql:
            continue
        if re.search(r"SELECT COUNT\(\*\) AS \"__count\" FROM \"" + table, sql) and "LIMIT" not in sql:
            return f"a full COUNT over {table}"
        if re.search(r"SELECT DISTINCT[^()]*FROM \"" + table, sql):
            return f"a DISTINCT over {table}"
        if "DATE_TRUNC" in sql.upper() or "django_datetime_trunc" in sql:
            return f"a date hierarchy over {table}"
    return None


def test_the_whole_table_check_is_live():
    assert whole_table_reads('SELECT COUNT(*) AS "__count" FROM "audit_auditentry"')
    assert whole_table_reads('SELECT DISTINCT "integrations_batch"."error_code" AS "error_code" FROM "integrations_batch"')
    assert whole_table_reads('SELECT COUNT(*) AS "__count" FROM (SELECT 1 FROM "audit_auditentry" LIMIT 10001) sub') is None


# -- list filters: the choices come from small tables or the newest rows -------------------------


def test_value_filter_offers_recent_values_and_still_finds_older_ones(db, monkeypatch):
    monkeypatch.setattr(admin_scoping, "RECENT_VALUES_WINDOW", 20)  # the customer's tenant has 40 batches
    grow(120)
    accounts, tenant = measure.users()
    oldest = Batch.objects.filter(flow__tenant=tenant).order_by("created_at").first()
    Batch.objects.filter(pk=oldest.pk).update(error_code="OLD-RARE-CODE")
    for role in measure.ROLES:
        client = Client()
        client.force_login(accounts[role])
        cl = client.get("/integrations/batch/").context["cl"]
        codes = next(spec for spec in cl.filter_specs if spec.field_path == "error_code").lookup_choices
        assert "OLD-RARE-CODE" not in codes  # outside the newest 20 rows
        response = client.get("/integrations/batch/", {"error_code": "OLD-RARE-CODE"})
        assert [b.pk for b in response.context["cl"].result_list] == [oldest.pk], role
        asked = next(s for s in response.context["cl"].filter_specs if s.field_path == "error_code")
        assert "OLD-RARE-CODE" in asked.lookup_choices  # shown as the applied choice


def test_flow_filter_lists_the_users_own_flows_from_the_flow_table(db):
    grow(30)
    accounts, tenant = measure.users()
    for role, expected in (("support", 15), ("customer", 5)):
        client = Client()
        client.force_login(accounts[role])
        cl = client.get("/audit/auditentry/").context["cl"]
        flows = next(spec for spec in cl.filter_specs if spec.field_path == "flow").lookup_choices
        assert len(flows) == expected, role


# -- counting ---------------------------------------------------------------------------------------


def test_a_long_list_is_counted_only_up_to_the_bound(db, monkeypatch):
    from portal.admin_paging import BoundedCountPaginator

    monkeypatch.setattr(BoundedCountPaginator, "exact_up_to", 100)
    grow(60)  # 300 audit entries
    accounts, _ = measure.users()
    client = Client()
    client.force_login(accounts["support"])
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/audit/auditentry/")
    cl = response.context["cl"]
    counts = [q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"]]
    assert counts and "LIMIT 101" in counts[0], counts
    if connection.vendor == "postgresql":
        assert len(counts) == 1, counts  # past the bound: an EXPLAIN, no second count
        assert cl.paginator.estimated and cl.result_count > 100  # the planner's figure, at least what was counted
        assert len(cl.result_list) == 100 and cl.paginator.num_pages >= 2
    else:
        assert cl.result_count == 300  # other databases count a long list exactly, after the bounded count


def test_a_short_list_is_counted_exactly(db):
    grow(30)
    accounts, _ = measure.users()
    client = Client()
    client.force_login(accounts["customer"])
    cl = client.get("/integrations/batch/").context["cl"]
    assert cl.result_count == 10 and not cl.paginator.estimated  # 30 batches over three tenants
