"""Faults a chaos run can inject, each drawn from the run's own seeded generator.

Vendor faults go through the sandbox's fault API (real HTTP: slow targets beyond the client
timeout, 5xx after commit, drops before and after commit, token storms, read failures; per target in
``targets``).
Faults inside the portal are injected where a real one would strike: a database error at
the statement that records a post or stores a page (Django's execute_wrapper), a worker that
dies right after a post went out (its cycle never finishes and its lease runs out), another
cycle taking the lease over mid-cycle, two workers starting the same flow at once.
"""

import contextlib
import threading
import uuid
from datetime import timedelta

from django.db import OperationalError, connection
from django.utils import timezone

from integrations.engine import cycle as cycle_module
from integrations.engine import protocol
from integrations.models import Batch, Flow
from integrations.operations import hold_batches
from integrations.querycount import on_every_connection

from .targets import expensify_faults
from .world import control


class Killed(BaseException):
    """The worker process died: nothing after this line of the cycle runs."""


def vendor_faults(rng, target, source=None):
    """0 to 3 vendor faults (the target's and its source's: the target's own ``source_faults``, else its source
    object's, else Expensify's) as sandbox fault bodies."""
    if hasattr(target, "source_faults"):
        source_menu = target.source_faults(rng)
    else:
        source_menu = source.faults(rng) if source is not None else expensify_faults(rng)
    menu = target.faults(rng) + source_menu
    return [rng.choice(menu)() for _ in range(rng.randint(0, 3))]


def inject_vendor_faults(box, faults):
    for fault in faults:
        control(box, "POST", "faults", json=fault)


@contextlib.contextmanager
def database_error(match, nth):
    """Fail the ``nth`` statement containing ``match`` (once) with an OperationalError, on whichever thread's
    connection it runs: a group's results are written from the recorder's thread (``engine.recorder``)."""
    seen = {"n": 0}
    lock = threading.Lock()

    def wrapper(execute, sql, params, many, context):
        if match in sql:
            with lock:
                seen["n"] += 1
                fire = seen["n"] == nth
            if fire:
                raise OperationalError(f"chaos: injected database error on statement {nth} matching {match!r}")
        return execute(sql, params, many, context)

    with on_every_connection(wrapper):
        yield


def commit_error(rng):
    """A database error where a post is recorded (the post went out; the record of it fails)."""
    return database_error('"posted_at"', rng.randint(1, 3))


def store_error(rng):
    """A database error while a page's batches are stored."""
    return database_error('INSERT INTO "integrations_batch"', 1)


@contextlib.contextmanager
def killed_after_post(nth, handler):
    """The worker dies right after its ``nth`` post was sent: no answer recorded, no finishing, no
    lease given back (it runs out), the SyncCycle row stays 'running'."""
    original_post, original_finish = handler.post, cycle_module.Cycle.finish
    calls = {"n": 0}

    def post(self, batch, posting):
        result = original_post(self, batch, posting)
        calls["n"] += 1
        if calls["n"] == nth:
            raise Killed()
        return result

    def finish(self):
        if calls["n"] >= nth:
            self.ctx.lease._stop.set()  # the renewing thread dies with the process
            return
        original_finish(self)

    handler.post, cycle_module.Cycle.finish = post, finish
    try:
        yield
    finally:
        handler.post, cycle_module.Cycle.finish = original_post, original_finish


@contextlib.contextmanager
def lease_taken_over(flow_id, nth, hold_seconds, handler):
    """After the ``nth`` post, another cycle takes the flow's lease (as one would after a long pause)."""
    original_post = handler.post
    calls = {"n": 0}

    def post(self, batch, posting):
        result = original_post(self, batch, posting)
        calls["n"] += 1
        if calls["n"] == nth:
            Flow.objects.filter(pk=flow_id).update(
                lease_owner=uuid.uuid4(), lease_until=timezone.now() + timedelta(seconds=hold_seconds))
        return result

    handler.post = post
    try:
        yield
    finally:
        handler.post = original_post


@contextlib.contextmanager
def operator_holds_before_claim(nth, held):
    """A person holds the ``nth`` batch the cycle is about to claim, at that very moment (another
    worker racing for the same row): the claim must see it and leave the batch alone."""
    original = protocol.claim_group
    calls = {"n": 0}

    def claim_group(ctx, batches):
        for batch in batches:
            calls["n"] += 1
            if calls["n"] == nth:
                hold_batches(Batch.objects.filter(pk=batch.pk), None)
                held.add(batch.pk)
        return original(ctx, batches)

    protocol.claim_group = claim_group
    try:
        yield
    finally:
        protocol.claim_group = original


def race(run, flow):
    """Two workers start the same flow at the same moment; returns both results."""
    results = []

    def worker():
        try:
            results.append(run(flow))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results
