"""The whole benchmark: a scratch database, the sandbox process, one worker process per measured run."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ..flows import implemented_kinds
from .kinds import setup_for
from .report import kind_object
from .sandbox import Control, SandboxProcess
from .scratch import open_scratch

# Set for worker processes only: a worker writes a tenant and a cycle into whatever DATABASE_URL names,
# so it refuses to run unless the conductor started it on a scratch clone.
WORKER_ENV = "MLC_BENCH_WORKER"


class Bench:
    def __init__(self, *, root, say, sizes, latency_ms, latency_reports, concurrencies=(1, 8), seed=11, page_size=500,
                 server_url=None, only=None):
        self.root, self.say = Path(root), say
        self.only = set(only or ())
        self.sizes, self.seed, self.page_size = sizes, seed, page_size
        self.latency_ms, self.concurrencies = latency_ms, concurrencies
        self.latency_reports = min(latency_reports, min(sizes))
        self.server_url = server_url

    def kinds(self):
        kinds = []
        unknown = self.only - set(implemented_kinds())
        if unknown:
            raise RuntimeError(f"no such flow kind: {', '.join(sorted(unknown))} (implemented: "
                               f"{', '.join(implemented_kinds())})")
        for kind in implemented_kinds():
            if self.only and kind not in self.only:
                continue
            if setup_for(kind) is None:
                self.say(f"{kind}: no benchmark setup registered (integrations/bench/kinds.py), skipped")
            else:
                kinds.append(kind)
        return kinds

    def run(self, emit):
        kinds = self.kinds()
        scratch = open_scratch(self.server_url, self.root, self.say)
        try:
            box = SandboxProcess(self.root, dict(os.environ), self.say, seed=self.seed)
            try:
                self.anchor = Control(box.url).info()["anchor"]
                self.box_url, self.box_pid = box.url, box.proc.pid
                for kind in kinds:
                    emit(self.measure(kind, scratch))
            finally:
                box.stop()
        finally:
            scratch.close()

    def measure(self, kind, scratch):
        plan = [dict(reports=size, replay=True) for size in self.sizes]
        if self.latency_ms:
            plan += [dict(reports=self.latency_reports, latency_ms=self.latency_ms, concurrency=c) for c in self.concurrencies]
        runs = []
        for number, step in enumerate(plan, start=1):
            what = f"{step['reports']} reports" + (f", {self.latency_ms} ms on each post, concurrency {step['concurrency']}"
                                                   if step.get("latency_ms") else "")
            self.say(f"== {kind} run {number}/{len(plan)}: {what}")
            run = self.worker(kind, step, scratch.clone())
            if run["state"] != "done" or run["more_work"]:  # the figures of a cut-short cycle measure less work
                self.say(f"WARNING: {kind} run {number} ended {run['state']}"
                         f"{' with work left' if run['more_work'] else ''}: {run['message']}")
            runs.append(run)
        size_runs, latency_runs = runs[:len(self.sizes)], runs[len(self.sizes):]
        return kind_object(kind, scratch.vendor, size_runs, latency_runs, self.latency_ms)

    def worker(self, kind, step, database_url):
        label = f"{kind}-{step['reports']}" + (f"-c{step['concurrency']}" if step.get("concurrency") else "")
        spec = {"kind": kind, "seed": self.seed, "anchor": self.anchor, "sandbox_url": self.box_url,
                "sandbox_pid": self.box_pid,
                "page_size": self.page_size, "label": label.replace("_", "-"), **step}
        # The setup in a process of its own: the measured process holds Django and the cycle only.
        made = self._process(label, {**spec, "phase": "setup"}, database_url)
        return self._process(label, {**spec, "phase": "cycle", "flow": made["flow"]}, database_url)

    def _process(self, label, spec, database_url):
        with tempfile.TemporaryDirectory(prefix="mlc-bench-run-") as tmp:
            spec["out"] = str(Path(tmp) / "result.json")
            spec_path = Path(tmp) / "spec.json"
            spec_path.write_text(json.dumps(spec))
            env = {**os.environ, "DATABASE_URL": database_url, WORKER_ENV: "1", "PYTHONUNBUFFERED": "1"}
            done = subprocess.run([sys.executable, "manage.py", "bench", "--worker", str(spec_path)], cwd=self.root,
                                  env=env, stdout=_stderr_fd())
            if done.returncode:
                raise RuntimeError(f"the {label} run ({spec['phase']}) failed (exit status {done.returncode}); "
                                   "its output is above")
            return json.loads(Path(spec["out"]).read_text())


def _stderr_fd():
    # The worker's stdout (and the email console, should anything print) joins the progress on
    # stderr: this process's stdout carries the JSON objects only.
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return subprocess.DEVNULL
