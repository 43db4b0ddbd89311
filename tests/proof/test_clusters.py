"""Issue #15 point 1, small: two task clusters (``manage.py qcluster`` processes) on PostgreSQL and Redis run
every flow of two tenants under random vendor faults, one cluster SIGKILLed and restarted mid-run; no
double post, no lost record, no vendor limit breached (``manage.py prove_clusters``, run as a process of
its own: it makes its own scratch database and sandboxes).

Small by default (about 400 source records: the fixed part, a chart of accounts and the employees of two
tenants, is 330); ``SCALE_CLUSTERS=10000`` runs the full size. Runs in the PostgreSQL pass (``DATABASE_URL``
a PostgreSQL URL: the scratch database goes on that server), skipped in the SQLite one and when PostgreSQL
or Redis does not answer (``PROOF_REDIS_URL``, else redis://127.0.0.1:6379/13: a database number of its
own, since the run empties the task queue there).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from integrations.bench.scratch import is_postgres, with_database

ROOT = Path(__file__).resolve().parents[2]
RECORDS = int(os.environ.get("SCALE_CLUSTERS") or 400)
SERVER = os.environ.get("DATABASE_URL") or ""
REDIS = os.environ.get("PROOF_REDIS_URL") or "redis://127.0.0.1:6379/13"


def unreachable():
    """Why the run cannot happen here, or None."""
    import psycopg
    import redis

    if not is_postgres(SERVER):
        return "the two-cluster run needs PostgreSQL: it runs in the PostgreSQL pass (DATABASE_URL=postgres://...)"
    try:
        psycopg.connect(with_database(SERVER, "postgres"), connect_timeout=3).close()
    except Exception as exc:
        return f"PostgreSQL not reachable at {SERVER}: {exc}"
    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=3).ping()
    except Exception as exc:
        return f"Redis not reachable at {REDIS}: {exc}"
    return None


def summary_of(output):
    """The JSON object the command prints last."""
    start = output.rindex("\n{\n")
    return json.loads(output[start:])


def test_two_clusters_one_killed_post_everything_once():
    why = unreachable()
    if why:
        pytest.skip(why)
    timeout = max(300, RECORDS * 0.6)
    env = {**os.environ, "DATABASE_URL": SERVER, "REDIS_URL": REDIS}
    done = subprocess.run(
        [sys.executable, "manage.py", "prove_clusters", "--records", str(RECORDS), "--seed", "5",
         "--timeout", str(timeout)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout + 300)
    output = done.stdout + done.stderr
    assert "\n{\n" in done.stdout, f"no summary:\n{output[-4000:]}"
    summary = summary_of(done.stdout)
    brief = {k: summary[k] for k in ("records", "posts", "duplicates", "lost", "unsettled", "breaches", "elapsed_seconds")}
    print(f"\nprove_clusters: {brief}")
    assert summary["kill_cluster"] and summary["restart_seconds"] > summary["kill_seconds"], summary
    assert summary["duplicates"] == 0 and summary["lost"] == 0 and summary["unsettled"] == 0, json.dumps(summary["flows"])
    assert summary["missing_in_target"] == 0 and summary["in_target_not_posted"] == 0, json.dumps(summary["flows"])
    assert summary["breaches"] == 0, summary["breaches_per_system"]
    assert summary["records"] >= RECORDS * 0.9 and summary["posts"] > summary["records"] / 2
    assert sum(summary["faults_injected"].values()) > 0 and summary["faults_fired"] > 0
    assert summary["ok"] and done.returncode == 0, output[-4000:]
