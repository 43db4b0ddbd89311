"""Reconcile over real HTTP: what became of a post whose outcome is unknown is decided by what JD
Edwards holds (compared with the posting), never by a blind re-post."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from audit.models import AuditEntry
from integrations.engine import run_cycle
from integrations.flows.expensify_to_jde import ExpensifyToJde
from integrations.models import Batch, SyncCycle
from integrations.operations import accept_corrections, retry_batches
from integrations.posting import Posting
from integrations.systems.jde import JdeClient

from .conftest import (
    change_report,
    configure,
    control,
    fault,
    jde_rows,
    journals_by_reference,
    make_flow,
    posts,
)

pytestmark = pytest.mark.django_db(transaction=True)
S = Batch.State


def post_directly(flow, batch, *, change=Decimal(0)):
    """Write ``batch``'s journal to JD Edwards outside the engine, its first line and last offset moved by ``change``."""
    handler = ExpensifyToJde(flow)
    handler.open()
    posting = Posting.from_json(batch.posting)
    posting.lines[0].amount += change
    posting.lines[-1].amount -= change
    return JdeClient(flow.target).post_journal(handler.journal_document(posting))


def first_post_lost(box, flow, action="drop_before"):
    """Run a cycle whose first journal post gets no answer; returns that batch (in doubt)."""
    fault(box, system="jde", endpoint="orchestrator", action=action, count=1)
    result = run_cycle(flow)
    assert result.state == SyncCycle.DONE and result.in_doubt == 1
    return Batch.objects.get(flow=flow, state=S.IN_DOUBT)


def test_found_and_equal_is_recorded_as_posted_without_a_second_post(box):
    flow = make_flow(box)
    doubtful = first_post_lost(box, flow, action="drop_after")  # JD Edwards wrote it; the answer was lost
    assert len(jde_rows(box, reference=doubtful.external_ref)) > 0
    before = posts(box)
    run_cycle(flow)
    doubtful.refresh_from_db()
    assert doubtful.state in (S.POSTED, S.CONFIRMED) and doubtful.found_in_target is None
    assert doubtful.target_document_id.startswith("JE ")
    assert posts(box) == before
    assert len(journals_by_reference(box)[doubtful.external_ref]) == 1
    assert AuditEntry.objects.filter(batch=doubtful, event="batch.reconciled_posted").count() == 1


def test_found_but_different_is_held_with_what_was_found_and_one_digest(box):
    flow = make_flow(box)
    doubtful = first_post_lost(box, flow)  # nothing written
    assert jde_rows(box, reference=doubtful.external_ref) == []
    # Someone wrote a journal with this reference, but for one unit more than our posting.
    post_directly(flow, doubtful, change=Decimal("1.00"))
    before = posts(box)
    mail.outbox.clear()
    run_cycle(flow)
    doubtful.refresh_from_db()
    assert doubtful.state == S.HELD and doubtful.error_code == "RECON-MISMATCH"
    assert "differs from the posting" in doubtful.last_error and "total" in doubtful.last_error
    assert doubtful.found_in_target and len(doubtful.found_in_target) == 1
    ours = Posting.from_json(doubtful.posting).debit_total
    assert Decimal(doubtful.found_in_target[0]["total"]) == ours + Decimal("1.00")
    assert posts(box) == before  # not posted again
    assert len(journals_by_reference(box)[doubtful.external_ref]) == 1
    assert len(mail.outbox) == 1
    assert "RECON-MISMATCH" in mail.outbox[0].body and doubtful.source_id in mail.outbox[0].body
    # A person checked the document in JD Edwards and accepts it: posted as what was found, not sent again.
    assert accept_corrections(Batch.objects.filter(pk=doubtful.pk), None) == 1
    doubtful.refresh_from_db()
    assert doubtful.state == S.POSTED and doubtful.target_document_id == doubtful.found_in_target[0]["document_id"]
    run_cycle(flow)
    assert posts(box) == before and len(journals_by_reference(box)[doubtful.external_ref]) == 1


def test_two_copies_in_jde_are_held_as_a_duplicate(box):
    configure(box, "jde", journal_idempotent=False)  # raw Z-file writes: a reference may be written twice
    flow = make_flow(box)
    doubtful = first_post_lost(box, flow)
    post_directly(flow, doubtful)
    post_directly(flow, doubtful)
    assert len(journals_by_reference(box)[doubtful.external_ref]) == 2
    before = posts(box)
    run_cycle(flow)
    doubtful.refresh_from_db()
    assert doubtful.state == S.HELD and doubtful.error_code == "RECON-DUPLICATE"
    assert len(doubtful.found_in_target) == 2
    assert posts(box) == before
    assert len(journals_by_reference(box)[doubtful.external_ref]) == 2  # nothing added


def test_a_journal_purged_from_the_z_file_is_still_found_by_a_late_reconcile(box):
    flow = make_flow(box, target_options={"settle_seconds": 600})
    doubtful = first_post_lost(box, flow, action="drop_after")
    ref = doubtful.external_ref
    # JD Edwards' batch processor moves the journal to F0911 and the site purges the Z rows.
    assert control(box, "POST", "jde/process", json={"reference": ref})["journals"] == 1
    assert control(box, "POST", "jde/purge", json={"reference": ref})["journals"] == 1
    assert jde_rows(box, reference=ref) == []
    ledger = jde_rows(box, reference=ref, table="F0911")
    assert ledger
    # Long after the settle window the cycle reconciles it.
    Batch.objects.filter(pk=doubtful.pk).update(last_sent_at=timezone.now() - timedelta(hours=2))
    before = posts(box)
    run_cycle(flow)
    doubtful.refresh_from_db()
    assert doubtful.state in (S.POSTED, S.CONFIRMED), (doubtful.error_code, doubtful.last_error)
    assert posts(box) == before  # found, not posted again
    assert jde_rows(box, reference=ref) == []
    assert len(jde_rows(box, reference=ref, table="F0911")) == len(ledger)
    assert doubtful.target_document_id == f"JE {ledger[0]['GLDOC']}"


def test_a_source_change_never_reposts_a_batch_whose_reference_reconcile_found_in_jde(box):
    configure(box, "jde", journal_idempotent=False)  # only the engine stands between a re-post and a second copy
    flow = make_flow(box)
    doubtful = first_post_lost(box, flow)
    post_directly(flow, doubtful, change=Decimal("1.00"))
    run_cycle(flow)
    doubtful.refresh_from_db()
    assert doubtful.state == S.HELD and doubtful.error_code == "RECON-MISMATCH"
    # The report is then changed and approved again in Expensify, so it is offered once more.
    txn = doubtful.payload["transactions"][0]
    change_report(box, doubtful.source_id, action="unapprove")
    change_report(box, doubtful.source_id, action="approve",
                  set_amount={"transactionID": txn["transactionID"], "amount": txn["amount"] + 1000})
    before = posts(box)
    result = run_cycle(flow)
    doubtful.refresh_from_db()
    assert result.fetched == 1
    # JD Edwards holds a document with this reference: a person decides, nothing is sent blind.
    copies = len(journals_by_reference(box)[doubtful.external_ref])
    assert posts(box) == before, f"re-posted: batch now {doubtful.state}, {copies} journals in JDE for its reference"
    assert copies == 1
    assert doubtful.state == S.HELD


def test_an_operator_retry_after_the_source_changed_never_resends_the_old_posting(box):
    flow = make_flow(box)
    # The first post is refused outright: held after one attempt (it was sent, nothing was written).
    fault(box, system="jde", endpoint="orchestrator", action="status", status=400, count=1)
    run_cycle(flow)
    held = Batch.objects.get(flow=flow, state=S.HELD, error_code="JDE-400")
    assert held.attempts == 1 and held.last_sent_at
    # The report then changes in Expensify (a real edit: line and total).
    txn = held.payload["transactions"][0]
    change_report(box, held.source_id, set_amount={"transactionID": txn["transactionID"], "amount": txn["amount"] + 1000})

    before = posts(box)
    assert retry_batches(Batch.objects.filter(pk=held.pk), None, queue=False) == 1
    held.refresh_from_db()
    assert held.state == S.IN_DOUBT  # ever sent: reconcile first
    run_cycle(flow)
    held.refresh_from_db()
    assert held.state == S.HELD and held.error_code == "SRC-CHANGED-IN-DOUBT"
    new_total = held.correction_payload["total"]
    assert new_total > held.payload["total"]
    assert posts(box) == before and jde_rows(box, reference=held.external_ref) == []

    # A person chooses to post the new version: it is posted once, with the new amounts only.
    retry_batches(Batch.objects.filter(pk=held.pk), None, queue=False)
    run_cycle(flow)
    held.refresh_from_db()
    assert held.state in (S.POSTED, S.CONFIRMED), (held.error_code, held.last_error)
    assert posts(box) == before + 1
    journals = journals_by_reference(box)[held.external_ref]
    assert len(journals) == 1
    rows = next(iter(journals.values()))
    assert sum(Decimal(r["VNAA"]) for r in rows if Decimal(r["VNAA"]) > 0) == Decimal(new_total).scaleb(-2)
