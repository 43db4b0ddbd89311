"""Sending a claimed group: up to the target's concurrency in flight, each outcome kept as data.

Posts run on a thread pool sized by the target connection's concurrency (one at a time,
in the cycle's own thread, when it is 1). A worker sends only while the cycle's lease is
valid by this process's clock. Nothing here writes to the database: the outcomes come
back to the cycle's thread, which records them for the whole group at once.
"""

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.db import connections

from ..posting import Posting
from ..systems.errors import IntegrationError, OutcomeUnknown
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


class Sender:
    def __init__(self, ctx, concurrency):
        self.ctx = ctx
        self.concurrency = max(1, int(concurrency))
        self.pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="post") if self.concurrency > 1 else None

    def send(self, batches):
        """[(batch, Outcome)] in the order given."""
        if self.pool is None:
            return [(b, send_one(self.ctx, b)) for b in batches]
        return list(zip(batches, self.pool.map(lambda b: send_one(self.ctx, b), batches), strict=True))

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
