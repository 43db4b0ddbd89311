"""Operator actions on batches the cycle has not sent yet: a held or skipped batch is left alone by
the cycle, and a released one that was never sent is mapped again and posted once."""

import pytest

from audit.models import AuditEntry
from integrations.engine import run_cycle
from integrations.models import Batch, Flow
from integrations.operations import hold_batches, release_batches, skip_batches

from .conftest import clear_faults, fault, jde_rows, journals_by_reference, make_flow, posts

pytestmark = pytest.mark.django_db(transaction=True)
S = Batch.State


def test_held_and_skipped_batches_wait_for_a_person_and_a_release_posts_once(box, django_user_model):
    # One post at a time, so that the budget leaves batches ready that were never sent.
    flow = make_flow(box, options={"cycle_budget_seconds": 0.3}, target_options={"concurrency": 1})
    fault(box, system="jde", endpoint="orchestrator", action="latency", latency_ms=50)
    assert run_cycle(flow).more_work
    held, skipped = Batch.objects.filter(flow=flow, state=S.READY).order_by("pk")[:2]
    user = django_user_model.objects.create_user("operator", password="x")
    assert hold_batches(Batch.objects.filter(pk=held.pk), user) == 1
    assert skip_batches(Batch.objects.filter(pk=skipped.pk), user) == 1
    clear_faults(box)
    Flow.objects.filter(pk=flow.pk).update(options={**flow.options, "cycle_budget_seconds": 30})
    flow.refresh_from_db()
    run_cycle(flow)
    held.refresh_from_db()
    skipped.refresh_from_db()
    assert (held.state, held.error_code) == (S.HELD, "MANUAL-HOLD") and skipped.state == S.SKIPPED
    for batch in (held, skipped):
        assert jde_rows(box, reference=batch.external_ref) == []
    assert AuditEntry.objects.filter(batch=held, event="batch.held_by_operator", actor__icontains="operator").exists()

    before = posts(box)
    assert release_batches(Batch.objects.filter(pk__in=[held.pk, skipped.pk]), user, queue=False) == 1  # held only
    held.refresh_from_db()
    assert held.state == S.NEW  # never sent: mapped again, no reconcile needed
    run_cycle(flow)
    held.refresh_from_db()
    skipped.refresh_from_db()
    assert held.state in (S.POSTED, S.CONFIRMED) and skipped.state == S.SKIPPED
    assert posts(box) == before + 1
    assert len(journals_by_reference(box)[held.external_ref]) == 1
