"""A worker process running one JD Edwards <-> BILL cycle: ``python -m tests.flows.bill_flow_worker SPEC``.

``SPEC`` (JSON): ``role`` ("bills": a vendors cycle first, then the measured bills cycle; "payments": paid
bills for two suppliers' vendors first, then the measured payments cycle), ``slug``, ``sandbox_url``,
``credentials``, ``concurrency`` (BILL connection option, absent: BILL's 3; above 3 it lifts the portal's cap
of BILL's limit, ``registry.MAX_CONCURRENCY``, for a control run that must overrun). It builds its tenant in the
database of the environment (``DATABASE_URL``, ``REDIS_URL``, shared with the other worker, as real
workers share theirs), says ``ready``, waits for a line on stdin, runs the cycle and prints its summary.
"""

import json
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from integrations.engine import run_cycle
    from integrations.models import Connection, Flow
    from portal.models import Tenant
    from tests.flows.bill_setup import paid_bill, supplier_vendor

    spec = json.loads(sys.argv[1])
    if int(spec.get("concurrency") or 0) > 3:
        from tests.ceiling import lift_ceiling

        lift_ceiling("bill")
    box = _Box(spec["sandbox_url"])
    tenant = Tenant.objects.create(name=spec["slug"], slug=spec["slug"])
    bill_options = {"backoff_max": 0.05, "settle_seconds": 0, **({"concurrency": spec["concurrency"]}
                                                                 if spec.get("concurrency") else {})}
    jde = Connection.objects.create(tenant=tenant, system="jde", name="JD Edwards", base_url=box.system_url("jde"),
                                    credentials=spec["credentials"]["jde"], options={"settle_seconds": 0})
    bill = Connection.objects.create(tenant=tenant, system="bill", name="BILL", base_url=box.system_url("bill") + "/connect",
                                     credentials=spec["credentials"]["bill"], options=bill_options)
    if spec["role"] == "bills":
        run_cycle(Flow.objects.create(tenant=tenant, name="v", kind="jde_to_bill", source=jde, target=bill, options={}))
        flow = Flow.objects.create(tenant=tenant, name="b", kind="jde_to_bill", source=jde, target=bill,
                                   options={"records": "bills"})
    else:
        flow = Flow.objects.create(tenant=tenant, name="p", kind="bill_to_jde", source=bill, target=jde,
                                   options={"start_date": spec["start_date"]})
        for index in range(4):
            paid_bill(box, flow, supplier_vendor(flow, index % 2)[1], invoice=f"{spec['slug']}-{index}")
    print("ready", flush=True)
    sys.stdin.readline()
    result = run_cycle(flow)
    print(json.dumps({"posted": result.posted, "held": result.held, "failed": result.failed, "state": result.state}),
          flush=True)


class _Box:
    def __init__(self, url):
        self.url = url

    def system_url(self, name):
        return f"{self.url}/{name}"


if __name__ == "__main__":
    main()
