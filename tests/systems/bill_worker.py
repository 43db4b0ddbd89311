"""A worker process for the BILL concurrency test: ``python -m tests.systems.bill_worker SPEC``.

Says ``ready``, waits for a line on stdin, then ``threads`` threads share one ``BillClient`` and each
sends ``calls`` list calls to the sandbox's BILL fake. The database or Redis holding the shared
slots comes from the environment (``DATABASE_URL``, ``REDIS_URL``), as in a real worker.
"""

import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.db import connections

    from integrations.systems.bill import BillClient

    spec = json.loads(sys.argv[1])
    client = BillClient(SimpleNamespace(base_url=spec["base_url"], credentials=spec["credentials"], options=spec["options"]))

    def one_thread(_):
        try:
            for _ in range(spec["calls"]):
                client.call("GET", "/v3/vendors", idempotent=True, params={"max": 1})
        finally:
            connections.close_all()

    print("ready", flush=True)
    sys.stdin.readline()
    with ThreadPoolExecutor(spec["threads"]) as pool:
        list(pool.map(one_thread, range(spec["threads"])))
    print(json.dumps({"calls": client.calls, "logins": client.logins}), flush=True)


if __name__ == "__main__":
    main()
