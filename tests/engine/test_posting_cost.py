"""What posting costs the database, counted exactly per statement, on every thread's connection.

The first cycle maps every report and is refused by JD Edwards (405): the batches are READY and the
flow paused. The second cycle has nothing new to fetch and posts them all, so its statements are the
posting path's plus a fixed frame (lease, cycle row, confirm), each counted here.
"""

import math

import pytest

from integrations.engine import run_cycle
from integrations.engine.protocol import MIN_GROUP, ROUNDS_PER_GROUP
from integrations.models import Batch, SyncCycle
from integrations.querycount import count_all_queries

from .conftest import clear_faults, control, fault, journals_by_reference, make_flow, posts

pytestmark = pytest.mark.django_db(transaction=True)
S = Batch.State


def _ready_flow(box, concurrency):
    flow = make_flow(box, target_options={"concurrency": concurrency})
    fault(box, system="jde", endpoint="orchestrator", action="status", status=405)
    first = run_cycle(flow)
    assert first.state == SyncCycle.PAUSED, first.message
    clear_faults(box)
    ready = Batch.objects.filter(flow=flow, state=S.READY).count()
    assert ready >= 16 and not journals_by_reference(box)
    flow.refresh_from_db()
    return flow, ready


def _tally(queries, prefix):
    return sum(n for kind, n in queries.kinds.items() if kind.startswith(prefix))


def _source_calls(box):
    """Expensify calls of the second cycle (an export finding nothing new, the confirm's mark)."""
    return sum(control(box, "GET", "calls").get("expensify", {}).values())


def test_posting_writes_per_group_not_per_record(box):
    flow, ready = _ready_flow(box, concurrency=1)
    control(box, "DELETE", "calls")
    with count_all_queries() as queries:
        result = run_cycle(flow, trigger="manual")
    assert result.state == SyncCycle.DONE and result.posted == ready, result.message
    journals = journals_by_reference(box)
    assert posts(box) == ready == len(journals) and all(len(v) == 1 for v in journals.values())
    print(f"\n{ready} posts: {queries.count} queries ({queries.count / ready:.2f} per post): {dict(queries.kinds)}")

    groups = math.ceil(ready / max(MIN_GROUP, ROUNDS_PER_GROUP * 1))
    # Per group: one claim UPDATE and one result UPDATE, each with one audit INSERT in its transaction.
    # Besides: the confirm (one UPDATE and its audit INSERT) and the cycle's own entries (started, the
    # outage's end, finished).
    assert _tally(queries, "UPDATE integrations_batch") == 2 * groups + 1
    assert _tally(queries, "INSERT audit_auditentry") == 2 * groups + 1 + 3
    # The slot is taken once for the run of groups and given back once; each Expensify call takes and
    # gives back its own.
    assert _tally(queries, "UPDATE integrations_concurrencyslot") == 2 + 2 * _source_calls(box)


def test_parallel_posting_keeps_the_per_record_cost(box):
    flow, ready = _ready_flow(box, concurrency=8)
    control(box, "DELETE", "calls")
    with count_all_queries() as queries:
        result = run_cycle(flow, trigger="manual")
    assert result.state == SyncCycle.DONE and result.posted == ready, result.message
    journals = journals_by_reference(box)
    assert posts(box) == ready == len(journals) and all(len(v) == 1 for v in journals.values())
    groups = math.ceil(ready / max(MIN_GROUP, ROUNDS_PER_GROUP * 8))
    assert _tally(queries, "UPDATE integrations_batch") == 2 * groups + 1
    assert _tally(queries, "INSERT audit_auditentry") == 2 * groups + 1 + 3
    # The cycle's thread claims each group (and confirms); each group's results are written by the recorder's
    # thread, so the cycle's thread goes on storing and mapping meanwhile.
    assert queries.main_kinds["UPDATE integrations_batch"] == groups + 1
    assert queries.main_kinds["INSERT audit_auditentry"] == groups + 1 + 3
    # Each sending thread takes its slot once and gives it back once, however many posts it sends.
    threads_used = _tally(queries, "UPDATE integrations_concurrencyslot") - 2 * _source_calls(box)
    assert 2 <= threads_used <= 2 * 8 and threads_used % 2 == 0
