"""One cycle of a flow: fetch -> record -> map -> validate -> post -> confirm -> audit.

``run_cycle`` takes the flow's lease (waiting up to ``wait`` seconds while another cycle
holds it), runs the phases in order, and always finishes: counts and state on the SyncCycle
row, the held digest, the lease given back. It never raises for integration errors.
Before fetching anything new it settles the past: batches a dead cycle left ``posting`` are
in doubt, batches in doubt past their settle window are reconciled, failures whose backoff
is over are retried, posted records the source may have withdrawn since are asked about again
(``engine.recheck``, throttled), and NEW / READY batches are mapped and posted. The cycle stops taking
new work once its time budget (below the task timeout) is used; the next one carries on.
"""

import json
import logging
import time
import uuid

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from audit import log as audit
from portal.scrub import scrub

from ..flows import handler_class
from ..models import Batch, BatchState, SyncCycle
from ..systems.errors import IntegrationError
from ..systems.registry import concurrency_for
from . import outage
from .ahead import pages_of
from .context import CycleContext
from .errors import Paused
from .intake import Intake
from .lease import FlowLease, LeaseLost
from .mapping import Mapper
from .protocol import Poster
from .recheck import Rechecker
from .reconcile import Reconciler
from .result import CycleResult

logger = logging.getLogger(__name__)
S = BatchState
# What a handler's confirm and the audit entry read of a posted batch.
CONFIRM_FIELDS = ("id", "flow_id", "state", "source_kind", "source_id", "external_ref", "target_document_id")


def post_concurrency(flow):
    """Posts in flight at once: the target connection's ``concurrency`` option, else its system's default
    (the same number its client's limiter allows across every worker, ``registry.concurrency_for``)."""
    return concurrency_for(flow.target.system, (flow.target.options or {}).get("concurrency"))


def cycle_budget(flow):
    seconds = (flow.options or {}).get("cycle_budget_seconds")
    return float(seconds) if seconds not in (None, "") else float(settings.CYCLE_BUDGET_SECONDS)


def run_cycle(flow, *, trigger="manual", progress=None, wait=0.0, actor=None):
    """Run one cycle of ``flow``; returns a CycleResult. Never raises for integration errors."""
    say = progress or (lambda message: None)
    result = CycleResult(flow_kind=flow.kind)
    actor = actor or f"cycle:{trigger}"
    if trigger == "schedule" and outage.paused(flow):
        result.state = SyncCycle.SKIPPED
        result.message = f"paused until {flow.paused_until:%Y-%m-%d %H:%M:%S} after [{flow.outage_code}]"
        say(result.message)
        return result
    begun = _begin(flow, trigger, wait, result, actor)
    if begun is None:
        say(result.message)
        return result
    cycle, lease = begun
    result.cycle_id = cycle.cycle_id.hex
    lease.start(cycle.pk)
    ctx = CycleContext(flow, cycle, lease, result, say, actor, cycle_budget(flow))
    runner = Cycle(ctx)
    try:
        runner.run()
    except Paused as paused:
        error = paused.error
        result.state = SyncCycle.PAUSED
        result.message = f"[{error.code}] {error.message}"
        say(f"cycle paused: {result.message}")
        outage.begin_or_extend(flow, error, actor=actor, action_id=ctx.action_id)
    except LeaseLost as exc:
        result.state = SyncCycle.FAILED
        result.message = f"[LEASE-LOST] {exc}; this cycle stopped and wrote nothing more"
        say(result.message)
    except Exception as exc:  # the cycle fails; batches keep their states for the next one
        result.state = SyncCycle.FAILED
        code = getattr(exc, "code", type(exc).__name__)
        result.message = scrub(f"[{code}] {exc}")  # any exception's text may quote a secret
        if not isinstance(exc, IntegrationError):  # a defect, not a vendor answer: keep the traceback
            logger.exception("cycle of flow %s failed", flow.pk)
        say(f"cycle failed: {result.message}")
    else:
        outage.end(flow, actor=actor, action_id=ctx.action_id)
        if result.more_work:
            result.message = "time budget used with work left: the next cycle carries on"
    finally:
        runner.finish()
    return result


def _begin(flow, trigger, wait, result, actor):
    """Take the flow's lease (waiting up to ``wait`` seconds) and open its SyncCycle row."""
    deadline = time.monotonic() + max(0.0, wait)
    owner = uuid.uuid4()
    waited = False
    while True:
        try:
            lease = FlowLease.acquire(flow.pk, owner, settings.LEASE_SECONDS)
        except OperationalError as exc:  # a database too busy to answer (SQLite's lock): as if it were taken
            logger.warning("flow %s: lease not taken this time: %s", flow.pk, exc)
            lease = None
        if lease is not None:
            return _open_cycle(flow, trigger, owner, actor), lease
        try:
            running = SyncCycle.objects.filter(flow=flow, state=SyncCycle.RUNNING).first()
        except OperationalError:
            running = None
        since = f" since {running.started_at:%Y-%m-%d %H:%M:%S}" if running else ""
        if time.monotonic() >= deadline:
            result.state = SyncCycle.SKIPPED
            result.message = f"skipped: another cycle of this flow is running{since}"
            _note(flow, "cycle.skipped", actor, result.message)
            return None
        if not waited:
            waited = True
            _note(flow, "cycle.waiting", actor, f"waiting: another cycle of this flow is running{since}")
        time.sleep(0.2)


def _note(flow, event, actor, message):
    """Audit a cycle that did not start. A database too busy for the entry (SQLite's lock) does not turn a
    skipped cycle into a crashed worker: the skip is in the result and the log."""
    try:
        audit.record(flow.tenant_id, event, flow_id=flow.pk, actor=actor, message=message)
    except OperationalError as exc:
        logger.warning("flow %s: %s (not audited: %s)", flow.pk, message, exc)


def _open_cycle(flow, trigger, owner, actor):
    """The lease is ours: any cycle still marked running lost its worker; close it and open ours."""
    with transaction.atomic():
        for stale in SyncCycle.objects.filter(flow=flow, state=SyncCycle.RUNNING):
            SyncCycle.objects.filter(pk=stale.pk, state=SyncCycle.RUNNING).update(
                state=SyncCycle.FAILED, finished_at=timezone.now(), message="abandoned: its worker stopped renewing the lease"
            )
            audit.record(flow.tenant_id, "cycle.abandoned", flow_id=flow.pk, action_id=stale.cycle_id.hex, actor=actor,
                         message="a cycle stopped without finishing; its batches in 'posting' will be reconciled")
        try:
            return SyncCycle.objects.create(flow=flow, trigger=trigger, cycle_id=owner, heartbeat_at=timezone.now())
        except IntegrityError:  # pragma: no cover - the lease makes this unreachable
            raise LeaseLost("another cycle of this flow is running") from None


class Cycle:
    def __init__(self, ctx):
        self.ctx = ctx
        self.reconciler = Reconciler(ctx)
        self.poster = Poster(ctx, self.reconciler, concurrency=self.concurrency())
        self.reconciler.poster = self.poster
        self.mapper = Mapper(ctx)
        self.intake = Intake(ctx)
        self.pages = 0

    def concurrency(self):
        """Posting threads each use their own database connection and see only committed rows: a cycle run
        inside a caller's transaction (a test, an atomic request) posts from its own thread instead."""
        wanted = post_concurrency(self.ctx.flow)
        if wanted > 1 and connection.in_atomic_block:
            self.ctx.say(f"inside a transaction: posting one at a time instead of {wanted} in parallel")
            return 1
        return wanted

    def run(self):
        ctx = self.ctx
        ctx.say(f"cycle {ctx.action_id[:8]} of {ctx.flow.name} ({ctx.flow.kind}) started")
        ctx.audit_now("cycle.started", message=f"trigger: {ctx.cycle.trigger}")
        ctx.handler = handler_class(ctx.flow.kind)(ctx.flow, log=ctx.say)
        ctx.handler.open()
        self.recover_interrupted()
        self.reconciler.reconcile_due()
        self.requeue_due_failures()
        self.requeue_waiting()
        Rechecker(ctx).run()
        for chunk in ctx.batch_chunks(state=S.NEW):
            self.mapper.map_batches(chunk)
        for chunk in ctx.batch_chunks(state=S.READY):
            if ctx.out_of_time():
                break
            self.poster.post_batches(chunk)
        if not ctx.out_of_time():
            self.fetch_new()
        self.confirm()

    def fetch_new(self):
        """Page by page: store, map, post. With parallel posting, mapping goes a few groups at a time and the
        groups sent stay in flight while the next records are stored and mapped and the next page is read; their
        results are written once answered: the portal's own work overlaps the target's. A handler whose pages are
        read ahead (``engine.ahead``) also has each page stored a few groups at a time, so its first posts leave
        while the rest of the page is stored."""
        ctx = self.ctx
        pages = pages_of(ctx.handler, dict(ctx.flow.cursor or {}))
        try:
            for page in pages:
                self.pages += 1
                count = len(page.records)
                parts = pages.parts(page, 2 * self.poster.group_size) if self.poster.sender.parallel else [page]
                mapper = self.mapper if len(parts) > 1 else None
                while parts:
                    part = parts.pop(0)
                    # stored in parts: new records mapped first and stored ready, one write each
                    batches = self.intake.store(part, mapper=mapper)
                    if not parts:
                        ctx.handler.after_store(page)
                        # Stored: the page's records go now (its batches carry what is left to do), so they are
                        # not held beside the next page while it is read.
                        page = part = None
                        pages.read_ahead()
                    self.map_and_feed(batches)
                # While the next page is read (ahead), the groups out are recorded as they are answered.
                self.poster.record_answered(until=pages.reading())
                self.progress(f"page {self.pages}: {count} records; "
                              f"{ctx.result.posted} posted, {ctx.result.held} held so far")
                if ctx.out_of_time():
                    break
            self.poster.flush()
        except BaseException:
            self.poster.finish(raising=False)  # what was sent is recorded before the cycle stops
            raise
        finally:
            pages.close()

    def map_and_feed(self, batches):
        """Map and queue for posting: a few groups at a time with parallel posting, so sends start early."""
        step = 2 * self.poster.group_size if self.poster.sender.parallel else max(1, len(batches))
        for start in range(0, len(batches), step):
            chunk = batches[start:start + step]
            self.mapper.map_batches(chunk)
            self.poster.feed(chunk)

    def recover_interrupted(self):
        """A batch left 'posting' by a cycle that is gone may have been sent: in doubt, settle from now."""
        ctx = self.ctx
        for batch in ctx.batches(state=S.POSTING):
            ctx.result.in_doubt += 1
            ctx.move(batch, "batch.in_doubt", "found in 'posting' after an interrupted cycle: reconcile after the settle "
                     "window before any re-post", expect=[S.POSTING], state=S.IN_DOUBT, last_sent_at=timezone.now(),
                     error_code="INTERRUPTED", last_error="the cycle that was posting it stopped before the answer")

    def requeue_due_failures(self):
        ctx = self.ctx
        for batch in ctx.batches(state=S.FAILED, next_attempt_at__lte=timezone.now()):
            ctx.move(batch, "batch.retry_due", "retry time reached", expect=[S.FAILED], state=S.READY, next_attempt_at=None)

    def requeue_waiting(self):
        """Held batches waiting for something in the target (``handler.waiting_codes``) whose wait the handler
        says is over go back to ``new``, and this cycle maps and posts them."""
        ctx = self.ctx
        codes = list(getattr(ctx.handler, "waiting_codes", ()) or ())
        if not codes:
            return
        for chunk in ctx.batch_chunks(state=S.HELD, error_code__in=codes):
            for batch, note in ctx.handler.waiting_over(chunk):
                if ctx.move(batch, "batch.requeued", f"{note} ({batch.last_error}); mapped again", expect=[S.HELD],
                            state=S.NEW, error_code="", last_error="", error_help=""):
                    ctx.say(f"batch {batch.source_id}: {note}; mapped again")

    def confirm(self):
        """Tell the source what was posted, 500 batches at a time (only the columns a confirm reads: a
        cycle that posted 10,000 records does not load their payloads at once)."""
        ctx = self.ctx
        for chunk in ctx.batch_chunks(state=S.POSTED, only=CONFIRM_FIELDS):
            try:
                confirmed = ctx.handler.confirm(chunk) or []
            except IntegrationError as exc:
                ctx.audit_now("cycle.confirm_failed", message=f"[{exc.code}] {exc.message}: will confirm next cycle")
                return
            with transaction.atomic():
                ctx.lease.fence()
                Batch.objects.filter(pk__in=[b.pk for b in confirmed], state=S.POSTED).update(
                    state=S.CONFIRMED, updated_at=timezone.now()
                )
                for batch in confirmed:
                    ctx.audit("batch.confirmed", batch, before={"state": S.POSTED}, after={"state": S.CONFIRMED})
                ctx.flush_audit()

    def progress(self, text):
        self.ctx.say(text)
        SyncCycle.objects.filter(pk=self.ctx.cycle.pk, state=SyncCycle.RUNNING).update(progress=text[:200])

    def finish(self):
        ctx = self.ctx
        try:
            self.poster.close()
            if ctx.handler is not None:
                ctx.handler.close()
        finally:
            ctx.flush_audit()
            self.send_digest()
            r = ctx.result
            counts = r.summary()
            SyncCycle.objects.filter(pk=ctx.cycle.pk, state=SyncCycle.RUNNING).update(
                state=r.state, finished_at=timezone.now(), heartbeat_at=timezone.now(), counts=counts,
                message=r.message[:2000], progress="finished" if r.state == SyncCycle.DONE else r.state,
            )
            ctx.lease.release()
            ctx.audit_now("cycle.finished" if r.state == SyncCycle.DONE else f"cycle.{r.state}", message=r.message,
                          after=counts)
            ctx.say(f"cycle finished: {json.dumps(counts)}")

    def send_digest(self):
        from audit import alerts

        ctx = self.ctx
        if not ctx.newly_held:
            return
        try:
            sent = alerts.held_digest(ctx.flow.tenant, ctx.flow, ctx.newly_held, cycle_id=ctx.action_id)
        except Exception as exc:  # a mail outage must not fail the cycle; the batches stay held and visible
            logger.warning("held-batch digest for flow %s not sent: %s", ctx.flow.pk, exc)
            return
        if sent:
            audit.record(ctx.flow.tenant_id, "alert.held_digest", flow_id=ctx.flow.pk, actor=ctx.actor,
                         action_id=ctx.action_id, message=f"digest of {len(ctx.newly_held)} held batch(es) sent to "
                         f"{', '.join(ctx.flow.tenant.alert_email_list)}")
