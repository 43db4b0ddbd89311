"""The sandbox in its own process, and the bench's client of its ``/_sandbox/`` control API.

Its own process so that the fakes' work (templates, JSON, the journal checks) is not charged
to the portal's CPU and memory figures, as a real vendor's would not be. ``manage.py sandbox``
prints the port it was asked for, so the bench picks a free port itself and waits until the
control API answers.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time

import requests

# Vendor rate limits lifted: at Expensify's 5 calls per 10 s the figure would measure the vendor's
# limit, not the portal. Calls per record are reported, so the limit's cost can be derived.
NO_LIMIT = [[1_000_000_000, 1]]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SandboxProcess:
    def __init__(self, root, env, progress, seed=11):
        self.proc = None
        # A file, not a pipe: a pipe nobody reads would block the sandbox once it filled up.
        self.log = tempfile.TemporaryFile(mode="w+")
        for _ in range(3):  # another process may take the free port before the sandbox binds it
            port = _free_port()
            self.proc = subprocess.Popen(
                [sys.executable, "manage.py", "sandbox", "--port", str(port), "--seed", str(seed), "--size", "10"],
                cwd=root, env={**env, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.DEVNULL, stderr=self.log)
            self.url = f"http://127.0.0.1:{port}"
            if self._wait_ready():
                progress(f"sandbox serving in process {self.proc.pid} at {self.url}")
                return
        self.log.seek(0)
        raise RuntimeError(f"the sandbox process did not start:\n{self.log.read()[-4000:]}")

    def _wait_ready(self, seconds=60):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                requests.get(f"{self.url}/_sandbox/", timeout=1).raise_for_status()
                return True
            except requests.RequestException:
                time.sleep(0.1)
        self._end_process()
        return False

    def _end_process(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self):
        self._end_process()
        self.log.close()


class Control:
    """The sandbox's control API, plus what the portal's demo setup expects of a sandbox object."""

    def __init__(self, url):
        self.url = url.rstrip("/")
        self.session = requests.Session()

    def system_url(self, name):
        return f"{self.url}/{name}"

    def _call(self, method, path, **kwargs):
        response = self.session.request(method, f"{self.url}/_sandbox/{path}", timeout=120, **kwargs)
        response.raise_for_status()
        return response.json()

    def info(self):
        return self._call("GET", "")

    def reset(self, seed, size, anchor):
        """The same world every time: same seed, size and anchor date; limits lifted again (reset restores them)."""
        self._call("POST", "reset", json={"seed": seed, "size": size, "anchor": anchor})
        config = self._call("GET", "config")
        self._call("POST", "config", json={name: {"rate_limit": NO_LIMIT} for name, values in config.items()
                                           if isinstance(values, dict) and "rate_limit" in values})

    def add_fault(self, **fault):
        return self._call("POST", "faults", json=fault)

    def calls(self):
        return self._call("GET", "calls")

    def clear_calls(self):
        self._call("DELETE", "calls")



def _stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def process_cpu_seconds(pid):
    """CPU seconds (user and system) process ``pid`` has used so far, from /proc; None where that cannot be read.
    Read around a cycle and its replay, the sandbox's share tells whether the vendors or the portal set the pace."""
    try:
        fields = _stat_fields(int(pid))
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, TypeError):
        return None


def postgres_cpu_seconds():
    """CPU seconds every PostgreSQL server process on this machine has used so far: the live ones, plus the exited
    backends their postmaster has reaped (its children's times). None without /proc or such a process. Read around
    a cycle on PostgreSQL, it is the database's share of a two-core machine the portal and the sandbox also use."""
    total, found = 0, False
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return None
    for pid in pids:
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != "postgres":
                    continue
            fields = _stat_fields(pid)
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or not ours to read
        found = True
        total += int(fields[11]) + int(fields[12])
        if int(fields[1]) == 1 or not _is_postgres(int(fields[1])):  # the postmaster: its reaped children count too
            total += int(fields[13]) + int(fields[14])
    return total / os.sysconf("SC_CLK_TCK") if found else None


def _is_postgres(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip() == "postgres"
    except OSError:
        return False
