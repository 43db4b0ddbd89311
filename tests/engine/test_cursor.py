"""The fetch cursor is safe in whatever order Expensify returns reports, and a page Expensify
offers again (its mark not applied yet) is neither a failure nor a duplicate."""

import datetime as dt

import pytest

from audit.models import AuditEntry
from integrations.engine import run_cycle
from integrations.models import Batch, SyncCycle

from .conftest import (
    approved_reports,
    calls,
    clear_faults,
    configure,
    control,
    fault,
    journals_by_reference,
    make_flow,
    posts,
)

pytestmark = pytest.mark.django_db(transaction=True)
S = Batch.State
PAGE = 5


def approved_day(report):
    return dt.date.fromisoformat(str(report["approved"])[:10])


def assert_every_report_once(box, flow):
    reports = approved_reports(box)
    stored = list(Batch.objects.filter(flow=flow).values_list("source_id", flat=True))
    assert sorted(stored) == sorted(reports)  # nothing lost, nothing doubled
    posted = Batch.objects.filter(flow=flow, state__in=[S.POSTED, S.CONFIRMED])
    journals = journals_by_reference(box)
    assert set(journals) == {b.external_ref for b in posted} and posted.count() == 28
    assert all(len(numbers) == 1 for numbers in journals.values())
    assert posts(box) == 28


def test_a_cycle_interrupted_after_its_first_page_leaves_the_cursor_and_loses_nothing(box):
    configure(box, "expensify", export_order="report_id")
    reports = sorted(approved_reports(box).values(), key=lambda r: int(r["reportID"]))
    first_page, rest = reports[:PAGE], reports[PAGE:]
    # The order matters: the first page (by report id) holds a report approved more than a day after
    # one on a later page, so a cursor moved to the first page's approvals would skip that one.
    assert max(map(approved_day, first_page)) - dt.timedelta(days=1) > min(map(approved_day, rest))
    flow = make_flow(box, options={"page_size": PAGE})
    cursor_before = dict(flow.cursor or {})
    # The second export's download fails (the first page is stored, marked and posted by then).
    fault(box, system="expensify", endpoint="download", action="status", status=400, after=1, count=20)
    first = run_cycle(flow)
    flow.refresh_from_db()
    assert first.state == SyncCycle.FAILED and "EXPENSIFY-400" in first.message
    assert sorted(Batch.objects.filter(flow=flow).values_list("source_id", flat=True)) == sorted(
        r["reportID"] for r in first_page)
    assert flow.cursor == cursor_before  # not moved by a page: only a complete pass moves it

    clear_faults(box)
    second = run_cycle(flow)
    flow.refresh_from_db()
    assert second.state == SyncCycle.DONE, second.message
    assert_every_report_once(box, flow)
    # The pass completed: the cursor moved, no later than a day before the newest approval it saw.
    newest = max(map(approved_day, rest))
    assert flow.cursor == {"approved_after": (newest - dt.timedelta(days=1)).isoformat()}


def test_a_page_offered_again_before_its_mark_lands_is_waited_for_not_doubled(box):
    configure(box, "expensify", mark_delay_seconds=0.2)  # Expensify applies each label 0.2 s late
    flow = make_flow(box, options={"page_size": PAGE, "mark_wait_seconds": 3, "mark_poll_seconds": 0.05})
    result = run_cycle(flow)
    assert result.state == SyncCycle.DONE, result.message
    assert result.fetched == 31 and result.skipped == 0
    pages = -(-31 // PAGE)
    assert calls(box, "expensify", "download") > pages  # pages really were offered again
    assert_every_report_once(box, flow)
    flow.refresh_from_db()
    assert "approved_after" in flow.cursor  # the pass completed in this one cycle


def test_a_page_offered_again_in_the_next_cycle_is_skipped_not_doubled(box):
    # The marks land only when the sandbox clock moves 60 s on: the next cycle is offered the same page.
    configure(box, "expensify", mark_delay_seconds=60)
    flow = make_flow(box, options={"page_size": PAGE, "mark_wait_seconds": 0.1, "mark_poll_seconds": 0.05})
    first = run_cycle(flow)
    assert first.state == SyncCycle.DONE and first.fetched == PAGE and first.posted + first.held == PAGE
    second = run_cycle(flow)
    assert second.state == SyncCycle.DONE, second.message
    assert second.fetched == PAGE and second.skipped == PAGE and second.posted == 0
    assert AuditEntry.objects.filter(flow=flow, event="batch.reoffered").count() == PAGE
    assert Batch.objects.filter(flow=flow).count() == PAGE and posts(box) == first.posted
    flow.refresh_from_db()
    assert "approved_after" not in flow.cursor  # no pass completed yet

    # Once Expensify catches up, the rest follows, each report once.
    control(box, "POST", "clock", json={"advance": 61})
    configure(box, "expensify", mark_delay_seconds=0)
    last = run_cycle(flow)
    assert last.state == SyncCycle.DONE, last.message
    assert_every_report_once(box, flow)
