"""The JD Edwards <-> BILL part of the demo (and of ``bench``): flows, supplier invoices, payments, webhooks.

* ``bill_flows``: the vendors, bills (approved purchase orders) and invoices (supplier invoices) flows
  JD Edwards -> BILL and the payments flow BILL -> JD Edwards; a few supplier invoices keyed in the
  sandbox's JD Edwards (``sandbox.jde_invoices_control``) on accounts both sides know, so the invoices
  flow has work.
* ``subscribe``: BILL's sandbox subscribed to payment events at the demo portal's own address (the
  security key straight into the connection's encrypted credentials, ``bill_subscriptions``).
* ``pay_bills``: BILL pays some of the bills the connector created (the sandbox's control API), so a
  ``payment.updated`` webhook reaches the portal and the payment posts back to JD Edwards.
* ``portal_server``: ``demo --once`` has no web server: this serves the portal on a free loopback port
  in a thread for the webhooks' sake.
"""

import contextlib
import threading

import requests

INVOICES = 4  # supplier invoices keyed in the sandbox's JD Edwards


def _control(box, method, path, **kwargs):
    response = requests.request(method, f"{box.url}/_sandbox/{path}", timeout=10, **kwargs)
    response.raise_for_status()
    return response.json()


def bill_flows(box, flow, jde, bill, kinds, start):
    """``{key: Flow}`` for the BILL kinds among ``kinds`` (keys ``jde_to_bill``, ``jde_to_bill:bills``,
    ``jde_to_bill:invoices``, ``bill_to_jde``); ``flow(kind, name, source, target, options)`` makes one."""
    made = {}
    if "jde_to_bill" in kinds:
        made["jde_to_bill"] = flow("jde_to_bill", "JD Edwards suppliers to BILL", jde, bill, {"records": "vendors"})
        made["jde_to_bill:bills"] = flow("jde_to_bill", "JD Edwards purchase orders to BILL", jde, bill,
                                         {"records": "bills"})
        made["jde_to_bill:invoices"] = flow("jde_to_bill", "JD Edwards supplier invoices to BILL", jde, bill,
                                            {"records": "invoices"})
        key_invoices(box)
    if "bill_to_jde" in kinds:  # payments from the demo's start on: the sandbox's older ones are another company's
        made["bill_to_jde"] = flow("bill_to_jde", "BILL payments to JD Edwards", bill, jde, {"start_date": start})
    return made


def shared_accounts(box):
    """JDE posting accounts ``BU.OBJ`` whose business unit is a BILL department and object a BILL chart of account."""
    departments = {d.get("shortName") for d in _control(box, "GET", "bill/departments") if not d.get("archived")}
    charts = {c.get("accountNumber") for c in _control(box, "GET", "bill/chart_of_accounts") if not c.get("archived")}
    found = []
    for row in _control(box, "GET", "jde/accounts"):
        unit, obj = row["GMMCU"].strip(), row["GMOBJ"]
        if not row["GMSUB"] and not row["GMPEC"] and unit in departments and obj in charts:
            found.append(f"{unit}.{obj}")
    return found


def key_invoices(box, count=INVOICES):
    """Supplier invoices keyed by an AP clerk in the sandbox's JD Edwards (one per active supplier)."""
    accounts = shared_accounts(box)
    suppliers = [s for s in _control(box, "GET", "jde/suppliers") if s.get("ABAT1") == "V"]
    if not accounts or len(_control(box, "GET", "jde/F0411")):
        return 0
    for index, supplier in enumerate(suppliers[:count]):
        lines = [{"account": accounts[(index + n) % len(accounts)], "amount": f"{150 + 37 * index + 11 * n}.{25 + n}",
                  "explanation": f"Invoice line {n + 1}"} for n in range(1 + index % 2)]
        _control(box, "POST", "jde/supplier-invoices",
                 json={"supplier": supplier["A6AN8"], "invoice_number": f"SI-{9100 + index}", "lines": lines})
    return min(count, len(suppliers))


def subscribe(connection, base_url):
    """Subscribe the sandbox's BILL to payment events at ``base_url``'s webhook endpoint."""
    from django.urls import reverse

    from .bill_subscriptions import subscribe as make

    url = base_url.rstrip("/") + reverse("webhook-bill", kwargs={"connection_id": connection.pk})
    make(connection, url, actor="demo")
    return url


def pay_bills(box, bills_flow, count=2):
    """BILL pays ``count`` bills the connector created (not yet paid); returns the payments."""
    from .models import Batch

    paid = []
    for batch in Batch.objects.filter(flow=bills_flow, state__in=["posted", "confirmed"]).order_by("pk"):
        bill = next((b for b in _control(box, "GET", "bill/bills") if b["id"] == batch.target_document_id), None)
        if bill is not None and bill.get("paymentStatus") != "PAID":
            paid.append(_control(box, "POST", "bill/payments", json={"billId": bill["id"]}))
        if len(paid) >= count:
            break
    return paid


@contextlib.contextmanager
def portal_server():
    """The portal served on a free loopback port in a thread; yields its base URL."""
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler, get_internal_wsgi_application

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):  # the demo's progress is on stderr; requests would drown it
            pass

    server = ThreadedWSGIServer(("127.0.0.1", 0), Quiet, allow_reuse_address=False)
    server.set_app(get_internal_wsgi_application())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
