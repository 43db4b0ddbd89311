"""Many batch moves in one statement: the results of a group of posts.

Each move names a batch, its audit event and message, and the fields it sets. One UPDATE
sets them all (``rows.update_each``: a CASE per field, rows that do not set a field keep it), conditional on
every batch still being in ``posting`` and claimed by this cycle; the audit entries go in
one INSERT in the same transaction. If any batch was taken over meanwhile the whole group
is rolled back and the cycle stops: the taker reconciles those batches. The entries are the group's own,
not the cycle's queue: the group may be written from a thread of its own (``engine.recorder``).
"""

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from audit import log as audit

from ..models import Batch, BatchState
from .binding import server_binding
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
    """Write the moves of batches this cycle claimed, in one transaction (two statements). Safe on any thread: it
    touches only its own batches, the lease's ``lost`` flag and this thread's connection."""
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
        rows = []
        for move in moves:
            before = move.batch.state
            for name, value in move.fields.items():
                setattr(move.batch, name, value)
            rows.append(ctx.audit_row(move.event, move.batch, message=move.message, before={"state": before},
                                      after={"state": move.batch.state}))
        with server_binding():
            audit.write_rows(rows)
