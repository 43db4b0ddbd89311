"""BILL payments -> JD Edwards AP vouchers over real HTTP: webhook inbox, polling fallback, exactly once."""

from decimal import Decimal

import pytest

from integrations.engine import run_cycle
from integrations.models import Batch, WebhookEvent
from integrations.systems.jde import JdeClient

from .bill_setup import deliveries_done, make_bill_flow, paid_bill, subscribe, supplier_vendor
from .conftest import control

pytestmark = pytest.mark.django_db(transaction=True)
S = Batch.State
START = {"start_date": "2026-11-01"}  # the sandbox's seeded payments are older: only the tests' own are polled


def vouchers(flow, reference):
    return JdeClient(flow.target).find_vouchers(reference)


def test_a_webhooked_payment_posts_one_voucher_for_the_supplier_and_the_bill_accounts(box, portal_server):
    box.config.setdefault("bill", {}).update(webhook_backoff_initial=0.01)
    flow = make_bill_flow(box, options=START)
    subscribe(flow, portal_server)
    supplier, vendor = supplier_vendor(flow)
    _, payment, account = paid_bill(box, flow, vendor)
    deliveries_done(box, 1)
    assert WebhookEvent.objects.filter(entity_id=payment["id"]).exists()
    result = run_cycle(flow)
    assert result.posted == 1, result.summary()
    batch = Batch.objects.get(flow=flow, source_id=payment["id"])
    assert batch.state == S.POSTED and batch.external_ref == payment["id"]
    assert WebhookEvent.objects.filter(processed_at__isnull=True).count() == 0
    (voucher,) = vouchers(flow, payment["id"])
    assert voucher.supplier == supplier.address_number and voucher.gross == Decimal("199.99")
    assert voucher.invoice_number == "INV-1"  # the BILL bill's invoice number: what AP clerks match on
    expense = [ln for ln in batch.posting["lines"] if ln["kind"] == "expense"]
    assert {ln["account"]["business_unit"] + "." + ln["account"]["object"] for ln in expense} == {account}
    assert sum(Decimal(ln["amount"]) for ln in expense) == Decimal("199.99")
    again = run_cycle(flow)  # polling offers the same payment: nothing more in JD Edwards
    assert again.posted == 0 and len(vouchers(flow, payment["id"])) == 1


def test_a_missed_webhook_is_found_by_polling(box):
    flow = make_bill_flow(box, options=START)  # no subscription at all: every event is "missed"
    _, vendor = supplier_vendor(flow)
    _, payment, _ = paid_bill(box, flow, vendor)
    assert run_cycle(flow).posted == 1
    assert len(vouchers(flow, payment["id"])) == 1
    assert flow.__class__.objects.get(pk=flow.pk).cursor["payments_since"]


def test_duplicate_and_out_of_order_events_and_polling_post_once(box, portal_server):
    box.config.setdefault("bill", {}).update(webhook_backoff_initial=0.01)
    flow = make_bill_flow(box, options=START)
    subscribe(flow, portal_server)
    _, vendor = supplier_vendor(flow)
    bill, payment, _ = paid_bill(box, flow, vendor)
    control(box, "POST", "bill/events", json={"type": "payment.updated", "id": payment["id"]})  # BILL sends it again
    control(box, "POST", "bill/events", json={"type": "payment.updated", "id": payment["id"]})
    deliveries_done(box, 3)
    assert WebhookEvent.objects.filter(entity_id=payment["id"]).count() == 3
    assert run_cycle(flow).posted == 1
    assert run_cycle(flow).posted == 0
    assert Batch.objects.filter(flow=flow).count() == 1 and len(vouchers(flow, payment["id"])) == 1


def test_a_partial_payment_spreads_over_the_bill_lines_to_the_cent(box):
    flow = make_bill_flow(box, options=START)
    _, vendor = supplier_vendor(flow)
    _, payment, _ = paid_bill(box, flow, vendor, amounts=("100.00", "50.00", "50.00"), pay="100.01")
    assert run_cycle(flow).posted == 1
    batch = Batch.objects.get(flow=flow, source_id=payment["id"])
    amounts = [Decimal(ln["amount"]) for ln in batch.posting["lines"] if ln["kind"] == "expense"]
    assert amounts == [Decimal("50.01"), Decimal("25.00"), Decimal("25.00")]
    assert vouchers(flow, payment["id"])[0].gross == Decimal("100.01")


def test_a_vendor_without_a_jde_supplier_is_held_with_the_reason(box):
    from integrations.systems.bill import BillClient

    flow = make_bill_flow(box, options=START)
    stranger = BillClient(flow.source).create_vendor("Nobody In JDE Ltd", tax_id="00-0000000")
    _, payment, _ = paid_bill(box, flow, stranger)
    result = run_cycle(flow)
    batch = Batch.objects.get(flow=flow, source_id=payment["id"])
    assert result.posted == 0 and batch.state == S.HELD and batch.error_code == "JDE-SUPPLIER-UNMATCHED"
    assert "Nobody In JDE Ltd" in batch.last_error and vouchers(flow, payment["id"]) == []


def test_a_payment_that_failed_after_its_event_is_not_posted(box, portal_server):
    box.config.setdefault("bill", {}).update(webhook_backoff_initial=0.01)
    flow = make_bill_flow(box, options=START)
    subscribe(flow, portal_server)
    _, vendor = supplier_vendor(flow)
    _, payment, _ = paid_bill(box, flow, vendor)
    deliveries_done(box, 1)
    assert WebhookEvent.objects.filter(entity_id=payment["id"]).exists()
    control(box, "POST", f"bill/payments/{payment['id']}", json={"status": "FAILED"})  # BILL's truth changed since
    deliveries_done(box, 2)
    run_cycle(flow)
    assert vouchers(flow, payment["id"]) == [] and not Batch.objects.filter(flow=flow, source_id=payment["id"]).exists()


def test_a_voucher_written_but_unanswered_is_reconciled_by_payment_id_not_posted_again(box):
    from audit.models import AuditEntry

    flow = make_bill_flow(box, options=START)
    _, vendor = supplier_vendor(flow)
    _, payment, _ = paid_bill(box, flow, vendor)
    control(box, "POST", "faults", json={"system": "jde", "endpoint": "orchestrator", "action": "drop_after", "count": 1})
    first = run_cycle(flow)
    assert first.in_doubt == 1 and first.posted == 0
    run_cycle(flow)  # settle window 0 s: reconcile finds the voucher by its reference, the payment id
    batch = Batch.objects.get(flow=flow, source_id=payment["id"])
    assert batch.state == S.POSTED and AuditEntry.objects.filter(event="batch.reconciled_posted", batch=batch).exists()
    assert len(vouchers(flow, payment["id"])) == 1


def test_the_inbox_forgets_processed_events_older_than_the_replay_window(box):
    import datetime as dt

    from django.utils import timezone

    flow = make_bill_flow(box, options=START, bill_options={"webhook_window_seconds": 3600})
    _, vendor = supplier_vendor(flow)
    _, payment, _ = paid_bill(box, flow, vendor)
    now = timezone.now()
    old = WebhookEvent.objects.create(
        connection=flow.source,
        event_id="old",
        event_type="payment.updated",
        entity_id="stp01OLD",
        occurred_at=now - dt.timedelta(hours=2),
        processed_at=now,
    )
    WebhookEvent.objects.create(
        connection=flow.source, event_id="new", event_type="payment.updated", entity_id=payment["id"], occurred_at=now, payload={}
    )
    assert run_cycle(flow).posted == 1
    assert not WebhookEvent.objects.filter(pk=old.pk).exists()
    assert WebhookEvent.objects.get(event_id="new").processed_at is not None  # kept: its id still guards replays


def test_the_dry_run_page_shows_a_payment_as_its_voucher_and_writes_nothing(box, support_client):
    from django.urls import reverse

    flow = make_bill_flow(box, options=START)
    supplier, vendor = supplier_vendor(flow)
    _, payment, account = paid_bill(box, flow, vendor)
    page = support_client.get(reverse("admin:integrations_flow_preview", args=[flow.pk]), {"record": payment["id"]})
    text = page.content.decode()
    assert page.status_code == 200 and payment["id"] in text and "199.99" in text
    assert account.split(".")[1] in text  # the voucher's G/L line, coded from the paid bill's line
    assert not Batch.objects.filter(flow=flow).exists() and vouchers(flow, payment["id"]) == []  # nothing written


def test_mapping_keeps_its_bill_slot_between_the_per_payment_reads(box):
    """Each payment is read back with its bill while it is mapped (two BILL calls, one after the other, on the
    cycle's thread). The thread keeps its slot of BILL's shared limit from one call to the next and gives it
    back when the page is mapped: taking and giving back a slot per call cost two statements per call."""
    from integrations.querycount import count_all_queries

    flow = make_bill_flow(box, options=START)
    _, vendor = supplier_vendor(flow)
    payments = [paid_bill(box, flow, vendor, invoice=f"INV-K{n}")[1] for n in range(6)]
    control(box, "DELETE", "calls")
    with count_all_queries() as queries:
        result = run_cycle(flow)
    assert result.posted == len(payments), result.summary()
    bill_calls = sum(control(box, "GET", "calls")["bill"].values())
    assert bill_calls >= 2 * len(payments)  # the reads the slot is kept across
    slot_statements = queries.kinds["UPDATE integrations_concurrencyslot"]
    # a take and a give-back per run of BILL calls (the poll, the reference reads, the mapping) and at most per
    # JDE post (each sending thread keeps its own); not two per BILL call (that was 56 here)
    assert slot_statements <= 2 * result.posted + 8, (slot_statements, bill_calls, dict(queries.kinds))
