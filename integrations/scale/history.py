"""A year of traffic for a few tenants, written fast: the volume the admin must stay usable at.

``seed(plan)`` makes (or reuses) ``plan.tenants`` tenants named ``Year <n>``, each with one
connection per system and five flows of different kinds, then appends cycles, batches in every
state (with postings, payload snapshots, errors on the held ones), the audit trail of those
batches and mapping rules. Rows are spread over ``plan.days`` days up to now, ids and times
rising together as in a real database. Running it again appends more rows to the same tenants
(tests measure the admin at two volumes that way).

Bulk rows go through ``scale.bulk`` (COPY on PostgreSQL); the few setup rows through the ORM.
"""

from __future__ import annotations

import hashlib
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from audit.models import AuditEntry
from mappings.models import MappingRule
from portal.models import Tenant

from ..models import Batch, BatchState, Connection, Flow, SyncCycle
from ..systems.registry import CREDENTIAL_KEYS, FLOW_KINDS, SYSTEMS
from .bulk import BulkWriter, analyze, indexes_built_after, next_id, reset_sequences

S = BatchState
SLUG_PREFIX = "year-"
CURRENCIES = ("USD", "EUR", "GBP")

# kind -> (source kind, reference prefix, target document prefix): the shapes the flows store
FLOW_SHAPES = {
    "expensify_to_jde": ("report", "EXP-", "JE "),
    "expensify_to_ifs": ("report", "EXPI-", "VOU-"),
    "procurify_to_jde": ("bill", "PRC-", "AP "),
    "jde_to_bill": ("purchase_order", "JDE-PO-", "00n"),
    "bill_to_jde": ("payment", "BILL-PAY-", "PV "),
}
# historical states by weight: most records posted and confirmed long ago, a few need a person
STATE_WEIGHTS = [(S.CONFIRMED, 700), (S.POSTED, 240), (S.SKIPPED, 25), (S.HELD, 20), (S.FAILED, 8), (S.IN_DOUBT, 4),
                 (S.READY, 2), (S.NEW, 1)]
HOLD_REASONS = [
    ("MAP-UNMAPPED-CATEGORY", 'unmapped category "{cat}" in policy "Field Sales"', "Add a mapping rule for the category."),
    ("REF-INACTIVE-ACCOUNT", "account 6100.{n} is inactive in F0901", "Activate the account or map the line elsewhere."),
    ("JDE-BU-CLOSED", "business unit 300 is closed for the period", "Reopen the period in JD Edwards, then retry."),
    ("IFS-CODE-B-REQUIRED", "IFS code part B is required for account 6120", "Add a rule that sets code B."),
    ("BILL-VENDOR-MISSING", "vendor {n} is not in BILL yet", "The vendor flow creates it; retry after its next cycle."),
]
EVENTS_BY_STATE = {
    S.CONFIRMED: ("batch.stored", "batch.claimed", "batch.posted", "batch.confirmed", "cycle.batch_done"),
    S.POSTED: ("batch.stored", "batch.claimed", "batch.posted", "batch.posted_checked", "cycle.batch_done"),
    S.HELD: ("batch.stored", "batch.mapped", "batch.held", "alert.held_digest", "batch.held_again"),
    S.FAILED: ("batch.stored", "batch.claimed", "batch.failed", "batch.retry_planned", "batch.failed_again"),
    S.IN_DOUBT: ("batch.stored", "batch.claimed", "batch.in_doubt", "reconcile.searched", "reconcile.waiting"),
    S.SKIPPED: ("batch.stored", "batch.held", "batch.skipped", "batch.skipped_noted", "batch.skipped_checked"),
    S.READY: ("batch.stored", "batch.mapped", "batch.ready", "batch.ready_checked", "batch.ready_waiting"),
    S.NEW: ("batch.stored", "batch.fetched", "batch.new", "batch.new_checked", "batch.new_waiting"),
}


@dataclass
class Plan:
    tenants: int = 3
    batches: int = 200_000
    audit: int = 1_000_000
    cycles: int | None = None  # default: one per 10 batches
    rules: int = 200  # per tenant
    days: int = 365
    seed: int = 1
    progress: object = None  # callable(str) or None

    @property
    def rebuild_indexes(self):
        return self.batches >= 50_000  # below that, row-by-row index upkeep is cheaper than rebuilding

    @property
    def cycle_count(self):
        return self.batches // 10 if self.cycles is None else self.cycles


@dataclass
class Figures:
    seconds: dict = field(default_factory=dict)
    rows: dict = field(default_factory=dict)


def _say(plan, text):
    if plan.progress:
        plan.progress(text)


# --------------------------------------------------------------------------- setup (ORM, a few rows)


def tenants_and_flows(count):
    """``count`` tenants with a connection per system and one flow per kind of FLOW_SHAPES; reused when present."""
    flows = []
    for number in range(1, count + 1):
        tenant, _ = Tenant.objects.get_or_create(
            slug=f"{SLUG_PREFIX}{number}",
            defaults={"name": f"Year {number}", "base_currency": CURRENCIES[(number - 1) % len(CURRENCIES)]},
        )
        conns = {}
        for system in SYSTEMS:
            conns[system], _ = Connection.objects.get_or_create(
                tenant=tenant,
                name=f"{SYSTEMS[system]} ({tenant.slug})",
                defaults={"system": system, "base_url": "http://127.0.0.1:9/seeded",
                          "credentials": {k: "seeded" for k in CREDENTIAL_KEYS[system]}},
            )
        for kind in FLOW_SHAPES:
            label, source, target = FLOW_KINDS[kind]
            flow, _ = Flow.objects.get_or_create(
                tenant=tenant, name=f"{label.split(' -> ')[0]} -> {SYSTEMS[target]} ({kind})",
                defaults={"kind": kind, "source": conns[source], "target": conns[target], "interval_minutes": 60},
            )
            flows.append(flow)
    return flows


# --------------------------------------------------------------------------- bulk rows


class Clock:
    """Times from ``days`` ago up to now, rising with the row's position (ids and times go together)."""

    def __init__(self, days, count):
        self.now = timezone.now()
        self.start = self.now - timedelta(days=days)
        self.step = (self.now - self.start) / max(count, 1)

    def at(self, position):
        return self.start + self.step * position


def _pick_states(rng, count):
    states, weights = zip(*STATE_WEIGHTS, strict=True)
    return rng.choices(states, weights=weights, k=count)


def _posting(ref, day, currency, amount, target_doc, rng):
    half = (amount / 2).quantize(Decimal("0.01"))
    return {
        "reference": ref, "date": day, "currency": currency, "memo": f"{ref} seeded", "source_total": str(amount),
        "lines": [
            {"account": {"business_unit": "300", "object": "6120"}, "amount": str(half), "memo": "Meals", "kind": "expense",
             "source_line": "1", "dimensions": {"project": f"PRJ-{rng.randint(1, 40)}"}},
            {"account": {"business_unit": "300", "object": "6130"}, "amount": str(amount - half), "memo": "Travel",
             "kind": "expense", "source_line": "2", "dimensions": {}},
            {"account": {"business_unit": "100", "object": "2100"}, "amount": str(-amount), "memo": "", "kind": "offset",
             "source_line": "", "dimensions": {}},
        ],
        "target": {"document": target_doc} if target_doc else {},
    }


BATCH_COLUMNS = ["id", "flow", "target", "source_kind", "source_id", "state", "payload", "payload_hash", "posting",
                 "external_ref", "target_document_id", "amount", "currency", "attempts", "last_sent_at", "error_code",
                 "last_error", "error_help", "notes", "created_at", "updated_at", "posted_at"]


def batch_rows(plan, flows, first_id, skeletons):
    """Batch tuples for ``plan.batches`` records; ``skeletons`` gets (id, flow, state, created, ref) of each."""
    rng = random.Random(plan.seed * 7919 + first_id)
    clock = Clock(plan.days, plan.batches)
    states = _pick_states(rng, plan.batches)
    recent = plan.batches - max(plan.batches // 500, 1)  # the newest records are still on their way
    for i in range(plan.batches):
        pk = first_id + i
        flow = flows[i % len(flows)]
        source_kind, prefix, doc_prefix = FLOW_SHAPES[flow.kind]
        state = states[i] if i < recent else rng.choice((S.NEW, S.READY, S.POSTED, S.HELD))
        created = clock.at(i)
        sid = f"R{pk}"
        ref = f"{prefix}{pk}"
        currency = flow.tenant.base_currency if rng.random() < 0.9 else rng.choice(CURRENCIES)
        amount = Decimal(rng.randint(1200, 500000)).scaleb(-2)
        posted = state in (S.POSTED, S.CONFIRMED)
        doc = f"{doc_prefix}{rng.randint(10000, 99999)}" if posted else ""
        code = last_error = help_text = ""
        if state in (S.HELD, S.FAILED, S.IN_DOUBT):
            code, last_error, help_text = rng.choice(HOLD_REASONS)
            last_error = last_error.format(cat=f"Category {rng.randint(1, 30)}", n=rng.randint(100, 999))
        payload = {"reportID": sid, "total": int(amount * 100), "currency": currency,
                   "submitter": f"user{rng.randint(1, 300)}@{flow.tenant.slug}.example", "policy": "Field Sales"}
        day = created.date().isoformat()
        skeletons.append((pk, flow, state, created, ref))
        yield (
            pk, flow.pk, flow.target_id, source_kind, sid, state, payload,
            hashlib.sha256(sid.encode()).hexdigest(), _posting(ref, day, currency, amount, doc, rng),
            ref, doc, amount, currency, 1 if posted or state in (S.FAILED, S.IN_DOUBT) else 0,
            created if posted else None, code, last_error, help_text, [],
            created, created + timedelta(minutes=rng.randint(1, 90)), created + timedelta(minutes=2) if posted else None,
        )


AUDIT_COLUMNS = ["id", "tenant", "flow", "batch", "event", "source_ref", "target_ref", "actor", "action_id", "message",
                 "after", "created"]


def audit_rows(plan, first_id, skeletons):
    """``plan.audit`` entries spread over the batches (about audit/batches each, in the order they happen)."""
    rng = random.Random(plan.seed * 104729 + first_id)
    per_batch = max(plan.audit // max(len(skeletons), 1), 1)
    for j in range(plan.audit):
        if not skeletons:
            break
        index = min(j * len(skeletons) // plan.audit, len(skeletons) - 1)
        pk, flow, state, created, ref = skeletons[index]
        events = EVENTS_BY_STATE[state]
        step = j % per_batch
        event = events[step % len(events)]
        action = f"{rng.getrandbits(128):032x}"
        yield (
            first_id + j, flow.tenant_id, flow.pk, pk, event, f"R{pk}", ref if "post" in event else "",
            "system" if step < 4 else f"user{rng.randint(1, 30)}", action, f"{event.split('.')[-1]}: {ref}",
            {"state": state} if step == 2 else None, created + timedelta(seconds=30 * step),
        )


CYCLE_COLUMNS = ["id", "flow", "cycle_id", "trigger", "state", "started_at", "finished_at", "heartbeat_at", "progress",
                 "counts", "message"]
CYCLE_WEIGHTS = [(SyncCycle.DONE, 930), (SyncCycle.FAILED, 30), (SyncCycle.SKIPPED, 35), (SyncCycle.PAUSED, 5)]


def cycle_rows(plan, flows, first_id):
    rng = random.Random(plan.seed * 31337 + first_id)
    count = plan.cycle_count
    clock = Clock(plan.days, count)
    states, weights = zip(*CYCLE_WEIGHTS, strict=True)
    for j, state in enumerate(rng.choices(states, weights=weights, k=count)):
        flow = flows[j % len(flows)]
        started = clock.at(j)
        fetched = rng.randint(0, 40)
        message = "JD Edwards refused the login (JDE-AUTH)" if state == SyncCycle.FAILED else ""
        counts = {"fetched": fetched, "posted": fetched, "held": rng.randint(0, 2),
                  "amount_posted": {flow.tenant.base_currency: str(Decimal(rng.randint(0, 900000)).scaleb(-2))}}
        yield (
            first_id + j, flow.pk, uuid.UUID(int=rng.getrandbits(128), version=4), rng.choice(("schedule", "trigger")),
            state, started, started + timedelta(seconds=rng.randint(5, 600)), started + timedelta(seconds=5),
            "cycle finished" if state == SyncCycle.DONE else state, counts, message,
        )


def mapping_rules(plan, flows):
    rules = []
    by_tenant = {}
    for flow in flows:
        by_tenant.setdefault(flow.tenant_id, []).append(flow)
    start = next_id(MappingRule)
    for tenant_id, own in by_tenant.items():
        for k in range(plan.rules):
            n = start + len(rules)
            rule = MappingRule(
                tenant_id=tenant_id, flow=own[k % len(own)] if k % 3 else None, category=f"Category {n}",
                policy=f"Policy {k % 7}", target_business_unit="300", target_object=str(6100 + k % 90),
                note="seeded", reference_status=MappingRule.REF_OK,
            )
            rule.match_key = rule.compute_match_key()
            rules.append(rule)
    MappingRule.objects.bulk_create(rules, batch_size=2000)
    return len(rules)


def _writer(plan, model, columns, name, chunk=20000):
    return BulkWriter(model, columns, chunk=chunk, progress=lambda n: _say(plan, f"  {name}: {n:,}"))


def _timed(figures, name, plan, work, model=None):
    began = time.monotonic()
    if model is not None and plan.rebuild_indexes:
        with indexes_built_after(model):
            count = work()
    else:
        count = work()
    figures.seconds[name] = round(time.monotonic() - began, 1)
    figures.rows[name] = count
    _say(plan, f"{name}: {count:,} rows in {figures.seconds[name]} s")


def seed(plan: Plan) -> Figures:
    figures = Figures()
    flows = tenants_and_flows(plan.tenants)
    skeletons = []  # (id, flow, state, created, reference) of each batch, for its audit trail
    with transaction.atomic():
        first = next_id(SyncCycle)
        cycles = _writer(plan, SyncCycle, CYCLE_COLUMNS, "cycles")
        _timed(figures, "cycles", plan, lambda: cycles.write(cycle_rows(plan, flows, first)), SyncCycle)
        first = next_id(Batch)
        batches = _writer(plan, Batch, BATCH_COLUMNS, "batches", 10000)
        _timed(figures, "batches", plan, lambda: batches.write(batch_rows(plan, flows, first, skeletons)), Batch)
        first = next_id(AuditEntry)
        entries = _writer(plan, AuditEntry, AUDIT_COLUMNS, "audit entries", 50000)
        _timed(figures, "audit entries", plan, lambda: entries.write(audit_rows(plan, first, skeletons)), AuditEntry)
        _timed(figures, "mapping rules", plan, lambda: mapping_rules(plan, flows))
        reset_sequences(SyncCycle, Batch, AuditEntry)
    began = time.monotonic()
    analyze()
    figures.seconds["vacuum analyze"] = round(time.monotonic() - began, 1)
    _say(plan, f"vacuum analyze: {figures.seconds['vacuum analyze']} s")
    return figures
