"""Expensify -> IFS Cloud accrual vouchers over real HTTP against the sandbox, on a real database."""

import time
from collections import defaultdict
from decimal import Decimal

import pytest
from django.core import mail

from audit.models import AuditEntry
from integrations.currencies import EXPONENTS
from integrations.engine import run_cycle
from integrations.engine.cycle import post_concurrency
from integrations.models import Batch, Connection, SyncCycle
from integrations.systems.ifs import clear_token_cache

from .conftest import control, make_flow

pytestmark = pytest.mark.django_db(transaction=True)
S = Batch.State
OFFSETS = ("2100", "2150")
CREATE = "action:VoucherTemplate_CreateVoucher"


@pytest.fixture(autouse=True)
def fresh_tokens():
    clear_token_cache()
    yield
    clear_token_cache()


@pytest.fixture
def flow(box, db):
    return make_flow(box, kind="expensify_to_ifs")


def approved_reports(box):
    return {str(r["reportID"]): r for r in control(box, "GET", "expensify/reports", params={"state": "APPROVED,REIMBURSED"})}


def vouchers_by_reference(box):
    out = defaultdict(list)
    for voucher in control(box, "GET", "ifs/vouchers"):
        out[voucher["ReferenceNumber"]].append(voucher)
    return out


def debit(row):
    return Decimal(row["CurrencyDebitAmount"] or 0)


def credit(row):
    return Decimal(row["CurrencyCreditAmount"] or 0)


def ifs_calls(box):
    return control(box, "GET", "calls").get("ifs", {})


def test_posted_totals_equal_approved_report_totals_to_the_cent(box, flow):
    result = run_cycle(flow)
    reports, vouchers = approved_reports(box), vouchers_by_reference(box)
    posted = Batch.objects.filter(flow=flow, state__in=[S.POSTED, S.CONFIRMED])
    assert result.state == SyncCycle.DONE and result.posted > 0 and posted.count() == result.posted
    for batch in posted:
        report = reports[batch.source_id]
        found = vouchers[f"EXP-{batch.source_id}"]
        assert len(found) == 1, f"report {batch.source_id} is in IFS {len(found)} times"
        voucher = found[0]
        rows = voucher["Rows"]
        assert sum(map(debit, rows)) == sum(map(credit, rows))  # the voucher balances
        expenses = sum(debit(r) - credit(r) for r in rows if r["Account"] not in OFFSETS)
        assert expenses == Decimal(int(report["total"])).scaleb(-EXPONENTS[report["currency"]])
        assert voucher["CurrencyCode"] == report["currency"] and {r["ReferenceNumber"] for r in rows} == {batch.external_ref}
        assert batch.target_document_id == f"ACR {voucher['AccountingYear']}-{voucher['VoucherNo']}"
        tagged = [t for t in report["transactions"] if (t.get("tag") or "").strip()]
        if tagged:  # cost center tags became code part B through the mapping rules
            assert any(r["CodeB"] for r in rows)
    held = Batch.objects.filter(flow=flow, state=S.HELD)
    assert posted.count() + held.count() == len(reports)
    assert all(b.error_code and b.last_error and b.error_help for b in held)


def test_rerun_posts_nothing_and_posted_reports_are_confirmed(box, flow):
    first = run_cycle(flow)
    count = len(control(box, "GET", "ifs/vouchers"))
    second = run_cycle(flow)
    assert first.posted > 0 and second.posted == 0 and len(control(box, "GET", "ifs/vouchers")) == count
    reports = approved_reports(box)
    assert all("ml-connector" in reports[b.source_id]["labels"] for b in Batch.objects.filter(flow=flow, state=S.CONFIRMED))


def test_token_expiry_in_the_middle_of_a_cycle_reauthenticates_without_duplicates(box, flow):
    # The IAM forgets every token before the 4th voucher: that call answers 401, the client takes a new
    # token and sends it again (a 401 processed nothing).
    control(box, "POST", "faults", json={"system": "ifs", "endpoint": CREATE, "action": "restart", "after": 3, "count": 1})
    result = run_cycle(flow)
    vouchers = vouchers_by_reference(box)
    assert result.state == SyncCycle.DONE and result.posted > 4
    assert all(len(v) == 1 for v in vouchers.values()) and len(vouchers) == result.posted
    assert ifs_calls(box)["token"] == 2


def test_etag_changed_between_read_and_write_rereads_and_retries_once(box, flow):
    # Someone edits the voucher template right after the connector's first read of it.
    control(box, "POST", "ifs/templates/MLC-ACCRUAL/touch", json={"on_next_read": 1})
    result = run_cycle(flow)
    vouchers = vouchers_by_reference(box)
    calls = ifs_calls(box)
    assert result.state == SyncCycle.DONE and result.failed == 0 and result.posted == len(vouchers)
    assert all(len(v) == 1 for v in vouchers.values())
    # The writes in flight with the stale ETag (one per posting thread at most) are refused and retried once.
    concurrency = post_concurrency(flow)
    assert result.posted + 1 <= calls[CREATE] <= result.posted + concurrency
    assert calls["read:VoucherTemplateSet"] == 2  # once for the cycle, once more after the 412, shared by the threads


def test_etag_changing_twice_fails_the_batch_for_a_later_attempt_without_a_voucher(box, flow):
    # One post at a time: the one voucher whose two tries both meet a changed template.
    Connection.objects.filter(pk=flow.target_id).update(options={**flow.target.options, "concurrency": 1})
    flow.target.refresh_from_db()
    control(box, "POST", "ifs/templates/MLC-ACCRUAL/touch", json={"on_next_read": 2})
    result = run_cycle(flow)
    failed = Batch.objects.get(flow=flow, state=S.FAILED)
    assert result.failed == 1 and failed.error_code == "IFS-412-TEMPLATE-CHANGED"
    assert failed.external_ref not in vouchers_by_reference(box)
    Batch.objects.filter(pk=failed.pk).update(next_attempt_at=failed.updated_at)  # its backoff is over
    again = run_cycle(flow)
    failed.refresh_from_db()
    assert again.posted == 1 and failed.state in (S.POSTED, S.CONFIRMED)
    assert len(vouchers_by_reference(box)[failed.external_ref]) == 1


def test_a_429_storm_finishes_without_duplicates(box, flow):
    control(box, "POST", "faults", json={"system": "ifs", "endpoint": CREATE, "action": "status", "status": 429,
                                         "retry_after": 0.05, "after": 1, "count": 4})
    Connection.objects.filter(pk=flow.target_id).update(options={**flow.target.options, "max_attempts": 6})
    flow.target.refresh_from_db()
    result = run_cycle(flow)
    vouchers = vouchers_by_reference(box)
    assert result.state == SyncCycle.DONE and result.failed == 0 and result.posted == len(vouchers)
    assert all(len(v) == 1 for v in vouchers.values())
    assert ifs_calls(box)[CREATE] == result.posted + 4


def test_the_tenant_rate_is_kept_so_ifs_refuses_nothing(box, flow):
    box.config["ifs"]["rate_limit"] = [[20, 2]]  # the tenant's limit, scaled down: 20 calls in any 2 seconds
    Connection.objects.filter(pk=flow.target_id).update(options={**flow.target.options, "rate_limit": [18, 2]})
    flow.target.refresh_from_db()
    start = time.monotonic()
    result = run_cycle(flow)
    elapsed = time.monotonic() - start
    calls = sum(v for k, v in ifs_calls(box).items() if k != "token")
    assert result.state == SyncCycle.DONE and result.posted > 10
    assert control(box, "GET", "ifs/tokens")["rate_refused"] == 0
    assert elapsed >= (calls - 18) / 9  # the bucket's refill: (18 - burst) per 2 s


def test_missing_cost_center_waits_and_the_next_cycle_posts_it_once_created(box, flow):
    control(box, "DELETE", "ifs/code-parts/B/CC20")
    first = run_cycle(flow)
    waiting = Batch.objects.filter(flow=flow, state=S.HELD, error_code="IFS-CODE-PART-MISSING")
    assert first.state == SyncCycle.DONE and waiting.exists()
    assert all("waiting for code part B (Cost Center) value CC20" in b.last_error for b in waiting)
    refs = {b.external_ref for b in waiting}
    assert not refs & set(vouchers_by_reference(box))
    digests = len(mail.outbox)
    # Still missing: the next cycle leaves them waiting and sends no second digest for them.
    second = run_cycle(flow)
    assert second.posted == 0 and waiting.count() == len(refs) and len(mail.outbox) == digests
    control(box, "POST", "ifs/code-parts", json={"part": "B", "value": "CC20", "description": "Field sales 2"})
    third = run_cycle(flow)
    vouchers = vouchers_by_reference(box)
    assert third.posted == len(refs) and not waiting.all().exists()
    assert all(len(vouchers[r]) == 1 for r in refs)
    assert AuditEntry.objects.filter(flow=flow, event="batch.requeued").count() == len(refs)


def test_an_inactive_project_holds_until_it_is_active_again(box, flow):
    control(box, "POST", "ifs/code-parts", json={"part": "C", "value": "PRJ-ALPHA", "active": False})
    run_cycle(flow)
    waiting = Batch.objects.filter(flow=flow, state=S.HELD, error_code="IFS-CODE-PART-MISSING")
    assert waiting.exists() and all("value PRJ-ALPHA: it is inactive in IFS" in b.last_error for b in waiting)
    control(box, "POST", "ifs/code-parts", json={"part": "C", "value": "PRJ-ALPHA", "active": True})
    count = waiting.count()
    assert run_cycle(flow).posted == count and not waiting.all().exists()


def test_a_value_deactivated_after_the_cache_was_loaded_waits_instead_of_failing(box, flow):
    from mappings.reference import refresh_reference

    refresh_reference(flow.target)  # the cache says CC10 is active; then IFS deactivates it
    control(box, "POST", "ifs/code-parts", json={"part": "B", "value": "CC10", "active": False})
    first = run_cycle(flow)
    waiting = Batch.objects.filter(flow=flow, state=S.HELD, error_code="IFS-CODE-PART-MISSING")
    assert first.state == SyncCycle.DONE and waiting.exists()
    assert all("value CC10: it is inactive in IFS" in b.last_error for b in waiting)
    control(box, "POST", "ifs/code-parts", json={"part": "B", "value": "CC10", "active": True})
    count = waiting.count()
    assert run_cycle(flow).posted == count


def test_lost_answer_is_reconciled_by_reference_without_a_second_voucher(box, flow):
    control(box, "POST", "faults", json={"system": "ifs", "endpoint": CREATE, "action": "drop_after", "after": 2, "count": 1})
    first = run_cycle(flow)
    doubtful = Batch.objects.get(flow=flow, state=S.IN_DOUBT)
    assert first.in_doubt == 1
    second = run_cycle(flow)  # settle window 0: reconcile finds it by ReferenceNumber
    doubtful.refresh_from_db()
    assert second.state == SyncCycle.DONE and doubtful.state in (S.POSTED, S.CONFIRMED)
    assert len(vouchers_by_reference(box)[doubtful.external_ref]) == 1
    assert doubtful.target_document_id.startswith("ACR ")


def test_rotated_expensify_credentials_one_alert_per_outage_and_recovery_without_restart(box, flow):
    good = dict(flow.source.credentials)
    Connection.objects.filter(pk=flow.source_id).update(credentials={**good, "partnerUserSecret": "revoked"})
    first, second = run_cycle(flow), run_cycle(flow)  # the same flow object: nothing reloaded by hand
    flow.refresh_from_db()
    assert first.state == second.state == SyncCycle.PAUSED and flow.outage_cycles == 2
    assert len([m for m in mail.outbox if "paused" in m.subject]) == 1
    assert not Batch.objects.filter(flow=flow, state=S.HELD).exclude(error_code__startswith="MAP-").exists()
    # New credentials saved in the portal: the next cycle uses them, the outage ends, everything posts.
    Connection.objects.filter(pk=flow.source_id).update(credentials=good)
    third = run_cycle(flow)
    flow.refresh_from_db()
    assert third.state == SyncCycle.DONE and third.posted > 0 and flow.outage_code == ""
    assert AuditEntry.objects.filter(flow=flow, event="flow.recovered").count() == 1


def test_revoked_ifs_client_pauses_the_flow_with_one_alert(box, flow):
    good = dict(flow.target.credentials)
    Connection.objects.filter(pk=flow.target_id).update(credentials={**good, "client_secret": "revoked-secret"})
    flow.target.refresh_from_db()
    first = run_cycle(flow)
    second = run_cycle(flow)
    flow.refresh_from_db()
    assert first.state == second.state == SyncCycle.PAUSED and flow.outage_code == "IFS-AUTH"
    assert len([m for m in mail.outbox if "paused" in m.subject]) == 1
    assert "revoked-secret" not in first.message and control(box, "GET", "ifs/vouchers") == []
