"""The cycle's time budget: a cycle stops taking new work once it is used, and the next cycles
(or the follow-up task the worker queues) carry on until the backlog is posted, each report once."""

import pytest
from django_q.models import OrmQ

from integrations.engine import run_cycle
from integrations.models import Batch, Flow, SyncCycle
from integrations.tasks import run_flow

from .conftest import approved_reports, clear_faults, fault, journals_by_reference, make_flow, posts

pytestmark = pytest.mark.django_db(transaction=True)
S = Batch.State


def test_a_cycle_stops_at_its_budget_and_the_next_cycles_finish_the_backlog(box):
    flow = make_flow(box, options={"cycle_budget_seconds": 0.5}, target_options={"concurrency": 1})
    fault(box, system="jde", endpoint="orchestrator", action="latency", latency_ms=50)
    first = run_cycle(flow)
    assert first.state == SyncCycle.DONE and first.more_work
    assert "time budget" in first.message
    left = Batch.objects.filter(flow=flow, state=S.READY).count()
    assert left > 0 and first.posted < 28
    assert posts(box) == first.posted  # the batches left ready were never sent
    cycle = SyncCycle.objects.get(flow=flow)
    assert cycle.counts.get("more_work") is True

    results = [first]
    while results[-1].more_work and len(results) < 15:
        results.append(run_cycle(flow))
    assert not results[-1].more_work and len(results) >= 2
    assert all(r.state == SyncCycle.DONE for r in results)

    reports = approved_reports(box)
    batches = Batch.objects.filter(flow=flow)
    assert sorted(batches.values_list("source_id", flat=True)) == sorted(reports)  # every approved report, once
    posted = batches.filter(state__in=[S.POSTED, S.CONFIRMED])
    assert posted.count() == sum(r.posted for r in results) == 28
    assert not batches.exclude(state__in=[S.POSTED, S.CONFIRMED, S.HELD]).exists()
    journals = journals_by_reference(box)
    assert set(journals) == {b.external_ref for b in posted}
    assert all(len(numbers) == 1 for numbers in journals.values())  # each in JD Edwards exactly once
    assert posts(box) == 28


def test_the_worker_task_queues_a_follow_up_only_while_work_is_left(box):
    flow = make_flow(box, options={"cycle_budget_seconds": 0.3}, target_options={"concurrency": 1})
    fault(box, system="jde", endpoint="orchestrator", action="latency", latency_ms=50)
    OrmQ.objects.all().delete()
    summary = run_flow(flow.pk, "schedule")
    assert summary["more_work"] is True
    queued = list(OrmQ.objects.all())
    assert len(queued) == 1
    assert queued[0].task["func"] == "integrations.tasks.run_flow"
    assert list(queued[0].task["args"]) == [flow.pk, "continue"]

    # The follow-up carries on; once the backlog is done no further task is queued.
    clear_faults(box)
    Flow.objects.filter(pk=flow.pk).update(options={**flow.options, "cycle_budget_seconds": 30})
    OrmQ.objects.all().delete()
    summary = run_flow(flow.pk, "continue")
    assert "more_work" not in summary and summary["posted"] > 0
    assert OrmQ.objects.count() == 0
    assert Batch.objects.filter(flow=flow, state__in=[S.POSTED, S.CONFIRMED]).count() == 28
