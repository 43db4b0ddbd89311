"""One search per posting group, not per record, for targets without an idempotency key (Acumatica, BILL).

Over real HTTP against a sandbox big enough for two groups. Each test first lets a cycle store every record
and be refused for the connection on its first create (nothing is written; the batches stay ready or new),
so the second cycle's target calls are the posting path's alone, counted exactly per endpoint.
"""

import math
from collections import Counter

import pytest

from integrations.engine import run_cycle
from integrations.flows import handler_class
from integrations.models import Batch, Connection, Flow, SyncCycle
from integrations.posting import Posting
from integrations.systems.acumatica import clear_token_cache
from integrations.systems.bill import clear_session_cache
from portal.models import Tenant
from tests.sandbox_fixtures import sandbox_fixtures

from .conftest import control, make_acumatica_flow

pytestmark = pytest.mark.django_db(transaction=True)
S = Batch.State


def _fresh_sessions():
    clear_token_cache()
    clear_session_cache()


server, box = sandbox_fixtures(size=110, around=_fresh_sessions, config={"expensify": {"rate_limit": [[1000, 1]]}})


def fault(box, **spec):
    return control(box, "POST", "faults", json=spec)


def calls(box, system):
    return Counter(control(box, "GET", "calls").get(system, {}))


def ready_after_refusal(box, flow, system, create):
    """A first cycle stores every record; the first create is refused for the connection (403 / 401 twice)."""
    fault(box, system=system, endpoint=create, action="status", status=403 if system == "acumatica" else 401)
    first = run_cycle(flow)
    assert first.state == SyncCycle.PAUSED, first.message
    control(box, "DELETE", "faults")
    flow.refresh_from_db()
    # The pause stopped the mapping too: the next cycle maps the rest (no target search) and posts every one.
    ready = list(Batch.objects.filter(flow=flow, state__in=[S.READY, S.NEW]).order_by("pk"))
    assert len(ready) >= 51, f"only {len(ready)} batches to post: the sandbox is too small for two groups"
    return ready


def opened(flow):
    handler = handler_class(flow.kind)(flow)
    handler.open()
    return handler


def per_reference(docs, field):
    return Counter(d.get(field) for d in docs)


# -- Acumatica ---------------------------------------------------------------------------------------------
def acumatica_ready(box):
    flow = make_acumatica_flow(box)
    return flow, ready_after_refusal(box, flow, "acumatica", "put:Bill")


def assert_each_report_once(box, batches):
    bills = per_reference(control(box, "GET", "acumatica/Bill"), "VendorRef")
    assert all(bills[b.external_ref] == 1 for b in batches)
    assert all(b.state in (S.POSTED, S.CONFIRMED) for b in Batch.objects.filter(pk__in=[b.pk for b in batches]))


def test_acumatica_searches_once_per_group_not_once_per_report(box):
    flow, ready = acumatica_ready(box)
    control(box, "DELETE", "calls")
    result = run_cycle(flow, trigger="manual")
    assert result.state == SyncCycle.DONE and result.posted == len(ready), result.message
    groups = math.ceil(len(ready) / handler_class(flow.kind)(flow).lookup_group_size)
    made = calls(box, "acumatica")
    print(f"\n{len(ready)} posts: {dict(made)}")
    assert made["put:Bill"] == len(ready) and made["get:Bill"] == groups == 2
    assert (made["put:Bill"] + made["get:Bill"]) / len(ready) <= 1.05
    assert_each_report_once(box, ready)


def test_acumatica_a_bill_already_there_is_found_by_the_group_search_and_not_created_again(box):
    flow, ready = acumatica_ready(box)
    handler, there = opened(flow), Batch.objects.filter(flow=flow, state=S.READY).first()
    entity, record = handler.document_record(Posting.from_json(there.posting))
    saved = handler.acumatica.put(entity, record)  # e.g. keyed in by hand, or sent by a cycle that died
    control(box, "DELETE", "calls")
    result = run_cycle(flow, trigger="manual")
    assert result.state == SyncCycle.DONE and result.posted == len(ready), result.message
    made = calls(box, "acumatica")
    # The group search found it, and the check that it is this report's judges what that search found.
    assert made["put:Bill"] == len(ready) - 1 and made["get:Bill"] == 2
    there.refresh_from_db()
    assert there.target_document_id == f"Bill {saved['ReferenceNbr']}"
    assert_each_report_once(box, ready)


def test_acumatica_a_failed_group_search_leaves_each_post_to_search_alone(box):
    flow, ready = acumatica_ready(box)
    control(box, "DELETE", "calls")
    fault(box, system="acumatica", endpoint="get:Bill", action="status", status=400, count=1)
    result = run_cycle(flow, trigger="manual")
    assert result.state == SyncCycle.DONE and result.posted == len(ready), result.message
    made, size = calls(box, "acumatica"), handler_class(flow.kind)(flow).lookup_group_size
    # The first group's search failed: each of its posts searched for itself; the second group's search worked.
    assert made["put:Bill"] == len(ready) and made["get:Bill"] == 1 + size + 1
    assert_each_report_once(box, ready)


# -- BILL ----------------------------------------------------------------------------------------------------
def bill_ready(box):
    creds = control(box, "GET", "credentials")
    tenant = Tenant.objects.create(name="Distributor", slug="distributor", alert_emails="ap@distributor.example")
    jde = Connection.objects.create(tenant=tenant, system="jde", name="JD Edwards", base_url=box.system_url("jde"),
                                    credentials=creds["jde"], options={"settle_seconds": 0})
    bill = Connection.objects.create(tenant=tenant, system="bill", name="BILL", base_url=box.system_url("bill") + "/connect",
                                     credentials=creds["bill"], options={"backoff_max": 0.05, "settle_seconds": 0})
    vendors = Flow.objects.create(tenant=tenant, name="Suppliers to BILL", kind="jde_to_bill", source=jde, target=bill,
                                  options={"records": "vendors"})
    assert run_cycle(vendors).state == SyncCycle.DONE
    flow = Flow.objects.create(tenant=tenant, name="POs to BILL", kind="jde_to_bill", source=jde, target=bill,
                               options={"records": "bills"})
    return flow, ready_after_refusal(box, flow, "bill", "bills:create")


def assert_each_bill_once(box, batches):
    bills = Counter(b["invoice"]["invoiceNumber"] for b in control(box, "GET", "bill/bills") if not b["archived"])
    numbers = [next(ln for ln in b.posting["lines"] if ln["kind"] == "offset")["dimensions"]["invoiceNumber"]
               for b in batches]
    assert all(bills[n] == 1 for n in numbers)
    assert all(b.state in (S.POSTED, S.CONFIRMED) for b in Batch.objects.filter(pk__in=[b.pk for b in batches]))


def test_bill_searches_once_per_group_not_once_per_bill(box):
    flow, ready = bill_ready(box)
    control(box, "DELETE", "calls")
    result = run_cycle(flow, trigger="manual")
    assert result.state == SyncCycle.DONE and result.posted == len(ready), result.message
    groups = math.ceil(len(ready) / handler_class(flow.kind)(flow).lookup_group_size)
    made = calls(box, "bill")
    print(f"\n{len(ready)} posts: {dict(made)}")
    assert made["bills:create"] == len(ready) and made["bills:list"] == groups == 2
    assert (made["bills:create"] + made["bills:list"]) / len(ready) <= 1.05
    assert_each_bill_once(box, ready)


def test_bill_already_there_is_found_by_the_group_search_and_not_created_again(box):
    flow, ready = bill_ready(box)
    handler, there = opened(flow), Batch.objects.filter(flow=flow, state=S.READY).first()
    vendor, invoice, day, due, lines, fields = handler.bill_of(Posting.from_json(there.posting))
    made_by_hand = handler.bill.create_bill(vendor, invoice, day, due, lines, **fields)
    control(box, "DELETE", "calls")
    result = run_cycle(flow, trigger="manual")
    assert result.state == SyncCycle.DONE and result.posted == len(ready), result.message
    made = calls(box, "bill")
    assert made["bills:create"] == len(ready) - 1 and made["bills:list"] == 2
    there.refresh_from_db()
    assert there.target_document_id == made_by_hand.id
    assert_each_bill_once(box, ready)


def test_bill_a_failed_group_search_leaves_each_post_to_search_alone(box):
    flow, ready = bill_ready(box)
    control(box, "DELETE", "calls")
    fault(box, system="bill", endpoint="bills:list", action="status", status=400, count=1)
    result = run_cycle(flow, trigger="manual")
    assert result.state == SyncCycle.DONE and result.posted == len(ready), result.message
    made, size = calls(box, "bill"), handler_class(flow.kind)(flow).lookup_group_size
    assert made["bills:create"] == len(ready) and made["bills:list"] == 1 + size + 1
    assert_each_bill_once(box, ready)
