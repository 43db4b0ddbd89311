"""A worker process for the concurrency tests: ``python -m tests.systems.concurrency_worker MODE SPEC``.

The database or Redis comes from the environment (``DATABASE_URL``, ``REDIS_URL``), as in a real worker.

* ``send``: says ``ready``, waits for a line on stdin, then ``threads`` threads share one ``HttpClient``
  and each sends ``calls`` GETs.
* ``hold``: takes a slot, prints when, then sleeps until it is killed (a crashed holder).
* ``take``: tries a slot without waiting (``busy`` when refused), then waits for one; prints when it got it.
"""

import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace


def send(spec):
    from django.db import connections

    from integrations.systems.http import HttpClient

    conn = SimpleNamespace(base_url=spec["base_url"], credentials=spec["credentials"], options=spec["options"])
    client = HttpClient(conn, system=spec["system"])

    def one_thread(_):
        try:
            for _ in range(spec["calls"]):
                client.request("GET", "/ping", idempotent=True, headers={"X-Worker": spec["name"]})
        finally:
            connections.close_all()  # this thread's own connection

    print("ready", flush=True)
    sys.stdin.readline()  # the test says go once every worker is ready: they send at the same time
    with ThreadPoolExecutor(spec["threads"]) as pool:
        list(pool.map(one_thread, range(spec["threads"])))
    return {"calls": client.calls, "concurrency": client.concurrency}


def hold(spec):
    from integrations.systems.limits import ConcurrencyLimiter

    ConcurrencyLimiter(spec["key"], 1, ttl=spec["ttl"]).acquire()
    print(json.dumps({"taken": time.time()}), flush=True)
    time.sleep(600)


def take(spec):
    from integrations.systems.limits import ConcurrencyLimiter, SlotTimeout

    limiter = ConcurrencyLimiter(spec["key"], 1, ttl=spec["ttl"])
    try:
        limiter.release(limiter.acquire(wait=0))
        busy = False
    except SlotTimeout:
        busy = True
    limiter.acquire(wait=spec["wait"])
    return {"busy": busy, "taken": time.time()}


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    mode, spec = sys.argv[1], json.loads(sys.argv[2])
    if spec.get("lift_ceiling"):
        from tests.ceiling import lift_ceiling

        lift_ceiling(spec["system"])
    result = {"send": send, "hold": hold, "take": take}[mode](spec)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
