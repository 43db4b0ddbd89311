"""An Expensify flow reads its next page while the current one is posted (engine.ahead), and loses nothing by it."""

import json
from collections import Counter
from urllib.parse import parse_qs

import pytest

from integrations.bench.kinds import setup_for
from integrations.bench.recording import recording
from integrations.engine import run_cycle
from integrations.models import Batch, Connection, SyncCycle

from .conftest import control, make_flow
from .test_expensify_to_jde import approved_reports, journals_by_reference

pytestmark = pytest.mark.django_db(transaction=True)
S = Batch.State


def _is_page_export(sent):
    """An export of the reports to take (a page), not one of the marks set on them."""
    form = parse_qs((sent.body or b"").decode())
    job = json.loads(form.get("requestJobDescription", ["{}"])[0])
    return job.get("type") == "file" and "limit" in (job.get("inputSettings") or {})


def _flow(box, page_size):
    flow = make_flow(box, options={"page_size": page_size}, target_options={"concurrency": 2})
    Connection.objects.filter(pk=flow.target_id).update(options={"settle_seconds": 0, "concurrency": 2})
    flow.refresh_from_db()
    return flow


def test_the_next_page_is_read_while_the_first_is_posted(box):
    # Two posts in flight make groups of 8; a page of 20 is two groups and some, each post taking 150 ms:
    # read in turn, the second export would wait for the first group's answers.
    control(box, "POST", "faults", json={"system": "jde", "endpoint": "orchestrator", "action": "latency",
                                         "latency_ms": 150})
    flow = _flow(box, page_size=20)
    with recording(box.url) as recorder:
        result = run_cycle(flow)
    sent = recorder.sent()
    recorder.close()
    assert result.state == SyncCycle.DONE
    exports = sorted((s for s in sent if "/expensify/" in s.url and _is_page_export(s)), key=lambda s: s.started)
    posts = [s for s in sent if setup_for("expensify_to_jde").is_write(s.method, s.url, s.body)]
    assert len(exports) >= 2 and len(posts) == result.posted > 20
    assert exports[1].started < min(p.ended for p in posts)


def test_a_page_read_ahead_that_fails_stops_the_cycle_after_what_came_before_and_the_next_cycle_posts_the_rest(box):
    flow = _flow(box, page_size=10)
    approved = approved_reports(box)
    assert len(approved) > 20
    # The first page's download works; the second (read ahead) fails on every retry.
    control(box, "POST", "faults", json={"system": "expensify", "endpoint": "download", "action": "status",
                                         "status": 500, "after": 1, "count": 50})
    first = run_cycle(flow)
    assert first.state == SyncCycle.FAILED
    # The first page is stored; what its groups sent is recorded, the rest waits ready for the next cycle.
    assert Batch.objects.filter(flow=flow).count() == 10
    assert first.posted >= 8
    assert Batch.objects.filter(flow=flow, state__in=[S.POSTED, S.READY, S.HELD]).count() == 10
    control(box, "DELETE", "faults")
    second = run_cycle(flow)
    assert second.state == SyncCycle.DONE
    journals = journals_by_reference(box)
    held = set(Batch.objects.filter(flow=flow, state=S.HELD).values_list("source_id", flat=True))
    # every approved report posted or held with its reason
    assert {ref.removeprefix("EXP-") for ref in journals} | held == set(approved)
    assert Counter(len(batches) for batches in journals.values()) == {1: len(journals)}  # none twice
