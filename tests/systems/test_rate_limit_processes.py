"""The Expensify limit belongs to the credential: two worker processes share one limiter through the cache."""

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

from sandbox.server import Sandbox

ROOT = Path(__file__).resolve().parents[2]

WORKER = """
import os, sys, django
os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
django.setup()
from types import SimpleNamespace
from integrations.systems.expensify import ExpensifyClient
import json
conn = SimpleNamespace(base_url=sys.argv[1], credentials=json.loads(sys.argv[2]),
                       options={"rate_limit": [[2, 1]], "backoff_max": 0.05})
client = ExpensifyClient(conn)
for _ in range(3):
    client.list_policies()
"""


def test_two_processes_on_one_credential_stay_under_the_vendor_limit(tmp_path):
    import json

    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    box = Sandbox(seed=3, size=5, anchor=dt.date(2026, 11, 1), systems=["expensify"]).start()
    try:
        box.config["expensify"]["rate_limit"] = [[2, 1]]  # the vendor refuses a third call within a second
        args = [sys.executable, "-c", WORKER, box.system_url("expensify"), json.dumps(box.credentials()["expensify"])]
        start = time.perf_counter()
        workers = [subprocess.Popen(args, cwd=ROOT, env=env) for _ in range(2)]
        assert [w.wait(timeout=60) for w in workers] == [0, 0]
        elapsed = time.perf_counter() - start
        # Six calls at two per second need at least two further windows; none was refused (a 429 is retried,
        # and the retry would show as a seventh call).
        assert dict(box.calls["expensify"]) == {"get:policyList": 6}
        assert elapsed >= 2.0
    finally:
        box.stop()
