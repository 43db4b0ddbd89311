"""An Expensify report unapproved (or deleted) after it was posted: flagged, never reversed by the portal,
explained in the reconciliation, accepted by support, and back to posted when approved again unchanged.
Over real HTTP against the sandbox, on a real database."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from audit.models import AuditEntry
from integrations.engine import run_cycle
from integrations.models import Batch, Flow, SyncCycle
from integrations.ops.alerts import send_digests
from integrations.ops.reconciliation import build_report, exact, report_rows
from integrations.systems.acumatica import clear_token_cache

from .conftest import control, make_acumatica_flow, make_flow

pytestmark = pytest.mark.django_db(transaction=True)
S = Batch.State
CODE = "SRC-UNAPPROVED-AFTER-POST"
BATCHES = "/integrations/batch/"


@pytest.fixture(autouse=True)
def _fresh_tokens():
    clear_token_cache()
    yield
    clear_token_cache()


def posted(box, **kwargs):
    """A flow (rechecking on every cycle unless told) after its first cycle, and one report it posted."""
    options = {"recheck_hours": 0, **kwargs.pop("options", {})}
    flow = (make_acumatica_flow if kwargs.pop("acumatica", False) else make_flow)(box, options=options, **kwargs)
    run_cycle(flow)
    batch = Batch.objects.filter(flow=flow, state=S.CONFIRMED).order_by("pk").first()
    assert batch is not None
    return flow, batch


def act(box, batch, action):
    control(box, "POST", f"expensify/reports/{batch.source_id}", json={"action": action})


def calls(box, system, endpoint):
    return control(box, "GET", "calls").get(system, {}).get(endpoint, 0)


def exports(box):
    return calls(box, "expensify", "file:combinedReportData")


def journals(box, batch):
    return {row["VNEDBT"] for row in control(box, "GET", "jde/F0911Z1", params={"reference": batch.external_ref})}


def period():
    today = timezone.now().date()
    return today - timedelta(days=1), today + timedelta(days=1)


def flagged(flow):
    return list(Batch.objects.filter(flow=flow, error_code=CODE))


def test_unapproved_after_posting_is_held_without_a_target_call_and_explained_in_reconciliation(box, db):
    flow, batch = posted(box)
    before = build_report(flow, *period())
    posts, rows = calls(box, "jde", "orchestrator"), control(box, "GET", "jde/F0911Z1")
    act(box, batch, "unapprove")
    mail.outbox.clear()
    run_cycle(flow)

    batch.refresh_from_db()
    assert batch.state == S.HELD and batch.error_code == CODE
    assert f"report {batch.source_id} was unapproved in Expensify" in batch.last_error
    assert f"posted as JD Edwards {batch.target_document_id}; reverse it in the target or accept" in batch.last_error
    assert [b.pk for b in flagged(flow)] == [batch.pk]  # the others are still approved
    assert AuditEntry.objects.filter(event="batch.held", batch=batch, message__contains=CODE).exists()
    # nothing was sent to JD Edwards: the journal stands until a person deals with it
    assert calls(box, "jde", "orchestrator") == posts and control(box, "GET", "jde/F0911Z1") == rows
    assert len(journals(box, batch)) == 1
    # the cycle's digest names it
    assert len(mail.outbox) == 1 and batch.source_id in mail.outbox[0].body and CODE in mail.outbox[0].body
    # and the tenant's periodic digest of what is held counts it under its code
    mail.outbox.clear()
    assert send_digests() == 1 and f"{CODE} x1" in mail.outbox[0].body

    # reconciliation: no longer approved at the source (0), still posted: the difference is explained
    after = build_report(flow, *period())
    record = next(r for r in after.records if r.batch.pk == batch.pk)
    assert record.reason == "unapproved at the source after posting"
    assert record.source_amount == 0 and record.posted_amount == batch.amount > 0
    total = {t.currency: t for t in after.totals}[batch.currency]
    old = {t.currency: t for t in before.totals}[batch.currency]
    assert total.source_total == old.source_total - batch.amount
    assert total.posted_total == old.posted_total
    assert total.difference - old.difference == -batch.amount
    assert total.difference == sum((r.difference for r in after.records if r.batch.currency == batch.currency), Decimal(0))
    row = next(r for r in report_rows(after) if r[0] == "record" and r[3] == batch.source_id)
    assert row[5] == "unapproved at the source after posting"
    assert row[6:9] == [exact(0, batch.currency), exact(batch.amount, batch.currency), exact(-batch.amount, batch.currency)]


def test_a_failed_export_flags_nothing(box, db):
    flow, batch = posted(box)
    act(box, batch, "unapprove")
    control(box, "POST", "faults", json={"system": "expensify", "endpoint": "file:combinedReportData", "action": "status",
                                         "status": 500})
    run_cycle(flow)
    assert flagged(flow) == []
    assert AuditEntry.objects.filter(event="cycle.recheck_failed", flow_id=flow.pk).exists()
    assert "rechecked" not in SyncCycle.objects.filter(flow=flow).latest("started_at").counts  # asked again next cycle
    control(box, "DELETE", "faults")
    run_cycle(flow)
    assert [b.pk for b in flagged(flow)] == [batch.pk]


def test_a_deleted_report_is_flagged_only_when_the_export_answers_for_the_others(box, db):
    flow, batch = posted(box)
    control(box, "DELETE", f"expensify/reports/{batch.source_id}")
    run_cycle(flow)
    batch.refresh_from_db()
    assert batch.state == S.HELD and batch.error_code == CODE
    assert f"report {batch.source_id} is no longer in Expensify" in batch.last_error
    # every other posted report deleted too: the export answers nothing, which proves nothing
    others = Batch.objects.filter(flow=flow, state=S.CONFIRMED)
    assert others.exists()
    for other in others:
        control(box, "DELETE", f"expensify/reports/{other.source_id}")
    run_cycle(flow)
    assert [b.pk for b in flagged(flow)] == [batch.pk]


def test_recheck_is_throttled_by_recheck_hours(box, db):
    flow, batch = posted(box, options={"recheck_hours": 6})
    start = exports(box)
    run_cycle(flow)  # the first cycle with something posted asks about it
    with_recheck = exports(box) - start
    assert SyncCycle.objects.filter(flow=flow).latest("started_at").counts["rechecked"] > 0
    act(box, batch, "unapprove")
    start = exports(box)
    run_cycle(flow)  # within six hours of that: no recheck export
    assert exports(box) - start == with_recheck - 1  # the fetch's export only
    assert flagged(flow) == []
    SyncCycle.objects.filter(flow=flow).update(started_at=timezone.now() - timedelta(hours=7))
    start = exports(box)
    run_cycle(flow)
    assert exports(box) - start == with_recheck  # one recheck export for the chunk
    assert [b.pk for b in flagged(flow)] == [batch.pk]


def test_support_accepts_it_a_customer_cannot(box, tenant, customer_client, support_client):
    tenant.alert_emails = "finance@acme.example"
    tenant.save()
    flow, batch = posted(box, tenant=tenant)
    act(box, batch, "unapprove")
    run_cycle(flow)
    url = BATCHES + f"{batch.pk}/act/accept/"
    assert customer_client.post(url).status_code == 403
    batch.refresh_from_db()
    assert batch.state == S.HELD and batch.error_code == CODE
    support_client.post(url)
    batch.refresh_from_db()
    assert batch.state == S.POSTED and batch.error_code == "" and batch.last_error == ""
    assert AuditEntry.objects.filter(event="batch.correction_accepted", batch=batch, actor="sam").exists()
    # closed: the next recheck does not flag it again, and nothing is posted again
    run_cycle(flow)
    batch.refresh_from_db()
    assert batch.state == S.CONFIRMED and flagged(flow) == []
    assert len(journals(box, batch)) == 1


@pytest.mark.parametrize("path", ["recheck", "intake"])
def test_approved_again_unchanged_ends_posted_with_one_journal(box, db, path):
    flow, batch = posted(box)
    act(box, batch, "unapprove")
    run_cycle(flow)
    assert [b.pk for b in flagged(flow)] == [batch.pk]
    act(box, batch, "approve")
    if path == "intake":  # no recheck this time: the report offered again restores it
        Flow.objects.filter(pk=flow.pk).update(options={**flow.options, "recheck_hours": 100})
        flow.refresh_from_db()
    result = run_cycle(flow)
    batch.refresh_from_db()
    assert batch.state == S.CONFIRMED and batch.error_code == "" and result.posted == 0
    assert len(journals(box, batch)) == 1
    restored = AuditEntry.objects.get(event="batch.restored", batch=batch)
    assert ("offered again" in restored.message) == (path == "intake")


def test_approved_again_with_new_amounts_is_a_correction(box, db):
    flow, batch = posted(box)
    act(box, batch, "unapprove")
    run_cycle(flow)
    txn = batch.payload["transactions"][0]
    control(box, "POST", f"expensify/reports/{batch.source_id}",
            json={"action": "approve", "set_amount": {"transactionID": txn["transactionID"], "amount": txn["amount"] + 1000}})
    run_cycle(flow)
    batch.refresh_from_db()
    assert batch.state == S.HELD and batch.error_code == "SRC-CHANGED-AFTER-POST"
    assert batch.correction_payload["total"] != batch.payload["total"]
    assert len(journals(box, batch)) == 1


def test_acumatica_flow_flags_it_the_same_way(box, db):
    flow, batch = posted(box, acumatica=True)
    documents = len(control(box, "GET", "acumatica/Bill"))
    act(box, batch, "unapprove")
    run_cycle(flow)
    batch.refresh_from_db()
    assert batch.state == S.HELD and batch.error_code == CODE
    assert f"posted as Acumatica Expenses to Acumatica {batch.target_document_id}" in batch.last_error
    assert len(control(box, "GET", "acumatica/Bill")) == documents
    assert [b.pk for b in flagged(flow)] == [batch.pk]
