"""Expensify -> Acumatica over real HTTP against the sandbox, on a real database."""

from collections import defaultdict
from decimal import Decimal

import pytest

from integrations.engine import run_cycle
from integrations.models import Batch, SyncCycle
from integrations.systems.acumatica import clear_token_cache

from .conftest import control, make_acumatica_flow

pytestmark = pytest.mark.django_db(transaction=True)
S = Batch.State


@pytest.fixture(autouse=True)
def _fresh_tokens():
    clear_token_cache()
    yield
    clear_token_cache()


def approved_reports(box):
    return {str(r["reportID"]): r for r in control(box, "GET", "expensify/reports", params={"state": "APPROVED,REIMBURSED"})}


def documents(box, entity):
    """reference -> [documents carrying it]: more than one is a duplicate post."""
    field = "VendorRef" if entity == "Bill" else "Description"
    out = defaultdict(list)
    for doc in control(box, "GET", f"acumatica/{entity}"):
        out[doc.get(field)].append(doc)
    return out


def exponent(currency):
    return 0 if currency == "JPY" else 2


@pytest.mark.parametrize("document,entity", [("bill", "Bill"), ("journal", "JournalTransaction")])
def test_each_approved_report_is_one_document_equal_to_the_cent(box, db, document, entity):
    flow = make_acumatica_flow(box, options={"document": document})
    result = run_cycle(flow)
    assert result.state == SyncCycle.DONE, result.message
    reports, docs = approved_reports(box), documents(box, entity)
    posted = Batch.objects.filter(flow=flow, state__in=[S.POSTED, S.CONFIRMED])
    assert posted.count() == result.posted > 0
    for batch in posted:
        report = reports[batch.source_id]
        copies = docs[f"EXP-{batch.source_id}"]
        assert len(copies) == 1, f"report {batch.source_id} is in Acumatica {len(copies)} times"
        doc = copies[0]
        expected = Decimal(report["total"]).scaleb(-exponent(report["currency"]))
        assert doc["CurrencyID"] == report["currency"]
        if entity == "Bill":
            assert Decimal(str(doc["Amount"])) == expected
            assert sum(Decimal(str(ln["Amount"])) for ln in doc["Details"]) == expected
            assert doc["Vendor"] == next(v["VendorID"] for v in control(box, "GET", "acumatica/Vendor")
                                         if v["MainContact"]["Email"] == report["accountEmail"])
        else:
            assert Decimal(str(doc["DebitTotal"])) == Decimal(str(doc["CreditTotal"]))  # the journal balances
            offsets = {"2100", "2150"}
            debits = sum(Decimal(str(ln["DebitAmount"])) - Decimal(str(ln["CreditAmount"]))
                         for ln in doc["Details"] if ln["Account"] not in offsets)
            assert debits == expected
    # every approved report is accounted for: posted or held with a reason a person can act on
    held = Batch.objects.filter(flow=flow, state=S.HELD)
    assert posted.count() + held.count() == len(reports)
    assert all(b.error_code and b.last_error and b.error_help for b in held)


def test_lines_are_coded_by_gl_code_and_cost_center_tags(box, db):
    flow = make_acumatica_flow(box)
    run_cycle(flow)
    reports = approved_reports(box)
    checked = 0
    for ref, (bill,) in documents(box, "Bill").items():
        report = reports[ref.removeprefix("EXP-")]
        expenses = {str(t["transactionID"]): t for t in report["transactions"]}
        for line, expense in zip(bill["Details"], report["transactions"], strict=True):
            assert line["Account"] == expense["categoryGlCode"]
            cost_center = (expense.get("tag") or "").split(":")[0].strip()
            assert line["Subaccount"] == (cost_center if cost_center in ("CC10", "CC20", "CC30") else "000")
            checked += 1
        assert len(expenses) == len(bill["Details"])
    assert checked > 0


def test_only_approved_and_reimbursed_reports_post(box, db):
    flow = make_acumatica_flow(box)
    run_cycle(flow)
    everything = {str(r["reportID"]): r for r in control(box, "GET", "expensify/reports")}
    refs = set(documents(box, "Bill"))
    assert refs
    for ref in refs:
        assert everything[ref.removeprefix("EXP-")]["state"] in ("APPROVED", "REIMBURSED")
    assert any(r["state"] not in ("APPROVED", "REIMBURSED") for r in everything.values())


def test_rerun_and_a_second_flow_post_nothing(box, db):
    flow = make_acumatica_flow(box)
    first = run_cycle(flow)
    count = len(control(box, "GET", "acumatica/Bill"))
    assert first.posted > 0 and count == first.posted
    second = run_cycle(flow)
    other = make_acumatica_flow(box, tenant=flow.tenant, name="Copy of the flow", source=flow.source)
    # the copy writes to another connection row for the same instance: the search before create guards it
    third = run_cycle(other)
    assert second.posted == 0
    assert len(control(box, "GET", "acumatica/Bill")) == count
    assert third.state == SyncCycle.DONE and len(control(box, "GET", "acumatica/Bill")) == count


def test_posted_reports_are_marked_exported_and_not_offered_again(box, db):
    flow = make_acumatica_flow(box)
    run_cycle(flow)
    confirmed = Batch.objects.filter(flow=flow, state=S.CONFIRMED)
    assert confirmed.exists()
    reports = {str(r["reportID"]): r for r in control(box, "GET", "expensify/reports")}
    for batch in confirmed:
        assert "ml-connector" in reports[batch.source_id].get("exportLabels", reports[batch.source_id].get("labels", []))
    control(box, "DELETE", "calls")
    again = run_cycle(flow)
    assert again.fetched == 0  # the export filters on the mark
    assert control(box, "GET", "calls").get("acumatica", {}).get("put:Bill", 0) == 0


def fault(box, **spec):
    return control(box, "POST", "faults", json=spec)


def test_a_pinned_version_the_instance_does_not_publish_pauses_the_flow_naming_both(box, db):
    flow = make_acumatica_flow(box)
    flow.target.credentials = {**flow.target.credentials, "endpoint_version": "25.100.001"}
    flow.target.save()
    result = run_cycle(flow)
    assert result.state == SyncCycle.PAUSED
    assert "ACU-VERSION-MISMATCH" in result.message and "25.100.001" in result.message and "24.212.0021" in result.message
    assert not Batch.objects.filter(flow=flow, state=S.HELD).exists()  # nothing held for a connection problem
    assert control(box, "GET", "acumatica/Bill") == []


def test_a_token_expiring_in_the_middle_of_a_cycle_is_refreshed_and_nothing_is_lost(box, db):
    flow = make_acumatica_flow(box)
    fault(box, system="acumatica", endpoint="put:Bill", action="restart", after=3, count=1)
    result = run_cycle(flow)
    assert result.state == SyncCycle.DONE, result.message
    assert control(box, "GET", "calls")["acumatica"]["token"] == 2  # the sign-in, then one refresh
    docs = documents(box, "Bill")
    assert result.posted == len(docs) > 3 and all(len(copies) == 1 for copies in docs.values())


def test_a_crash_after_the_acumatica_create_neither_duplicates_nor_loses_the_mark(box, db):
    flow = make_acumatica_flow(box)
    # the fifth bill is written, then the connection drops: the worker cannot know it worked
    fault(box, system="acumatica", endpoint="put:Bill", action="drop_after", after=4, count=1)
    first = run_cycle(flow)
    assert first.in_doubt == 1
    second = run_cycle(flow)  # settle window 0: reconcile finds the bill and records it, no second create
    assert second.state == SyncCycle.DONE, second.message
    docs = documents(box, "Bill")
    assert all(len(copies) == 1 for copies in docs.values())
    confirmed = set(Batch.objects.filter(flow=flow, state=S.CONFIRMED).values_list("source_id", flat=True))
    assert {ref.removeprefix("EXP-") for ref in docs} == confirmed
    reports = {str(r["reportID"]): r for r in control(box, "GET", "expensify/reports")}
    assert all("ml-connector" in (reports[i].get("exportLabels") or reports[i].get("labels") or []) for i in confirmed)


def test_a_worker_killed_between_the_post_and_the_mark_marks_on_the_next_cycle(box, db, monkeypatch):
    from integrations.flows.expensify_to_acumatica import ExpensifyToAcumatica

    flow = make_acumatica_flow(box)

    def killed(self, batches):
        raise RuntimeError("worker killed before markAsExported")

    with monkeypatch.context() as patched:
        patched.setattr(ExpensifyToAcumatica, "confirm", killed)
        first = run_cycle(flow)
    assert first.state == SyncCycle.FAILED and first.posted > 0
    assert Batch.objects.filter(flow=flow, state=S.POSTED).count() == first.posted
    bills = len(control(box, "GET", "acumatica/Bill"))
    second = run_cycle(flow)
    assert second.state == SyncCycle.DONE and second.posted == 0
    assert len(control(box, "GET", "acumatica/Bill")) == bills
    assert not Batch.objects.filter(flow=flow, state=S.POSTED).exists()
    assert Batch.objects.filter(flow=flow, state=S.CONFIRMED).count() == first.posted


def test_coverage_and_dry_run(box, db):
    from integrations.coverage import flow_coverage
    from integrations.preview import preview

    flow = make_acumatica_flow(box)
    gaps = flow_coverage(flow)
    assert gaps and {g.source["category"] for g in gaps if g.reason == "unmapped"} == {"Gifts"}  # no GL code
    control(box, "DELETE", "calls")
    previews = preview(flow, limit=5)
    assert previews and control(box, "GET", "calls").get("acumatica", {}).get("put:Bill", 0) == 0
    shown = next(p for p in previews if p["ok"])
    assert shown["document"]["entity"] == "Bill" and shown["document"]["VendorRef"] == shown["external_ref"]
    assert not Batch.objects.filter(flow=flow).exists()
