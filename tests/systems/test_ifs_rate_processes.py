"""The IFS tenant's rate belongs to the tenant: two worker processes share one token bucket through the database."""

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from integrations.systems.limits import TokenBucket
from sandbox.server import Sandbox

ROOT = Path(__file__).resolve().parents[2]

WORKER = """
import os, sys, json, django
os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
django.setup()
from types import SimpleNamespace
from integrations.systems.ifs import IfsClient
conn = SimpleNamespace(base_url=sys.argv[1], credentials=json.loads(sys.argv[2]),
                       options={"rate_limit": [5, 1], "rate_limit_burst": 1, "backoff_max": 0.05})
client = IfsClient(conn)
for _ in range(4):
    client.read_template()
"""


def test_two_processes_of_one_tenant_stay_under_its_rate(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    box = Sandbox(seed=3, size=5, anchor=dt.date(2026, 11, 1), systems=["ifs"]).start()
    try:
        box.config["ifs"]["rate_limit"] = [[5, 1]]  # IFS refuses a sixth call within a second
        args = [sys.executable, "-c", WORKER, box.system_url("ifs"), json.dumps(box.credentials()["ifs"])]
        start = time.perf_counter()
        workers = [subprocess.Popen(args, cwd=ROOT, env=env) for _ in range(2)]
        assert [w.wait(timeout=60) for w in workers] == [0, 0]
        elapsed = time.perf_counter() - start
        # Eight reads (plus two token requests the bucket also counts) at one every 0.25 s after a burst of one.
        assert box.calls["ifs"]["read:VoucherTemplateSet"] == 8  # a 429 would have shown as a retried ninth call
        assert box.fakes["ifs"].iam.refused == 0 and elapsed >= 2.0
    finally:
        box.stop()


@pytest.mark.django_db
def test_the_bucket_allows_its_burst_then_spaces_calls_evenly():
    """The database bucket on a fake clock: exact spacing."""
    now = [1000.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    bucket = TokenBucket("test:spacing", 60, 60, burst=3, sleep=sleep, clock=lambda: now[0])
    for _ in range(3):
        bucket.acquire()
    assert slept == []  # the burst
    bucket.acquire()
    assert len(slept) >= 1 and sum(slept) >= 60 / 57  # then one call per interval of the rest
    before = len(slept)
    now[0] += 3600  # idle for an hour: the burst is back, not an hour's worth of calls
    for _ in range(3):
        bucket.acquire()
    assert len(slept) == before
    bucket.acquire()
    assert len(slept) == before + 1


def test_the_redis_bucket_spaces_calls_by_the_redis_clock():
    import uuid

    from tests.systems.test_concurrency_limit import _redis_url

    url = _redis_url()
    if url is None:
        pytest.skip("no Redis server answers")
    bucket = TokenBucket(f"test:{uuid.uuid4().hex}", 10, 1, burst=2, redis_url=url)
    start = time.monotonic()
    for _ in range(6):  # 2 at once, then one every 1/8 s
        bucket.acquire()
    assert 0.45 <= time.monotonic() - start < 2.0
