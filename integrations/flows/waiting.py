"""Held batches that wait for something in the target (a code part value, an account) and post by
themselves once it exists: no person releases them.

A flow names its waiting hold code (``waiting_code``); each cycle, on opening the handler, it
checks whether what its waiting batches need exists now and moves those back to ``new``
(audited ``batch.requeued``), so the same cycle maps and posts them. Only a cycle does this (it
holds the flow's lease when it opens the handler); a preview or a command opens the handler too
and moves nothing.
"""

from django.db import transaction
from django.utils import timezone

from audit import log as audit

from ..models import Batch, BatchState, Flow


class WaitingBatches:
    """Mixed into a FlowHandler: needs ``flow`` and ``log``."""

    waiting_code = ""

    def in_cycle(self):
        """True while a cycle holds this flow's lease (the engine opens the handler after taking it)."""
        return Flow.objects.filter(pk=self.flow.pk, lease_owner__isnull=False, lease_until__gt=timezone.now()).exists()

    def waiting_batches(self):
        return list(Batch.objects.filter(flow=self.flow, state=BatchState.HELD, error_code=self.waiting_code))

    def requeue(self, batch, why, log_line):
        """Move one waiting batch back to ``new`` (audited with ``why``); False when it moved meanwhile."""
        with transaction.atomic():
            moved = Batch.objects.filter(pk=batch.pk, state=BatchState.HELD, error_code=self.waiting_code).update(
                state=BatchState.NEW, error_code="", last_error="", error_help="", updated_at=timezone.now()
            )
            if moved:
                audit.record(
                    self.flow.tenant_id,
                    "batch.requeued",
                    flow_id=self.flow.pk,
                    batch_id=batch.pk,
                    source_ref=f"{batch.source_kind}:{batch.source_id}",
                    actor="cycle",
                    message=why,
                    before={"state": BatchState.HELD, "error_code": self.waiting_code},
                    after={"state": BatchState.NEW},
                )
        if moved:
            self.log(log_line)
        return bool(moved)
