"""JD Edwards -> BILL over real HTTP: suppliers mirrored as vendors, approved purchase orders posted as bills."""

import threading
from decimal import Decimal

import pytest
import requests

from integrations.engine import run_cycle
from integrations.models import Batch, Connection, Flow
from integrations.systems.bill import BillClient, clear_session_cache
from integrations.systems.jde import JdeClient
from portal.models import Tenant

from .conftest import control

pytestmark = pytest.mark.django_db(transaction=True)
S = Batch.State


@pytest.fixture
def flows(box):
    clear_session_cache()
    creds = control(box, "GET", "credentials")
    tenant = Tenant.objects.create(name="Distributor", slug="distributor", alert_emails="ap@distributor.example")
    jde = Connection.objects.create(
        tenant=tenant,
        system="jde",
        name="JD Edwards",
        base_url=box.system_url("jde"),
        credentials=creds["jde"],
        options={"settle_seconds": 0},
    )
    bill = Connection.objects.create(
        tenant=tenant,
        system="bill",
        name="BILL",
        base_url=box.system_url("bill") + "/connect",
        credentials=creds["bill"],
        options={"backoff_max": 0.05, "settle_seconds": 0},
    )
    vendors = Flow.objects.create(
        tenant=tenant, name="Suppliers to BILL", kind="jde_to_bill", source=jde, target=bill, options={"records": "vendors"}
    )
    bills = Flow.objects.create(
        tenant=tenant, name="POs to BILL", kind="jde_to_bill", source=jde, target=bill, options={"records": "bills"}
    )
    yield vendors, bills
    clear_session_cache()


def suppliers(flow):
    return JdeClient(flow.source).suppliers_changed_since(None)


def live_vendors(flow):
    return [v for v in BillClient(flow.target).vendors() if not v.archived]


def approved_orders(flow):
    return [o for o in JdeClient(flow.source).purchase_orders_changed_since(None) if any(not ln.cancelled for ln in o.lines)]


def test_suppliers_become_vendors_an_existing_one_is_linked_and_a_rerun_writes_nothing(box, flows):
    vendors_flow, _ = flows
    active = [s for s in suppliers(vendors_flow) if s.active]
    keyed = BillClient(vendors_flow.target).create_vendor(active[0].name.upper(), tax_id=active[0].tax_id)  # typed by hand
    result = run_cycle(vendors_flow)
    assert result.state == "done" and result.held == 0, result.message
    vendors = live_vendors(vendors_flow)
    for supplier in active:
        same = (
            [v for v in vendors if v.tax_id == supplier.tax_id]
            if supplier.tax_id
            else [v for v in vendors if v.name == supplier.name]
        )
        assert len(same) == 1, supplier  # one vendor per supplier, never two
    linked = Batch.objects.get(flow=vendors_flow, source_id__startswith=f"{active[0].address_number}@")
    assert linked.target_document_id == keyed.id
    count = len(BillClient(vendors_flow.target).vendors())
    again = run_cycle(vendors_flow)
    assert again.fetched == 0 and again.posted == 0 and len(BillClient(vendors_flow.target).vendors()) == count


def test_a_changed_supplier_updates_its_vendor_and_an_inactive_one_is_archived(box, flows):
    vendors_flow, _ = flows
    run_cycle(vendors_flow)
    renamed, retired = [s for s in suppliers(vendors_flow) if s.active and s.tax_id][:2]
    control(box, "POST", "jde/suppliers", json={"AN8": renamed.address_number, "name": "Renamed Supply Co"})
    control(box, "POST", "jde/suppliers", json={"AN8": retired.address_number, "status": "inactive"})
    result = run_cycle(vendors_flow)
    assert result.posted == 2, result.summary()
    by_tax = {v.tax_id: v for v in BillClient(vendors_flow.target).vendors()}
    assert by_tax[renamed.tax_id].name == "Renamed Supply Co" and not by_tax[renamed.tax_id].archived
    assert by_tax[retired.tax_id].archived


def test_approved_orders_become_bills_found_by_invoice_number_once(box, flows):
    vendors_flow, bills_flow = flows
    run_cycle(vendors_flow)
    result = run_cycle(bills_flow)
    orders = approved_orders(bills_flow)
    assert result.held == 0 and result.posted == len(orders) > 0, result.summary()
    client = BillClient(bills_flow.target)
    for order in orders:
        (bill,) = client.find_bills(f"PO-{order.company}-{order.number}-{order.order_type}")
        assert bill.amount == order.total == sum((ln.amount for ln in bill.lines), Decimal(0))
    again = run_cycle(bills_flow)
    assert again.posted == 0 and len(client.bills()) == len(control(box, "GET", "bill/bills"))


def test_a_bill_waits_for_its_vendor_then_posts(box, flows):
    vendors_flow, bills_flow = flows
    first = run_cycle(bills_flow)
    waiting = Batch.objects.filter(flow=bills_flow, state=S.HELD, error_code="BILL-VENDOR-PENDING")
    assert first.posted == 0 and waiting.count() == len(approved_orders(bills_flow))
    assert "not a BILL vendor yet" in waiting.first().last_error
    run_cycle(vendors_flow)
    second = run_cycle(bills_flow)
    assert second.posted == len(approved_orders(bills_flow)) and not waiting.exists()


def test_a_line_whose_account_is_not_in_bill_is_held_before_any_write(box, flows):
    vendors_flow, bills_flow = flows
    run_cycle(vendors_flow)
    order = approved_orders(bills_flow)[0]
    obj = next(ln for ln in order.lines if not ln.cancelled).account.split(".")[1]
    client = BillClient(bills_flow.target)
    chart = next(c for c in client.chart_of_accounts() if c.number == obj)
    client.call("POST", f"/v3/classifications/chart-of-accounts/{chart.id}/archive", idempotent=True)
    created_before = len(control(box, "GET", "bill/bills"))
    run_cycle(bills_flow)
    batch = Batch.objects.get(flow=bills_flow, source_id=f"{order.company}-{order.number}-{order.order_type}")
    assert batch.state == S.HELD and batch.error_code == "BILL-ACCOUNT-UNKNOWN" and obj in batch.last_error
    held = Batch.objects.filter(flow=bills_flow, state=S.HELD).count()
    assert len(control(box, "GET", "bill/bills")) == created_before + len(approved_orders(bills_flow)) - held


def test_a_fourth_concurrent_call_never_reaches_bill(box, flows):
    vendors_flow, bills_flow = flows
    run_cycle(vendors_flow)
    box.config["bill"]["latency_ms"] = 40  # calls last long enough to overlap: the fake counts what is in flight
    stop = threading.Event()

    def another_caller():  # e.g. the admin's ping or a second worker on the same organization
        from django.db import connection

        client = BillClient(bills_flow.target)
        try:
            while not stop.is_set():
                client.departments()
        finally:
            connection.close()  # the shared limiter's slots live in the database: this thread's connection

    threads = [threading.Thread(target=another_caller) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        result = run_cycle(bills_flow)
    finally:
        stop.set()
        for t in threads:
            t.join()
    stats = requests.get(f"{box.url}/_sandbox/bill/stats", timeout=10).json()
    assert result.posted == len(approved_orders(bills_flow))
    assert stats["refused_1322"] == 0 and stats["peak_in_flight"] == 3


def test_a_session_that_expires_silently_mid_cycle_is_renewed(box, flows):
    vendors_flow, bills_flow = flows
    run_cycle(vendors_flow)
    bills_flow.options = {**bills_flow.options, "page_size": 2}
    bills_flow.save()
    expired = []

    def progress(text):
        if text.startswith("page 1:") and not expired:
            control(box, "POST", "bill/sessions/expire")  # BILL forgets the session; it says nothing until the next call
            expired.append(text)

    logins = box.calls["bill"]["login"]
    result = run_cycle(bills_flow, progress=progress)
    assert expired and result.state == "done" and result.posted == len(approved_orders(bills_flow))
    assert box.calls["bill"]["login"] == logins + 1


def test_coverage_names_the_jde_accounts_bill_cannot_code(box, flows):
    from integrations.coverage import flow_coverage

    _, bills_flow = flows
    assert flow_coverage(bills_flow) == []
    order = approved_orders(bills_flow)[0]
    account = next(ln for ln in order.lines if not ln.cancelled).account
    client = BillClient(bills_flow.target)
    chart = next(c for c in client.chart_of_accounts() if c.number == account.split(".")[1])
    client.call("POST", f"/v3/classifications/chart-of-accounts/{chart.id}/archive", idempotent=True)
    gaps = flow_coverage(bills_flow)
    assert account in {g.source["account"] for g in gaps if g.field == "chartOfAccountId"}


def test_the_dry_run_page_shows_an_order_as_its_bill_and_writes_nothing(box, flows, support_client):
    from django.urls import reverse

    vendors_flow, bills_flow = flows
    run_cycle(vendors_flow)
    order = approved_orders(bills_flow)[0]
    invoice = f"PO-{order.company}-{order.number}-{order.order_type}"
    bills_before = len(control(box, "GET", "bill/bills"))
    page = support_client.get(reverse("admin:integrations_flow_preview", args=[bills_flow.pk]),
                              {"record": f"{order.company}-{order.number}-{order.order_type}"})
    text = page.content.decode()
    assert page.status_code == 200 and f"would post as {invoice}" in text and "0 would be held" in text
    assert not Batch.objects.filter(flow=bills_flow).exists()  # a dry run writes nothing, anywhere
    assert len(control(box, "GET", "bill/bills")) == bills_before and not BillClient(bills_flow.target).find_bills(invoice)
