"""One search per posting group, not per record, for targets without an idempotency key (Acumatica, BILL).

Over real HTTP against a sandbox big enough for two groups. Each test first lets a cycle store every record
and be refused for the connection on its first create (nothing is written; the batches stay ready or new),
so the second cycle's target calls are the posting path's alone, counted exactly per endpoint.
"""

import math
from collections import Counter
from dataclasses import dataclass

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


def opened(flow):
    handler = handler_class(flow.kind)(flow)
    handler.open()
    return handler


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


def acumatica_copies(box, batches):
    bills = Counter(d.get("VendorRef") for d in control(box, "GET", "acumatica/Bill"))
    return [bills[b.external_ref] for b in batches]


def acumatica_by_hand(handler, batch):
    """The batch's document written to Acumatica outside the flow (keyed in, or sent by a cycle that died): its id."""
    entity, record = handler.document_record(Posting.from_json(batch.posting))
    return f"Bill {handler.acumatica.put(entity, record)['ReferenceNbr']}"


def bill_flow(box):
    creds = control(box, "GET", "credentials")
    tenant = Tenant.objects.create(name="Distributor", slug="distributor", alert_emails="ap@distributor.example")
    jde = Connection.objects.create(tenant=tenant, system="jde", name="JD Edwards", base_url=box.system_url("jde"),
                                    credentials=creds["jde"], options={"settle_seconds": 0})
    bill = Connection.objects.create(tenant=tenant, system="bill", name="BILL", base_url=box.system_url("bill") + "/connect",
                                     credentials=creds["bill"], options={"backoff_max": 0.05, "settle_seconds": 0})
    vendors = Flow.objects.create(tenant=tenant, name="Suppliers to BILL", kind="jde_to_bill", source=jde, target=bill,
                                  options={"records": "vendors"})
    assert run_cycle(vendors).state == SyncCycle.DONE
    return Flow.objects.create(tenant=tenant, name="POs to BILL", kind="jde_to_bill", source=jde, target=bill,
                               options={"records": "bills"})


def bill_copies(box, batches):
    bills = Counter(b["invoice"]["invoiceNumber"] for b in control(box, "GET", "bill/bills") if not b["archived"])
    offsets = [next(ln for ln in b.posting["lines"] if ln["kind"] == "offset") for b in batches]
    return [bills[ln["dimensions"]["invoiceNumber"]] for ln in offsets]


def bill_by_hand(handler, batch):
    vendor, invoice, day, due, lines, fields = handler.bill_of(Posting.from_json(batch.posting))
    return handler.bill.create_bill(vendor, invoice, day, due, lines, **fields).id


@dataclass
class Target:
    system: str
    search: str  # the sandbox's name of the search endpoint
    create: str
    flow: object  # box -> the flow, its reference data in place
    copies: object  # (box, batches) -> how many live documents carry each batch's reference
    by_hand: object  # (handler, batch) -> id of the batch's document written outside the flow


TARGETS = {
    "acumatica": Target("acumatica", "get:Bill", "put:Bill", make_acumatica_flow, acumatica_copies, acumatica_by_hand),
    "bill": Target("bill", "bills:list", "bills:create", bill_flow, bill_copies, bill_by_hand),
}


@pytest.fixture(params=list(TARGETS))
def target(request):
    return TARGETS[request.param]


def ready_flow(box, target):
    flow = target.flow(box)
    return flow, ready_after_refusal(box, flow, target.system, target.create)


def posted_once_each(box, target, flow, ready, result):
    assert result.state == SyncCycle.DONE and result.posted == len(ready), result.message
    assert set(target.copies(box, ready)) == {1}
    assert set(Batch.objects.filter(pk__in=[b.pk for b in ready]).values_list("state", flat=True)) <= {S.POSTED, S.CONFIRMED}
    return calls(box, target.system), handler_class(flow.kind)(flow).lookup_group_size


def test_one_search_per_group_not_one_per_record(box, target):
    flow, ready = ready_flow(box, target)
    control(box, "DELETE", "calls")
    made, size = posted_once_each(box, target, flow, ready, run_cycle(flow, trigger="manual"))
    print(f"\n{len(ready)} posts: {dict(made)}")
    assert made[target.create] == len(ready) and made[target.search] == math.ceil(len(ready) / size) == 2
    assert (made[target.create] + made[target.search]) / len(ready) <= 1.05


def test_a_document_already_there_is_found_by_the_group_search_and_not_created_again(box, target):
    flow, ready = ready_flow(box, target)
    there = Batch.objects.filter(flow=flow, state=S.READY).first()
    document_id = target.by_hand(opened(flow), there)
    control(box, "DELETE", "calls")
    made, _ = posted_once_each(box, target, flow, ready, run_cycle(flow, trigger="manual"))
    # The group search found it, and the check that it is this record's judges what that search found.
    assert made[target.create] == len(ready) - 1 and made[target.search] == 2
    there.refresh_from_db()
    assert there.target_document_id == document_id


def test_a_failed_group_search_leaves_each_post_to_search_alone(box, target):
    flow, ready = ready_flow(box, target)
    control(box, "DELETE", "calls")
    fault(box, system=target.system, endpoint=target.search, action="status", status=400, count=1)
    made, size = posted_once_each(box, target, flow, ready, run_cycle(flow, trigger="manual"))
    # The first group's search failed: each of its posts searched for itself; the second group's search worked.
    assert made[target.create] == len(ready) and made[target.search] == 1 + size + 1
