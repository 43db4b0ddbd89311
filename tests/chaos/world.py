"""What the outside world holds after a chaos run, read through the sandbox's control API,
and the invariants every run must keep."""

from collections import defaultdict

import requests

from integrations.engine.sanitize import has_control
from integrations.models import Batch

S = Batch.State
SETTLED = (S.POSTED, S.CONFIRMED, S.HELD, S.SKIPPED)


def control(box, method, path, **kwargs):
    response = requests.request(method, f"{box.url}/_sandbox/{path}", timeout=10, **kwargs)
    response.raise_for_status()
    return response.json()


def approved_reports(box):
    return {str(r["reportID"]): r for r in control(box, "GET", "expensify/reports", params={"state": "APPROVED,REIMBURSED"})}


def check(box, tenant, seed, target, source=None):
    """Every approved report (every record the ``source`` expects, ``sources.py``) is in the target exactly
    once or held with a reason; none is lost; nothing is stuck; posted totals equal the source to the cent;
    no control character reached the target. Returns counts for the run."""
    if source is None:
        from .sources import ExpensifySource

        source = ExpensifySource()
    reports = source.expected(box)
    ledger = target.ledger(box)
    name = target.name
    batches = list(Batch.objects.filter(flow__tenant=tenant))
    by_ref = {b.external_ref: b for b in batches}
    where = f"seed {seed}"
    counts = defaultdict(int)
    for ref, docs in ledger.items():
        assert len(docs) == 1, f"{where}: {ref} is in {name} {len(docs)} times: {sorted(docs)}"
        for lines in docs.values():
            for _, _, _, texts in lines:
                assert not any(has_control(t or "") for t in texts), f"{where}: control character sent in {ref}"
    for batch in batches:
        assert batch.state in SETTLED, f"{where}: batch {batch.source_id} stuck in {batch.state}"
        if batch.state == S.HELD:
            assert batch.error_code and batch.last_error and batch.error_help, f"{where}: held without a reason"
    for ref, report in reports.items():
        batch = by_ref.get(ref)
        assert batch is not None, f"{where}: {source.name} record {ref} was lost (no batch)"
        in_target = ref in ledger
        counts[batch.state] += 1
        if batch.state in (S.POSTED, S.CONFIRMED):
            assert in_target, f"{where}: batch {ref} is {batch.state} but not in {name}"
            source.check_totals(report, next(iter(ledger[ref].values())), where, target)
        else:
            assert not in_target, f"{where}: {ref} is in {name} but its batch is {batch.state}"
    counts["reports"] = len(reports)
    return dict(counts)
