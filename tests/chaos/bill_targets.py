"""The chaos suite on both posting directions of JD Edwards <-> BILL: targets with their own source.

``BillBillsTarget``: approved JD Edwards purchase orders -> BILL bills (``jde_to_bill``, records "bills"; the
vendors flow runs first, or only once the faults are over, so bills also wait for their vendor).
``BillPaymentsTarget``: BILL payments -> JD Edwards AP vouchers (``bill_to_jde``, polled).

Each builds its world itself (``setup``, the source hook of ``scenario.Run``), brings its faults (the
target's write: slow beyond the client's timeout, 5xx after commit, drops before and after; a session
BILL forgot (BDC_1109, and sessions expired silently between cycles), BDC_1322 or BDC_1144 on writes
and reads; JD Edwards token storms and read failures), and checks the run itself (``check``): every
source record is in the target exactly once or held with a reason, none is lost, nothing is stuck,
amounts equal the source to the cent.
"""

from collections import defaultdict
from decimal import Decimal

from integrations.engine import run_cycle
from integrations.flows.bill_to_jde import BillToJde
from integrations.flows.jde_orders_to_bill import JdeOrdersToBill
from integrations.models import Batch, Connection, Flow
from integrations.systems.bill import clear_session_cache
from integrations.systems.jde import JdeClient
from portal.models import Tenant
from tests.conftest import ANCHOR

from .targets import READ_TIMEOUT, write_faults
from .world import SETTLED, S, control

SETTLE = 0.25  # as scenario.SETTLE: above the read timeout plus the slowest fault


def bill_faults(rng, endpoint, reads):
    """A session BILL forgot, BDC_1322/1144 (which one: config ``fault_429_code``) and 5xx on reads."""
    return [
        lambda: {"system": "bill", "endpoint": endpoint, "action": "status", "status": 401, "after": rng.randint(0, 3),
                 "count": 1},
        lambda: {"system": "bill", "endpoint": rng.choice([endpoint, reads]), "action": "status", "status": 429,
                 "retry_after": 0.01, "after": rng.randint(0, 3), "count": rng.randint(1, 4)},
        lambda: {"system": "bill", "endpoint": reads, "action": "status", "status": 503, "count": rng.randint(1, 4)},
    ]


class BillSide:
    """What both BILL directions share: the world, connections with the chaos timeouts, the settled check."""

    system_options = {"max_attempts": 2, "backoff_max": 0.02}

    def base(self, run):
        rng, box = run.rng, run.box
        clear_session_cache()
        box.reset(seed=run.seed, size=rng.randint(3, 8), anchor=ANCHOR)
        code = rng.choice(["BDC_1322", "BDC_1144"])
        box.config.setdefault("bill", {})["fault_429_code"] = code
        box.config.setdefault("jde", {})["voucher_idempotent"] = rng.random() < 0.7
        run.events[f"429:{code}"] += 1
        tenant = Tenant.objects.create(name=f"Chaos {run.seed}", slug=f"chaos-{run.seed}")
        creds = control(box, "GET", "credentials")
        target = {"settle_seconds": SETTLE, "timeouts": [2, READ_TIMEOUT], **self.system_options,
                  "concurrency": rng.choice([1, 1, 4, 8])}
        run.events[f"concurrency:{target['concurrency']}"] += 1
        urls = {"jde": box.system_url("jde"), "bill": box.system_url("bill") + "/connect"}
        made = {}
        for system, name in (("jde", "JD Edwards"), ("bill", "BILL")):
            options = target if system == self.system else {**self.system_options, "settle_seconds": 0}
            made[system] = Connection.objects.create(tenant=tenant, system=system, name=name, base_url=urls[system],
                                                     credentials=creds[system], options=options)
        return tenant, made

    def source_faults(self, rng):
        return []  # the source's faults are among ``faults``

    def after_faults(self, box, rng, events):
        if rng.random() < 0.5:  # BILL forgot every session while nobody called: the next call finds out
            events["sessions-expired"] += 1
            control(box, "POST", "bill/sessions/expire")
        if rng.random() < 0.3:  # the site's voucher batch processor ran and purged the Z-file before a late reconcile
            events["purge"] += 1
            control(box, "POST", "jde/process", json={})
            control(box, "POST", "jde/purge", json={})

    def check(self, box, tenant, seed):
        expected, ledger = self.expected(tenant), self.ledger(box)
        where, counts = f"seed {seed}", defaultdict(int)
        batches = {b.external_ref: b for b in Batch.objects.filter(flow__tenant=tenant, source_kind=self.source_kind)}
        for ref, docs in ledger.items():
            assert len(docs) == 1, f"{where}: {ref} is in {self.name} {len(docs)} times: {sorted(docs)}"
        for batch in Batch.objects.filter(flow__tenant=tenant):
            assert batch.state in SETTLED, f"{where}: batch {batch.source_id} stuck in {batch.state}"
            if batch.state == S.HELD:
                assert batch.error_code and batch.last_error and batch.error_help, f"{where}: held without a reason"
        for ref, amount in expected.items():
            batch = batches.get(ref)
            assert batch is not None, f"{where}: {ref} was lost (no batch)"
            counts[batch.state] += 1
            if batch.state in (S.POSTED, S.CONFIRMED):
                assert ref in ledger, f"{where}: {ref} is {batch.state} but not in {self.name}"
                (total,) = ledger[ref].values()
                assert total == amount, f"{where}: {ref} is {amount} at the source, {total} in {self.name}"
            else:
                assert ref not in ledger, f"{where}: {ref} is in {self.name} but its batch is {batch.state}"
        assert not set(ledger) - set(expected), f"{where}: written without a source record: {set(ledger) - set(expected)}"
        counts["records"] = len(expected)
        return dict(counts)


class BillBillsTarget(BillSide):
    kind, system, name = "jde_to_bill", "bill", "BILL"
    handler = JdeOrdersToBill
    source_kind = "jde_purchase_order"

    def setup(self, run):
        tenant, made = self.base(run)
        vendors = Flow.objects.create(tenant=tenant, name="Suppliers", kind="jde_to_bill", source=made["jde"],
                                      target=made["bill"], options={"records": "vendors"})
        bills = Flow.objects.create(tenant=tenant, name="Orders", kind="jde_to_bill", source=made["jde"], target=made["bill"],
                                    options={"records": "bills", "page_size": run.rng.choice([2, 3, 100]), "max_attempts": 50})
        if run.rng.random() < 0.7:
            run_cycle(vendors)
        else:  # the vendors come only after the faults: every bill waits for its vendor first
            run.events["vendors-late"] += 1
        return tenant, [vendors, bills]

    def faults(self, rng):
        return write_faults(rng, "bill", "bills:create") + bill_faults(rng, "bills:create", "bills:list")

    def expected(self, tenant):
        jde = Connection.objects.get(tenant=tenant, system="jde")
        return {f"PO-{o.company}-{o.number}-{o.order_type}": o.total
                for o in JdeClient(jde).purchase_orders_changed_since(None) if any(not ln.cancelled for ln in o.lines)}

    def ledger(self, box):
        """Live bills by invoice number: reference -> {bill id: amount}."""
        out = defaultdict(dict)
        for bill in control(box, "GET", "bill/bills"):
            number = bill["invoice"]["invoiceNumber"]
            if number.startswith("PO-") and not bill.get("archived"):
                out[number][bill["id"]] = Decimal(str(bill["amount"]))
        return dict(out)


class BillPaymentsTarget(BillSide):
    kind, system, name = "bill_to_jde", "jde", "JD Edwards"
    handler = BillToJde
    source_kind = "bill_payment"

    def setup(self, run):
        from tests.flows.bill_setup import paid_bill, supplier_vendor

        tenant, made = self.base(run)
        flow = Flow.objects.create(tenant=tenant, name="Payments", kind="bill_to_jde", source=made["bill"],
                                   target=made["jde"], options={"start_date": ANCHOR.isoformat(), "max_attempts": 50})
        vendors = {}
        for index in range(run.rng.randint(2, 5)):
            if index % 2 not in vendors:  # two suppliers, each with its BILL vendor, several payments each
                vendors[index % 2] = supplier_vendor(flow, index % 2)[1]
            vendor = vendors[index % 2]
            partial = run.rng.random() < 0.3
            paid_bill(run.box, flow, vendor, invoice=f"CH-{index}", pay="50.25" if partial else None)
        clear_session_cache()
        return tenant, [flow]

    def faults(self, rng):
        return write_faults(rng, "jde", "orchestrator") + bill_faults(rng, "payments:get", "payments:list") + [
            lambda: {"system": "jde", "endpoint": "orchestrator", "action": "status", "status": 444,
                     "after": rng.randint(0, 3), "count": rng.randint(2, 4)},
            lambda: {"system": "jde", "endpoint": "dataservice", "action": "status", "status": 503,
                     "count": rng.randint(1, 6)},
        ]

    def expected(self, tenant):
        flow = Flow.objects.filter(tenant=tenant, kind="bill_to_jde").first()
        return {p["id"]: Decimal(str(p["amount"])) for p in control_payments(flow)}

    def ledger(self, box):
        """Vouchers by reference (F0411Z1 EDTN, or F0411 RMK once purged): reference -> {document: gross}."""
        out = defaultdict(lambda: defaultdict(Decimal))
        z_docs = set()
        for row in control(box, "GET", "jde/F0411Z1"):
            out[row["VLEDTN"]][str(row["VLDOC"])] += Decimal(str(row["VLAG"]))
            z_docs.add(str(row["VLDOC"]))
        for row in control(box, "GET", "jde/F0411"):
            if str(row["RPDOC"]) not in z_docs:  # processed and purged: the ledger row stands for the Z rows
                out[row["RPRMK"]][str(row["RPDOC"])] += Decimal(str(row["RPAG"]))
        return {ref: dict(docs) for ref, docs in out.items()}


def control_payments(flow):
    """The run's own payments (paid after the flow's start date): what must reach JD Edwards."""
    from integrations.systems.bill import BillClient

    return [p.raw for p in BillClient(flow.source).payments(updated_since=flow.options["start_date"])
            if p.status == "PAID"]


BILL_TARGETS = {t.kind: t for t in (BillBillsTarget, BillPaymentsTarget)}
