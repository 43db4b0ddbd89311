"""The dashboard at /: what a support person and a customer user see first, in a bounded number of queries."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from integrations.models import Batch, BatchState, SyncCycle
from tests.factories import make_batch, make_cycle, make_flow

S = BatchState


def posted(flow, amount, days_ago=0, currency="USD"):
    return make_batch(
        flow.tenant,
        flow=flow,
        state=S.POSTED,
        amount=Decimal(amount),
        currency=currency,
        posted_at=timezone.now() - timedelta(days=days_ago),
    )


@pytest.fixture
def two_tenants(tenant, other_tenant):
    mine = make_flow(tenant, name="Acme expenses")
    theirs = make_flow(other_tenant, name="Globex expenses")
    make_batch(tenant, flow=mine, state=S.HELD)
    make_batch(tenant, flow=mine, state=S.HELD)
    make_batch(other_tenant, flow=theirs, state=S.HELD, error_code="GLOBEX-SECRET-CODE", last_error="globex problem")
    posted(mine, "85.2800", days_ago=1)
    posted(mine, "14.72", days_ago=1)
    posted(theirs, "999.00", days_ago=2)
    make_cycle(tenant, flow=mine, state=SyncCycle.FAILED, progress="finished", message="JD Edwards refused the login (JDE-AUTH)")
    return mine, theirs


def test_landing_page_is_the_dashboard_and_admin_redirects(support_client, two_tenants):
    html = support_client.get("/").content.decode()
    assert "Dashboard" in html and 'id="dashboard-flows"' in html
    assert support_client.get("/admin/").url == "/"


def test_support_sees_every_tenant_with_problems_linked(support_client, two_tenants):
    mine, theirs = two_tenants
    html = support_client.get("/").content.decode()
    assert "Acme expenses" in html and "Globex expenses" in html
    # a direct link to each problem: the held batches of the flow, the failed cycles
    assert f"/integrations/batch/?flow__id__exact={mine.pk}&amp;state__exact=held" in html
    assert f"/integrations/synccycle/?flow__id__exact={mine.pk}&amp;state__exact=failed" in html
    assert "failed: JD Edwards refused the login (JDE-AUTH)" in html
    assert ">finished<" not in html and "finished JD Edwards" not in html
    assert "2 held (needs a person)" in html
    assert "<svg" in html and "1,099.00 USD posted" in html  # 85.28 + 14.72 + 999, at the currency precision


def test_customer_sees_only_their_own_tenant(customer_client, two_tenants):
    html = customer_client.get("/").content.decode()
    assert "Acme expenses" in html
    assert "Globex" not in html and "999.00" not in html and "GLOBEX-SECRET-CODE" not in html
    assert "100.00 USD posted" in html
    assert "2</strong>batch(es) needing attention" in html  # the other tenant's held batch is not counted


def test_running_cycles_show_their_progress(support_client, tenant):
    flow = make_flow(tenant, name="Busy flow")
    make_cycle(tenant, flow=flow, state=SyncCycle.RUNNING, progress="posted 40 of 120 reports")
    html = support_client.get("/").content.decode()
    assert 'id="dashboard-running"' in html and "posted 40 of 120 reports" in html


def test_dashboard_queries_are_bounded_whatever_the_volume(support_client, tenant, other_tenant, django_assert_max_num_queries):
    def populate(count):
        for t in (tenant, other_tenant):
            for _ in range(count):
                flow = make_flow(t)
                make_cycle(t, flow=flow, state=SyncCycle.FAILED, message="boom")
                make_cycle(t, flow=flow, state=SyncCycle.DONE)
                for state in (S.HELD, S.FAILED, S.POSTED, S.IN_DOUBT):
                    make_batch(
                        t,
                        flow=flow,
                        state=state,
                        amount=Decimal("10"),
                        currency="USD",
                        posted_at=timezone.now() if state == S.POSTED else None,
                    )

    populate(2)
    with django_assert_max_num_queries(12) as small:
        assert support_client.get("/").status_code == 200
    populate(10)
    assert Batch.objects.count() == 96
    with django_assert_max_num_queries(len(small.captured_queries)) as large:
        assert support_client.get("/").status_code == 200
    assert len(large.captured_queries) == len(small.captured_queries)


def test_demo_history_fills_the_chart_once(support_client, tenant):
    from integrations.ops.demo_history import seed_history

    flow = make_flow(tenant, name="Demo flow")
    made = seed_history(flow)
    assert made > 20 and seed_history(flow) == 0  # idempotent
    days = {b.posted_at.date() for b in Batch.objects.filter(flow=flow)}
    assert len(days) >= 15  # weekdays over four weeks
    html = support_client.get("/").content.decode()
    assert html.count("<rect") >= 15


def test_customer_does_not_see_another_tenants_running_cycle(customer_client, tenant, other_tenant):
    make_cycle(
        other_tenant, flow=make_flow(other_tenant, name="Globex run"), state=SyncCycle.RUNNING, progress="globex secret progress"
    )
    html = customer_client.get("/").content.decode()
    assert "globex secret progress" not in html and "No cycle is running." in html


def test_counts_by_state_link_to_the_filtered_list(support_client, tenant):
    flow = make_flow(tenant)
    for _ in range(3):
        make_batch(tenant, flow=flow, state=S.FAILED)
    html = support_client.get("/").content.decode()
    assert f'<a href="/integrations/batch/?flow__id__exact={flow.pk}&amp;state__exact=failed">3 failed (will retry)</a>' in html


def test_anonymous_visitors_are_sent_to_sign_in(client, db):
    response = client.get("/")
    assert response.status_code == 302 and "/login/" in response.url


def test_settled_batches_are_counted_over_the_chart_window_open_ones_for_all_time(support_client, tenant):
    # A year of posted batches is not counted on every visit; a batch held for months still is.
    flow = make_flow(tenant, name="Old flow")
    long_ago = timezone.now() - timedelta(days=90)
    for state in (S.POSTED, S.HELD):
        batch = make_batch(tenant, flow=flow, state=state, amount=Decimal("5"), currency="USD", posted_at=long_ago)
        Batch.objects.filter(pk=batch.pk).update(created_at=long_ago)
    make_batch(tenant, flow=flow, state=S.POSTED, amount=Decimal("5"), currency="USD", posted_at=timezone.now())
    html = support_client.get("/").content.decode()
    assert "1 posted (last 28 days)" in html and "1 held (needs a person)" in html
    assert f"flow__id__exact={flow.pk}&amp;created_at__gte=" in html  # the link lists what was counted


def test_each_flow_shows_its_next_cycle_and_a_paused_flow_none(support_client, tenant):
    from django_q.models import Schedule

    from integrations.scheduling import schedule_name

    flow = make_flow(tenant, name="Scheduled flow", enabled=True)
    paused = make_flow(tenant, name="Paused flow", enabled=False)
    when = timezone.now() + timedelta(hours=3, minutes=7)
    assert Schedule.objects.filter(name=schedule_name(flow.pk)).update(next_run=when) == 1  # saved with the flow
    assert not Schedule.objects.filter(name=schedule_name(paused.pk)).exists()
    html = support_client.get("/").content.decode()
    row = html[html.index("Scheduled flow"):]
    row = row[:row.index("</tr>")]
    assert timezone.localtime(when).strftime("%Y-%m-%d %H:%M") in row
    paused_row = html[html.index("Paused flow"):]
    assert "not scheduled" not in paused_row[:paused_row.index("</tr>")]
    flow.enabled = False
    flow.save()
    assert timezone.localtime(when).strftime("%Y-%m-%d %H:%M") not in support_client.get("/").content.decode()
