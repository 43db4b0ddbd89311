"""Writing groups' results: on a thread of their own while posts run in parallel.

A group's results (``moves.apply_claimed``: one UPDATE, its audit entries, one commit) are written in
the order the groups were answered, by one thread with its own database connection, so the cycle's
thread stores, maps and claims the next records meanwhile instead of waiting on the database (on
PostgreSQL, a group's write was a sixth of the cycle's thread's time). Nothing about exactly-once
moves: the claim is still written and committed before any post of its group, and a result not
written yet leaves its batch in ``posting``, which a later cycle reconciles, as it would after a crash.

The cycle's thread learns a write's end through ``finished`` (what it then does, counting and
following up, stays on that thread); a write that failed raises there, at most
``WRITES_AHEAD`` groups later. Posting one at a time, the write is done at once on the caller's thread.
"""

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

from django.db import connections

from .moves import apply_claimed

# Groups answered whose results are being written; past this many the cycle's thread waits for the oldest.
WRITES_AHEAD = 2


def _done(fn, *args):
    future = Future()
    try:
        future.set_result(fn(*args))
    except BaseException as exc:
        future.set_exception(exc)
    return future


class Recorder:
    def __init__(self, ctx, threaded):
        self.ctx = ctx
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="record") if threaded else None
        self.writing = deque()  # (future, GroupResult), oldest first

    def write(self, result):
        """Start writing ``result`` (a ``results.GroupResult``)."""
        if self.pool is None:
            future = _done(apply_claimed, self.ctx, result.moves)
        else:
            future = self.pool.submit(apply_claimed, self.ctx, result.moves)
        self.writing.append((future, result))

    def finished(self, *, wait=False):
        """The next written group as ``(GroupResult, error or None)``, oldest first; None when the oldest is
        still being written (``wait``: wait for it; and when more than ``WRITES_AHEAD`` are) or none is."""
        if not self.writing:
            return None
        future, result = self.writing[0]
        if not (wait or future.done() or len(self.writing) > WRITES_AHEAD):
            return None
        self.writing.popleft()
        return result, future.exception()

    def close(self):
        if self.pool is None:
            return
        try:
            self.pool.submit(connections.close_all).result()  # the writing thread's own connection
        finally:
            self.pool.shutdown(wait=True)
