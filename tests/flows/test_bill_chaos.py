"""Both posting directions of the JD Edwards <-> BILL connection under random write faults on the target:
slow writes past the client's timeout, 5xx after commit, connections dropped before and after the write.
Whatever happens, cycles converge to exactly one document per reference and nothing else."""

import random
from decimal import Decimal

import pytest
from django.utils import timezone

from integrations.engine import run_cycle
from integrations.models import Batch, Connection, Flow
from integrations.systems.bill import BillClient, clear_session_cache
from integrations.systems.jde import JdeClient
from tests.chaos.targets import READ_TIMEOUT, write_faults

from .bill_setup import make_bill_flow, paid_bill, supplier_vendor
from .conftest import control

pytestmark = pytest.mark.django_db(transaction=True)
S = Batch.State
CHAOS = {"settle_seconds": 0, "timeouts": [2, READ_TIMEOUT], "max_attempts": 2, "backoff_max": 0.05}


def inject(box, rng, system, endpoint, count=3):
    for make in rng.sample(write_faults(rng, system, endpoint), count):
        control(box, "POST", "faults", json=make())


def fired(box):
    return sum(f["fired"] for f in control(box, "GET", "faults"))


def settle(flow, cycles=8):
    for _ in range(cycles):
        run_cycle(flow)
        # Retry now, not after the backoff (a failed batch with no retry time is never due: it must be a time).
        Batch.objects.filter(flow=flow, state=S.FAILED).update(next_attempt_at=timezone.now())
        if not Batch.objects.filter(flow=flow, state__in=[S.NEW, S.READY, S.POSTING, S.IN_DOUBT, S.FAILED]).exists():
            return
    raise AssertionError(list(Batch.objects.filter(flow=flow).values_list("state", "error_code")))


@pytest.mark.parametrize("seed", [1, 2])
def test_purchase_orders_become_exactly_one_bill_each_under_faults(box, seed):
    rng = random.Random(seed)
    clear_session_cache()
    creds = control(box, "GET", "credentials")
    flow = make_bill_flow(box)
    tenant, jde = flow.tenant, flow.target
    bill = Connection.objects.create(
        tenant=tenant,
        system="bill",
        name="BILL chaos",
        credentials=creds["bill"],
        base_url=box.system_url("bill") + "/connect",
        options=CHAOS,
    )
    vendors = Flow.objects.create(tenant=tenant, name="v", kind="jde_to_bill", source=jde, target=bill, options={})
    bills = Flow.objects.create(
        tenant=tenant, name="b", kind="jde_to_bill", source=jde, target=bill, options={"records": "bills"}
    )
    settle(vendors)
    inject(box, rng, "bill", "bills:create")
    settle(bills)
    orders = [o for o in JdeClient(jde).purchase_orders_changed_since(None) if any(not ln.cancelled for ln in o.lines)]
    found = {}
    for b in BillClient(bill).bills():
        found.setdefault(b.invoice_number, []).append(b)
    for order in orders:
        (one,) = found.pop(f"PO-{order.company}-{order.number}-{order.order_type}")
        assert one.amount == order.total
    assert not [k for k in found if k.startswith("PO-")]  # nothing else was written
    assert Batch.objects.filter(flow=bills, state=S.POSTED).count() == len(orders)
    assert fired(box) >= 1  # the faults did fire: this is a run under faults, not a quiet one


@pytest.mark.parametrize("seed", [1, 2])
def test_payments_become_exactly_one_voucher_each_under_faults(box, seed):
    rng = random.Random(seed)
    flow = make_bill_flow(box, options={"start_date": "2026-11-01"})
    flow.target.options = {**flow.target.options, **CHAOS}
    flow.target.save()
    payments = []
    for index in range(3):
        _, vendor = supplier_vendor(flow, index)
        payments.append(paid_bill(box, flow, vendor, invoice=f"INV-{index}")[1])
    inject(box, rng, "jde", "orchestrator")
    settle(flow)
    client = JdeClient(flow.target)
    for payment in payments:
        (voucher,) = client.find_vouchers(payment["id"])
        assert voucher.gross == Decimal(str(payment["amount"]))
    assert fired(box) >= 1
