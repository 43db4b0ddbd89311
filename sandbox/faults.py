"""Call counting and fault injection, shared by every fake. Thread-safe.

A fault matches calls by ``system`` and ``endpoint`` (``"*"`` = any endpoint of that
system; a ``system`` of ``"*"`` matches every system) and has an ``action``:

    status       answer ``status`` without calling the fake's handler (429 and 503 carry
                 ``Retry-After: retry_after``); the body is the fake's ``fault_body``.
    drop_before  close the connection without a response; the handler never runs.
    drop_after   run the handler (its effects are committed), then close the
                 connection without a response: the client cannot know it worked.
    status_after run the handler (its effects are committed), then answer ``status``
                 with the fake's ``fault_body`` instead of its response: a gateway's
                 502/504 after the backend wrote, or a 5xx raised after commit.
    restart      call the fake's ``restart()`` (e.g. JDE invalidates every token), then
                 handle the call normally.
    latency      sleep ``latency_ms`` then handle normally (any action may also carry
                 ``latency_ms``).

Which matching calls it fires on: the first ``after`` matching calls are skipped;
then, with ``every`` = N, every Nth matching call after those fires (forever unless
``count`` is also set); ``count`` = N makes the fault fire N times and then expire.
Without ``count`` or ``every`` it fires on every matching call until cleared.

Several faults may match one call. They are consulted in the order they were added;
every matching fault sees the call (its counters advance). ``latency`` and ``restart``
combine with others; the first firing ``status``/``drop_before``/``drop_after`` decides
the outcome and the faults after it are not consulted for that call.
"""

import itertools
import threading
from collections import Counter, defaultdict

ACTIONS = ("status", "drop_before", "drop_after", "status_after", "restart", "latency")
TERMINAL = ("status", "drop_before", "drop_after", "status_after")


class CallCounter:
    """``calls[system][endpoint]``: how many requests each endpoint received."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts = defaultdict(Counter)

    def increment(self, system, endpoint, n=1):
        with self._lock:
            self._counts[system][endpoint] += n
            return self._counts[system][endpoint]

    def __getitem__(self, system):
        """A copy of one system's counts (a Counter: missing endpoints read as 0)."""
        with self._lock:
            return Counter(self._counts.get(system, {}))

    def get(self, system, endpoint=None):
        with self._lock:
            counts = self._counts.get(system, {})
            return counts.get(endpoint, 0) if endpoint is not None else Counter(counts)

    def total(self, system=None):
        with self._lock:
            if system is not None:
                return sum(self._counts.get(system, {}).values())
            return sum(sum(c.values()) for c in self._counts.values())

    def snapshot(self):
        """``{system: {endpoint: count}}`` as plain dicts."""
        with self._lock:
            return {system: dict(counts) for system, counts in self._counts.items() if counts}

    def reset(self):
        with self._lock:
            self._counts.clear()


class FaultError(ValueError):
    pass


class Fault:
    _ids = itertools.count(1)

    def __init__(self, system, endpoint="*", action="status", status=None, retry_after=None, latency_ms=0,
                 count=None, every=None, after=0, **extra):
        if extra:
            raise FaultError(f"unknown fault field(s): {', '.join(sorted(extra))}")
        if not system or not isinstance(system, str):
            raise FaultError("a fault needs a 'system' (e.g. \"jde\", or \"*\" for all)")
        if action not in ACTIONS:
            raise FaultError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
        if action in ("status", "status_after"):
            if status is None:
                raise FaultError(f"action '{action}' needs a 'status' (e.g. 503)")
            status = int(status)
            if not 100 <= status <= 599:
                raise FaultError(f"status {status} is not an HTTP status")
        if action == "latency" and not latency_ms:
            raise FaultError("action 'latency' needs 'latency_ms'")
        for label, value in (("count", count), ("every", every)):
            if value is not None and int(value) < 1:
                raise FaultError(f"'{label}' must be at least 1")
        if int(after or 0) < 0:
            raise FaultError("'after' must not be negative")
        self.id = next(self._ids)
        self.system = system
        self.endpoint = endpoint or "*"
        self.action = action
        self.status = status
        self.retry_after = retry_after
        self.latency_ms = float(latency_ms or 0)
        self.count = int(count) if count is not None else None
        self.every = int(every) if every is not None else None
        self.after = int(after or 0)
        self.seen = 0  # matching calls observed
        self.fired = 0  # times it applied

    @property
    def expired(self):
        return self.count is not None and self.fired >= self.count

    def matches(self, system, endpoint):
        return self.system in ("*", system) and self.endpoint in ("*", endpoint)

    def observe(self):
        """Record one matching call; True when the fault fires on it. Caller holds the lock."""
        self.seen += 1
        n = self.seen - self.after
        if n <= 0 or self.expired:
            return False
        if self.every is not None and n % self.every:
            return False
        self.fired += 1
        return True

    def as_dict(self):
        return {
            "id": self.id, "system": self.system, "endpoint": self.endpoint, "action": self.action,
            "status": self.status, "retry_after": self.retry_after, "latency_ms": self.latency_ms,
            "count": self.count, "every": self.every, "after": self.after,
            "seen": self.seen, "fired": self.fired, "expired": self.expired,
        }


class Decision:
    """What the faults decided for one call."""

    def __init__(self):
        self.latency = 0.0  # seconds to sleep before anything else
        self.restart = False
        self.action = None  # one of TERMINAL, or None to handle normally
        self.fault = None  # the fault that decided ``action``

    @property
    def status(self):
        return self.fault.status if self.fault else None

    @property
    def retry_after(self):
        return self.fault.retry_after if self.fault else None


class FaultRegistry:
    def __init__(self):
        self._lock = threading.Lock()
        self._faults = []

    def add(self, fault=None, **fields):
        """Add a ``Fault`` (or build one from keyword fields); returns it."""
        if fault is None:
            fault = Fault(**fields)
        with self._lock:
            self._faults.append(fault)
        return fault

    def remove(self, fault_id):
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if f.id != int(fault_id)]
            return len(self._faults) != before

    def clear(self):
        with self._lock:
            self._faults.clear()

    def list(self):
        with self._lock:
            return [f.as_dict() for f in self._faults]

    def __len__(self):
        with self._lock:
            return len(self._faults)

    def decide(self, system, endpoint):
        decision = Decision()
        with self._lock:
            for fault in self._faults:
                if not fault.matches(system, endpoint) or fault.expired:
                    continue
                if not fault.observe():
                    continue
                decision.latency += fault.latency_ms / 1000.0
                if fault.action == "restart":
                    decision.restart = True
                elif fault.action in TERMINAL:
                    decision.action = fault.action
                    decision.fault = fault
                    break
        return decision
