"""Posted records the source withdrew afterwards (e.g. an Expensify report unapproved after it was posted).

Only for a handler with a ``retracted_code``. At most every ``recheck_hours`` (flow option, default 6; a cycle
that rechecked says so in its counts, ``rechecked``: the throttle reads the latest such cycle), the source is asked
about the records posted in the last ``recheck_days`` (default 60, by ``posted_at``), one call per chunk
(``handler.recheck``), and about those held with that code:

* a posted record the answer positively shows withdrawn is held with the code (audited, in the digest);
  the target is not touched: a person reverses the document there, or accepts (``operations``);
* a held one the answer shows back exactly as posted (approved again, unchanged) returns to posted;
* a failed answer changes nothing and is asked again next cycle; a record a person accepted is not asked
  about again.
"""

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from audit.models import AuditEntry

from ..models import BatchState, SyncCycle
from ..posting import Hold
from ..systems.errors import IntegrationError

S = BatchState
CHUNK = 500
ACCEPTED_EVENT = "batch.correction_accepted"  # operations.accept_corrections
HELP = ("The record is no longer what was posted at the source, but the posted document stands in the target. "
        "Reverse it in the target if it must not stand, then choose 'Accept correction' to close this batch. "
        "If the record comes back at the source unchanged, the batch returns to posted by itself.")


class Rechecker:
    def __init__(self, ctx):
        self.ctx = ctx

    def run(self):
        ctx = self.ctx
        code = getattr(ctx.handler, "retracted_code", "")
        if not code or not self.due():
            return
        asked = flagged = 0
        try:
            for chunk in self.chunks(code):
                asked += len(chunk)
                flagged += self.apply(chunk, ctx.handler.recheck(chunk), code)
        except IntegrationError as exc:
            ctx.audit_now("cycle.recheck_failed", message=f"[{exc.code}] {exc.message}: nothing flagged from this "
                          "answer; asked again next cycle")
            return
        ctx.result.rechecked = asked
        if asked:
            ctx.say(f"asked the source again about {asked} posted record(s): {flagged} withdrawn since posting")

    def due(self):
        hours = float((self.ctx.flow.options or {}).get("recheck_hours", 6))
        since = timezone.now() - timedelta(hours=hours)
        return not SyncCycle.objects.filter(flow=self.ctx.flow, started_at__gt=since, counts__has_key="rechecked").exists()

    def chunks(self, code):
        """Posted in the window, or held with ``code``; less those a person accepted with that code."""
        days = float((self.ctx.flow.options or {}).get("recheck_days", 60))
        since = timezone.now() - timedelta(days=days)
        where = Q(state__in=[S.POSTED, S.CONFIRMED], posted_at__gte=since) | Q(state=S.HELD, error_code=code)
        for chunk in self.ctx.batch_chunks(where, size=CHUNK):
            accepted = set(AuditEntry.objects.filter(batch_id__in=[b.pk for b in chunk], event=ACCEPTED_EVENT,
                                                     before__error_code=code).values_list("batch_id", flat=True))
            chunk = [b for b in chunk if b.pk not in accepted]
            if chunk:
                yield chunk

    def apply(self, chunk, verdicts, code):
        """Hold what the answer shows withdrawn, restore what it shows back as posted; returns how many were held."""
        ctx, held = self.ctx, 0
        for batch in chunk:
            if batch.source_id not in verdicts:
                continue
            message = verdicts[batch.source_id]
            if message and batch.state in (S.POSTED, S.CONFIRMED):
                held += ctx.hold(batch, Hold(message, code=code, help=HELP), expect=[S.POSTED, S.CONFIRMED])
            elif message is None and batch.state == S.HELD:
                # posted again: the cycle's confirm acknowledges it at the source again
                ctx.move(batch, "batch.restored", "back at the source exactly as posted: posted again",
                         expect=[S.HELD], state=S.POSTED, error_code="", last_error="", error_help="")
        return held
