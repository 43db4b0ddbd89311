"""Many batch moves in one statement: the results of a group of posts.

Each move names a batch, its audit event and message, and the fields it sets. One UPDATE
sets them all (a CASE per field, rows that do not set a field keep it), conditional on
every batch still being in ``posting`` and claimed by this cycle; the audit entries go in
one INSERT in the same transaction. If any batch was taken over meanwhile the whole group
is rolled back and the cycle stops: the taker reconciles those batches.
"""

from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Case, F, Value, When
from django.db.models.functions import Cast
from django.utils import timezone

from ..models import Batch, BatchState
from .lease import LeaseLost

S = BatchState


@dataclass
class Move:
    batch: Batch
    event: str
    message: str
    fields: dict = field(default_factory=dict)


def _value(value, output):
    if connection.vendor == "postgresql":  # PostgreSQL reads a CASE branch parameter as text unless it is cast
        return Cast(Value(value, output_field=output), output_field=output)
    return Value(value, output_field=output)


def case_for(name, moves):
    """A CASE setting ``name`` per batch (rows whose move does not set it keep their value)."""
    output = Batch._meta.get_field(name)
    whens = [When(pk=m.batch.pk, then=_value(m.fields[name], output)) for m in moves if name in m.fields]
    if len(whens) == len(moves):  # every row sets it: no default needed, but CASE keeps one statement shape
        return Case(*whens, output_field=output)
    return Case(*whens, default=F(name), output_field=output)


def apply_claimed(ctx, moves):
    """Write the moves of batches this cycle claimed, in one transaction (two statements)."""
    if not moves:
        return
    now = timezone.now()
    for move in moves:
        move.fields["updated_at"] = now
    names = sorted({name for m in moves for name in m.fields})
    with transaction.atomic():
        rows = Batch.objects.filter(pk__in=[m.batch.pk for m in moves], state=S.POSTING, claimed_by=ctx.lease.owner)
        changed = rows.update(**{name: case_for(name, moves) for name in names})
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
