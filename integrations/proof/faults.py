"""Random vendor faults during a run, through each sandbox's fault API (``sandbox.faults``).

Per system, on the endpoints the flows write and read: 5xx before the fake runs, 5xx after it
committed (a gateway's 502/504), the connection dropped before and after commit, latency beyond the
clients' read timeout (the write lands after the client gave up), and the re-authentication cases
(JD Edwards 444, a 401 on IFS or BILL, an Acumatica restart that ends its tokens). Each fault fires a few
times and expires; everything is drawn from the run's seeded generator.
"""

from collections import Counter

from .world import READ_TIMEOUT

WRITES = {
    "jde": ["orchestrator"],
    "ifs": ["action:VoucherTemplate_CreateVoucher"],
    "acumatica": ["put:Bill"],
    "expensify": ["update:employees"],
    "procurify": ["account_codes:create", "account_codes:update"],
    "bill": ["bills:create", "vendors:create"],
}
READS = {
    "jde": ["dataservice"],
    "ifs": ["read:CodePartValueSet"],
    "acumatica": ["get:Bill", "get:Employee"],
    "expensify": ["download", "file:combinedReportData"],
    "procurify": ["bills:get", "bills:list", "payments:list"],
    "bill": ["bills:list", "vendors:list", "payments:list", "payments:get"],
}
REAUTH = {
    "jde": {"action": "status", "status": 444},
    "ifs": {"action": "status", "status": 401},
    "acumatica": {"action": "restart"},
    "bill": {"action": "status", "status": 401},  # BDC_1109, session expired (sandbox.bill.fault_body)
}


def write_fault(rng, system, endpoint):
    choice = rng.choice(["status", "status_after", "drop_before", "drop_after", "latency"])
    fault = {"system": system, "endpoint": endpoint, "action": choice, "after": rng.randint(0, 5),
             "count": rng.randint(1, 3)}
    if choice in ("status", "status_after"):
        fault["status"] = rng.choice([500, 502, 503, 504])
    if choice == "latency":
        fault.update(latency_ms=(READ_TIMEOUT + rng.uniform(0.5, 2.0)) * 1000, count=rng.randint(1, 2))
    return fault


def read_fault(rng, system, endpoint):
    fault = {"system": system, "endpoint": endpoint, "action": rng.choice(["status", "drop_before"]),
             "after": rng.randint(0, 3), "count": rng.randint(1, 3)}
    return {**fault, "status": rng.choice([500, 503])} if fault["action"] == "status" else fault


def reauth_fault(rng, system):
    # One refusal: the client signs in again and carries on (twice in a row would pause the flow, by design).
    return {"system": system, "endpoint": WRITES[system][0], "after": rng.randint(0, 5), "count": 1, **REAUTH[system]}


def draw(rng):
    """One fault, any system, any kind."""
    system = rng.choice(sorted(WRITES))
    roll = rng.random()
    if roll < 0.6:
        return write_fault(rng, system, rng.choice(WRITES[system]))
    if roll < 0.85 or system not in REAUTH:
        return read_fault(rng, system, rng.choice(READS[system]))
    return reauth_fault(rng, system)


class FaultInjector:
    def __init__(self, rng, boxes):
        self.rng, self.boxes = rng, boxes
        self.injected = Counter()

    def inject(self):
        box = self.rng.choice(self.boxes)
        fault = draw(self.rng)
        box.post("faults", fault)
        status = f":{fault['status']}" if fault["action"] in ("status", "status_after") else ""
        self.injected[f"{fault['system']}:{fault['action']}{status}"] += 1

    def clear(self):
        for box in self.boxes:
            box._call("DELETE", "faults")

    def fired(self):
        return sum(f["fired"] for box in self.boxes for f in box.get("faults"))
