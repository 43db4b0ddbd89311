"""Expensify -> JD Edwards over real HTTP against the sandbox, on a real database."""

import re
import time
from collections import defaultdict
from decimal import Decimal

import pytest
from django.core import mail

from audit.models import AuditEntry
from integrations.engine import run_cycle
from integrations.models import Batch, Flow, SyncCycle
from integrations.operations import retry_batches

from .conftest import control, make_flow

pytestmark = pytest.mark.django_db(transaction=True)
S = Batch.State


def approved_reports(box):
    return {str(r["reportID"]): r for r in control(box, "GET", "expensify/reports", params={"state": "APPROVED,REIMBURSED"})}


def jde_rows(box, reference=None):
    params = {"reference": reference} if reference else {}
    return control(box, "GET", "jde/F0911Z1", params=params)


def journals_by_reference(box):
    """reference -> {batch number -> [rows]}: more than one batch number is a duplicate post."""
    out = defaultdict(lambda: defaultdict(list))
    for row in jde_rows(box):
        out[row["VNEDTN"]][row["VNEDBT"]].append(row)
    return out


def test_posted_totals_equal_approved_report_totals_to_the_cent(box, flow):
    result = run_cycle(flow)
    reports = approved_reports(box)
    journals = journals_by_reference(box)
    assert result.posted > 0 and result.state == SyncCycle.DONE
    posted = Batch.objects.filter(flow=flow, state__in=[S.POSTED, S.CONFIRMED])
    assert posted.count() == result.posted
    for batch in posted:
        report = reports[batch.source_id]
        batches = journals[f"EXP-{batch.source_id}"]
        assert len(batches) == 1, f"report {batch.source_id} posted {len(batches)} times"
        rows = next(iter(batches.values()))
        exponent = 0 if report["currency"] == "JPY" else 2
        assert sum(Decimal(r["VNAA"]) for r in rows) == 0  # the journal balances
        expense_total = sum(Decimal(r["VNAA"]) for r in rows if r["VNOBJ"].strip() not in ("2100", "2150"))
        assert expense_total == Decimal(report["total"]).scaleb(-exponent)
        assert {r["VNCRCD"] for r in rows} == {report["currency"]}
    # every approved report is accounted for: posted or held with a reason
    held = Batch.objects.filter(flow=flow, state=S.HELD)
    assert posted.count() + held.count() == len(reports)
    assert all(b.error_code and b.last_error and b.error_help for b in held)
    # the summary's amounts equal the source totals per currency
    expected = defaultdict(Decimal)
    for batch in posted:
        report = reports[batch.source_id]
        expected[report["currency"]] += Decimal(report["total"]).scaleb(-(0 if report["currency"] == "JPY" else 2))
    assert {k: Decimal(v) for k, v in result.summary()["amount_posted"].items()} == dict(expected)


def test_rerun_posts_nothing(box, flow):
    first = run_cycle(flow)
    rows_after_first = len(jde_rows(box))
    second = run_cycle(flow)
    assert first.posted > 0
    assert second.posted == 0
    assert len(jde_rows(box)) == rows_after_first


def test_each_posted_report_is_confirmed_in_expensify(box, flow):
    run_cycle(flow)
    reports = approved_reports(box)
    confirmed = Batch.objects.filter(flow=flow, state=S.CONFIRMED)
    assert confirmed.exists()
    for batch in confirmed:
        assert "ml-connector" in reports[batch.source_id]["labels"]


def test_token_expiry_mid_cycle_reauthenticates_without_duplicates(box, flow):
    # The AIS Server answers 444 to the 4th journal post (token invalidated), once.
    control(
        box, "POST", "faults", json={"system": "jde", "endpoint": "orchestrator", "action": "restart", "after": 3, "count": 1}
    )
    result = run_cycle(flow)
    journals = journals_by_reference(box)
    assert result.posted > 4
    assert all(len(batches) == 1 for batches in journals.values())
    assert len(journals) == result.posted
    assert control(box, "GET", "calls")["jde"]["tokenrequest"] == 2


def test_405_pauses_the_flow_with_one_alert_and_the_first_cycle_after_posts_everything(box, flow):
    control(box, "POST", "faults", json={"system": "jde", "endpoint": "tokenrequest", "action": "status", "status": 405})
    first = run_cycle(flow)
    second = run_cycle(flow)  # still refused: the same outage, no second alert
    flow.refresh_from_db()
    assert first.state == second.state == SyncCycle.PAUSED and first.posted == 0
    assert "allowedHosts" in first.message and flow.outage_code == "JDE-405-ALLOWED-HOSTS"
    assert flow.paused_until is not None and flow.outage_cycles == 2
    assert not Batch.objects.filter(flow=flow, state=S.HELD, error_code="JDE-405-ALLOWED-HOSTS").exists()
    alerts = [m for m in mail.outbox if "paused" in m.subject]
    assert len(alerts) == 1 and "allowedHosts" in alerts[0].body and "HTML server" in alerts[0].body
    assert jde_rows(box) == []
    # A scheduled cycle waits out the backoff; the first cycle after the fix posts with nobody involved.
    assert run_cycle(flow, trigger="schedule").state == SyncCycle.SKIPPED
    control(box, "DELETE", "faults")
    third = run_cycle(flow)
    flow.refresh_from_db()
    assert third.state == SyncCycle.DONE and third.posted > 0 and flow.outage_code == ""
    assert AuditEntry.objects.filter(flow=flow, event="flow.recovered").count() == 1


def test_two_444s_in_a_row_pause_instead_of_holding(box, flow):
    control(box, "POST", "faults", json={"system": "jde", "endpoint": "orchestrator", "action": "status", "status": 444,
                                         "after": 2})
    first = run_cycle(flow)
    assert first.state == SyncCycle.PAUSED and first.posted == 2
    assert not Batch.objects.filter(flow=flow, state=S.HELD).exclude(error_code__startswith="MAP-").exclude(
        error_code__startswith="JDE-ACCOUNT").exists()
    control(box, "DELETE", "faults")
    second = run_cycle(flow)
    assert second.state == SyncCycle.DONE and second.posted > 0
    assert all(len(batches) == 1 for batches in journals_by_reference(box).values())


def test_expensify_429_waits_and_succeeds(box, flow):
    control(
        box,
        "POST",
        "faults",
        json={"system": "expensify", "endpoint": "*", "action": "status", "status": 429, "retry_after": 1, "count": 1},
    )
    result = run_cycle(flow)
    assert result.state == SyncCycle.DONE and result.posted > 0


def test_dropped_connection_after_commit_is_reconciled_without_duplicate(box, flow):
    control(
        box, "POST", "faults", json={"system": "jde", "endpoint": "orchestrator", "action": "drop_after", "after": 1, "count": 1}
    )
    first = run_cycle(flow)
    assert first.in_doubt == 1 and not AuditEntry.objects.filter(event__startswith="batch.reconciled").exists()
    second = run_cycle(flow)  # the settle window (0 s here) has passed: reconcile
    journals = journals_by_reference(box)
    assert all(len(batches) == 1 for batches in journals.values())
    assert len(journals) == first.posted + second.posted
    reconciled = AuditEntry.objects.filter(event="batch.reconciled_posted")
    assert reconciled.count() == 1
    batch = reconciled.first().batch
    assert batch.state in (S.POSTED, S.CONFIRMED) and batch.target_document_id


def test_dropped_connection_before_commit_reposts_once(box, flow):
    control(
        box, "POST", "faults", json={"system": "jde", "endpoint": "orchestrator", "action": "drop_before", "after": 1, "count": 1}
    )
    first = run_cycle(flow)
    second = run_cycle(flow)
    journals = journals_by_reference(box)
    assert all(len(batches) == 1 for batches in journals.values())
    assert len(journals) == first.posted + second.posted and second.posted == 1
    assert AuditEntry.objects.filter(event="batch.reconciled_absent").count() == 1


def test_nothing_is_searched_or_reposted_inside_the_settle_window(box, db):
    flow = make_flow(box, target_options={"settle_seconds": 600})
    control(box, "POST", "faults", json={"system": "jde", "endpoint": "orchestrator", "action": "drop_before", "count": 1})
    run_cycle(flow)
    doubtful = Batch.objects.get(flow=flow, state=S.IN_DOUBT)
    calls = control(box, "GET", "calls")["jde"]
    run_cycle(flow)
    after = control(box, "GET", "calls")["jde"]
    assert after["orchestrator"] == calls["orchestrator"]  # not re-posted
    assert after.get("dataservice", 0) == calls.get("dataservice", 0)  # not even searched
    doubtful.refresh_from_db()
    assert doubtful.state == S.IN_DOUBT
    # Once the window has passed (here: the last send moved back an hour), reconcile finds it absent and posts once.
    from datetime import timedelta

    Batch.objects.filter(pk=doubtful.pk).update(last_sent_at=doubtful.last_sent_at - timedelta(hours=1))
    run_cycle(flow)
    doubtful.refresh_from_db()
    assert doubtful.state in (S.POSTED, S.CONFIRMED)
    assert len(journals_by_reference(box)[doubtful.external_ref]) == 1


def test_unmapped_category_holds_that_report_while_others_post(box, flow):
    result = run_cycle(flow)
    unmapped = Batch.objects.filter(flow=flow, error_code="MAP-UNMAPPED-CATEGORY")
    assert unmapped.exists(), "the seeded data has Gifts expenses without a GL code"
    for batch in unmapped:
        assert 'unmapped category "Gifts"' in batch.last_error
        assert batch.payload["policyName"] in batch.last_error
        assert batch.state == S.HELD
        assert not jde_rows(box, reference=batch.external_ref)
        # a held batch still shows what it is worth, from the source
        exponent = 0 if batch.payload["currency"] == "JPY" else 2
        assert batch.amount == Decimal(batch.payload["total"]).scaleb(-exponent)
        assert batch.currency == batch.payload["currency"]
    assert result.posted > 0


def test_inactive_account_holds(box, db):
    from integrations.demo import add_rule

    flow = make_flow(box)
    add_rule(flow, match={"policy": "Field Sales", "category": "Meals"}, target={"business_unit": "900", "subsidiary": ""})
    run_cycle(flow)
    held = Batch.objects.filter(flow=flow, error_code="JDE-ACCOUNT-INACTIVE")
    assert held.exists()
    assert re.search(r"account 900\.6110(\.CC\d0)? is inactive in F0901", held.first().last_error)
    assert not any(r["VNMCU"].strip() == "900" for r in jde_rows(box))


def test_one_digest_per_cycle_lists_held_batches(box, flow):
    mail.outbox.clear()
    result = run_cycle(flow)
    assert result.held >= 1
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    for batch in Batch.objects.filter(flow=flow, state=S.HELD):
        assert batch.source_id in body
    assert mail.outbox[0].to == ["finance@demo.example"]


def test_reapproved_report_is_not_posted_twice(box, flow):
    run_cycle(flow)
    batch = Batch.objects.filter(flow=flow, state=S.CONFIRMED).first()
    control(box, "POST", f"expensify/reports/{batch.source_id}", json={"action": "unapprove"})
    control(box, "POST", f"expensify/reports/{batch.source_id}", json={"action": "approve"})
    result = run_cycle(flow)
    assert len(journals_by_reference(box)[batch.external_ref]) == 1
    assert result.posted == 0
    assert result.skipped >= 1


def test_reapproved_report_with_new_amounts_is_held_as_correction(box, flow):
    run_cycle(flow)
    batch = Batch.objects.filter(flow=flow, state=S.CONFIRMED).first()
    txn = batch.payload["transactions"][0]
    control(box, "POST", f"expensify/reports/{batch.source_id}", json={"action": "unapprove"})
    control(
        box,
        "POST",
        f"expensify/reports/{batch.source_id}",
        json={"action": "approve", "set_amount": {"transactionID": txn["transactionID"], "amount": txn["amount"] + 1000}},
    )
    result = run_cycle(flow)
    batch.refresh_from_db()
    assert batch.state == S.HELD and batch.error_code == "SRC-CHANGED-AFTER-POST"
    assert batch.correction_payload["total"] != batch.payload["total"]
    assert len(journals_by_reference(box)[batch.external_ref]) == 1
    assert result.posted == 0
    # a retry of the correction reconciles and does not post again
    retry_batches(Batch.objects.filter(pk=batch.pk), None, queue=False)
    run_cycle(flow)
    assert len(journals_by_reference(box)[batch.external_ref]) == 1


def test_retry_of_held_batches_posts_only_what_jde_lacks(box, flow):
    # All posts are refused outright first: every report is held after one attempt.
    control(box, "POST", "faults", json={"system": "jde", "endpoint": "orchestrator", "action": "status", "status": 400})
    run_cycle(flow)
    held = list(Batch.objects.filter(flow=flow, state=S.HELD, error_code="JDE-400").order_by("pk"))
    assert len(held) >= 2
    control(box, "DELETE", "faults")
    # Meanwhile one of them reached JDE anyway (say, through an earlier attempt that did land).
    from integrations.flows.expensify_to_jde import ExpensifyToJde
    from integrations.posting import Posting
    from integrations.systems.jde import JdeClient

    first = held[0]
    handler = ExpensifyToJde(flow)
    handler.open()
    JdeClient(flow.target).post_journal(handler.journal_document(Posting.from_json(first.posting)))
    posts_before = control(box, "GET", "calls")["jde"].get("orchestrator", 0)

    retried = retry_batches(Batch.objects.filter(pk__in=[b.pk for b in held]), None, queue=False)
    assert retried == len(held)
    run_cycle(flow)
    journals = journals_by_reference(box)
    assert all(len(journals[b.external_ref]) == 1 for b in held)
    posts_after = control(box, "GET", "calls")["jde"]["orchestrator"]
    assert posts_after - posts_before == len(held) - 1
    assert Batch.objects.filter(pk=first.pk, state__in=[S.POSTED, S.CONFIRMED]).exists()


def test_overlapping_cycle_is_skipped_and_audited(box, flow):
    import uuid
    from datetime import timedelta

    from django.utils import timezone

    Flow.objects.filter(pk=flow.pk).update(lease_owner=uuid.uuid4(), lease_until=timezone.now() + timedelta(seconds=60))
    result = run_cycle(flow, wait=0)
    assert result.state == SyncCycle.SKIPPED
    assert AuditEntry.objects.filter(flow=flow, event="cycle.skipped").exists()
    assert jde_rows(box) == []


def test_cursor_does_not_move_when_fetch_fails(box, flow):
    control(
        box,
        "POST",
        "faults",
        json={"system": "expensify", "endpoint": "download", "action": "status", "status": 500, "count": 20},
    )
    result = run_cycle(flow)
    flow.refresh_from_db()
    assert result.state == SyncCycle.FAILED
    assert flow.cursor == {}
    assert not Batch.objects.filter(flow=flow).exists()


def test_batch_left_posting_by_a_killed_worker_is_reconciled_not_reposted(box, flow):
    run_cycle(flow)
    posted = list(Batch.objects.filter(flow=flow, state=S.CONFIRMED).order_by("pk")[:2])
    # A worker died after sending: the batch is still 'posting' in our database.
    Batch.objects.filter(pk__in=[b.pk for b in posted]).update(state=S.POSTING)
    posts_before = control(box, "GET", "calls")["jde"]["orchestrator"]
    run_cycle(flow)
    assert control(box, "GET", "calls")["jde"]["orchestrator"] == posts_before
    for batch in posted:
        batch.refresh_from_db()
        assert batch.state in (S.POSTED, S.CONFIRMED)
        assert len(journals_by_reference(box)[batch.external_ref]) == 1
    assert AuditEntry.objects.filter(event="batch.in_doubt", batch__in=posted).count() == 2


def test_retryable_rejection_fails_with_backoff_then_posts_once(box, flow):
    from django.utils import timezone

    control(box, "POST", "faults", json={"system": "jde", "endpoint": "orchestrator", "action": "status", "status": 429,
                                         "retry_after": 0})
    flow.options = {**flow.options, "max_attempts": 3}
    flow.save()
    first = run_cycle(flow)
    failed = Batch.objects.filter(flow=flow, state=S.FAILED)
    assert first.posted == 0 and failed.count() == first.failed > 0
    assert all(b.next_attempt_at > timezone.now() and b.error_code for b in failed)
    control(box, "DELETE", "faults")
    run_cycle(flow)  # not due yet: nothing is retried early
    assert Batch.objects.filter(flow=flow, state=S.FAILED).count() == first.failed
    failed.update(next_attempt_at=timezone.now())
    second = run_cycle(flow)
    assert second.posted == first.failed
    assert all(len(batches) == 1 for batches in journals_by_reference(box).values())


def test_retryable_failures_are_held_after_the_attempt_cap(box, flow):
    from django.utils import timezone

    control(box, "POST", "faults", json={"system": "jde", "endpoint": "orchestrator", "action": "status", "status": 429,
                                         "retry_after": 0})
    flow.options = {**flow.options, "max_attempts": 2}
    flow.save()
    run_cycle(flow)
    Batch.objects.filter(flow=flow, state=S.FAILED).update(next_attempt_at=timezone.now())
    run_cycle(flow)
    gave_up = Batch.objects.filter(flow=flow, state=S.HELD, last_error__contains="gave up after 2 attempts")
    assert gave_up.exists() and not Batch.objects.filter(flow=flow, state=S.FAILED).exists()
    assert all(b.attempts == 2 for b in gave_up)


def test_second_cycle_waits_for_the_running_one_and_the_wait_is_audited(box, flow):
    import threading
    import uuid
    from datetime import timedelta

    from django.db import connection as db_connection
    from django.utils import timezone

    Flow.objects.filter(pk=flow.pk).update(lease_owner=uuid.uuid4(), lease_until=timezone.now() + timedelta(seconds=60))

    def finish_first():
        time.sleep(1.0)
        Flow.objects.filter(pk=flow.pk).update(lease_owner=None, lease_until=None)
        db_connection.close()

    threading.Thread(target=finish_first).start()
    result = run_cycle(flow, wait=30)
    assert result.state == SyncCycle.DONE and result.posted > 0
    assert AuditEntry.objects.filter(flow=flow, event="cycle.waiting").count() == 1
    assert not AuditEntry.objects.filter(flow=flow, event="cycle.skipped").exists()


def test_a_page_that_stays_unmarked_is_waited_for_then_left_to_the_next_cycle(box, flow, monkeypatch):
    from integrations.flows.expensify_to_jde import ExpensifyToJde

    monkeypatch.setattr(ExpensifyToJde, "after_store", lambda self, page: None)  # the mark never takes effect
    flow.options = {**flow.options, "page_size": 5, "mark_wait_seconds": 0.3, "mark_poll_seconds": 0.05}
    flow.save()
    started = time.monotonic()
    result = run_cycle(flow)
    flow.refresh_from_db()
    assert result.state == SyncCycle.DONE and time.monotonic() - started < 30
    assert Batch.objects.filter(flow=flow).count() == 5
    assert "approved_after" not in flow.cursor  # the pass did not complete: the cursor stays


def test_an_unknown_flow_kind_fails_its_cycle_and_frees_the_slot(box, flow, monkeypatch):
    from integrations import flows

    monkeypatch.delitem(flows.HANDLERS, "jde_to_bill")  # a kind declared before its module exists
    Flow.objects.filter(pk=flow.pk).update(kind="jde_to_bill")
    flow.refresh_from_db()
    result = run_cycle(flow)
    assert result.state == SyncCycle.FAILED and "not implemented" in result.message
    assert not SyncCycle.objects.filter(flow=flow, state=SyncCycle.RUNNING).exists()


def test_a_post_answered_with_an_existing_journal_is_verified_at_once_with_posts_in_parallel(box, flow):
    # Every post refused first: the reports are held with their postings, never sent with an unknown outcome.
    control(box, "POST", "faults", json={"system": "jde", "endpoint": "orchestrator", "action": "status", "status": 400})
    run_cycle(flow)
    held = list(Batch.objects.filter(flow=flow, state=S.HELD, error_code="JDE-400").order_by("pk"))
    assert len(held) > 8
    control(box, "DELETE", "faults")
    # One of them reaches JD Edwards another way; the portal does not know.
    from integrations.flows.expensify_to_jde import ExpensifyToJde
    from integrations.posting import Posting
    from integrations.systems.jde import JdeClient

    handler = ExpensifyToJde(flow)
    handler.open()
    JdeClient(flow.target).post_journal(handler.journal_document(Posting.from_json(held[-1].posting)))
    Batch.objects.filter(pk__in=[b.pk for b in held]).update(state=S.READY, last_sent_at=None, error_code="")
    # Eight posts in flight (JD Edwards' default): the orchestration answers the known one with its journal, and
    # the cycle's own check of that journal must not wait for a slot the sending threads keep (they keep them to
    # the end of the run of groups; a slot's lease runs 90 s).
    started = time.monotonic()
    result = run_cycle(flow)
    assert time.monotonic() - started < 45
    assert result.state == SyncCycle.DONE and result.in_doubt == 0
    assert Batch.objects.filter(pk=held[-1].pk, state__in=[S.POSTED, S.CONFIRMED]).exists()
    journals = journals_by_reference(box)
    assert all(len(journals[b.external_ref]) == 1 for b in held)
