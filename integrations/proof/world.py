"""The tenants of a run: each has its own sandbox process (its own vendors: one tenant's references and
marks never meet the other's) sized so that both together hold about the records asked for, and a flow
of every kind ``setup_demo`` builds, with the vendors' limits enforced on both sides.

Limits: the fakes enforce a limit and count what they refuse (``GET /_sandbox/limits``); the portal's
connections carry the same figures. Expensify's published windows (5 per 10 s, 20 per 60 s,
shared/reference/expensify.md) are scaled by ``EXPENSIFY_SCALE`` so a run ends in minutes, on both
sides alike; Acumatica gets a per-minute license limit (none on the trial license; the figure is ours);
IFS and BILL keep the fakes' defaults, which the clients' defaults already respect.
"""

from ..bench.sandbox import Control, SandboxProcess
from .kinds import SPECS, spec_key

EXPENSIFY_SCALE = 10
EXPENSIFY_LIMIT = [[5 * EXPENSIFY_SCALE, 10], [20 * EXPENSIFY_SCALE, 60]]
ACUMATICA_PER_MINUTE = 1200
READ_TIMEOUT = 5.0  # the clients' read timeout in a run: latency faults go beyond it
# Time for a write the client gave up on to land: above the read timeout plus the slowest injected latency.
SETTLE_SECONDS = 15
ANCHOR = "2026-11-01"
# Kinds setup_demo builds today; a kind added there is proven once it also has kinds.SPECS entries.
DEMO_BUILT = ("expensify_to_jde", "expensify_to_ifs", "expensify_to_acumatica", "acumatica_to_expensify",
              "procurify_to_jde", "jde_to_procurify", "jde_to_bill", "bill_to_jde")


class Box(Control):
    """A sandbox's control API for the proof: reads of the fakes' records and limits."""

    def get(self, path, **params):
        return self._call("GET", path, params=params or None)

    def post(self, path, body):
        return self._call("POST", path, json=body)

    def reset(self, seed, size, anchor=ANCHOR):
        self.anchor = anchor  # the fakes' clocks start here: what they make in the run is newer (kinds._since)
        self._call("POST", "reset", json={"seed": seed, "size": size, "anchor": anchor})
        self.post("config", {"expensify": {"rate_limit": EXPENSIFY_LIMIT},
                             "acumatica": {"requests_per_minute": ACUMATICA_PER_MINUTE}})

    def records(self, keys):
        """Spec key -> the source keys its flow must move."""
        return {key: SPECS[key].expected(self) for key in keys}


def connection_options():
    """Per system: the options every connection of a run carries (timeouts short enough for latency faults
    to go beyond them, a settle window in seconds, the vendors' limits as the fakes enforce them)."""
    common = {"timeouts": [3, READ_TIMEOUT], "settle_seconds": SETTLE_SECONDS}
    out = {system: dict(common) for system in ("jde", "ifs", "acumatica", "procurify", "expensify", "bill")}
    out["acumatica"]["requests_per_minute"] = ACUMATICA_PER_MINUTE
    return out


def covered_kinds(implemented):
    """(kinds run, kinds not run with the reason). A kind runs with at least one kinds.SPECS entry; its flows
    without one (a record kind not covered yet) run too, unproven (``spec_keys``)."""
    specced = {key.split(":", 1)[0] for key in SPECS}
    run = [k for k in implemented if k in DEMO_BUILT and k in specced]
    left = {k: "setup_demo does not build it yet" if k not in DEMO_BUILT else "no kinds.SPECS entry"
            for k in implemented if k not in run}
    return run, left


def spec_keys(kinds):
    """The kinds.SPECS entries of ``kinds``: the record kinds proven."""
    return [key for key in SPECS if key.split(":", 1)[0] in kinds]


def flow_key(flow):
    return spec_key(flow.kind, flow.options)


def size_for(box, seed, kinds, wanted):
    """The sandbox size whose source records for ``kinds`` come nearest ``wanted`` (the records are close to
    linear in the size, with a fixed part: the chart of accounts, the employees)."""
    def total(size):
        box.reset(seed, size)
        return sum(len(keys) for keys in box.records(spec_keys(kinds)).values())

    low, high = total(20), total(220)
    per_size = max((high - low) / 200, 0.01)
    return max(1, round(20 + (wanted - low) / per_size))


class TenantWorld:
    def __init__(self, index, seed, root, env, progress):
        self.index, self.seed = index, seed
        self.process = SandboxProcess(root, env, progress, seed=seed)
        self.box = Box(self.process.url)
        self.tenant, self.flows = None, []

    @property
    def label(self):
        return f"tenant{self.index}"

    def size_to(self, kinds, wanted, progress):
        self.size = size_for(self.box, self.seed, kinds, wanted)
        self.box.reset(self.seed, self.size)

    def read_records(self, progress, live_only=False):
        """The source records of every proven record kind (after ``make_tenant``: the demo keys some); with
        ``live_only`` only those of the kinds whose source grows during the run, the others kept."""
        keys = [k for k in spec_keys(self.kinds) if not live_only or SPECS[k].live]
        self.records = {**getattr(self, "records", {}), **self.box.records(keys)}
        if not live_only:
            progress(f"{self.label}: sandbox size {self.size}: {sum(map(len, self.records.values()))} source records "
                     + ", ".join(f"{k} {len(v)}" for k, v in self.records.items()))
        return self.records

    def make_tenant(self, kinds, progress):
        from ..demo import setup_demo

        self.kinds = kinds
        self.tenant, self.flows = setup_demo(
            self.box, progress=progress, slug=f"proof-{self.index}", name=f"Proof tenant {self.index}",
            rate_limit=EXPENSIFY_LIMIT, flow_options={"max_attempts": 50}, kinds=tuple(kinds),
            target_options=connection_options())
        return self.flows

    def breaches(self):
        return self.box.get("limits")

    def stop(self):
        self.process.stop()
