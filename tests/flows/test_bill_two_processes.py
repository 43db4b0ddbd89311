"""Both BILL directions at once from two worker processes on one BILL organization: the fake's own count of
BDC_1322 answers stays zero (the limit is shared through the database or Redis, as between real workers)."""

import json
import subprocess
import sys
import uuid

import pytest
import requests

from integrations.systems.bill import clear_session_cache
from tests.conftest import ANCHOR
from tests.systems.test_concurrency_limit import ROOT, sqlite_file, worker_env  # noqa: F401 - fixtures

from .conftest import control


def _run_both(box, env, concurrency=None):
    box.config["bill"]["latency_ms"] = 40  # calls last long enough to overlap: the fake counts what is in flight
    credentials = control(box, "GET", "credentials")
    spec = {"sandbox_url": box.url, "credentials": credentials, "start_date": ANCHOR.isoformat(), "concurrency": concurrency}
    workers, run = [], uuid.uuid4().hex[:8]  # the workers' database outlives one test: tenants of their own
    for role in ("bills", "payments"):
        body = json.dumps({**spec, "role": role, "slug": f"w-{role}-{run}"})
        args = [sys.executable, "-m", "tests.flows.bill_flow_worker", body]
        workers.append(subprocess.Popen(args, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
    assert [w.stdout.readline().strip() for w in workers] == ["ready", "ready"]
    before = requests.get(f"{box.url}/_sandbox/bill/stats", timeout=10).json()["refused_1322"]
    for w in workers:
        w.stdin.write("go\n")
        w.stdin.flush()
    results = []
    for w in workers:
        out, _ = w.communicate(timeout=240)
        assert w.returncode == 0, out
        results.append(json.loads(out.strip().splitlines()[-1]))
    stats = requests.get(f"{box.url}/_sandbox/bill/stats", timeout=10).json()
    return results, stats["refused_1322"] - before, stats


def test_a_bills_cycle_and_a_payments_cycle_in_two_processes_get_no_bdc_1322(box, worker_env):  # noqa: F811
    clear_session_cache()
    (bills, payments), refused, stats = _run_both(box, worker_env)
    assert bills["state"] == "done" and bills["posted"] > 0 and bills["failed"] == 0
    assert payments["state"] == "done" and payments["posted"] == 4
    assert refused == 0 and stats["peak_in_flight"] == 3


def test_the_fake_counts_bdc_1322_when_the_workers_allow_more_than_three(box, worker_env):  # noqa: F811
    """The control for the test above: with room for 8 per worker (the portal's cap at BILL's 3 lifted in the
    workers) the same two cycles do overrun."""
    clear_session_cache()
    _, refused, _ = _run_both(box, worker_env, concurrency=8)
    assert refused > 0


@pytest.fixture(autouse=True)
def _no_leftover_sessions():
    yield
    clear_session_cache()
