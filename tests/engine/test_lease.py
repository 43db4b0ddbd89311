"""Flow leases over real HTTP: a cycle that lost its lease stops writing, a dead worker does not
block the flow, and a live cycle slower than its lease keeps it."""

import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from audit.models import AuditEntry
from integrations.engine import run_cycle
from integrations.models import Batch, Flow, SyncCycle

from .conftest import (
    clear_faults,
    close_thread_connection,
    fault,
    jde_rows,
    journals_by_reference,
    make_flow,
    posts,
    retry_db,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)
S = Batch.State


def test_a_cycle_whose_lease_is_taken_over_writes_nothing_more(box, settings):
    settings.LEASE_SECONDS = 1.5  # renewed every 0.5 s: the takeover is noticed within that
    flow = make_flow(box, target_options={"concurrency": 1})  # one post at a time: the window is one group
    fault(box, system="jde", endpoint="orchestrator", action="latency", latency_ms=100)
    intruder = uuid.uuid4()
    seen = {}

    def take_over():
        try:
            # Right after a post reached JD Edwards: the cycle now waits 100 ms for its answer (SQLite in
            # shared-cache memory mode refuses a concurrent table access instead of waiting for it).
            seen["started"] = wait_for(lambda: posts(box) >= 3)
            retry_db(lambda: Flow.objects.filter(pk=flow.pk).update(
                lease_owner=intruder, lease_until=timezone.now() + timedelta(seconds=60)))
            seen["posts"] = posts(box)
        finally:
            close_thread_connection()

    thread = threading.Thread(target=take_over)
    thread.start()
    result = run_cycle(flow)
    thread.join()

    assert seen["started"], "the cycle never posted three batches"
    assert result.state == SyncCycle.FAILED and "[LEASE-LOST]" in result.message
    # Posts go out in claimed groups: at most the rest of the group in flight when the lease was taken lands
    # (a real takeover only follows an expired lease, which this process's own clock stops sending at).
    from integrations.engine.protocol import MIN_GROUP

    assert posts(box) - seen["posts"] <= MIN_GROUP
    journals = journals_by_reference(box)
    assert all(len(batches) == 1 for batches in journals.values())
    done = Batch.objects.filter(flow=flow, state__in=[S.POSTED, S.CONFIRMED]).count()
    assert done == len(journals) == posts(box) < 28
    # No further moves: nothing confirmed, the rest still ready for whoever holds the flow now.
    assert not Batch.objects.filter(flow=flow, state=S.CONFIRMED).exists()
    assert not Batch.objects.filter(flow=flow, state=S.POSTING).exists()
    assert Batch.objects.filter(flow=flow, state=S.READY).count() == 28 - done
    flow.refresh_from_db()
    assert flow.lease_owner == intruder  # giving back a lost lease does not free the new holder's
    cycle = SyncCycle.objects.get(cycle_id=uuid.UUID(result.cycle_id))
    assert cycle.state == SyncCycle.FAILED and "LEASE-LOST" in cycle.message

    # While the new holder's lease lasts, nobody else gets in; once it is gone, the rest posts exactly once.
    assert run_cycle(flow, wait=0).state == SyncCycle.SKIPPED
    clear_faults(box)
    Flow.objects.filter(pk=flow.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    after = run_cycle(flow)
    assert after.state == SyncCycle.DONE and after.posted == 28 - done
    journals = journals_by_reference(box)
    assert len(journals) == 28 and all(len(batches) == 1 for batches in journals.values())


def test_a_killed_worker_does_not_block_the_next_cycle(box):
    flow = make_flow(box, target_options={"settle_seconds": 600, "concurrency": 1}, options={"cycle_budget_seconds": 0.3})
    fault(box, system="jde", endpoint="orchestrator", action="latency", latency_ms=50)
    first = run_cycle(flow)
    assert first.more_work
    victim = Batch.objects.filter(flow=flow, state=S.READY).order_by("pk").first()
    # A worker claimed it, then died: the batch is 'posting', its cycle 'running', its lease long expired.
    dead = uuid.uuid4()
    long_ago = timezone.now() - timedelta(minutes=10)
    Batch.objects.filter(pk=victim.pk).update(state=S.POSTING, claimed_by=dead, last_sent_at=timezone.now(), attempts=1)
    stale = SyncCycle.objects.create(flow=flow, cycle_id=dead, trigger="schedule", started_at=long_ago, heartbeat_at=long_ago)
    Flow.objects.filter(pk=flow.pk).update(lease_owner=dead, lease_until=timezone.now() - timedelta(seconds=5),
                                           options={**flow.options, "cycle_budget_seconds": 30})
    flow.refresh_from_db()
    clear_faults(box)

    started = time.monotonic()
    second = run_cycle(flow, wait=0)
    assert second.state == SyncCycle.DONE, second.message  # taken at once: not skipped, no waiting
    assert time.monotonic() - started < 10
    stale.refresh_from_db()
    assert stale.state == SyncCycle.FAILED and "abandoned" in stale.message and stale.finished_at
    assert AuditEntry.objects.filter(flow=flow, event="cycle.abandoned", action_id=dead.hex).count() == 1
    victim.refresh_from_db()
    assert victim.state == S.IN_DOUBT and victim.error_code == "INTERRUPTED"
    assert jde_rows(box, reference=victim.external_ref) == []  # inside the settle window: not re-posted
    # Everything else was posted by the new cycle, once.
    journals = journals_by_reference(box)
    assert victim.external_ref not in journals and len(journals) == 27
    assert all(len(batches) == 1 for batches in journals.values())
    flow.refresh_from_db()
    assert flow.lease_owner is None

    # Still inside the settle window: the next cycle neither re-posts nor moves it.
    before = posts(box)
    third = run_cycle(flow, wait=0)
    victim.refresh_from_db()
    assert third.state == SyncCycle.DONE and victim.state == S.IN_DOUBT and posts(box) == before


def test_a_live_cycle_slower_than_its_lease_keeps_it(box, settings):
    settings.LEASE_SECONDS = 1.0
    # 400 ms per post; the budget stops the cycle after about a dozen posts (some 5 s, five lease times).
    flow = make_flow(box, options={"cycle_budget_seconds": 5.0}, target_options={"concurrency": 1})
    fault(box, system="jde", endpoint="orchestrator", action="latency", latency_ms=400)
    others = []  # (when it started, its result)
    stop = threading.Event()

    def intrude():
        try:
            count = 0
            while not stop.is_set():
                # Try right after a post reached JD Edwards, while the cycle waits for its answer.
                if not wait_for(lambda seen=count: stop.is_set() or posts(box) > seen, timeout=10):
                    return
                if stop.is_set():
                    return
                count = posts(box)
                try:
                    other = Flow.objects.get(pk=flow.pk)
                    others.append((timezone.now(), run_cycle(other, wait=0)))
                except OperationalError:  # SQLite's shared-cache table lock: try after the next post
                    continue
                stop.wait(0.5)
        finally:
            close_thread_connection()

    thread = threading.Thread(target=intrude)
    thread.start()
    try:
        result = run_cycle(flow)
    finally:
        stop.set()
        thread.join()

    assert result.state == SyncCycle.DONE, result.message
    assert "LEASE-LOST" not in result.message
    assert result.posted >= 10
    ours = SyncCycle.objects.get(cycle_id=uuid.UUID(result.cycle_id))
    during = [other for started, other in others if started < ours.finished_at]
    assert len(during) >= 3
    assert all(other.state == SyncCycle.SKIPPED for other in during), [o.message for o in during]
    # No second cycle ever ran while ours did.
    assert SyncCycle.objects.filter(flow=flow, started_at__lt=ours.finished_at).count() == 1
    journals = journals_by_reference(box)
    assert len(journals) == posts(box) >= result.posted
    assert all(len(batches) == 1 for batches in journals.values())
