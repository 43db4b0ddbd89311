"""One seeded chaos run: a small source world (Expensify, or the target's own ``source``: ``sources.py``), a flow
into JD Edwards, IFS Cloud or Acumatica, faults, then quiet.

Everything a run does is drawn from ``random.Random(seed)``, so a failing seed replays the
same faults (``CHAOS_SEEDS=1234 ./scripts/test tests/chaos``). A run: reset the sandbox with
a handful of approved reports; choose the export order, lagging marks, whether the journal
orchestration is idempotent (the target's own choices), bad records and odd currencies; run 2 to 4 cycles under
vendor and portal faults; maybe re-create the flow or purge the Z-file; then clear the
faults and run cycles (time passing for backoffs and settle windows) until every batch is
settled, and check the invariants (``world.check``).
"""

import random
import time
from collections import Counter

from django.utils import timezone

from integrations.engine import run_cycle
from integrations.models import Batch, Flow
from portal.models import Tenant
from tests.conftest import ANCHOR

from . import injectors
from .sources import ExpensifySource
from .targets import READ_TIMEOUT
from .world import S, check, control

SETTLE = 0.25  # settle window: above the client's read timeout plus the slowest fault (targets.SLOW)
OPEN = (S.NEW, S.READY, S.POSTING, S.IN_DOUBT, S.FAILED)


def corrupt(box, rng, report):
    """Turn one approved report into a bad record (or an odd but valid one); returns what was done."""
    rid, txns = str(report["reportID"]), report.get("transactionList") or report.get("transactions") or []
    first = str(txns[0]["transactionID"]) if txns else None
    choices = {
        "nul-merchant": {"set_transaction": {"transactionID": first, "merchant": "Cafe\x00\x07 Bar\n"}},
        "text-amount": {"set_transaction": {"transactionID": first, "convertedAmount": "12.5x"}},
        "no-amount": {"set_transaction": {"transactionID": first, "convertedAmount": None}},
        "huge-amount": {"set_report": {"total": 10**22}},
        "beyond-jde": {"set_amount": {"transactionID": first, "amount": 10**16}},
        "negative-total": {"set_report": {"total": -500}},
        "no-lines": {"remove_transactions": True},
        "duplicate-line": {"add_transaction": dict(txns[0]) if txns else {}},
        "unknown-currency": {"set_report": {"currency": "XYZ"}},
        "lines-off-total": {"set_report": {"total": int(report["total"]) + 1}},
        "three-decimals": {"set_report": {"currency": "KWD"}},
        "zero-decimals": {"set_report": {"currency": "JPY"}},
    }
    if not first:
        return None
    kind = rng.choice(sorted(choices))
    control(box, "POST", f"expensify/reports/{rid}", json=choices[kind])
    return kind


class Run:
    def __init__(self, box, seed, settings, target):
        self.box, self.seed, self.rng = box, seed, random.Random(seed)
        self.target = target
        self.source = getattr(target, "source", ExpensifySource)()  # what the flow reads (sources.py)
        self.settings = settings
        self.events = Counter()
        self.flows = []
        self.operator_held = set()  # batches a person held mid-cycle: never posted behind their back

    # -- set-up ---------------------------------------------------------------------------
    def setup(self):
        if hasattr(self.target, "setup"):  # a target with its own source (not Expensify) builds its world itself
            self.tenant, flows = self.target.setup(self)
            self.flows.extend(flows)
            return
        rng, box = self.rng, self.box
        box.reset(seed=self.seed, size=rng.randint(3, 8), anchor=ANCHOR)
        self.source.configure(box, rng, self.events)
        self.target.configure(box, rng, self.events)
        tenant = Tenant.objects.create(name=f"Chaos {self.seed}", slug=f"chaos-{self.seed}")
        self.tenant = tenant
        flow = self.source.make_flow(box, rng, tenant, self.target, target_options={
            "settle_seconds": SETTLE, "timeouts": [2, READ_TIMEOUT], "max_attempts": 2, "backoff_max": 0.02,
            "concurrency": rng.choice([1, 1, 4, 8])})
        self.events[f"concurrency:{flow.target.options['concurrency']}"] += 1
        self.flows.append(flow)
        self.source.corrupt(box, rng, self.events)

    # -- the run ----------------------------------------------------------------------------
    def cycle(self, flow):
        try:
            return run_cycle(flow, trigger="manual")
        except injectors.Killed:
            self.events["worker-killed"] += 1
            return None

    def faulty_cycles(self):
        rng = self.rng
        faults = injectors.vendor_faults(rng, self.target, self.source)
        for fault in faults:
            self.events[f"fault:{fault['system']}:{fault['action']}:{fault.get('status', '')}"] += 1
        injectors.inject_vendor_faults(self.box, faults)
        for _ in range(rng.randint(2, 4)):
            flow = self.flows[-1]
            portal_fault = rng.choice([None, None, "commit", "store", "kill", "takeover", "race", "recreate", "operator"])
            if portal_fault:
                self.events[f"portal:{portal_fault}"] += 1
            if portal_fault == "commit":
                with injectors.commit_error(rng):
                    self.cycle(flow)
            elif portal_fault == "store":
                with injectors.store_error(rng):
                    self.cycle(flow)
            elif portal_fault == "kill":
                with injectors.killed_after_post(rng.randint(1, 3), self.target.handler):
                    self.cycle(flow)
            elif portal_fault == "takeover":
                with injectors.lease_taken_over(flow.pk, rng.randint(1, 2), hold_seconds=0.3, handler=self.target.handler):
                    self.cycle(flow)
            elif portal_fault == "operator":
                with injectors.operator_holds_before_claim(rng.randint(1, 3), self.operator_held):
                    self.cycle(flow)
            elif portal_fault == "race":
                injectors.race(lambda f: run_cycle(f, trigger="manual", wait=0), flow)
            elif portal_fault == "recreate":
                self.recreate(flow)
            else:
                self.cycle(flow)
        control(self.box, "DELETE", "faults")
        self.target.after_faults(self.box, self.rng, self.events)

    def recreate(self, flow):
        """Disable the flow and make another on the same connections (sometimes with its own fetch label)."""
        Flow.objects.filter(pk=flow.pk).update(enabled=False)
        options = self.source.recreate(dict(flow.options), self.rng, self.seed)
        copy = Flow.objects.create(tenant=flow.tenant, name=f"{flow.name} again {len(self.flows)}", kind=flow.kind,
                                   source=flow.source, target=flow.target, options=options)
        self.source.prepare(copy)
        self.flows.append(copy)
        self.cycle(copy)

    def settle(self):
        """No more faults: let time pass (backoffs, settle windows, lost leases) until every batch is settled."""
        last = None
        for _ in range(40):
            Batch.objects.filter(flow__tenant=self.tenant, state=S.FAILED).update(next_attempt_at=timezone.now())
            Flow.objects.filter(tenant=self.tenant, lease_until__lt=timezone.now()).update(lease_owner=None)
            for flow in self.flows:
                flow.refresh_from_db()
                self.cycle(flow)
            if not Batch.objects.filter(flow__tenant=self.tenant, state__in=OPEN).exists():
                last = self.cycle(self.flows[-1])  # one more complete pass: anything not yet fetched
                done = last is not None and last.state == "done" and not last.more_work
                if done and not Batch.objects.filter(flow__tenant=self.tenant, state__in=OPEN).exists():
                    return
            time.sleep(SETTLE)
        still = Batch.objects.filter(flow__tenant=self.tenant, state__in=OPEN).values_list("source_id", "state")
        said = f"{last.state}: {last.message}" if last else "worker killed"
        raise AssertionError(f"seed {self.seed}: not settled: open batches {list(still)}; last cycle {said}")

    def play(self):
        self.setup()
        self.faulty_cycles()
        self.settle()
        own = getattr(self.target, "check", None)  # a target with its own source checks its own records
        counts = own(self.box, self.tenant, self.seed) if own else check(self.box, self.tenant, self.seed, self.target,
                                                                          self.source)
        for batch in Batch.objects.filter(pk__in=self.operator_held):
            assert batch.state == S.HELD, f"seed {self.seed}: batch {batch.source_id} held by a person became {batch.state}"
        return counts, self.events
