"""An Expensify flow reads its next page while the current one is posted (engine.ahead), and loses nothing by it."""

import json
import time
from collections import Counter
from urllib.parse import parse_qs

import pytest

from integrations.bench.kinds import setup_for
from integrations.bench.recording import recording
from integrations.engine import run_cycle
from integrations.engine.protocol import MIN_GROUP, ROUNDS_PER_GROUP
from integrations.models import Batch, Connection, SyncCycle
from tests.conftest import ANCHOR

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


def _cycle_recorded(box, flow):
    with recording(box.url) as recorder:
        result = run_cycle(flow)
    sent = recorder.sent()
    recorder.close()
    assert result.state == SyncCycle.DONE
    exports = sorted((s for s in sent if "/expensify/" in s.url and _is_page_export(s)), key=lambda s: s.started)
    posts = sorted((s for s in sent if setup_for("expensify_to_jde").is_write(s.method, s.url, s.body)),
                   key=lambda s: s.started)
    assert len(posts) == result.posted
    return exports, posts


def test_posts_leave_while_a_page_is_stored_and_the_next_page_is_read_while_it_is_posted(box):
    # Two posts in flight make groups of 8; pages of 40 are stored, mapped and fed 16 + 16 + 8; each post takes 60 ms.
    box.reset(seed=7, size=80, anchor=ANCHOR)
    control(box, "POST", "faults", json={"system": "jde", "endpoint": "orchestrator", "action": "latency",
                                         "latency_ms": 60})
    clock = time.time() - time.perf_counter()  # the recorder's times as wall-clock times
    flow = _flow(box, page_size=40)
    exports, posts = _cycle_recorded(box, flow)
    assert len(exports) >= 2 and len(posts) > 40
    # The first group is claimed and handed to the sending threads before the rest of the first page is stored
    # (stored whole, none would be). The cycle's thread does not wait for its answers: it stores on meanwhile.
    first_page = Batch.objects.filter(flow=flow).order_by("pk")[:40]
    first_claim = min(b.last_sent_at for b in Batch.objects.filter(flow=flow, last_sent_at__isnull=False))
    assert first_claim < max(b.created_at for b in first_page)
    assert posts[0].started + clock < max(b.created_at for b in Batch.objects.filter(flow=flow)).timestamp()
    # Once the last part is stored the next page is asked for while the fourth group is still being sent; read
    # in turn, it would wait until that group's answers were in.
    assert sum(p.ended <= exports[1].started for p in posts) < 32


def test_a_page_read_ahead_that_fails_stops_the_cycle_after_what_came_before_and_the_next_cycle_posts_the_rest(box):
    group = max(MIN_GROUP, ROUNDS_PER_GROUP * 2)  # a group of posts at the flow's concurrency of 2
    page = group + 4
    flow = _flow(box, page_size=page)
    approved = approved_reports(box)
    assert len(approved) > page  # a second page to read ahead
    # The first page's download works; the second (read ahead) fails on every retry.
    control(box, "POST", "faults", json={"system": "expensify", "endpoint": "download", "action": "status",
                                         "status": 500, "after": 1, "count": 50})
    first = run_cycle(flow)
    assert first.state == SyncCycle.FAILED
    # The first page is stored; what its groups sent is recorded, the rest waits ready for the next cycle.
    assert Batch.objects.filter(flow=flow).count() == page
    assert first.posted == group
    assert Batch.objects.filter(flow=flow, state__in=[S.POSTED, S.READY, S.HELD]).count() == page
    control(box, "DELETE", "faults")
    second = run_cycle(flow)
    assert second.state == SyncCycle.DONE
    journals = journals_by_reference(box)
    held = set(Batch.objects.filter(flow=flow, state=S.HELD).values_list("source_id", flat=True))
    # every approved report posted or held with its reason
    assert {ref.removeprefix("EXP-") for ref in journals} | held == set(approved)
    assert Counter(len(batches) for batches in journals.values()) == {1: len(journals)}  # none twice
