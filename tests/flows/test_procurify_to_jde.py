"""Procurify bills and payments -> JD Edwards AP vouchers and payment journals, over real HTTP."""

from collections import defaultdict
from decimal import Decimal

import pytest

from integrations.engine import run_cycle
from integrations.models import Batch, Connection, Flow, SyncCycle
from integrations.systems.jde import clear_token_cache as clear_jde_tokens
from integrations.systems.procurify import clear_token_cache as clear_procurify_tokens
from portal.models import Tenant
from sandbox.procurify_data import MISSING_IN_JDE

from .conftest import control

pytestmark = pytest.mark.django_db(transaction=True)
S = Batch.State
PAYMENT_ACCOUNTS = ("100.2110", "100.1110")  # A/P trade and bank: not in the seeded chart


@pytest.fixture(autouse=True)
def _fresh_tokens():
    clear_jde_tokens(), clear_procurify_tokens()
    yield
    clear_jde_tokens(), clear_procurify_tokens()


def make_procurify_flow(box, *, options=None, payments_accounts=True, unknown_vendor=None, tenant=None):
    creds = control(box, "GET", "credentials")
    tenant = tenant or Tenant.objects.create(name="Demo Co", slug="demo", alert_emails="finance@demo.example")
    source = Connection.objects.create(tenant=tenant, system="procurify", name="Procurify",
                                       base_url=box.system_url("procurify"), credentials=creds["procurify"])
    target = Connection.objects.create(tenant=tenant, system="jde", name="JD Edwards", base_url=box.system_url("jde"),
                                       credentials=creds["jde"], options={"settle_seconds": 0})
    # Every vendor billed in Procurify is a supplier of the same name in JD Edwards (the supplier mirror's job).
    known = {r["ABALPH"] for r in control(box, "GET", "jde/suppliers")}
    for name in sorted({b["vendor"]["name"] for b in control(box, "GET", "procurify/bills")} - known - {unknown_vendor}):
        control(box, "POST", "jde/suppliers", json={"name": name})
    if payments_accounts:
        for account in PAYMENT_ACCOUNTS:
            control(box, "POST", "jde/accounts", json={"account": account})
    return Flow.objects.create(tenant=tenant, name="Procurify bills to JDE", kind="procurify_to_jde", source=source,
                               target=target, options=options or {})


@pytest.fixture
def flow(box, db):
    return make_procurify_flow(box)


def vouchers(box):
    """reference -> {document number: gross} of the F0411Z1 pay items."""
    found = defaultdict(lambda: defaultdict(Decimal))
    for row in control(box, "GET", "jde/F0411Z1"):
        found[row["VLEDTN"]][row["VLDOC"]] += Decimal(row["VLAG"])
    return found


def postable_bills(box):
    return {b["id"]: b for b in control(box, "GET", "procurify/bills") if b["status"] in (2, 3)}


def waiting_bills(box):
    return {i for i, b in postable_bills(box).items() if any(ln["account_code"] == MISSING_IN_JDE for ln in b["items"])}


def expected_vouchers(box):
    """The postable bills whose every account takes postings (the chart holds a non-posting one on purpose)."""
    chart = {".".join(p for p in (r["GMMCU"].strip(), r["GMOBJ"], r["GMSUB"]) if p): r["GMPEC"]
             for r in control(box, "GET", "jde/accounts")}
    return {i for i, b in postable_bills(box).items() if all(chart.get(ln["account_code"]) == "" for ln in b["items"])}


def test_bills_post_once_each_with_totals_to_the_cent(box, flow):
    result = run_cycle(flow)
    assert result.state == SyncCycle.DONE, result.message
    bills, found = postable_bills(box), vouchers(box)
    posted = {int(ref.rsplit("-", 1)[1]) for ref in found if ref.startswith("PRC-BILL-")}
    assert posted == expected_vouchers(box) and posted
    for bill_id in posted:
        documents = found[f"PRC-BILL-{bill_id}"]
        assert len(documents) == 1, f"bill {bill_id} has {len(documents)} vouchers"
        assert sum(documents.values()) == Decimal(bills[bill_id]["total_cost_with_tax"])


def test_paid_payments_post_as_one_balanced_journal_each(box, flow):
    run_cycle(flow)
    payments = {p["id"]: p for p in control(box, "GET", "procurify/payments") if p["status"] == "paid"}
    batches = Batch.objects.filter(flow=flow, source_id__startswith="PAY-", state__in=[S.POSTED, S.CONFIRMED])
    assert {int(b.source_id[4:]) for b in batches} == set(payments) and payments
    for batch in batches:
        lines = batch.posting["lines"]
        assert sum(Decimal(ln["amount"]) for ln in lines) == 0
        assert Decimal(lines[0]["amount"]) == Decimal(payments[int(batch.source_id[4:])]["amount"])


def test_a_second_run_posts_nothing(box, flow):
    first = run_cycle(flow)
    count = sum(len(d) for d in vouchers(box).values())
    control(box, "DELETE", "calls")
    second = run_cycle(flow)
    assert first.posted > 0 and second.posted == 0
    assert sum(len(d) for d in vouchers(box).values()) == count
    assert control(box, "GET", "calls").get("jde", {}).get("orchestrator", 0) == 0


def test_a_new_bill_after_the_cursor_posts_on_the_next_cycle(box, flow):
    run_cycle(flow)
    vendor = control(box, "GET", "procurify/vendors")[0]
    bill = control(box, "POST", "procurify/bills", json={
        "vendor": {"id": vendor["id"], "name": vendor["name"]},
        "items": [{"description": "Pallet wrap", "total": "10.10", "account_code": "200.6200"},
                  {"description": "Toner", "total": "0.20", "account_code": "300.6300"}]})
    result = run_cycle(flow)
    assert result.posted == 1
    assert dict(vouchers(box)[f"PRC-BILL-{bill['id']}"]).popitem()[1] == Decimal("10.30")


def test_missing_account_holds_with_the_reason_then_posts_once_it_exists(box, flow):
    first = run_cycle(flow)
    expected = waiting_bills(box)
    held = Batch.objects.filter(flow=flow, state=S.HELD, error_code="JDE-ACCOUNT-NOT-FOUND")
    assert first.state == SyncCycle.DONE and {int(b.source_id[5:]) for b in held} == expected and expected
    assert all(b.last_error == f"account {MISSING_IN_JDE} not found in F0901" for b in held)
    assert not {f"PRC-BILL-{i}" for i in expected} & set(vouchers(box))
    second = run_cycle(flow)  # still missing: still waiting, nothing posted
    assert second.posted == 0 and held.count() == len(expected)
    control(box, "POST", "jde/accounts", json={"account": MISSING_IN_JDE})
    third = run_cycle(flow)
    found, postable = vouchers(box), expected & expected_vouchers(box)  # one also has a non-posting account
    assert third.posted == len(postable) and postable and not held.all().exists()
    assert all(len(found[f"PRC-BILL-{i}"]) == 1 for i in postable)


def test_procurify_token_expiry_in_the_middle_of_a_cycle(box, flow):
    # Procurify forgets every token before the 5th bill read: that call answers 401, the client takes a new token.
    control(box, "POST", "faults", json={"system": "procurify", "endpoint": "bills:get", "action": "restart",
                                         "after": 4, "count": 1})
    result = run_cycle(flow)
    assert result.state == SyncCycle.DONE, result.message
    assert control(box, "GET", "calls")["procurify"]["oauth/token"] == 2
    found = vouchers(box)
    assert all(len(d) == 1 for d in found.values())
    assert {int(r.rsplit("-", 1)[1]) for r in found} == expected_vouchers(box)


def test_a_procurify_token_past_its_24_hours_on_the_fake_clock_is_replaced(box, flow):
    first = run_cycle(flow)
    assert first.state == SyncCycle.DONE and control(box, "GET", "calls")["procurify"]["oauth/token"] == 1
    box.advance(25 * 3600)  # the fake's clock: the token the client still holds is now refused with 401
    vendor = control(box, "GET", "procurify/vendors")[0]
    bill = control(box, "POST", "procurify/bills", json={
        "vendor": {"id": vendor["id"], "name": vendor["name"]},
        "items": [{"description": "Pallet wrap", "total": "12.34", "account_code": "200.6200"}]})
    second = run_cycle(flow)
    assert second.state == SyncCycle.DONE and second.posted == 1, second.message
    assert control(box, "GET", "calls")["procurify"]["oauth/token"] == 2
    assert len(vouchers(box)[f"PRC-BILL-{bill['id']}"]) == 1


def test_a_jde_444_in_the_middle_of_a_batch_reauthenticates_without_duplicates(box, flow):
    control(box, "POST", "faults", json={"system": "jde", "endpoint": "orchestrator", "action": "restart", "after": 3,
                                         "count": 1})
    result = run_cycle(flow)
    found = vouchers(box)
    assert result.state == SyncCycle.DONE and result.failed == 0, result.message
    assert all(len(d) == 1 for d in found.values())
    assert len(found) == len(expected_vouchers(box))


def test_a_lost_answer_is_reconciled_by_reference_without_a_second_voucher(box, flow):
    control(box, "POST", "faults", json={"system": "jde", "endpoint": "orchestrator", "action": "drop_after", "after": 1,
                                         "count": 1})
    run_cycle(flow)
    run_cycle(flow)
    found = vouchers(box)
    assert all(len(d) == 1 for d in found.values())
    assert not Batch.objects.filter(flow=flow, state__in=[S.IN_DOUBT, S.FAILED]).exists()
    assert len(found) == len(expected_vouchers(box))


def test_a_vendor_without_a_jde_supplier_is_held_with_the_reason(box, db):
    name = control(box, "GET", "procurify/bills")[0]["vendor"]["name"]
    if name in {r["ABALPH"] for r in control(box, "GET", "jde/suppliers")}:
        pytest.skip("the seeded JD Edwards suppliers already hold this vendor")
    flow = make_procurify_flow(box, unknown_vendor=name)
    run_cycle(flow)
    held = Batch.objects.filter(flow=flow, state=S.HELD, error_code="MAP-NO-SUPPLIER")
    assert held.exists() and all(f'vendor "{name}" has no supplier' in b.last_error for b in held)
    assert not any(ref.startswith("PRC-BILL-") and b for ref, b in vouchers(box).items()
                   if Batch.objects.filter(flow=flow, external_ref=ref, last_error__contains=name).exists())
    waiting = set(held.values_list("pk", flat=True))
    # the vendors -> suppliers flow adds the supplier: the waiting bills post by themselves, nobody releases them
    back = Flow.objects.create(tenant=flow.tenant, name="Procurify vendors to JDE", kind="procurify_to_jde",
                               source=flow.source, target=flow.target, options={"records": "vendors"})
    assert run_cycle(back).state == SyncCycle.DONE
    run_cycle(flow)
    assert not Batch.objects.filter(pk__in=waiting, error_code="MAP-NO-SUPPLIER").exists()  # some wait for an account
    assert Batch.objects.filter(pk__in=waiting, state__in=[S.POSTED, S.CONFIRMED]).exists()
    assert all(len(vouchers(box)[b.external_ref]) == 1 for b in Batch.objects.filter(pk__in=waiting)
               if b.state in (S.POSTED, S.CONFIRMED))


def test_the_demo_sets_up_both_procurify_flows_and_they_run(box, db):
    from integrations.demo import setup_demo

    _, flows = setup_demo(box, progress=lambda *_: None, kinds=("procurify_to_jde", "jde_to_procurify"))
    assert [(f.kind, f.options.get("records", "bills")) for f in flows] == [
        ("jde_to_procurify", "accounts"), ("procurify_to_jde", "vendors"), ("jde_to_procurify", "suppliers"),
        ("procurify_to_jde", "bills"), ("jde_to_procurify", "purchase_orders")]
    for made in flows:
        result = run_cycle(made)
        assert result.state == SyncCycle.DONE and result.posted > 0, (made.name, result.message)
    bills = flows[3]
    control(box, "DELETE", "calls")
    again = {made.name: run_cycle(made) for made in flows}
    assert all(r.posted == 0 for r in again.values()), {k: (r.posted, r.message) for k, r in again.items()}
    calls = control(box, "GET", "calls")
    assert not calls.get("jde", {}).get("orchestrator") and not any(
        n for name, n in calls.get("procurify", {}).items() if name.endswith((":create", ":update")))
    # the vendors flow ran first: a bill waits for a supplier only when its vendor is inactive in Procurify
    inactive = {v["name"] for v in control(box, "GET", "procurify/vendors") if not v["active"]}
    waiting = Batch.objects.filter(flow=bills, error_code="MAP-NO-SUPPLIER")
    assert all(b.payload["vendor"] in inactive for b in waiting), [b.last_error for b in waiting]
    assert [f.interval_minutes for f in flows] == [240, 240, 240, 60, 60]


def test_a_payment_waiting_for_its_accounts_stays_held_until_they_exist(box, db):
    """A payment's journal needs the A/P trade and bank accounts, not a bill line's: while they are missing its
    hold is not over, so no cycle moves it back to 'new' only to hold it again (found by prove_clusters: every
    cycle requeued and re-held every such payment, two audit entries each)."""
    from audit.models import AuditEntry

    flow = make_procurify_flow(box, payments_accounts=False)
    run_cycle(flow)
    held = Batch.objects.filter(flow=flow, source_id__startswith="PAY-", state=S.HELD, error_code="JDE-ACCOUNT-NOT-FOUND")
    payments = {p["id"] for p in control(box, "GET", "procurify/payments") if p["status"] == "paid"}
    assert {int(b.source_id[4:]) for b in held} == payments and payments
    second = run_cycle(flow)
    requeued = AuditEntry.objects.filter(flow=flow, event="batch.requeued", batch__source_id__startswith="PAY-")
    assert second.posted == 0 and held.count() == len(payments) and not requeued.exists()
    for account in PAYMENT_ACCOUNTS:
        control(box, "POST", "jde/accounts", json={"account": account})
    third = run_cycle(flow)
    assert third.posted >= len(payments) and not held.all().exists()
    assert requeued.count() == len(payments)
