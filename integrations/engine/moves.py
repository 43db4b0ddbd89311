"""Many batch moves in one statement: the results of a group of posts.

Each move names a batch, its audit event and message, and the fields it sets. One UPDATE
sets them all (``rows.update_each``: a CASE per field, rows that do not set a field keep it), conditional on
every batch still being in ``posting`` and claimed by this cycle; the audit entries go in
one INSERT in the same transaction. If any batch was taken over meanwhile the whole group
is rolled back and the cycle stops: the taker reconciles those batches.
"""

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from ..models import Batch, BatchState
from .lease import LeaseLost
from .rows import guard, update_each

S = BatchState


@dataclass
class Move:
    batch: Batch
    event: str
    message: str
    fields: dict = field(default_factory=dict)


def apply_claimed(ctx, moves):
    """Write the moves of batches this cycle claimed, in one transaction (two statements)."""
    if not moves:
        return
    now = timezone.now()
    for move in moves:
        move.fields["updated_at"] = now
    where, params = guard(state=S.POSTING, claimed_by=ctx.lease.owner)
    with transaction.atomic():
        changed = update_each({m.batch.pk: m.fields for m in moves}, where=where, where_params=params)
        if changed != len(moves):
            ctx.lease.lost = True
            raise LeaseLost(f"{len(moves) - changed} batch(es) of this cycle were taken over by another cycle")
        for move in moves:
            before = move.batch.state
            for name, value in move.fields.items():
                setattr(move.batch, name, value)
            ctx.audit(move.event, move.batch, message=move.message, before={"state": before},
                      after={"state": move.batch.state})
        ctx.flush_audit()
