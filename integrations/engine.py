"""The sync cycle and the posting protocol, independent of any one system.

    fetch -> record -> map -> validate -> post -> confirm -> audit

Exactly-once effect without idempotency keys (see the architecture guide):

* record: one Batch per source record, unique (flow, source_kind, source_id); the flow
  cursor moves in the same transaction that stores a page's batches, never before.
* claim: ``ready -> posting`` by a conditional UPDATE, committed before the post, so two
  workers can never both post a batch.
* post: carries the batch's external reference into the target.
* success: ``posted`` + document id + audit entry in one transaction.
* definite rejection: ``held`` with a stable code, a message and how to fix it.
* uncertain outcome: ``in_doubt``; reconcile (search the target for the reference)
  decides: found -> posted, absent -> ready, cannot tell -> stays in doubt. A batch
  found in ``posting`` by a later cycle is in doubt by definition.

Cycles of one flow never overlap: a partial unique index allows one running SyncCycle
per flow; a second cycle waits (up to ``wait`` seconds) or skips, and either is audited.
"""

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from audit import alerts
from audit import log as audit

from .flows import handler_class
from .flows.base import payload_hash  # noqa: F401  (re-exported)
from .models import Batch, BatchState, Flow, SyncCycle
from .posting import Hold, Posting
from .systems.errors import AuthError, HostNotAllowed, IntegrationError, OutcomeUnknown, VersionMismatch

logger = logging.getLogger(__name__)

S = BatchState
# Errors that concern the connection, not the record: every later post would fail the same way.
CONNECTION_ERRORS = (AuthError, HostNotAllowed, VersionMismatch)
# Backoff for retryable failures, by attempt number (seconds); the last value repeats.
RETRY_DELAYS = [60, 300, 900, 3600]
DEFAULT_MAX_ATTEMPTS = 5


@dataclass
class CycleResult:
    flow_kind: str
    cycle_id: str = ""
    state: str = SyncCycle.DONE
    fetched: int = 0
    posted: int = 0
    held: int = 0
    skipped: int = 0
    failed: int = 0
    in_doubt: int = 0
    amount_posted: dict = field(default_factory=dict)
    message: str = ""

    def summary(self):
        return {
            "fetched": self.fetched,
            "posted": self.posted,
            "held": self.held,
            "skipped": self.skipped,
            "failed": self.failed,
            "amount_posted": {cur: str(amount) for cur, amount in sorted(self.amount_posted.items())},
        }

    def add_amount(self, currency, amount):
        if amount is not None:
            self.amount_posted[currency] = self.amount_posted.get(currency, Decimal(0)) + Decimal(amount)


def run_cycle(flow, *, trigger="manual", progress=None, wait=0.0, actor=None):
    """Run one cycle of ``flow``; returns a CycleResult. Never raises for integration errors."""
    say = progress or (lambda message: None)
    result = CycleResult(flow_kind=flow.kind)
    cycle = _begin(flow, trigger, wait, result, actor or f"{trigger}")
    if cycle is None:
        say(result.message)
        return result
    result.cycle_id = cycle.cycle_id.hex
    runner = _Cycle(flow, cycle, result, say, actor or f"cycle:{trigger}")
    try:
        runner.run()
    except Exception as exc:  # the cycle fails; batches keep their states for the next one
        result.state = SyncCycle.FAILED
        code = getattr(exc, "code", type(exc).__name__)
        result.message = f"[{code}] {exc}"
        if not isinstance(exc, IntegrationError):  # a defect, not a vendor answer: keep the traceback
            logger.exception("cycle of flow %s failed", flow.pk)
        say(f"cycle failed: {result.message}")
    finally:
        runner.finish()
    return result


def _begin(flow, trigger, wait, result, actor):
    """Claim the flow's single running-cycle slot, waiting up to ``wait`` seconds."""
    deadline = time.monotonic() + max(0.0, wait)
    waited = False
    while True:
        _expire_stale_cycles(flow)
        try:
            with transaction.atomic():
                return SyncCycle.objects.create(flow=flow, trigger=trigger, heartbeat_at=timezone.now())
        except IntegrityError:
            running = SyncCycle.objects.filter(flow=flow, state=SyncCycle.RUNNING).first()
            since = f" since {running.started_at:%Y-%m-%d %H:%M:%S}" if running else ""
            if time.monotonic() >= deadline:
                result.state = SyncCycle.SKIPPED
                result.message = f"skipped: another cycle of this flow is running{since}"
                audit.record(flow.tenant_id, "cycle.skipped", flow_id=flow.pk, actor=actor, message=result.message)
                return None
            if not waited:
                waited = True
                audit.record(
                    flow.tenant_id,
                    "cycle.waiting",
                    flow_id=flow.pk,
                    actor=actor,
                    message=f"waiting: another cycle of this flow is running{since}",
                )
            time.sleep(0.5)


def _expire_stale_cycles(flow):
    """A running cycle with no heartbeat for longer than the task timeout died with its worker."""
    limit = timezone.now() - timedelta(seconds=getattr(settings, "Q_TIMEOUT", 1800))
    stale = SyncCycle.objects.filter(flow=flow, state=SyncCycle.RUNNING, heartbeat_at__lt=limit)
    for cycle in stale:
        SyncCycle.objects.filter(pk=cycle.pk).update(
            state=SyncCycle.FAILED, finished_at=timezone.now(), message="abandoned: no heartbeat (worker stopped)"
        )
        audit.record(
            flow.tenant_id,
            "cycle.abandoned",
            flow_id=flow.pk,
            action_id=cycle.cycle_id.hex,
            message="a cycle stopped without finishing; its batches in 'posting' will be reconciled",
        )


class _Cycle:
    def __init__(self, flow, cycle, result, say, actor):
        self.flow = flow
        self.cycle = cycle
        self.result = result
        self.say = say
        self.actor = actor
        self.action_id = cycle.cycle_id.hex
        self.handler = None  # built in run(), so an unknown kind fails the cycle, not the caller
        self.blocked = None  # a connection-level error: stop posting in this cycle
        self.newly_held = []
        self.pending_audit = []
        self.max_attempts = int(flow.options.get("max_attempts", DEFAULT_MAX_ATTEMPTS))
        self.pages = 0
        self.reposted = set()  # batches re-posted after reconcile in this cycle (at most once each)

    # -- the cycle ------------------------------------------------------------
    def run(self):
        self.say(f"cycle {self.action_id[:8]} of {self.flow.name} ({self.flow.kind}) started")
        self._audit_now("cycle.started", message=f"trigger: {self.cycle.trigger}")
        self.handler = handler_class(self.flow.kind)(self.flow, log=self.say)
        self.handler.open()
        self.recover_interrupted()
        self.reconcile_in_doubt()
        self.requeue_due_failures()
        self.map_batches(self._batches(state=S.NEW))
        self.post_batches(self._batches(state=S.READY))
        for page in self.handler.fetch(dict(self.flow.cursor or {})):
            if self.blocked:
                self.say(f"stopped fetching: {self.blocked.code}")
                break
            self.pages += 1
            batches = self.store(page)
            self.handler.after_store(page)
            self.map_batches(batches)
            self.post_batches([b for b in batches if b.state == S.READY])
            self.heartbeat(
                f"page {self.pages}: {len(page.records)} records; {self.result.posted} posted, {self.result.held} held so far"
            )
        self.confirm()

    def finish(self):
        try:
            if self.handler is not None:
                self.handler.close()
        finally:
            self.flush_audit()
            self.send_digest()
            r = self.result
            counts = r.summary()
            SyncCycle.objects.filter(pk=self.cycle.pk).update(
                state=r.state,
                finished_at=timezone.now(),
                heartbeat_at=timezone.now(),
                counts=counts,
                message=r.message[:2000],
                progress="finished",
            )
            self._audit_now("cycle.finished" if r.state == SyncCycle.DONE else "cycle.failed", message=r.message, after=counts)
            self.say(f"cycle finished: {json.dumps(counts)}")

    def heartbeat(self, progress):
        self.say(progress)
        SyncCycle.objects.filter(pk=self.cycle.pk).update(heartbeat_at=timezone.now(), progress=progress[:200])

    # -- helpers --------------------------------------------------------------------
    def _batches(self, **filters):
        return list(Batch.objects.filter(flow=self.flow, **filters).order_by("pk"))

    def _audit(self, event, batch=None, **kwargs):
        if batch is not None:
            kwargs.setdefault("source_ref", f"{batch.source_kind}:{batch.source_id}")
            kwargs.setdefault("target_ref", batch.target_document_id or "")
        self.pending_audit.append(
            audit.entry(
                self.flow.tenant_id,
                event,
                flow_id=self.flow.pk,
                batch_id=batch.pk if batch else None,
                actor=self.actor,
                action_id=self.action_id,
                **kwargs,
            )
        )

    def _audit_now(self, event, batch=None, **kwargs):
        self._audit(event, batch, **kwargs)
        self.flush_audit()

    def flush_audit(self):
        entries, self.pending_audit = self.pending_audit, []
        audit.write(entries)

    def _set(self, batch, event, message="", *, save=True, **fields):
        """Move one batch and record the transition (the audit row is flushed with the next write).
        ``save=False`` only changes the object, for a caller that bulk-updates many at once."""
        before = batch.state
        fields["updated_at"] = timezone.now()
        for key, value in fields.items():
            setattr(batch, key, value)
        if save:
            Batch.objects.filter(pk=batch.pk).update(**fields)
        self._audit(event, batch, message=message, before={"state": before}, after={"state": batch.state})

    # -- phases -----------------------------------------------------------------------
    def recover_interrupted(self):
        for batch in self._batches(state=S.POSTING):
            self._set(
                batch,
                "batch.in_doubt",
                "found in 'posting' after an interrupted cycle: reconcile before any re-post",
                state=S.IN_DOUBT,
            )
        self.flush_audit()

    def reconcile_in_doubt(self):
        for batch in self._batches(state=S.IN_DOUBT):
            self.reconcile(batch)

    def reconcile(self, batch):
        try:
            found = self.handler.reconcile(batch)
        except IntegrationError as exc:
            self._audit_now("batch.reconcile_failed", batch, message=f"[{exc.code}] {exc.message}: stays in doubt")
            self.result.in_doubt += 1
            return False
        if found is not None:
            self._mark_posted(
                batch,
                found,
                event="batch.reconciled_posted",
                message=f"reconcile found {batch.external_ref} in the target: recorded as posted, not re-posted",
            )
            return True
        self._set(
            batch,
            "batch.reconciled_absent",
            f"reconcile: {batch.external_ref} is not in the target; ready to post",
            state=S.READY,
        )
        self.flush_audit()
        if batch.pk not in self.reposted:  # a second unknown outcome waits for the next cycle
            self.reposted.add(batch.pk)
            self.post_batches([batch])
        return True

    def requeue_due_failures(self):
        due = Batch.objects.filter(flow=self.flow, state=S.FAILED, next_attempt_at__lte=timezone.now())
        for batch in due.order_by("pk"):
            self._set(batch, "batch.retry_due", "retry time reached", state=S.READY, next_attempt_at=None)
        self.flush_audit()

    def store(self, page):
        """Record one Batch per source record; move the cursor in the same transaction."""
        kind = self.handler.source_kind
        ids = [r.id for r in page.records]
        existing = {b.source_id: b for b in Batch.objects.filter(flow=self.flow, source_kind=kind, source_id__in=ids)}
        new, touched = [], []
        for record in page.records:
            self.result.fetched += 1
            digest = self.handler.fingerprint(record.payload)
            batch = existing.get(record.id)
            if batch is None:
                new.append(
                    Batch(
                        flow=self.flow,
                        source_kind=kind,
                        source_id=record.id,
                        state=S.NEW,
                        payload=record.payload,
                        payload_hash=digest,
                        external_ref=self.handler.external_ref(record.id),
                        **dict(zip(("amount", "currency"), self.handler.source_amount(record.payload), strict=True)),
                    )
                )
            elif batch.payload_hash == digest or (
                batch.correction_payload and self.handler.fingerprint(batch.correction_payload) == digest
            ):
                self.result.skipped += 1
                self._audit("batch.reoffered", batch, message="offered again unchanged by the source: not posted again")
            elif batch.posted_at or batch.state in (S.POSTED, S.CONFIRMED):
                self._hold_correction(batch, record)
            elif batch.state == S.SKIPPED:  # an operator excluded it: keep the new version, stay excluded
                self._set(batch, "batch.source_changed", "the source record changed; the batch stays skipped",
                          payload=record.payload, payload_hash=digest)
            elif batch.state in (S.NEW, S.READY, S.HELD, S.FAILED):
                self._set(
                    batch,
                    "batch.source_changed",
                    "the source record changed before it was posted: mapped again",
                    state=S.NEW,
                    payload=record.payload,
                    payload_hash=digest,
                )
                touched.append(batch)
            else:  # posting / in_doubt: its outcome decides first; the change is kept for a person
                self._set(
                    batch,
                    "batch.source_changed_in_doubt",
                    "the source record changed while its post is in doubt",
                    correction_payload=record.payload,
                )
        with transaction.atomic():
            created = Batch.objects.bulk_create(new)
            for batch in created:
                self._audit("batch.recorded", batch, after={"state": S.NEW, "payload_hash": batch.payload_hash})
            self.flush_audit()
            if page.cursor:
                cursor = {**(self.flow.cursor or {}), **page.cursor}
                Flow.objects.filter(pk=self.flow.pk).update(cursor=cursor)
                self.flow.cursor = cursor
        return created + touched

    def _hold_correction(self, batch, record):
        self.result.held += 1
        self.newly_held.append(batch)
        self._set(
            batch,
            "batch.correction_held",
            "the source record changed after it was posted; it is not posted again",
            state=S.HELD,
            correction_payload=record.payload,
            error_code="SRC-CHANGED-AFTER-POST",
            last_error=f"{batch.source_kind} {batch.source_id} changed at the source after it was posted "
            f"as {batch.target_document_id or batch.external_ref}",
            error_help="Compare the posted document with the new version (Correction payload). Post an adjusting "
            "entry in the target if needed, then choose 'Accept correction' to close this batch.",
        )

    MAPPED_FIELDS = ["state", "posting", "amount", "currency", "error_code", "last_error", "error_help", "updated_at"]

    def map_batches(self, batches):
        """Map and validate NEW batches first (this may read reference data over HTTP), then write
        them all in one transaction. (Per-row UPDATEs: Django's bulk_update builds CASE
        expressions that cost more Python time than the statements they save.)"""
        mapped = []
        for batch in batches:
            if batch.state != S.NEW:
                continue
            mapped.append(batch)
            if self.blocked:
                self._hold(batch, self.blocked, save=False)
                continue
            try:
                posting = self.handler.build_posting(batch.payload, batch.external_ref)
                posting.check_balanced()
                self.handler.validate(posting)
            except Hold as hold:
                self._hold(batch, hold, save=False)
                continue
            except CONNECTION_ERRORS as exc:  # the target refused us while reading its reference data
                self.blocked = exc
                self._hold(batch, exc, save=False)
                continue
            self._set(
                batch,
                "batch.ready",
                f"mapped: {len(posting.lines)} lines, {posting.debit_total} {posting.currency}",
                save=False,
                state=S.READY,
                posting=posting.to_json(),
                amount=posting.source_total or posting.debit_total,
                currency=posting.currency,
                error_code="",
                last_error="",
                error_help="",
            )
        with transaction.atomic():
            for batch in mapped:
                Batch.objects.filter(pk=batch.pk).update(**{f: getattr(batch, f) for f in self.MAPPED_FIELDS})
            self.flush_audit()

    def _hold(self, batch, error, *, save=True):
        self.result.held += 1
        self.newly_held.append(batch)
        self._set(
            batch,
            "batch.held",
            f"[{error.code}] {error.message}",
            save=save,
            state=S.HELD,
            error_code=error.code,
            last_error=error.message,
            error_help=error.help,
        )

    def post_batches(self, batches):
        for batch in batches:
            if batch.state != S.READY:
                continue
            if self.blocked:
                self._hold(batch, self.blocked)
                continue
            self.post_one(batch)
            self.flush_audit()

    def post_one(self, batch):
        claimed = Batch.objects.filter(pk=batch.pk, state=S.READY).update(
            state=S.POSTING, attempts=F("attempts") + 1, updated_at=timezone.now()
        )
        if not claimed:
            return
        batch.state, batch.attempts = S.POSTING, batch.attempts + 1
        self._audit("batch.claimed", batch, before={"state": S.READY}, after={"state": S.POSTING})
        try:
            result = self.handler.post(batch, Posting.from_json(batch.posting))
        except OutcomeUnknown as exc:
            self._in_doubt(batch, exc.code, exc.message)
            self.reconcile(batch)
            return
        except IntegrationError as exc:
            self._post_failed(batch, exc)
            return
        except Exception as exc:  # a defect after the request may have been sent: never re-post blindly
            logger.exception("posting batch %s failed unexpectedly", batch.pk)
            self._in_doubt(batch, "INTERNAL-ERROR", f"internal error while posting: {type(exc).__name__}")
            self.result.in_doubt += 1
            return
        self._mark_posted(batch, result)

    def _in_doubt(self, batch, code, message):
        self._set(batch, "batch.in_doubt", f"[{code}] {message}", state=S.IN_DOUBT, error_code=code, last_error=message)
        self.flush_audit()

    def _post_failed(self, batch, exc):
        if isinstance(exc, CONNECTION_ERRORS):
            self.blocked = exc
            self._hold(batch, exc)
        elif exc.retryable and batch.attempts < self.max_attempts:
            delay = RETRY_DELAYS[min(batch.attempts, len(RETRY_DELAYS)) - 1]
            if exc.retry_after:
                delay = max(delay, int(exc.retry_after))
            self.result.failed += 1
            self._set(
                batch,
                "batch.failed",
                f"[{exc.code}] {exc.message}; retry in {delay}s",
                state=S.FAILED,
                error_code=exc.code,
                last_error=exc.message,
                error_help=exc.help,
                next_attempt_at=timezone.now() + timedelta(seconds=delay),
            )
        else:
            if exc.retryable:
                exc = IntegrationError(
                    f"{exc.message} (gave up after {batch.attempts} attempts)",
                    code=exc.code,
                    help=exc.help or "Check that the target system is up, then retry the batch.",
                )
            self._hold(batch, exc)

    def _mark_posted(self, batch, result, *, event="batch.posted", message=""):
        extra = {}
        if result.details:
            extra["posting"] = {**(batch.posting or {}), "target": result.details}
        with transaction.atomic():
            self._set(
                batch,
                event,
                message or f"posted as {result.document_id}",
                state=S.POSTED,
                target_document_id=str(result.document_id)[:120],
                posted_at=timezone.now(),
                error_code="",
                last_error="",
                error_help="",
                next_attempt_at=None,
                **extra,
            )
            self.flush_audit()
        self.result.posted += 1
        self.result.add_amount(batch.currency, batch.amount)

    def confirm(self):
        posted = self._batches(state=S.POSTED)
        if not posted:
            return
        try:
            confirmed = self.handler.confirm(posted) or []
        except IntegrationError as exc:
            self._audit_now("cycle.confirm_failed", message=f"[{exc.code}] {exc.message}: will confirm next cycle")
            return
        ids = [b.pk for b in confirmed]
        with transaction.atomic():
            Batch.objects.filter(pk__in=ids, state=S.POSTED).update(state=S.CONFIRMED, updated_at=timezone.now())
            for batch in confirmed:
                self._audit("batch.confirmed", batch, before={"state": S.POSTED}, after={"state": S.CONFIRMED})
            self.flush_audit()

    def send_digest(self):
        if not self.newly_held:
            return
        try:
            sent = alerts.held_digest(self.flow.tenant, self.flow, self.newly_held, cycle_id=self.action_id)
        except Exception as exc:  # a mail outage must not fail the cycle; the batches stay held and visible
            logger.warning("held-batch digest for flow %s not sent: %s", self.flow.pk, exc)
            return
        if sent:
            audit.record(
                self.flow.tenant_id,
                "alert.held_digest",
                flow_id=self.flow.pk,
                actor=self.actor,
                action_id=self.action_id,
                message=f"digest of {len(self.newly_held)} held batch(es) sent to {', '.join(self.flow.tenant.alert_email_list)}",
            )
