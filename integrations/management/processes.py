"""Stopping a child process and everything it started (the task cluster forks workers)."""

import os
import signal
import time


def descendants(root_pid):
    """PIDs of every living process below ``root_pid`` (Linux /proc; empty elsewhere)."""
    parents = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return set()
    for entry in entries:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = set(), {root_pid}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _send(pid, sig):
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_all(children, timeout=20.0):
    """SIGTERM each child (they shut down cleanly), then SIGKILL whatever of their trees is left."""
    tree = set()
    for child in children:
        tree |= {child.pid} | descendants(child.pid)
    for child in children:
        _send(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(pid) for pid in tree):
        for child in children:
            child.poll()  # reap our own children so they do not linger as zombies
        time.sleep(0.2)
    for pid in tree:
        if alive(pid):
            _send(pid, signal.SIGKILL)
    for child in children:
        try:
            child.wait(timeout=5)
        except Exception:  # noqa: BLE001 - best effort at shutdown
            pass
