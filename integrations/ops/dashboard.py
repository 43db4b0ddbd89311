"""The landing page: every flow the user may see, its last and next cycle, its batches by state,
the posted amount per day, the cycles running now and a link to each problem.

Support sees all tenants, a customer user their own (``tenancy.scope``, the admins' scoping).
The page costs the same few queries whatever the volume: one for the flows (the last cycle
joined in as subqueries), one for batch counts per flow and state, one for the posted amounts
per day, one for running cycles, one for the schedules. Each reads a bounded part of the
batches, through an index: open states (held, failed, in doubt, on their way) of all time, but
settled ones (posted, confirmed, skipped) only of the chart's window, so a year of posted
batches is not counted on every visit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.contrib import admin
from django.db.models import Count, Min, OuterRef, Q, Subquery, Sum
from django.db.models.functions import TruncDate
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from portal import tenancy

from ..models import Batch, BatchState, Flow, SyncCycle
from ..scheduling import schedule_name
from .chart import daily_bars
from .display import money_with_currency
from .outcome import cycle_outcome

S = BatchState
CHART_DAYS = 28
PROBLEM_STATES = (S.HELD, S.FAILED, S.IN_DOUBT)
SETTLED_STATES = (S.POSTED, S.CONFIRMED, S.SKIPPED)  # counted over the chart's window only
OPEN_STATES = tuple(s for s in S.values if s not in SETTLED_STATES)


@dataclass
class FlowRow:
    flow: Flow
    last_cycle: SyncCycle | None
    next_run: object = None
    counts: dict = field(default_factory=dict)
    oldest_held: object = None
    problems: list = field(default_factory=list)  # (text, url)
    by_state: list = field(default_factory=list)  # (label, count, url)

    @property
    def outcome(self):
        return cycle_outcome(self.last_cycle) if self.last_cycle is not None else ""


def changelist(model, **params):
    url = reverse(f"admin:integrations_{model._meta.model_name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def _flows(user):
    last = SyncCycle.objects.filter(flow=OuterRef("pk")).order_by("-started_at")
    columns = {
        f"last_{name}": Subquery(last.values(name)[:1])
        for name in ("pk", "state", "started_at", "finished_at", "progress", "message")
    }
    return list(
        tenancy.scope(Flow.objects.select_related("tenant"), user, "tenant").annotate(**columns).order_by("tenant__name", "name")
    )


def _last_cycle(flow):
    if flow.last_pk is None:
        return None
    return SyncCycle(
        pk=flow.last_pk,
        flow=flow,
        state=flow.last_state,
        started_at=flow.last_started_at,
        finished_at=flow.last_finished_at,
        progress=flow.last_progress or "",
        message=flow.last_message or "",
    )


def _next_runs(flows):
    from django_q.models import Schedule

    names = {schedule_name(f.pk): f.pk for f in flows}
    rows = Schedule.objects.filter(name__in=list(names)).values_list("name", "next_run") if names else []
    return {names[name]: when for name, when in rows}


def _problems(row):
    flow, counts, found = row.flow, row.counts, []
    for state in PROBLEM_STATES:
        if counts.get(state):
            found.append(
                (f"{counts[state]} {S(state).label.lower()}", changelist(Batch, flow__id__exact=flow.pk, state__exact=state))
            )
    if row.last_cycle is not None and row.last_cycle.state == SyncCycle.FAILED:
        found.append(
            (
                f"last cycle {cycle_outcome(row.last_cycle)}",
                changelist(SyncCycle, flow__id__exact=flow.pk, state__exact=SyncCycle.FAILED),
            )
        )
    if flow.outage_code:
        found.append((f"connection outage: {flow.outage_code}", reverse("admin:integrations_flow_change", args=[flow.pk])))
    return found


def _state_label(state):
    label = S(state).label
    return f"{label} (last {CHART_DAYS} days)" if state in SETTLED_STATES else label


def _state_list(window_start, state, **params):
    if state in SETTLED_STATES:
        params["created_at__gte"] = window_start.isoformat()
    return changelist(Batch, **params, state__exact=state)


def dashboard_data(user, now=None):
    now = now or timezone.now()
    since = (timezone.localtime(now) - timedelta(days=CHART_DAYS - 1)).date()
    window_start = datetime.combine(since, time.min, tzinfo=timezone.get_current_timezone())
    flows = _flows(user)
    batches = tenancy.scope(Batch.objects.all(), user, "flow__tenant")
    rows = {f.pk: FlowRow(flow=f, last_cycle=_last_cycle(f)) for f in flows}
    totals = {state: 0 for state in S.values}
    oldest_held = None
    for flow_id, state, n, oldest in (
        batches.filter(Q(state__in=OPEN_STATES) | Q(created_at__gte=window_start))
        .values("flow_id", "state")
        .annotate(n=Count("id"), oldest=Min("updated_at"))
        .values_list("flow_id", "state", "n", "oldest")
        .order_by()
    ):
        totals[state] = totals.get(state, 0) + n
        row = rows.get(flow_id)
        if row is not None:
            row.counts[state] = n
            if state == S.HELD:
                row.oldest_held = oldest
        if state == S.HELD and (oldest_held is None or oldest < oldest_held):
            oldest_held = oldest
    for flow_id, when in _next_runs(flows).items():
        rows[flow_id].next_run = when
    for row in rows.values():
        row.problems = _problems(row)
        row.by_state = [
            (_state_label(state), row.counts[state], _state_list(window_start, state, flow__id__exact=row.flow.pk))
            for state in S.values
            if row.counts.get(state)
        ]
    per_day = {}
    for day, currency, total in (
        batches.filter(state__in=(S.POSTED, S.CONFIRMED), posted_at__gte=window_start)  # a range the index serves
        .annotate(day=TruncDate("posted_at"))
        .values("day", "currency")
        .annotate(total=Sum("amount"))
        .values_list("day", "currency", "total")
        .order_by()
    ):
        per_day.setdefault(currency or "?", {})[day] = total or Decimal(0)
    charts = [
        {
            "currency": currency,
            "total": money_with_currency(sum(days.values(), Decimal(0)), currency),
            "svg": daily_bars(days, since, CHART_DAYS, currency),
        }
        for currency, days in sorted(per_day.items(), key=lambda item: -sum(item[1].values(), Decimal(0)))[:3]
    ]
    running = list(
        tenancy.scope(SyncCycle.objects.select_related("flow", "flow__tenant"), user, "flow__tenant")
        .filter(state=SyncCycle.RUNNING)
        .order_by("started_at")
    )
    return {
        "flow_rows": list(rows.values()),
        "totals": [(_state_label(state), n, _state_list(window_start, state)) for state, n in totals.items() if n],
        "problem_count": sum(totals.get(s, 0) for s in PROBLEM_STATES),
        "oldest_held": oldest_held,
        "oldest_held_url": changelist(Batch, state__exact=S.HELD),
        "charts": charts,
        "chart_days": CHART_DAYS,
        "running": running,
        "all_tenants": tenancy.tenants_for(user) is None,
    }


def dashboard_view(request):
    site = admin.site
    context = {
        **site.each_context(request),
        "title": "Dashboard",
        "subtitle": None,
        "app_list": site.get_app_list(request),
        **dashboard_data(request.user),
    }
    request.current_app = site.name
    return TemplateResponse(request, "admin/dashboard.html", context)
