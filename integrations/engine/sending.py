"""Sending a claimed group: up to the target's concurrency in flight, each outcome kept as data.

Posts run on a thread pool sized by the target connection's concurrency (one at a time,
in the cycle's own thread, when it is 1); the client's limiter keeps the calls in flight
within that number across every worker using the connection. A worker sends only while the cycle's lease is
valid by this process's clock. Nothing here writes to the database: the outcomes come
back to the cycle's thread, which records them for the whole group at once.
"""

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from django.db import connections

from ..posting import Posting
from ..systems.errors import IntegrationError, OutcomeUnknown
from ..systems.limits import SlotKeeper
from .errors import CONNECTION_ERRORS

logger = logging.getLogger(__name__)

POSTED, UNKNOWN, REFUSED, FAILED, DEFECT, NOT_SENT = "posted", "unknown", "refused", "failed", "defect", "not_sent"


@dataclass
class Outcome:
    kind: str
    result: object = None  # PostResult when posted
    error: Exception | None = None


def send_one(ctx, batch):
    if not ctx.lease.valid():  # never send after the lease may have passed to another cycle
        return Outcome(NOT_SENT)
    try:
        return Outcome(POSTED, result=ctx.handler.post(batch, Posting.from_json(batch.posting)))
    except OutcomeUnknown as exc:
        return Outcome(UNKNOWN, error=exc)
    except CONNECTION_ERRORS as exc:
        return Outcome(REFUSED, error=exc)
    except IntegrationError as exc:
        return Outcome(FAILED, error=exc)
    except Exception as exc:  # a defect after the request may have been sent: never re-post blindly
        logger.exception("posting batch %s failed unexpectedly", batch.pk)
        return Outcome(DEFECT, error=exc)


def send_after(ahead, ctx, batch):
    """``send_one`` once the group's search (``ahead``) is over, whatever its outcome."""
    wait([ahead])
    return send_one(ctx, batch)


class Sending:
    """A group on its way: the outcomes are there (serial) or will be (futures)."""

    def __init__(self, batches, results):
        self.batches = batches
        self.results = results

    def answered(self):
        return all(r.done() for r in self.results if isinstance(r, Future))

    def outcomes(self):
        done = [r.result() if isinstance(r, Future) else r for r in self.results]
        return list(zip(self.batches, done, strict=True))


class Sender:
    def __init__(self, ctx, concurrency):
        self.ctx = ctx
        self.keeper = SlotKeeper()
        self.concurrency = max(1, int(concurrency))
        self.pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="post") if self.concurrency > 1 else None

    @property
    def parallel(self):
        return self.pool is not None

    def start(self, batches, first=None):
        """Send ``batches`` and return at once with a ``Sending``; its ``outcomes()`` waits for them.

        ``first(batches)`` (the group search, never raising) runs before any of them, on a sending thread:
        the posts wait for it there, so the cycle's thread goes on meanwhile.

        Posts of a group go out while the cycle's thread writes the previous group's results. Each
        sending thread keeps its concurrency slot from one post to its next (``SlotKeeper``) until
        ``release_slots`` at the end of the run of groups."""
        if self.pool is None:
            if first is not None and batches:
                self.keeper.run(first, batches)
            return Sending(batches, [self.keeper.run(send_one, self.ctx, b) for b in batches])
        if first is None or not batches:
            return Sending(batches, [self.pool.submit(self.keeper.run, send_one, self.ctx, b) for b in batches])
        ahead = self.pool.submit(self.keeper.run, first, batches)
        return Sending(batches, [self.pool.submit(self.keeper.run, send_after, ahead, self.ctx, b) for b in batches])

    def send(self, batches):
        """[(batch, Outcome)] in the order given, all sent."""
        try:
            return self.start(batches).outcomes()
        finally:
            self.release_slots()

    def release_slots(self):
        self.keeper.release_all()

    def release_idle_slots(self):
        self.keeper.release_idle()

    def close(self):
        if self.pool is None:
            return
        # Each worker thread closes its own database connections (clients' limiters may have used them).
        barrier = threading.Barrier(self.concurrency)

        def close_own():
            try:
                barrier.wait(timeout=5)
            except threading.BrokenBarrierError:
                pass
            connections.close_all()

        list(self.pool.map(lambda _: close_own(), range(self.concurrency)))
        self.pool.shutdown(wait=True)
