"""What every phase of one cycle shares: the flow, its handler, the lease, the clock budget,
the result counts, and the audit entries waiting to be written with the next state write."""

import time
from typing import NamedTuple

from django.db import transaction
from django.utils import timezone

from audit import log as audit

from ..models import Batch
from .binding import server_binding
from .lease import LeaseLost

DEFAULT_MAX_ATTEMPTS = 5


class HeldNote(NamedTuple):
    source_kind: str
    source_id: str
    error_code: str
    last_error: str
    error_help: str


class CycleContext:
    def __init__(self, flow, cycle, lease, result, say, actor, budget):
        self.flow = flow
        self.cycle = cycle
        self.lease = lease
        self.result = result
        self.say = say
        self.actor = actor
        self.action_id = cycle.cycle_id.hex
        self.handler = None
        self.newly_held = []  # HeldNote per batch held in this cycle, for the digest
        self.pending_audit = []
        self.max_attempts = int(flow.options.get("max_attempts", DEFAULT_MAX_ATTEMPTS))
        self.deadline = time.monotonic() + budget
        self.reposted = set()  # batches re-posted after a reconcile in this cycle

    # -- time ------------------------------------------------------------------------------
    def out_of_time(self):
        """True once the cycle's budget is used: take no new work (the next cycle carries on)."""
        if time.monotonic() < self.deadline:
            return False
        if not self.result.more_work:
            self.result.more_work = True
            self.say("time budget used: no new work taken; the next cycle carries on")
        return True

    def note_held(self, batch, **fields):
        """Remember a batch held in this cycle for the digest: what it says (``fields`` before they are set on
        it), not the batch and its payload (a cycle over 10,000 records holding many kept them all in memory)."""
        def said(name):
            return fields.get(name, getattr(batch, name))

        self.newly_held.append(HeldNote(batch.source_kind, batch.source_id, said("error_code"), said("last_error"),
                                        said("error_help")))

    # -- audit -------------------------------------------------------------------------------
    def audit(self, event, batch=None, **kwargs):
        """Queue an entry, written by the next ``flush_audit`` (in the caller's transaction)."""
        self.pending_audit.append(self.audit_row(event, batch, **kwargs))

    def audit_row(self, event, batch=None, **kwargs):
        """An entry of this cycle as ``audit.row`` makes it, not queued: for a writer on another thread
        (``engine.recorder``), which writes its own rows in its own transaction."""
        if batch is not None:
            kwargs.setdefault("source_ref", f"{batch.source_kind}:{batch.source_id}")
            kwargs.setdefault("target_ref", batch.target_document_id or "")
        return audit.row(self.flow.tenant_id, event, flow_id=self.flow.pk, batch_id=batch.pk if batch else None,
                         actor=self.actor, action_id=self.action_id, **kwargs)

    def flush_audit(self):
        rows, self.pending_audit = self.pending_audit, []
        if rows:
            with server_binding():
                audit.write_rows(rows)

    def audit_now(self, event, batch=None, **kwargs):
        self.audit(event, batch, **kwargs)
        self.flush_audit()

    # -- state moves ------------------------------------------------------------------------
    def move(self, batch, event, message="", *, expect, claimed=False, **fields):
        """Move ``batch`` out of one of the ``expect`` states, fenced, with its audit entry, in one
        transaction. ``claimed``: the batch must still be claimed by this cycle (a result of a post);
        losing it means another cycle took over, and this one stops. Returns False when the batch
        had already left ``expect`` (an operator acted meanwhile)."""
        before = batch.state
        fields["updated_at"] = timezone.now()
        rows = Batch.objects.filter(pk=batch.pk, state__in=list(expect))
        with transaction.atomic():
            if claimed:
                rows = rows.filter(claimed_by=self.lease.owner)
            else:
                self.lease.fence()
            if not rows.update(**fields):
                if claimed:
                    self.lease.lost = True
                    raise LeaseLost(f"batch {batch.pk} was taken over by another cycle")
                return False
            for key, value in fields.items():
                setattr(batch, key, value)
            self.audit(event, batch, message=message, before={"state": before}, after={"state": batch.state})
            self.flush_audit()
        return True

    def hold(self, batch, error, *, expect, claimed=False, **extra):
        if self.move(
            batch,
            "batch.held",
            f"[{error.code}] {error.message}",
            expect=expect,
            claimed=claimed,
            state=Batch.State.HELD,
            error_code=error.code,
            last_error=error.message,
            error_help=error.help,
            next_attempt_at=None,
            **extra,
        ):
            self.result.held += 1
            self.note_held(batch)
            return True
        return False

    def batches(self, **filters):
        return list(Batch.objects.filter(flow=self.flow, **filters).order_by("pk"))

    def batch_chunks(self, *where, size=500, only=None, **filters):
        """The flow's batches matching ``where`` (Q objects) and ``filters`` in pk order, ``size`` at a time: a
        backlog of any length is worked through without holding it all in memory. ``only``: the columns to load."""
        last = 0
        rows = Batch.objects.filter(*where, flow=self.flow, **filters).order_by("pk")
        if only:
            rows = rows.only(*only)
        while True:
            chunk = list(rows.filter(pk__gt=last)[:size])
            if not chunk:
                return
            yield chunk
            last = chunk[-1].pk
