"""Posting: claim, send, record the results. The heart of exactly-once.

Ready batches go in groups (eight posts per sending thread, at least 8, at least the handler's
``lookup_group_size`` when it searches by group):

* claim: one conditional UPDATE moves the group ``ready -> posting`` while the lease holds,
  committed with its audit entries before anything is sent (``claims.py``);
* search: a handler that can search a whole group's references in one call does so first, and its
  posts use that answer (``lookup.py``);
* send: up to the target connection's concurrency in flight, only while the lease is valid
  by this process's clock, each carrying its external reference (``sending.py``);
* record: one transaction for the whole group, conditional on every batch still being
  claimed by this cycle (``moves.py``), each outcome's move built by ``outcomes.py`` (``results.py``), written
  on a thread of its own while posts run in parallel (``recorder.py``):
  - success: ``posted`` + document id;
  - definite rejection: ``held``, or ``failed`` with backoff when the target may accept it later;
  - refused for the connection (auth, allowed hosts, version): the claim is undone (nothing
    was written) and the cycle pauses after recording the group;
  - uncertain outcome: ``in_doubt`` with ``last_sent_at`` = now. No search now: the target
    may still be writing it. Reconcile decides after the settle window (``reconcile.py``).
* the target answered that it already has the reference: checked as reconcile would.

Up to GROUPS_IN_FLIGHT groups are claimed and out at once; once all of a group's posts are answered its results
are written, and meanwhile the cycle's thread stores and maps the next records (``feed``, ``record_answered``).
"""

from collections import deque

from ..models import BatchState
from .claims import claim_group
from .errors import Paused
from .lease import LeaseLost
from .lookup import group_size, look_up
from .outcomes import posted_move
from .recorder import Recorder
from .results import settle
from .sending import Sender

S = BatchState
MIN_GROUP = 8
# A group holds this many posts per sending thread: the pool stays full while most of the group is sent,
# and only the last round waits on the slowest post before the group's results are written. Each group costs
# the database a claim and a write of results whatever its size: 8 rounds, not 4, took a third of a
# 10,000-report cycle's statements away.
ROUNDS_PER_GROUP = 8
# Groups claimed and sent whose results are not written yet. The cycle's thread writes a group's results once all
# its posts are answered, without waiting on it while there is other work (the next records to store and map, the
# next page to read); past this many it waits for the oldest.
GROUPS_IN_FLIGHT = 3


class Poster:
    def __init__(self, ctx, reconciler, concurrency=1):
        self.ctx = ctx
        self.reconciler = reconciler
        self.sender = Sender(ctx, concurrency)
        # Posting in parallel, groups' results are written on a thread of their own (``engine.recorder``).
        self.recorder = Recorder(ctx, threaded=self.sender.parallel)
        self.stopping = False  # a group came back refused or unsent: no further group starts
        self.pending = []  # ready batches queued by feed(), not claimed yet
        self.in_flight = deque()  # groups being sent whose results are not recorded yet, oldest first

    @property
    def group_size(self):
        # A handler searching by group wants groups big enough that its one search is little per post.
        return max(MIN_GROUP, ROUNDS_PER_GROUP * self.sender.concurrency, group_size(self.ctx.handler))

    def close(self):
        try:
            self.finish(raising=False)
        finally:
            try:
                self.sender.close()
            finally:
                self.recorder.close()

    def post_batches(self, batches):
        """Post the READY ones and record every result before returning."""
        self.feed(batches)
        self.flush()

    def feed(self, batches):
        """Queue the READY ones and start full groups while fewer than GROUPS_IN_FLIGHT are out; the rest wait in
        the queue. Nothing here waits on the target unless the queue holds more than GROUPS_IN_FLIGHT groups (the
        records read ahead of the posts stay few however fast the reading is): the cycle's thread goes back to
        storing and mapping while the groups are sent, and each later call (or ``record_answered``) writes the
        answered groups' results and starts more. ``flush`` sends what is left and records everything."""
        self.pending.extend(b for b in batches if b.state == S.READY)
        self._pump(full_only=True)

    def flush(self):
        self._pump(full_only=False, drain=True)
        self.finish()

    def finish(self, *, raising=True):
        """Record the groups in flight, if any, and give the concurrency slots back. Queued batches not yet
        claimed stay ready for the next cycle."""
        self.pending = []
        try:
            self._record_in_flight(raising=raising)
        finally:
            self.sender.release_slots()

    def record_answered(self, until=None):
        """Keep the posts going from the queue and write the answered groups' results; with ``until`` (a future,
        e.g. the next page being read), keep at it, waiting on the oldest group, for as long as it is not done."""
        self._pump(full_only=True, until=until)

    def _pump(self, *, full_only, until=None, drain=False):
        ok = False
        try:
            while True:
                self._follow_up_written()
                while self.in_flight and self.in_flight[0].answered():
                    self.record_group(self.in_flight.popleft())
                self._start_groups(full_only=full_only)
                # A queue longer than the groups in flight waits: the records read ahead of the posts stay few.
                keep_going = (drain or (until is not None and not until.done())
                              or len(self.pending) > GROUPS_IN_FLIGHT * self.group_size)
                if not self.in_flight or not keep_going:
                    break
                self.record_group(self.in_flight.popleft())  # waits for the oldest group's answers
            ok = True
        finally:
            if not ok:  # stopping (lease lost, paused, a defect): still record what was sent
                self.finish(raising=False)

    def _start_groups(self, *, full_only):
        while self.pending and len(self.in_flight) < GROUPS_IN_FLIGHT and (len(self.pending) >= self.group_size
                                                                              or not full_only):
            if self.ctx.out_of_time() or self.stopping:
                self.pending = []
                return
            group, self.pending = self.pending[:self.group_size], self.pending[self.group_size:]
            # In flight before older groups are recorded: should that stop the run (a pause, the lease lost),
            # ``finish`` still records this group, which was sent, instead of leaving it claimed.
            self.in_flight.append(self.start_group(group))
            if not self.sender.parallel:  # sent already, in this thread: nothing to overlap with
                self._record_in_flight()

    def _record_in_flight(self, *, raising=True):
        """Every group in flight, oldest first, written and followed up. Stopping (``raising=False``), each is
        still written."""
        first_error = None
        while self.in_flight or self.recorder.writing:
            try:
                if self.in_flight:
                    self.record_group(self.in_flight.popleft())
                else:
                    self._follow_up_written(wait=True, raising=raising)
            except BaseException as exc:  # the rest were sent too: record them before raising
                first_error = first_error or exc
                raising = False
        if first_error is not None:
            raise first_error

    def start_group(self, group):
        claimed = claim_group(self.ctx, group)
        if len(claimed) < len(group):
            self.ctx.lease.check()  # not claimed because the lease is gone? then stop here
        first = (lambda batches: look_up(self.ctx, batches)) if group_size(self.ctx.handler) else None
        return self.sender.start(claimed, first=first)

    def record_group(self, sending):
        """Read the group's answers (waiting for them) and start writing its results (``engine.recorder``); a
        group that stops the cycle (refused, lease run out) lets no further group start."""
        result = settle(sending.outcomes(), self.ctx.max_attempts)
        self.stopping = self.stopping or result.stops
        self.recorder.write(result)

    def _follow_up_written(self, *, wait=False, raising=True):
        """For each group written (the oldest first; ``wait``: at least one): count it, then verify the documents
        the target said it had, and stop the cycle where its answers say so."""
        while (written := self.recorder.finished(wait=wait)) is not None:
            wait = False
            result, error = written
            if error is not None:
                if raising or not isinstance(error, LeaseLost):
                    raise error
                continue
            self.count(result.moves)
            if not raising:
                continue  # already stopping: what remains (an existing document to verify) waits for the next cycle
            if result.existing:  # verifying may search the target from this thread: the slots kept idle go back
                self.sender.release_idle_slots()
            for batch, found in result.existing:  # the target refused a second copy or the search found one
                self.reconciler.verify_existing(batch, found)
            if result.refused is not None:
                raise Paused(result.refused)
            if result.unsent:
                raise LeaseLost("the lease expired while a group was being sent")

    def count(self, moves):
        result = self.ctx.result
        for move in moves:
            state = move.fields["state"]
            if state == S.POSTED:
                result.posted += 1
                result.add_amount(move.batch.currency, move.batch.amount)
            elif state == S.IN_DOUBT:
                result.in_doubt += 1
            elif state == S.FAILED:
                result.failed += 1
            elif state == S.HELD:
                result.held += 1
                self.ctx.note_held(move.batch)

    def mark_posted(self, batch, result, *, expect, claimed=False, event="batch.posted", message=""):
        """One batch found or confirmed posted outside a group (reconcile)."""
        move = posted_move(batch, result, event=event, message=message)
        if self.ctx.move(batch, move.event, move.message, expect=expect, claimed=claimed, **move.fields):
            self.count([move])
            return True
        return False
