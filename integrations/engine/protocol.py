"""Posting: claim, send, settle the result. The heart of exactly-once.

* claim: ``ready -> posting`` by one conditional UPDATE that also requires this cycle's
  lease on the flow and stamps the claimant and ``last_sent_at``; committed, with its audit
  entry, before anything is sent. Two workers can never both claim a batch.
* send: only while the lease is valid by this process's clock, carrying the external reference.
* success: ``posted`` + document id + audit, conditional on the claim still being ours.
* definite rejection: ``held`` (or ``failed`` with backoff when the target may accept it later).
* refused for the connection (auth, allowed hosts, version): the claim is undone (the request
  was refused, nothing was written) and the cycle pauses.
* uncertain outcome: ``in_doubt`` with ``last_sent_at`` = now. No search now: the target may
  still be writing it. Reconcile decides after the settle window (``reconcile.py``).
"""

import logging
from datetime import timedelta

from django.db.models import F
from django.utils import timezone

from ..models import Batch, BatchState
from ..posting import Posting
from ..systems.errors import IntegrationError, OutcomeUnknown
from .errors import CONNECTION_ERRORS, Paused

logger = logging.getLogger(__name__)
S = BatchState
# Backoff for retryable failures, by attempt number (seconds); the last value repeats.
RETRY_DELAYS = [60, 300, 900, 3600]


class Poster:
    def __init__(self, ctx, reconciler):
        self.ctx = ctx
        self.reconciler = reconciler

    def post_batches(self, batches):
        for batch in batches:
            if batch.state != S.READY:
                continue
            if self.ctx.out_of_time():
                return
            self.post_one(batch)

    def claim(self, batch):
        ctx = self.ctx
        now = timezone.now()
        # One conditional UPDATE is the claim (its own commit); the audit entry follows before any send.
        claimed = Batch.objects.filter(pk=batch.pk, state=S.READY, **ctx.lease.holds()).update(
            state=S.POSTING, claimed_by=ctx.lease.owner, last_sent_at=now, attempts=F("attempts") + 1, updated_at=now
        )
        if not claimed:
            return False
        batch.state, batch.attempts = S.POSTING, batch.attempts + 1
        batch.claimed_by, batch.last_sent_at = ctx.lease.owner, now
        ctx.audit_now("batch.claimed", batch, before={"state": S.READY}, after={"state": S.POSTING})
        return True

    def post_one(self, batch):
        ctx = self.ctx
        if not self.claim(batch):
            ctx.lease.check()  # not claimed because the lease is gone? then stop here
            return
        ctx.lease.check()  # never send after the lease may have passed to another cycle
        try:
            result = ctx.handler.post(batch, Posting.from_json(batch.posting))
        except OutcomeUnknown as exc:
            self.in_doubt(batch, exc.code, exc.message)
            return
        except CONNECTION_ERRORS as exc:
            ctx.move(batch, "batch.unclaimed", f"[{exc.code}] refused for the connection; stays ready", expect=[S.POSTING],
                     claimed=True, state=S.READY, attempts=batch.attempts - 1)
            raise Paused(exc) from exc
        except IntegrationError as exc:
            self.failed(batch, exc)
            return
        except Exception as exc:  # a defect after the request may have been sent: never re-post blindly
            logger.exception("posting batch %s failed unexpectedly", batch.pk)
            self.in_doubt(batch, "INTERNAL-ERROR", f"internal error while posting: {type(exc).__name__}")
            return
        if getattr(result, "existing", False):
            # The target refused a second copy and named the one it has: check it is ours, as reconcile would.
            self.reconciler.verify_existing(batch)
            return
        self.mark_posted(batch, result, expect=[S.POSTING], claimed=True)

    def in_doubt(self, batch, code, message):
        self.ctx.result.in_doubt += 1
        self.ctx.move(
            batch,
            "batch.in_doubt",
            f"[{code}] {message}: reconcile after the settle window, never a blind re-post",
            expect=[S.POSTING],
            claimed=True,
            state=S.IN_DOUBT,
            error_code=code,
            last_error=message,
            error_help="The target may have written it. The portal searches for it after the settle window "
            "and records it as posted if found; nothing is re-posted before that.",
            last_sent_at=timezone.now(),
        )

    def failed(self, batch, exc):
        ctx = self.ctx
        if exc.retryable and batch.attempts < ctx.max_attempts:
            delay = RETRY_DELAYS[min(batch.attempts, len(RETRY_DELAYS)) - 1]
            if exc.retry_after:
                delay = max(delay, int(exc.retry_after))
            ctx.result.failed += 1
            ctx.move(
                batch,
                "batch.failed",
                f"[{exc.code}] {exc.message}; retry in {delay}s",
                expect=[S.POSTING],
                claimed=True,
                state=S.FAILED,
                error_code=exc.code,
                last_error=exc.message,
                error_help=exc.help,
                next_attempt_at=timezone.now() + timedelta(seconds=delay),
            )
            return
        if exc.retryable:
            exc = IntegrationError(
                f"{exc.message} (gave up after {batch.attempts} attempts)",
                code=exc.code,
                help=exc.help or "Check that the target system is up, then retry the batch.",
            )
        ctx.hold(batch, exc, expect=[S.POSTING], claimed=True)

    def mark_posted(self, batch, result, *, expect, claimed=False, event="batch.posted", message=""):
        extra = {}
        if result.details:
            extra["posting"] = {**(batch.posting or {}), "target": result.details}
        moved = self.ctx.move(
            batch,
            event,
            message or f"posted as {result.document_id}",
            expect=expect,
            claimed=claimed,
            state=S.POSTED,
            target_document_id=str(result.document_id)[:120],
            posted_at=timezone.now(),
            error_code="",
            last_error="",
            error_help="",
            next_attempt_at=None,
            found_in_target=None,
            **extra,
        )
        if moved:
            self.ctx.result.posted += 1
            self.ctx.result.add_amount(batch.currency, batch.amount)
        return moved
