"""The verdict of a run, from what the fakes hold and the portal's batches. Pure: no database, no HTTP.

For each flow: every source record it must move has a settled batch (posted, confirmed, held with a
reason, skipped) or, in a two-way sync, a written version of the other direction that settles its pair;
no batch is left open, no reference is in the target more than once, a posted batch's reference is in
the target and a reference in the target belongs to a posted batch.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from .kinds import source_key

SETTLED = {"posted", "confirmed", "held", "skipped"}
POSTED = {"posted", "confirmed"}
FAILURES = ("duplicates", "lost", "unsettled", "held_without_reason", "missing_in_target", "in_target_not_posted")


@dataclass
class FlowFacts:
    label: str  # "<tenant> <kind>"
    expected: set
    batches: list  # (source_id, state, error_code, external_ref)
    ledger: dict | None = None  # reference -> set of target documents; None when the target cannot be read
    posting: bool = True
    figures: dict = field(default_factory=dict)
    settled_elsewhere: set = field(default_factory=set)  # source keys the other direction of a two-way sync settled


def judge(facts):
    """One flow's verdict: counts of its batches by state, and every failure found (lists, empty = none)."""
    by_key = defaultdict(list)
    for source_id, state, code, ref in facts.batches:
        by_key[source_key(source_id)].append((state, code, ref))
    out = {"records": len(facts.expected), "batches": len(facts.batches), "states": defaultdict(int)}
    for _, state, _, _ in facts.batches:
        out["states"][state] += 1
    out["states"] = dict(out["states"])
    out["lost"] = sorted(
        k for k in facts.expected if k not in facts.settled_elsewhere and not any(s in SETTLED for s, _, _ in by_key.get(k, []))
    )
    # Figure, not a failure: records only the other direction's written version settles (no version of their own).
    out["settled_by_other_direction"] = sum(
        1 for k in facts.expected & facts.settled_elsewhere if not any(s in SETTLED for s, _, _ in by_key.get(k, []))
    )
    out["unsettled"] = sorted(f"{sid}:{state}" for sid, state, _, _ in facts.batches if state not in SETTLED)
    out["held_without_reason"] = sorted(sid for sid, state, code, _ in facts.batches if state == "held" and not code)
    ledger = facts.ledger or {}
    out["duplicates"] = {ref: sorted(docs) for ref, docs in sorted(ledger.items()) if len(docs) > 1}
    out["missing_in_target"], out["in_target_not_posted"] = [], []
    if facts.posting and facts.ledger is not None:
        posted_refs = {ref for _, state, _, ref in facts.batches if state in POSTED}
        out["missing_in_target"] = sorted(posted_refs - set(ledger))
        out["in_target_not_posted"] = sorted(set(ledger) - posted_refs)
    out["ok"] = not any(out[name] for name in FAILURES)
    return out


def judge_all(flows, breaches):
    """Every flow's verdict plus the totals; ``breaches``: {sandbox label: {system: {limit: count}}}."""
    verdicts = {facts.label: judge(facts) for facts in flows}
    totals = {name: sum(len(v[name]) for v in verdicts.values()) for name in FAILURES}
    totals["records"] = sum(v["records"] for v in verdicts.values())
    totals["breaches"] = sum(n for systems in breaches.values() for limits in systems.values() for n in limits.values())
    totals["ok"] = all(v["ok"] for v in verdicts.values()) and totals["breaches"] == 0
    return verdicts, totals
