"""The proof run's verdict: each proven flow's facts (its batches, the source records, the target's ledger)
judged, and the run's summary (``summary``)."""

from collections import Counter

from .check import POSTED, SETTLED, FlowFacts, judge_all
from .kinds import SPECS, partner_keys
from .world import flow_key


def settled_keys(facts):
    from .kinds import source_key

    return {source_key(sid) for sid, state, _, _ in facts.batches if state in SETTLED} | facts.settled_elsewhere


def facts(run):
    from ..models import Batch

    out = []
    for world in run.worlds:
        for flow in world.flows:
            key = flow_key(flow)
            if key not in SPECS:
                continue
            rows = list(Batch.objects.filter(flow=flow).values_list("source_id", "state", "error_code", "external_ref"))
            item = FlowFacts(f"{world.label} {key}", world.records[key], rows, posting=SPECS[key].posting,
                             settled_elsewhere=partner_settles(world, SPECS[key]))
            item.spec, item.box = SPECS[key], world.box
            out.append(item)
    return out


def partner_settles(world, spec):
    """The records of a two-way sync's flow whose pair its other direction wrote (``kinds.partner_keys``): the
    partner's written versions, as the flows' baselines read them (``supplier_sync.baselines``)."""
    from ..models import Batch

    if not spec.partner:
        return set()
    partners = [flow for flow in world.flows if flow_key(flow) == spec.partner]
    rows = Batch.objects.filter(flow__in=partners, state__in=POSTED).values_list("payload", "target_document_id")
    return partner_keys(spec, (((payload or {}).get("target"), document) for payload, document in rows.iterator()))


def summary(run):
    from ..models import Batch, SyncCycle

    run.all_settled()  # the live kinds' records read once more
    found = facts(run)
    for item in found:
        item.ledger = item.spec.ledger(item.box)
    breaches = {world.label: world.breaches() for world in run.worlds}
    verdicts, totals = judge_all(found, breaches)
    batches = Batch.objects.filter(flow__in=run.flows)
    posts = batches.filter(state__in=("posted", "confirmed")).count()
    cycles = Counter(SyncCycle.objects.filter(flow__in=run.flows).values_list("state", flat=True))
    held = Counter(batches.filter(state="held").values_list("error_code", flat=True))
    return {
        "ok": totals["ok"] and not run.events.get("timed_out"),
        "records": run.expected, "posts": posts, "held": sum(held.values()),
        "duplicates": totals["duplicates"], "lost": totals["lost"], "unsettled": totals["unsettled"],
        "held_without_reason": totals["held_without_reason"], "missing_in_target": totals["missing_in_target"],
        "in_target_not_posted": totals["in_target_not_posted"], "breaches": totals["breaches"],
        "breaches_per_system": breaches,
        "elapsed_seconds": round(run.elapsed, 1), "records_per_second": round(run.expected / run.elapsed, 1),
        **run.events,
        "faults_injected": dict(sorted(run.faults.injected.items())), **dict(run.figures),
        "cycles": dict(cycles), "held_by_code": dict(held.most_common()),
        "kinds": run.kinds, "kinds_not_run": run.not_run, "flows_not_proven": run.unproven,
        "flows": {label: _brief(v) for label, v in verdicts.items()},
        "seed": run.opts.seed, "tenants": run.opts.tenants, "workers_per_cluster": run.opts.workers,
        "database": "postgresql", "broker": "redis",
    }


def _brief(verdict):
    """A flow's verdict for the summary: counts, and the failures themselves (at most 10 of each)."""
    out = {"records": verdict["records"], "batches": verdict["batches"], "states": verdict["states"]}
    if verdict.get("settled_by_other_direction"):
        out["settled_by_other_direction"] = verdict["settled_by_other_direction"]
    for name in ("duplicates", "lost", "unsettled", "held_without_reason", "missing_in_target", "in_target_not_posted"):
        found = verdict[name]
        if found:
            out[name] = dict(list(found.items())[:10]) if isinstance(found, dict) else found[:10]
    return out
