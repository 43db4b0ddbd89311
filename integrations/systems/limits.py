"""Vendor limits that belong to a credential, not to a process.

The state lives in Django's cache (the database cache by default, Redis when
``REDIS_URL`` is set), so every worker and flow using one connection shares it.
"""

import time
import uuid

from django.core.cache import cache


class _CacheLock:
    """A short mutex on ``cache.add`` (atomic on the database and Redis backends)."""

    def __init__(self, key, ttl=10.0):
        self.key = key
        self.ttl = ttl
        self.token = uuid.uuid4().hex

    def __enter__(self):
        deadline = time.monotonic() + self.ttl
        while not cache.add(self.key, self.token, timeout=self.ttl):
            if time.monotonic() > deadline:
                cache.delete(self.key)  # holder died: its ttl is over
            time.sleep(0.005)
        return self

    def __exit__(self, *exc):
        if cache.get(self.key) == self.token:
            cache.delete(self.key)


class RateLimiter:
    """Sliding-window limiter: at most ``n`` calls in any ``seconds`` window, for every
    window given (Expensify: 5 per 10 s and 20 per 60 s). ``acquire`` blocks until a
    call is allowed, then records it."""

    margin = 0.05  # seconds of slack against clock skew between us and the server

    def __init__(self, key, windows, *, sleep=time.sleep, clock=time.time):
        self.key = f"ratelimit:{key}"
        self.windows = [(int(n), float(s)) for n, s in windows]
        self.horizon = max(s for _, s in self.windows) if self.windows else 0
        self.sleep = sleep
        self.clock = clock
        self.waited = 0.0

    def acquire(self):
        """Block until a call is allowed; record it and return its stamp (pass it to ``settle``)."""
        if not self.windows:
            return None
        while True:
            with _CacheLock(self.key + ":lock"):
                now = self.clock()
                stamps = [t for t in (cache.get(self.key) or []) if t > now - self.horizon]
                wait = self._wait(stamps, now)
                if wait <= 0:
                    stamps.append(now)
                    cache.set(self.key, stamps, timeout=int(self.horizon) + 5)
                    return now
            self.waited += wait
            self.sleep(wait)

    def settle(self, stamp):
        """Move a call's stamp to when it finished. The vendor counts a call when it arrives,
        which is somewhere between acquire and completion; counting from completion keeps a
        slow sender (another process, a busy host) from overrunning the vendor's window."""
        if stamp is None:
            return
        with _CacheLock(self.key + ":lock"):
            now = self.clock()
            stamps = [t for t in (cache.get(self.key) or []) if t > now - self.horizon]
            if stamp in stamps:
                stamps.remove(stamp)
            stamps.append(now)
            cache.set(self.key, sorted(stamps), timeout=int(self.horizon) + 5)

    def _wait(self, stamps, now):
        wait = 0.0
        for n, seconds in self.windows:
            recent = sorted(t for t in stamps if t > now - seconds - self.margin)
            if len(recent) >= n:
                wait = max(wait, recent[-n] + seconds + self.margin - now)
        return wait
