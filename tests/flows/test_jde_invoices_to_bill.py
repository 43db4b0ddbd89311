"""JD Edwards supplier invoices (open AP vouchers, F0411 + F0911) -> BILL bills over real HTTP, and bill currencies."""

from decimal import Decimal

import pytest

from integrations.engine import run_cycle
from integrations.models import Batch, Flow
from integrations.systems.bill import BillClient
from integrations.systems.jde import JdeClient

from .bill_setup import make_bill_flow, paid_bill, supplier_vendor
from .conftest import control
from .test_jde_to_bill import approved_orders, flows  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db(transaction=True)
S = Batch.State


def shared_accounts(jde, bill, count=2):
    """JDE posting accounts ``BU.OBJ`` whose business unit is a live BILL department and object a live chart."""
    client = BillClient(bill)
    departments = {d.number for d in client.departments() if not d.archived}
    charts = {c.number for c in client.chart_of_accounts() if not c.archived}
    keys = [a.key for a in JdeClient(jde).accounts() if a.is_postable and a.posting_edit != "I" and "." in a.key]
    found = [k for k in keys if k.count(".") == 1 and k.split(".")[0] in departments and k.split(".")[1] in charts]
    assert len(found) >= count
    return found[:count]


def supplier(jde, currency="USD", index=0):
    return [s for s in JdeClient(jde).suppliers_changed_since(None) if s.active and s.currency == currency][index]


def key_invoice(box, flow, supplier_number, number="SI-1001", amounts=("120.50", "79.49"), accounts=None, **extra):
    accounts = accounts or shared_accounts(flow.source, flow.target)
    lines = [{"account": accounts[i % len(accounts)], "amount": a, "explanation": f"line {i}"} for i, a in enumerate(amounts)]
    body = {"supplier": supplier_number, "invoice_number": number, "invoice_date": "2026-11-20", "lines": lines, **extra}
    return control(box, "POST", "jde/supplier-invoices", json=body)


@pytest.fixture
def invoices_flow(flows):  # noqa: F811 - the fixture imported above
    vendors, bills = flows
    run_cycle(vendors)
    return Flow.objects.create(
        tenant=bills.tenant, name="Invoices to BILL", kind="jde_to_bill", source=bills.source, target=bills.target,
        options={"records": "invoices"},
    )


def test_open_supplier_invoices_become_bills_numbered_by_the_supplier_and_a_rerun_writes_nothing(box, invoices_flow):
    flow, who = invoices_flow, supplier(invoices_flow.source)
    accounts = shared_accounts(flow.source, flow.target)
    doc = key_invoice(box, flow, who.address_number, accounts=accounts)
    key_invoice(box, flow, who.address_number, number="SI-PAID", pay_status="P")  # paid in JDE: nothing to pay in BILL
    result = run_cycle(flow)
    assert result.posted == 1, result.summary()
    vendor = next(v for v in BillClient(flow.target).vendors() if v.name == who.name and not v.archived)
    (bill,) = BillClient(flow.target).find_bills("SI-1001", vendor.id)
    assert bill.amount == Decimal("199.99") and [ln.amount for ln in bill.lines] == [Decimal("120.50"), Decimal("79.49")]
    charts = {c.id: c.number for c in BillClient(flow.target).chart_of_accounts()}
    departments = {d.id: d.number for d in BillClient(flow.target).departments()}
    assert [f"{departments[ln.department_id]}.{charts[ln.chart_of_account_id]}" for ln in bill.lines] == accounts
    batch = Batch.objects.get(flow=flow, source_id=f"00001-PV-{doc['document']}")
    assert batch.state == S.POSTED and batch.target_document_id == bill.id and batch.currency == "USD"
    assert not BillClient(flow.target).find_bills("SI-PAID")
    assert run_cycle(flow).posted == 0 and len(BillClient(flow.target).find_bills("SI-1001")) == 1


def test_a_bill_written_but_unanswered_is_found_by_the_supplier_invoice_number(box, invoices_flow):
    flow, who = invoices_flow, supplier(invoices_flow.source)
    key_invoice(box, flow, who.address_number, number="SI-LOST")
    control(box, "POST", "faults", json={"system": "bill", "endpoint": "bills:create", "action": "drop_after", "count": 1})
    run_cycle(flow)
    run_cycle(flow)  # reconcile finds the bill by its invoice number and vendor: no second one
    assert len(BillClient(flow.target).find_bills("SI-LOST")) == 1
    assert Batch.objects.get(flow=flow).state == S.POSTED


def test_an_invoice_line_whose_department_is_not_in_bill_is_held_before_any_write(box, invoices_flow):
    flow, who = invoices_flow, supplier(invoices_flow.source)
    account = shared_accounts(flow.source, flow.target)[0]
    client = BillClient(flow.target)
    department = next(d for d in client.departments() if d.number == account.split(".")[0])
    key_invoice(box, flow, who.address_number, number="SI-NODEPT", accounts=[account])
    client.call("POST", f"/v3/classifications/departments/{department.id}/archive", idempotent=True)
    before = len(control(box, "GET", "bill/bills"))
    run_cycle(flow)
    batch = Batch.objects.get(flow=flow)
    assert batch.state == S.HELD and batch.error_code == "BILL-DEPARTMENT-UNKNOWN"
    assert len(control(box, "GET", "bill/bills")) == before


def test_an_invoice_in_another_currency_than_its_vendor_bills_in_is_held_with_the_reason(box, invoices_flow):
    flow, who = invoices_flow, supplier(invoices_flow.source)
    key_invoice(box, flow, who.address_number, number="SI-EUR", currency="EUR")
    key_invoice(box, flow, who.address_number, number="SI-KWD", currency="KWD", amounts=("10.125",))
    run_cycle(flow)
    held = {b.payload["invoice_number"]: b for b in Batch.objects.filter(flow=flow)}
    assert held["SI-EUR"].state == S.HELD and held["SI-EUR"].error_code == "BILL-CURRENCY"
    assert "EUR" in held["SI-EUR"].last_error and "USD" in held["SI-EUR"].last_error
    assert held["SI-KWD"].state == S.HELD and held["SI-KWD"].error_code == "BILL-CURRENCY"
    assert not BillClient(flow.target).find_bills("SI-EUR")


def test_a_supplier_in_euros_gets_a_euro_vendor_and_its_invoice_a_euro_bill(box, invoices_flow):
    flow, who = invoices_flow, supplier(invoices_flow.source, currency="EUR")
    key_invoice(box, flow, who.address_number, number="SI-EU-1")  # the voucher takes the supplier's currency
    assert run_cycle(flow).posted == 1
    vendor = next(v for v in BillClient(flow.target).vendors() if v.name == who.name and not v.archived)
    assert vendor.bill_currency == "EUR"
    assert Batch.objects.get(flow=flow).currency == "EUR"


def test_an_order_whose_vendor_bills_in_another_currency_is_held(box, flows):  # noqa: F811 - a fixture
    vendors, bills = flows
    run_cycle(vendors)
    order = next(o for o in approved_orders(bills) if o.currency == "USD")
    name = next(s.name for s in JdeClient(bills.source).suppliers_changed_since(None) if s.address_number == order.supplier)
    client = BillClient(bills.target)
    vendor = next(v for v in client.vendors() if v.name == name and not v.archived)
    client.update_vendor(vendor.id, billCurrency="CAD")
    run_cycle(bills)
    batch = Batch.objects.get(flow=bills, source_id=f"{order.company}-{order.number}-{order.order_type}")
    assert batch.state == S.HELD and batch.error_code == "BILL-CURRENCY" and "CAD" in batch.last_error


def test_vouchers_the_connector_posted_for_bill_payments_are_never_sent_back_as_bills(box):
    payments = make_bill_flow(box, options={"start_date": "2026-11-01"})
    who, vendor = supplier_vendor(payments)
    _, payment, account = paid_bill(box, payments, vendor, invoice="B-77")
    assert run_cycle(payments).posted == 1
    control(box, "POST", "jde/process", json={})  # the voucher is in F0411 now, pay status A like any open one
    flow = Flow.objects.create(tenant=payments.tenant, name="Invoices to BILL", kind="jde_to_bill", source=payments.target,
                               target=payments.source, options={"records": "invoices"})
    key_invoice(box, flow, who.address_number, number="SI-REAL", accounts=[account], currency="USD")
    result = run_cycle(flow)
    assert result.posted == 1, list(Batch.objects.filter(flow=flow).values_list("error_code", "last_error"))
    assert [b.payload["invoice_number"] for b in Batch.objects.filter(flow=flow)] == ["SI-REAL"]
    assert len(BillClient(flow.target).find_bills("B-77")) == 1  # only the bill BILL paid, no copy of it


def test_a_payment_to_a_vendor_billed_in_euros_posts_a_euro_voucher(box):
    flow = make_bill_flow(box, options={"start_date": "2026-11-01"})
    _, vendor = supplier_vendor(flow)
    BillClient(flow.source).update_vendor(vendor.id, billCurrency="EUR")
    _, payment, _ = paid_bill(box, flow, vendor)
    assert run_cycle(flow).posted == 1
    (voucher,) = JdeClient(flow.target).find_vouchers(payment["id"])
    assert voucher.currency == "EUR" and Batch.objects.get(flow=flow).currency == "EUR"


def test_the_admin_coverage_and_dry_run_pages_show_an_invoice_and_what_bill_cannot_code(box, invoices_flow, support_client):
    from django.urls import reverse

    flow, who = invoices_flow, supplier(invoices_flow.source)
    accounts = shared_accounts(flow.source, flow.target)
    doc = key_invoice(box, flow, who.address_number, number="SI-PREVIEW", accounts=accounts[:1])
    source_id = f"00001-PV-{doc['document']}"
    page = support_client.get(reverse("admin:integrations_flow_preview", args=[flow.pk]), {"record": source_id})
    assert page.status_code == 200 and "SI-PREVIEW" in page.content.decode() and "199.99" in page.content.decode()
    client = BillClient(flow.target)
    chart = next(c for c in client.chart_of_accounts() if c.number == accounts[0].split(".")[1])
    client.call("POST", f"/v3/classifications/chart-of-accounts/{chart.id}/archive", idempotent=True)
    page = support_client.get(reverse("admin:integrations_flow_coverage", args=[flow.pk]))
    assert page.status_code == 200 and accounts[0] in page.content.decode()
    assert not Batch.objects.filter(flow=flow).exists() and not client.find_bills("SI-PREVIEW")  # a dry run writes nothing


@pytest.mark.parametrize("kind", ["invoices", "bills"])
def test_a_new_update_stamp_alone_is_not_a_change_of_the_record(kind):
    """JD Edwards re-stamps a row whenever a program touches it; a posted invoice or order whose only difference is
    that stamp must not be held as changed after its post (SRC-CHANGED-AFTER-POST), a changed amount must."""
    from integrations.flows import handler_class
    from integrations.models import Flow

    handler = handler_class("jde_to_bill")(Flow(kind="jde_to_bill", options={"records": kind}))
    line = {"line": 1, "amount": "10.00", "updated": "2026-12-04 00:00:00"}
    payload = {"key": "00001-PV-5000001", "gross": "10.00", "updated": "2026-12-04 00:00:00", "lines": [line]}
    restamped = {**payload, "updated": "2026-12-04 00:00:01", "lines": [{**line, "updated": "2026-12-04 00:00:01"}]}
    assert handler.fingerprint(restamped) == handler.fingerprint(payload)
    assert handler.fingerprint({**payload, "gross": "10.01"}) != handler.fingerprint(payload)
    assert handler.fingerprint({**payload, "lines": [{**line, "amount": "9.00"}]}) != handler.fingerprint(payload)
