"""Map and validate: NEW batches become READY with their posting, or HELD with a reason.

Mapping a page reads reference data over HTTP first, then writes every result in one fenced
transaction, one UPDATE for the whole page. The mapping thread keeps its concurrency slot from one
vendor call to its next (``SlotKeeper``) and gives it back when the page is mapped: a handler that
reads per record (BILL payments read back with their bills) took and gave back a slot, two
statements, per call. A record that breaks the mapping code itself is
held with the defect named, never failing the cycle for the other records.
"""

import logging

from django.db import transaction
from django.utils import timezone

from ..currencies import is_known
from ..models import BatchState
from ..posting import Hold
from ..systems.errors import IntegrationError
from ..systems.limits import SlotKeeper
from .errors import CONNECTION_ERRORS, Paused
from .rows import guard, update_each

logger = logging.getLogger(__name__)
S = BatchState
FIELDS = ["state", "posting", "amount", "currency", "error_code", "last_error", "error_help", "updated_at"]


def _defect(exc):
    return Hold(
        f"the record could not be mapped ({type(exc).__name__}: {str(exc)[:200]})",
        code="MAP-INTERNAL-ERROR",
        help="This is a defect in the connector; report it to support with the batch. Retry once it is fixed.",
    )


def _keeping_slots(fn, *args):
    """``fn(*args)`` with this thread keeping its concurrency slot from one vendor call to the next; every slot
    kept is given back at the end."""
    keeper = SlotKeeper()
    try:
        return keeper.run(fn, *args)
    finally:
        keeper.release_all()


class Mapper:
    def __init__(self, ctx):
        self.ctx = ctx

    def map_batches(self, batches):
        done = []
        try:
            _keeping_slots(self._map_each, batches, done)
        except CONNECTION_ERRORS as exc:  # the target refused us while reading its reference data
            raise Paused(exc) from exc
        finally:
            self._write(done)
        return done

    def _map_each(self, batches, done):
        for batch in batches:
            if batch.state != S.NEW:
                continue
            self.note(batch, self.decide(batch))
            done.append(batch)

    def decide_all(self, batches):
        """Map NEW batches not stored yet (``intake`` stores them mapped, with one entry saying both):
        ``{id(batch): decision}``, written with the batch once it has its id."""
        try:
            return _keeping_slots(lambda: {id(b): self.decide(b) for b in batches if b.state == S.NEW})
        except CONNECTION_ERRORS as exc:
            raise Paused(exc) from exc

    def decide(self, batch):
        """Map one NEW batch in memory: READY with its posting, or HELD with the reason. Returns its audit entry's
        (event, message, state), written by ``note``."""
        ctx = self.ctx
        try:
            posting = ctx.handler.build_posting(batch.payload, batch.external_ref)
            posting.notes = list(batch.notes or []) + list(posting.notes)
            posting.check_balanced()
            if posting.currency and not is_known(posting.currency):
                raise Hold(f"currency {posting.currency[:10]!r} is not an ISO 4217 currency", code="SRC-UNKNOWN-CURRENCY",
                           help="Correct the currency in the source system; the corrected record is fetched again.")
            ctx.handler.validate(posting)
        except Hold as hold:
            return self._set_held(batch, hold)
        except IntegrationError:
            raise  # a vendor answer (e.g. reference data unavailable): the cycle stops, batches stay NEW
        except Exception as exc:
            logger.exception("mapping batch %s of %s failed", batch.source_id, batch.source_kind)
            return self._set_held(batch, _defect(exc))
        batch.state, batch.posting = S.READY, posting.to_json()
        batch.amount, batch.currency = posting.source_total or posting.debit_total, posting.currency
        batch.error_code = batch.last_error = batch.error_help = ""
        return "batch.ready", f"mapped: {len(posting.lines)} lines, {posting.debit_total} {posting.currency}", S.READY

    def note(self, batch, decision):
        event, message, state = decision
        self.ctx.audit(event, batch, message=message, before={"state": S.NEW}, after={"state": state})

    def _set_held(self, batch, hold):
        batch.state, batch.error_code, batch.last_error, batch.error_help = S.HELD, hold.code, hold.message, hold.help
        self.ctx.result.held += 1
        self.ctx.note_held(batch)
        return "batch.held", f"[{hold.code}] {hold.message}", S.HELD

    def _write(self, batches):
        if not batches:
            return
        ctx, now = self.ctx, timezone.now()
        for batch in batches:
            batch.updated_at = now
        where, params = guard(state=S.NEW)
        with transaction.atomic():
            ctx.lease.fence()
            # One statement for the page (a CASE per field); a batch a person moved meanwhile is left alone.
            update_each({b.pk: {f: getattr(b, f) for f in FIELDS} for b in batches}, where=where, where_params=params)
            ctx.flush_audit()
