"""Vendor limits that belong to a credential, not to a process.

The state is shared by every worker and flow using one connection: the sliding-window rate limiter
keeps it in Django's cache (the database cache by default, Redis when ``REDIS_URL`` is set); the
token bucket (GCRA) and the concurrency limiter in the ``ConcurrencySlot`` table or, with
``REDIS_URL``, in Redis.
"""

import contextlib
import hashlib
import json
import logging
import random
import threading
import time
import uuid

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError, connection, transaction

log = logging.getLogger(__name__)


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
    call is allowed, then records it.

    The recent calls' stamps are one list per key, read and rewritten atomically: in a ``RateWindow`` row
    under its lock on the database (one transaction: read, write), in the cache under a short lock with
    ``REDIS_URL``. The database cache took about 18 statements a call for the same (a lock entry added and
    deleted, the list read and set, each with the cache's own reads and culling)."""

    margin = 0.05  # seconds of slack against clock skew between us and the server

    def __init__(self, key, windows, *, sleep=time.sleep, clock=time.time, redis_url=None):
        self.key = _storage_key(f"ratelimit:{key}")
        self.windows = [(int(n), float(s)) for n, s in windows]
        self.horizon = max(s for _, s in self.windows) if self.windows else 0
        self.sleep = sleep
        self.clock = clock
        self.waited = 0.0
        url = getattr(settings, "REDIS_URL", "") if redis_url is None else redis_url
        self.store = _CacheStamps() if url else _DatabaseStamps()

    def acquire(self):
        """Block until a call is allowed; record it and return its stamp (pass it to ``settle``)."""
        if not self.windows:
            return None
        while True:
            stamp, wait = self._change(self._take)
            if wait <= 0:
                return stamp
            self.waited += wait
            self.sleep(wait)

    def _take(self, stamps, now):
        wait = self._wait(stamps, now)
        if wait > 0:
            return None, (None, wait)
        return [*stamps, now], (now, 0.0)

    def settle(self, stamp, late=0.0):
        """Move a call's stamp to when it finished. The vendor counts a call when it arrives,
        which is somewhere between acquire and completion; counting from completion keeps a
        slow sender (another process, a busy host) from overrunning the vendor's window.
        ``late``: seconds after now the call may still arrive (one we stopped waiting for)."""
        if stamp is None:
            return

        def move(stamps, now):
            if stamp in stamps:
                stamps.remove(stamp)
            return sorted([*stamps, now + late]), None

        self._change(move)

    def _change(self, fn):
        """``fn(stamps in the windows, now) -> (new stamps or None to keep them, result)``, atomically."""

        def apply(stamps):
            now = self.clock()
            new, result = fn([t for t in stamps if t > now - self.horizon], now)
            # Kept until the latest stamp (one dated ahead by ``settle``'s ``late``) leaves every window.
            return new, result, int(max(new) - now + self.horizon) + 5 if new else 0

        return self.store.change(self.key, apply)

    def _wait(self, stamps, now):
        wait = 0.0
        for n, seconds in self.windows:
            recent = sorted(t for t in stamps if t > now - seconds - self.margin)
            if len(recent) >= n:
                wait = max(wait, recent[-n] + seconds + self.margin - now)
        return wait


class _CacheStamps:
    """The stamps in Django's cache (Redis), changed under a short lock on ``cache.add``."""

    def change(self, key, fn):
        with _CacheLock(key + ":lock"):
            new, result, keep_seconds = fn(cache.get(key) or [])
            if new is not None:
                cache.set(key, new, timeout=keep_seconds)
            return result


class _DatabaseStamps:
    """The stamps in a ``RateWindow`` row, read locked and written in one transaction (SQLite: the write lock
    its IMMEDIATE transaction takes, in this process's turn; PostgreSQL: the row's lock)."""

    def change(self, key, fn):
        from ..models import RateWindow  # imported late: integrations.models imports this package

        rows = RateWindow.objects.filter(key=key)
        with _DatabaseSlots._turn(), transaction.atomic():
            text = rows.select_for_update().values_list("stamps", flat=True).first()
            if text is None:  # first use of the key (another process may make it first): made, then locked
                RateWindow.objects.bulk_create([RateWindow(key=key)], ignore_conflicts=True)
                text = rows.select_for_update().values_list("stamps", flat=True).get()
            new, result, _ = fn(json.loads(text))
            if new is not None:
                rows.update(stamps=json.dumps(new))
            return result


class SlotKeeper:
    """Lets each thread keep the slot of its last call for its next one, within a piece of work.

    Taking and giving back a slot costs a statement each on the database backend: twice the
    queries of the rest of a post. A sender that makes one call after another (a group of posts)
    runs each under ``keeper.run(fn, ...)``: a slot given back there stays with its thread, and
    that thread's next call on the same limiter reuses it without a statement. ``release_all``
    (at the end of the group) gives every kept slot back. A kept slot still counts as in flight,
    so the limit is never exceeded. A slot is reused only within ``limiter.reuse_seconds`` of being
    taken, so that a call started on it still ends before its lease does.
    """

    def __init__(self):
        self._kept = {}  # (thread id, limiter key) -> [limiter, lease, taken at (monotonic), in use]
        self._lock = threading.Lock()

    def run(self, fn, *args, **kwargs):
        previous = getattr(_keeping, "keeper", None)
        _keeping.keeper = self
        try:
            return fn(*args, **kwargs)
        finally:
            _keeping.keeper = previous

    def reuse(self, limiter):
        """The lease this thread kept on ``limiter``'s key, now in use again; None if there is none to reuse."""
        slot = (threading.get_ident(), limiter.key)
        with self._lock:
            entry = self._kept.get(slot)
            if entry is None or entry[3]:
                return None
            if time.monotonic() - entry[2] < limiter.reuse_seconds:
                entry[3] = True
                return entry[1]
            del self._kept[slot]  # too old to keep: give it back and take a fresh one
        limiter.give_back_now(entry[1])
        return None

    def keep(self, limiter, lease, fresh):
        """True when ``lease`` stays with this thread instead of being given back."""
        slot = (threading.get_ident(), limiter.key)
        with self._lock:
            entry = self._kept.get(slot)
            if entry is not None and entry[1] == lease:
                entry[3] = False
                return True
            if entry is None and fresh:
                self._kept[slot] = [limiter, lease, time.monotonic(), False]
                return True
        return False

    def release_idle(self):
        """Give back the kept slots no call is using now: the cycle's own thread is about to call the same target
        (it would otherwise wait for them until the end of the run of groups)."""
        with self._lock:
            idle = [slot for slot, entry in self._kept.items() if not entry[3]]
            kept = [self._kept.pop(slot) for slot in idle]
        for limiter, lease, _, _ in kept:
            limiter.give_back_now(lease)

    def release_all(self):
        with self._lock:
            kept, self._kept = list(self._kept.values()), {}
        for limiter, lease, _, _ in kept:
            limiter.give_back_now(lease)


_keeping = threading.local()
class TokenBucket:
    """At most ``per_window`` calls in any ``window`` seconds across every thread, process and machine, with a
    burst of ``burst`` calls and the rest spread evenly (``(per_window - burst) / window`` a second), so any
    window sees at most ``per_window``. For large limits (IFS: about 1000 a minute per tenant) where a sliding
    window would keep a thousand stamps.

    It is a token bucket written as GCRA: one number per key, the theoretical arrival time of the next call,
    kept in a ``ConcurrencySlot`` row (slot 0 of its own key: no table of its own) or, with ``REDIS_URL``, a
    Redis key. Taking a token is one conditional UPDATE (one Lua script on Redis); only a caller that must
    wait reads the row to learn for how long. ``acquire``/``settle`` as ``RateLimiter``."""

    def __init__(self, key, per_window, window=60.0, *, burst=None, sleep=time.sleep, clock=time.time, redis_url=None):
        per_window, window = int(per_window), float(window)
        if per_window < 1 or window <= 0:
            raise ValueError(f"a token bucket needs a positive limit and window, not {per_window}/{window}")
        self.key = _storage_key(f"tokenbucket:{key}")
        self.burst = max(1, min(per_window, int(burst if burst is not None else max(1, per_window // 20))))
        self.interval = window / max(per_window - self.burst, 1)  # seconds between calls once the burst is used
        self.tolerance = (self.burst - 1) * self.interval
        self.sleep = sleep
        self.waited = 0.0
        url = getattr(settings, "REDIS_URL", "") if redis_url is None else redis_url
        self.backend = _RedisBucket(url) if url else _DatabaseBucket(clock)

    def acquire(self):
        """Block until the call is allowed, and count it; returns None (there is nothing to settle)."""
        while True:
            try:
                wait = self.backend.take(self.key, self.interval, self.tolerance)
            except self.backend.transient:  # a busy store: try again shortly
                wait = 0.01
            if wait <= 0:
                return None
            # Jitter keeps waiters in several processes from all waking for the same moment.
            wait *= random.uniform(1.0, 1.25)
            self.waited += wait
            self.sleep(wait)

    def settle(self, stamp, late=0.0):
        """Nothing to move: the bucket counts a call when it starts."""


class _DatabaseBucket:
    name = "database"
    transient = (OperationalError,)

    def __init__(self, clock):
        self.clock = clock

    def take(self, key, interval, tolerance):
        """0 when a call was counted, else the seconds to wait."""
        model = _DatabaseSlots._model()
        q, table = connection.ops.quote_name, connection.ops.quote_name(model._meta.db_table)
        expires = q("expires")
        sql = (f"UPDATE {table} SET {expires} = (CASE WHEN {expires} > %s THEN {expires} ELSE %s END) + %s "
               f"WHERE {q('key')} = %s AND {q('slot')} = 0 AND {expires} <= %s")
        for _ in range(2):
            now = self.clock()
            with _apart_from_callers_transaction():
                with connection.cursor() as cursor:
                    # A microsecond of slack: sums of float intervals must not cost a burst call.
                    cursor.execute(sql, [now, now, interval, key, now + tolerance + 1e-6])
                    if cursor.rowcount == 1:
                        return 0.0
                due = model.objects.filter(key=key, slot=0).values_list("expires", flat=True).first()
                if due is not None:
                    return max(0.001, due - tolerance - now)
                # First use of this key: make its row (another process may win that race) and try again.
                model.objects.bulk_create([model(key=key, slot=0, expires=0.0)], ignore_conflicts=True)
        return 0.001


# The theoretical arrival time (ms, Redis server clock) of the next call; allowed once now >= tat - tolerance.
_TAKE_TOKEN = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]) or ms)
if tat < ms then tat = ms end
local allowed = tat - tonumber(ARGV[2])
if ms < allowed then
  return allowed - ms
end
local next_tat = tat + tonumber(ARGV[1])
redis.call('SET', KEYS[1], next_tat, 'PX', math.ceil(next_tat - ms) + 1000)
return 0
"""


class _RedisBucket:
    name = "redis"
    transient = (redis.RedisError,)

    def __init__(self, url):
        self.client = _redis_client(url)
        self._take = self.client.register_script(_TAKE_TOKEN)

    def take(self, key, interval, tolerance):
        wait_ms = int(self._take(keys=[f"mlc:{key}"], args=[max(1, int(interval * 1000)), int(tolerance * 1000)]))
        return wait_ms / 1000.0


class SlotTimeout(Exception):
    """No slot of a concurrency limit came free within the wait."""


class ConcurrencyLimiter:
    """At most ``limit`` calls in flight per ``key`` across every thread, process and machine that
    share the database (or Redis, when ``REDIS_URL`` is set).

    A slot taken is a lease of ``ttl`` seconds: a holder that dies without giving it back (a killed
    worker) only blocks it until then, so ``ttl`` must outlast the longest call it covers.
    ``with limiter.slot(): ...`` waits, polling briefly, at most ``wait`` seconds (default ``ttl``,
    long enough for a dead holder's lease to run out) and raises ``SlotTimeout`` after that.
    The object holds no state of its own between calls: threads may share one.
    """

    poll_first = 0.005  # seconds between the first tries; doubled up to poll_max
    poll_max = 0.05  # a freed slot is seen within this, short against a remote call of 50 ms or more
    release_tries = 20  # a busy store is retried for about a second; after that the lease's end frees the slot

    def __init__(self, key, limit, *, ttl=60.0, wait=None, sleep=time.sleep, clock=time.time, redis_url=None):
        if int(limit) < 1:
            raise ValueError(f"a concurrency limit needs at least one slot, not {limit!r}")
        self.key = _storage_key(f"concurrency:{key}")
        self.limit = int(limit)
        self.ttl = float(ttl)
        self.wait = self.ttl if wait is None else float(wait)
        # A kept slot (SlotKeeper) is reused only this long after it was taken: a call started then must still
        # end within the lease. HttpClient's lease is its timeouts plus 30 s, so 20 s leaves 10 s to spare.
        self.reuse_seconds = min(self.ttl / 2, 20.0)
        self.sleep = sleep
        url = getattr(settings, "REDIS_URL", "") if redis_url is None else redis_url
        self.backend = _RedisSlots(url) if url else _DatabaseSlots(clock)

    def __repr__(self):
        return f"<ConcurrencyLimiter {self.key!r} limit={self.limit} ttl={self.ttl:g}s {self.backend.name}>"

    @contextlib.contextmanager
    def slot(self, wait=None):
        """Hold one slot for the duration of the block."""
        lease = self.acquire(wait)
        try:
            yield
        finally:
            self.release(lease)

    def acquire(self, wait=None):
        """Block until a slot is free and take it; return the lease to pass to ``release``."""
        keeper = getattr(_keeping, "keeper", None)
        if keeper is not None:
            lease = keeper.reuse(self)
            if lease is not None:
                return lease
        deadline = time.monotonic() + (self.wait if wait is None else float(wait))
        pause, error, waiting = self.poll_first, None, False
        while True:
            try:
                lease = self.backend.take(self.key, self.limit, self.ttl, waiting)
            except self.backend.transient as exc:  # a busy or unreachable store: try again until the wait is over
                lease, error = None, exc
            if lease is not None:
                return lease
            left = deadline - time.monotonic()
            if left <= 0:
                reason = f" (last error: {error})" if error is not None else ""
                raise SlotTimeout(f"all {self.limit} slots of {self.key} stayed taken{reason}")
            # Jitter keeps waiters in several processes from polling in lockstep.
            self.sleep(min(pause * random.uniform(0.5, 1.0), left))
            pause, waiting = min(pause * 2, self.poll_max), True

    def release(self, lease):
        """Give a slot back (a no-op when its lease already ran out and someone else holds it); within a
        ``SlotKeeper.run`` the thread keeps it for its next call instead."""
        keeper = getattr(_keeping, "keeper", None)
        if keeper is not None and keeper.keep(self, lease, fresh=True):
            return
        self.give_back_now(lease)

    def give_back_now(self, lease):
        for attempt in range(self.release_tries):
            try:
                self.backend.give_back(self.key, lease)
                return
            except self.backend.transient as exc:
                error = exc
            self.sleep(min(0.1, self.poll_first * (attempt + 1)))
        log.warning("could not give back a slot of %s (%s); it frees itself within %gs", self.key, error, self.ttl)

    def in_use(self):
        """Slots held right now by a live lease."""
        return self.backend.in_use(self.key, self.limit)


def _storage_key(key, size=200):
    """``key`` if it fits the column, else its start plus a digest of the whole (still unique)."""
    if len(key) <= size:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[: size - len(digest) - 1]}:{digest}"


class _DatabaseSlots:
    """Slots as rows, ``limit`` per key, made on first use; a slot is taken while its ``expires`` is
    in the future. Taking one is a single UPDATE of the first free row: on PostgreSQL its sub-select
    locks that row with SKIP LOCKED, so takers never queue behind one another (nor behind a caller's
    still-open transaction), and SQLite runs each write statement alone. The UPDATE checks again
    that the row is free, so two takers never both win it. A lease is its token (unique); its times
    come from this machine's clock."""

    name = "database"
    transient = (OperationalError,)  # SQLite's "database is locked", a dropped connection

    def __init__(self, clock):
        self.clock = clock

    @staticmethod
    def _turn():
        """On SQLite, this process's threads take turns: SQLite has one writer at a time, and a writer
        that finds the lock taken sleeps in steps of up to 100 ms (its busy handler), so eight sending
        threads racing for it spent more time asleep than posting. Other processes still wait on the
        file lock itself. PostgreSQL needs no turns (row locks, SKIP LOCKED)."""
        return _sqlite_turn if connection.vendor == "sqlite" else contextlib.nullcontext()

    @staticmethod
    def _model():
        from ..models import ConcurrencySlot  # imported late: integrations.models imports this package

        return ConcurrencySlot

    def take(self, key, limit, ttl, waiting):
        model, token = self._model(), uuid.uuid4().hex
        if waiting:
            ends = list(model.objects.filter(key=key, slot__lt=limit).values_list("expires", flat=True))
            if len(ends) == limit and min(ends) > self.clock():
                return None  # still all taken, seen by a plain read: waiters never hold SQLite's write lock
        with self._turn(), _apart_from_callers_transaction():
            if self._claim(model, key, limit, ttl, token):
                return token
            if model.objects.filter(key=key, slot__lt=limit).count() < limit:  # a new key, or a larger limit
                model.objects.bulk_create([model(key=key, slot=i) for i in range(limit)], ignore_conflicts=True)
                if self._claim(model, key, limit, ttl, token):
                    return token
        return None

    def _claim(self, model, key, limit, ttl, token):
        q, table = connection.ops.quote_name, connection.ops.quote_name(model._meta.db_table)
        lock = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
        sql = (
            f"UPDATE {table} SET {q('holder')} = %s, {q('expires')} = %s WHERE {q('id')} = ("
            f"SELECT {q('id')} FROM {table} WHERE {q('key')} = %s AND {q('slot')} < %s AND {q('expires')} <= %s "
            f"ORDER BY {q('slot')} LIMIT 1{lock}) AND {q('expires')} <= %s"
        )
        now = self.clock()
        with connection.cursor() as cursor:
            cursor.execute(sql, [token, now + ttl, key, limit, now, now])
            return cursor.rowcount == 1

    def give_back(self, key, lease):
        with self._turn(), _apart_from_callers_transaction():
            self._model().objects.filter(key=key, holder=lease).update(holder="", expires=0.0)

    def in_use(self, key, limit):
        return self._model().objects.filter(key=key, slot__lt=limit, expires__gt=self.clock()).count()


_sqlite_turn = threading.Lock()


def _apart_from_callers_transaction():
    """A savepoint when the caller is inside a transaction, so that a failed statement of ours (a
    busy database) does not break the caller's transaction on PostgreSQL; nothing otherwise."""
    return transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()


# Drop expired leases, then add ours if fewer than the limit remain. Lease times are the Redis
# server's clock, so workers on machines whose clocks disagree still agree on when a lease ends.
_TAKE_SLOT = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[2]), ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], math.floor(tonumber(last[2])))
return 1
"""

_IN_USE = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
return redis.call('ZCOUNT', KEYS[1], '(' .. ms, '+inf')
"""

_redis_clients = {}
_redis_lock = threading.Lock()


def _redis_client(url):
    """One client (and connection pool) per URL for the process; redis-py clients are thread-safe."""
    with _redis_lock:
        if url not in _redis_clients:
            _redis_clients[url] = redis.Redis.from_url(url)
        return _redis_clients[url]


class _RedisSlots:
    """Slots as a sorted set per key: member = lease token, score = when the lease ends (ms).
    The whole take runs as one Lua script, which Redis executes atomically. The key itself
    expires when its latest lease ends, so a key nobody uses any more leaves nothing behind."""

    name = "redis"
    transient = (redis.RedisError,)

    def __init__(self, url):
        self.client = _redis_client(url)
        self._take = self.client.register_script(_TAKE_SLOT)
        self._in_use = self.client.register_script(_IN_USE)

    def take(self, key, limit, ttl, waiting):
        token = uuid.uuid4().hex
        if self._take(keys=[f"mlc:{key}"], args=[limit, max(1, int(ttl * 1000)), token]):
            return token
        return None

    def give_back(self, key, lease):
        self.client.zrem(f"mlc:{key}", lease)

    def in_use(self, key, limit):
        return min(limit, int(self._in_use(keys=[f"mlc:{key}"])))
