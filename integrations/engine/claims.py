"""The claim: ``ready -> posting`` for a group of batches, in one statement, before any send.

One ``UPDATE ... RETURNING id`` moves every batch of the group that is still ``ready`` while
this cycle's lease holds in the database, stamps the claimant and the send time, and counts
the attempt; the claim's audit entries are inserted in the same transaction. Two workers can
never both claim a batch; a batch a person held or skipped meanwhile is left alone.
"""

from django.db import connection, transaction
from django.utils import timezone

from ..models import Batch, BatchState, Flow
from .binding import server_binding

S = BatchState


def _prep(model, name, value):
    return model._meta.get_field(name).get_db_prep_value(value, connection)


def claim_group(ctx, batches):
    """The batches of ``batches`` this cycle now holds in ``posting`` (committed, audited)."""
    if not batches:
        return []
    now = timezone.now()
    q = connection.ops.quote_name
    marks = ", ".join(["%s"] * len(batches))
    sql = (
        f"UPDATE {q(Batch._meta.db_table)} SET {q('state')} = %s, {q('claimed_by')} = %s, {q('last_sent_at')} = %s, "
        f"{q('updated_at')} = %s, {q('attempts')} = {q('attempts')} + 1 "
        f"WHERE {q('id')} IN ({marks}) AND {q('state')} = %s AND {q('flow_id')} IN "
        f"(SELECT {q('id')} FROM {q(Flow._meta.db_table)} WHERE {q('id')} = %s AND {q('lease_owner')} = %s "
        f"AND {q('lease_until')} > %s) RETURNING {q('id')}"
    )
    stamp = _prep(Batch, "last_sent_at", now)
    params = [S.POSTING.value, _prep(Batch, "claimed_by", ctx.lease.owner), stamp, stamp, *[b.pk for b in batches],
              S.READY.value, ctx.flow.pk, _prep(Flow, "lease_owner", ctx.lease.owner), _prep(Flow, "lease_until", now)]
    with transaction.atomic():
        with server_binding(), connection.cursor() as cursor:
            cursor.execute(sql, params)
            ids = {row[0] for row in cursor.fetchall()}
        claimed = [b for b in batches if b.pk in ids]
        for batch in claimed:
            batch.state, batch.attempts = S.POSTING, batch.attempts + 1
            batch.claimed_by, batch.last_sent_at = ctx.lease.owner, now
            ctx.audit("batch.claimed", batch, before={"state": S.READY}, after={"state": S.POSTING})
        ctx.flush_audit()
    return claimed
