"""One measured run, in two fresh worker processes: the first builds the flow and writes what it needs
to the sandbox (``phase: "setup"``), the second runs one cycle, measures it and replays it.

The peak resident memory is the second process's own (``ru_maxrss``, read right after the cycle and
before the replay): Django and the cycle, as a task worker would hold them. The setup writes every
vendor, bill and payment the run needs through the vendors' APIs, which a task worker never does;
in the same process its peak (10,000 JD Edwards orders read at once to pay their bills) was the
figure.
"""

import cProfile
import os
import resource
import threading
import time
import tracemalloc
from contextlib import contextmanager

from django.conf import settings
from django.db import connection
from django.db.models import Count

from ..engine import run_cycle
from ..engine.cycle import post_concurrency
from ..models import Batch, Flow
from ..querycount import count_all_queries
from .kinds import setup_for
from .recording import max_in_flight, recording
from .replay import replay
from .sandbox import Control, postgres_cpu_seconds, process_cpu_seconds

TICK_SECONDS = 15


def run(spec, say):
    kind = setup_for(spec["kind"])
    box = Control(spec["sandbox_url"])
    faults = []
    if spec.get("latency_ms"):
        faults.append({"system": kind.write_system, "endpoint": kind.write_endpoint, "action": "latency",
                       "latency_ms": spec["latency_ms"]})
    if spec.get("phase") == "setup":
        return {"flow": _prepared(spec, kind, box, faults, say).pk}
    flow = Flow.objects.select_related("source", "target", "tenant").get(pk=spec["flow"])
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    kind.before_cycle()
    box.clear_calls()

    say("cycle started")
    sandbox_cpu, database_cpu = _SandboxCpu(spec.get("sandbox_pid")), _DatabaseCpu()
    with recording(box.url) as recorder, count_all_queries() as queries, _ticker(recorder, say):
        started, cpu_started, main_started = time.perf_counter(), time.process_time(), time.thread_time()
        with _profiled(spec["label"]):
            result = run_cycle(flow, trigger="benchmark", progress=say)
        seconds = time.perf_counter() - started
        # The portal's CPU (every thread of this process, and the cycle's own thread): set beside the wall
        # time, it tells how much of the cycle is the portal's own work and how much is waiting on the sandbox.
        cpu_seconds, main_cpu_seconds = time.process_time() - cpu_started, time.thread_time() - main_started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    cycle_sandbox_cpu, cycle_database_cpu = sandbox_cpu.used(), database_cpu.used()
    calls = box.calls()
    sent = recorder.sent()
    recorder.close()
    writes = [s for s in sent if kind.is_write(s.method, s.url, s.body)]
    out = {
        "reports": spec["reports"],
        "records": result.fetched,
        "posted": result.posted,
        "held": result.held,
        "failed": result.failed,
        "state": result.state,
        "message": result.message,
        "more_work": result.more_work,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "sandbox_cpu_seconds": cycle_sandbox_cpu,
        "database_cpu_seconds": cycle_database_cpu,
        "main_thread_cpu_seconds": main_cpu_seconds,
        "requests": len(sent),
        "calls": calls,
        "source_system": flow.source.system,
        "target_system": flow.target.system,
        "queries": queries.count,
        "queries_other_threads": queries.other_threads,
        "queries_by_statement": dict(queries.kinds.most_common(12)),
        "query_seconds_by_statement": {k: round(v, 3) for k, v in queries.seconds.most_common(8)},
        "query_seconds_main_thread": queries.main_seconds,
        "peak_rss_kb": peak_kb,
        "writes": len(writes),
        "write_seconds": (max(s.ended for s in writes) - min(s.started for s in writes)) if writes else 0.0,
        "writes_max_in_flight": max_in_flight(writes),
        "concurrency": post_concurrency(flow),
        "vendor_limited_answers": sum(1 for s in sent if s.vendor_limited),
        **_batch_counts(flow),
    }
    say(f"cycle done: {result.fetched} records in {seconds:.1f} s ({cpu_seconds:.1f} s CPU, {main_cpu_seconds:.1f} s in the "
        f"cycle's thread), {len(sent)} requests, {queries.count} queries")
    if spec.get("replay"):
        out["replay"] = _replayed(spec, kind, box, flow, faults, sent, out["concurrency"], say)
    return out


def _prepared(spec, kind, box, faults, say):
    """The sandbox reset to the run's world with its faults, and the flow built over it."""
    box.reset(spec["seed"], spec["reports"], spec["anchor"])
    kind.after_reset(box)
    for fault in faults:
        box.add_fault(**fault)
    flow = kind.setup(box, slug=spec["label"], page_size=spec["page_size"], progress=say)
    # One cycle end to end: no time budget cut; an alert digest kept in memory rather than printed.
    flow.options = {**flow.options, "cycle_budget_seconds": 7 * 24 * 3600}
    flow.save(update_fields=["options"])
    if spec.get("concurrency"):
        flow.target.options = {**flow.target.options, "concurrency": spec["concurrency"]}
        flow.target.save(update_fields=["options"])
    return flow


def _replayed(spec, kind, box, flow, faults, sent, concurrency, say):
    """The recorded requests sent again on a sandbox reset to the same world and faults: the floor the cycle's
    time is compared to."""
    box.reset(spec["seed"], spec["reports"], spec["anchor"])
    kind.after_reset(box)
    kind.rebuild(box, flow)  # what the setup wrote to the sandbox (not replayed, not measured)
    box.clear_calls()
    for fault in faults:
        box.add_fault(**fault)
    say(f"replaying {len(sent)} requests with concurrency {concurrency}")
    sandbox_cpu = _SandboxCpu(spec.get("sandbox_pid"))
    again = replay(sent, concurrency)
    say(f"replay done in {again.seconds:.1f} s ({again.cpu_seconds:.1f} s CPU)")
    return {"requests": again.requests, "seconds": again.seconds, "cpu_seconds": again.cpu_seconds,
            "sandbox_cpu_seconds": sandbox_cpu.used(), "concurrency": again.concurrency,
            "status_mismatches": again.status_mismatches, "no_answer": again.no_answer, "calls": box.calls()}


def _batch_counts(flow):
    """Batches failed as rate limited, and why records were held (the sandbox's generated data includes records a
    person must look at)."""
    held = Batch.objects.filter(flow=flow, state=Batch.State.HELD).values_list("error_code").annotate(n=Count("id"))
    return {"batches_rate_limited": Batch.objects.filter(flow=flow, error_code__contains="RATE-LIMITED").count(),
            "held_by_code": dict(held.order_by("error_code"))}


@contextmanager
def _profiled(label):
    """``BENCH_PROFILE=<dir>``: a cProfile of each measured cycle (its own thread) in ``<dir>/<label>.prof``;
    ``BENCH_PROFILE=memory``: the biggest allocations still held when the cycle ends (tracemalloc)."""
    where = os.environ.get("BENCH_PROFILE")
    if not where:
        yield
        return
    if where == "memory":  # the allocations held at the cycle's peak, biggest first, on the progress lines
        tracemalloc.start(8)
        peak = _PeakSnapshot()
        try:
            yield
        finally:
            snapshot = peak.stop()
            tracemalloc.stop()
            print(f"bench memory: peak of {peak.high / 1e6:.1f} MB traced; held then:", flush=True)
            for stat in snapshot.statistics("traceback")[:8]:
                print(f"bench memory: {stat.size / 1e6:.1f} MB in {stat.count} blocks at", flush=True)
                for line in stat.traceback.format()[-8:]:
                    print(f"bench memory:   {line}", flush=True)
        return
    profile = cProfile.Profile()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        os.makedirs(where, exist_ok=True)
        profile.dump_stats(os.path.join(where, f"{label}.prof"))


class _PeakSnapshot:
    """A tracemalloc snapshot each time the traced memory reaches a new high (checked every 50 ms): what the
    process held at its peak, which is what its resident size keeps, rather than what is left at the end."""

    def __init__(self):
        self.high, self.snapshot = 0, None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="bench-memory", daemon=True)
        self.thread.start()

    def _watch(self):
        while not self.done.wait(0.05):
            current = tracemalloc.get_traced_memory()[0]
            if current > self.high * 1.02:
                self.high, self.snapshot = current, tracemalloc.take_snapshot()

    def stop(self):
        self.done.set()
        self.thread.join()
        return self.snapshot or tracemalloc.take_snapshot()


class _SandboxCpu:
    """The sandbox process's CPU seconds since this was made (None without its pid or /proc)."""

    def __init__(self, pid):
        self.pid = pid
        self.start = process_cpu_seconds(pid) if pid else None

    def used(self):
        end = process_cpu_seconds(self.pid) if self.start is not None else None
        return None if end is None else end - self.start


class _DatabaseCpu:
    """The PostgreSQL server's CPU seconds since this was made, when the database is PostgreSQL on this machine
    (None on SQLite, whose work is the portal's own CPU, and for a server elsewhere)."""

    def __init__(self):
        host = connection.settings_dict.get("HOST")
        local = connection.vendor == "postgresql" and host in ("", "localhost", "127.0.0.1", "::1")
        self.start = postgres_cpu_seconds() if local else None

    def used(self):
        end = postgres_cpu_seconds() if self.start is not None else None
        return None if end is None else round(end - self.start, 3)


class _ticker:
    """A progress line every TICK_SECONDS while the cycle runs (its own lines come once per page)."""

    def __init__(self, recorder, say):
        self.recorder, self.say = recorder, say
        self.stop = threading.Event()

    def __enter__(self):
        started = time.monotonic()

        def tick():
            while not self.stop.wait(TICK_SECONDS):
                self.say(f"... {len(self.recorder)} requests sent after {time.monotonic() - started:.0f} s")

        threading.Thread(target=tick, name="bench-ticker", daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
