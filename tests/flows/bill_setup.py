"""A BILL connection and a BILL -> JD Edwards flow over the sandbox, and paid bills whose vendor is a JDE supplier."""

import time
from decimal import Decimal

from django.db import OperationalError

from integrations.models import Connection, Flow
from integrations.systems.bill import BillClient, BillLine, clear_session_cache
from integrations.systems.jde import JdeClient
from portal.models import Tenant

from .conftest import control


def make_bill_flow(box, *, tenant=None, options=None, bill_options=None):
    clear_session_cache()
    creds = control(box, "GET", "credentials")
    tenant = tenant or Tenant.objects.create(name="Distributor", slug="distributor", alert_emails="ap@distributor.example")
    bill = Connection.objects.create(
        tenant=tenant,
        system="bill",
        name="BILL",
        base_url=box.system_url("bill") + "/connect",
        credentials=creds["bill"],
        options={"backoff_max": 0.05, **(bill_options or {})},
    )
    jde = Connection.objects.create(
        tenant=tenant,
        system="jde",
        name="JD Edwards",
        base_url=box.system_url("jde"),
        credentials=creds["jde"],
        options={"settle_seconds": 0},
    )
    return Flow.objects.create(
        tenant=tenant, name="BILL payments to JDE", kind="bill_to_jde", source=bill, target=jde, options=options or {}
    )


def subscribe(flow, base_url):
    """Subscribe the portal's endpoint to payment events and keep the one-time key on the connection."""
    connection = flow.source
    sub = BillClient(connection).create_subscription(
        "ml-connector", f"{base_url}/api/v1/webhooks/bill/{connection.pk}", ["payment.updated", "payment.failed"]
    )
    connection.credentials = {**connection.credentials, "webhook_secret": sub.security_key}
    connection.save()
    return sub


def supplier_vendor(flow, index=0):
    """A JDE supplier and the BILL vendor for it (same name and tax id, as the jde_to_bill mirror makes it)."""
    supplier = [s for s in JdeClient(flow.target).suppliers_changed_since(None) if s.active and s.tax_id][index]
    vendor = BillClient(flow.source).create_vendor(supplier.name, tax_id=supplier.tax_id)
    return supplier, vendor


def posting_account(flow):
    """A BILL chart of account and department whose BU.OBJ is a live posting account in F0901."""
    client = BillClient(flow.source)
    keys = {a.key for a in JdeClient(flow.target).accounts() if a.is_postable and a.posting_edit != "I"}
    for dept in client.departments():
        for chart in client.chart_of_accounts():
            if not dept.archived and f"{dept.number}.{chart.number}" in keys and chart.number >= "6000":
                return chart, dept
    raise AssertionError("no account shared by the BILL and JDE sandboxes")


def paid_bill(box, flow, vendor, amounts=("120.50", "79.49"), invoice="INV-1", pay=None):
    import datetime as dt

    chart, dept = posting_account(flow)
    lines = [BillLine(Decimal(a), chart.id, dept.id, f"line {i}") for i, a in enumerate(amounts, 1)]
    bill = BillClient(flow.source).create_bill(vendor.id, invoice, dt.date(2026, 10, 20), dt.date(2026, 11, 20), lines)
    body = {"billId": bill.id, **({"amount": pay} if pay is not None else {})}
    payment = control(box, "POST", "bill/payments", json=body)
    return bill, payment, f"{dept.number}.{chart.number}"


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except OperationalError:  # SQLite's shared in-memory test database: the portal server is writing that table
            value = None
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def deliveries_done(box, count):
    """Wait until BILL has sent ``count`` notifications, each delivered or given up: then no webhook is on the wire,
    and the test's queries never meet the portal server's writes (SQLite's shared in-memory test database refuses
    those at once with "table is locked" instead of waiting)."""

    def done():
        log = control(box, "GET", "bill/deliveries")
        return len(log) >= count and all(d["delivered"] or d["gaveUp"] for d in log)

    return wait_for(done)
