"""Some weeks of posted history for the demo, so the dashboard's charts are not empty on first sight.

The rows are plainly marked (source kind ``demo_history``, references ``HIST-...``) and already
confirmed, so no cycle ever takes, reconciles or re-posts them. Idempotent: a flow that has
history keeps it. Only the served demo seeds it; ``demo --once`` stays as fast as before.
"""

import random
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from ..models import Batch, BatchState, SyncCycle

KIND = "demo_history"


def seed_history(flow, *, days=28, currency="USD"):
    """Posted batches and one finished cycle per weekday of the last ``days`` days; returns the batches made."""
    if Batch.objects.filter(flow=flow, source_kind=KIND).exists():
        return 0
    rng = random.Random(flow.pk)  # the same history for the same flow
    now = timezone.now()
    batches, cycles = [], []
    for back in range(days, 0, -1):
        day = now - timedelta(days=back)
        if day.weekday() >= 5:
            continue  # nobody approves reports at the weekend
        count = rng.randint(2, 9)
        total = Decimal(0)
        for i in range(count):
            amount = Decimal(rng.randint(1200, 250000)).scaleb(-2)
            total += amount
            ref = f"HIST-{flow.pk}-{day:%Y%m%d}-{i}"  # flows sharing a target: one reference, one document
            batches.append(
                Batch(
                    flow=flow,
                    target_id=flow.target_id,
                    source_kind=KIND,
                    source_id=ref,
                    state=BatchState.CONFIRMED,
                    payload={"note": "demo history"},
                    external_ref=ref,
                    target_document_id=f"JE {rng.randint(10000, 99999)}",
                    amount=amount,
                    currency=currency,
                    attempts=1,
                    posted_at=day,
                    last_sent_at=day,
                )
            )
        cycles.append(
            SyncCycle(
                flow=flow,
                trigger="schedule",
                state=SyncCycle.DONE,
                started_at=day,
                finished_at=day + timedelta(seconds=40),
                progress="cycle finished",
                counts={"fetched": count, "posted": count, "amount_posted": {currency: str(total)}},
            )
        )
    Batch.objects.bulk_create(batches)
    SyncCycle.objects.bulk_create(cycles)
    return len(batches)
