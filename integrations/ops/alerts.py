"""Tenant alerts by e-mail: a digest of held and failed batches, and a recovery mail.

* ``send_digests``: one e-mail per tenant listing, per flow, its held and failed batches
  (and a failed last cycle) with links to the filtered batch list. A tenant gets at most one
  digest per quiet period (``settings.ALERT_QUIET_MINUTES``), and only when something became
  held or failed since its last digest: a batch left held for a week is not mailed every hour.
* ``send_recoveries``: a flow named as failing (failed batches or cycle in a digest, or a
  connection outage, ``engine.outage``) that posts a batch again gets one "posts again" mail.

Both run from ``manage.py send_alerts`` (cron, or the django-q2 schedule it installs with
``--schedule``). What was sent is kept in the audit trail (``alert.tenant_digest``,
``alert.flow_failing``, ``alert.flow_recovered``): it is the record of the quiet period, so
no table is needed and several workers agree. Queries are per tenant with an alert address,
never per batch. The links point at the admin lists, which scope rows to the reader's tenants
(``portal.admin_scoping``); the digest itself only reads rows of its own tenant.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Count, Max, OuterRef, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from audit import log as audit
from audit.models import AuditEntry
from portal.models import Tenant

from ..models import Batch, BatchState, Flow, SyncCycle

S = BatchState
PROBLEM_STATES = (S.HELD, S.FAILED)
FAILING_EVENTS = ("alert.flow_failing", "alert.outage")
MAX_CODES = 5


def quiet_period():
    return timedelta(minutes=int(getattr(settings, "ALERT_QUIET_MINUTES", 60)))


def link(model_name, **params):
    base = getattr(settings, "PORTAL_BASE_URL", "").rstrip("/")
    url = reverse(f"admin:integrations_{model_name}_changelist")
    return f"{base}{url}?{urlencode(params)}" if params else f"{base}{url}"


def _last_sent(event, **filters):
    return dict(
        AuditEntry.objects.filter(event=event, **filters)
        .values("tenant_id")
        .annotate(last=Max("created"))
        .values_list("tenant_id", "last")
        .order_by()
    )


def send_digests(now=None):
    """Send the due tenant digests; returns the number of e-mails sent."""
    now = now or timezone.now()
    tenants = [t for t in Tenant.objects.filter(active=True).exclude(alert_emails="") if t.alert_email_list]
    last = _last_sent("alert.tenant_digest", tenant__in=tenants)
    sent = 0
    for tenant in tenants:
        since = last.get(tenant.pk)
        if since is not None and now - since < quiet_period():
            continue
        flows = _problem_flows(tenant, since)
        if flows is None:
            continue
        sent += _send_digest(tenant, flows)
    return sent


def _problem_flows(tenant, since):
    """{flow: {"held": n, "failed": n, "codes": Counter, "cycle": failed last cycle}}, or None when nothing is new."""
    batches = Batch.objects.filter(flow__tenant=tenant, state__in=PROBLEM_STATES)
    last_cycle = SyncCycle.objects.filter(flow=OuterRef("pk")).order_by("-started_at")
    flows = {
        f.pk: f
        for f in Flow.objects.filter(tenant=tenant).annotate(
            last_state=Subquery(last_cycle.values("state")[:1]),
            last_finished=Subquery(last_cycle.values("finished_at")[:1]),
            last_message=Subquery(last_cycle.values("message")[:1]),
        )
    }
    found = defaultdict(lambda: {"held": 0, "failed": 0, "codes": Counter(), "cycle": ""})
    newest = None
    for flow_id, state, code, n, changed in (
        batches.values("flow_id", "state", "error_code")
        .annotate(n=Count("id"), changed=Max("updated_at"))
        .values_list("flow_id", "state", "error_code", "n", "changed")
        .order_by()
    ):
        entry = found[flows[flow_id]]
        entry[state] += n
        entry["codes"][code or state] += n
        newest = changed if newest is None or changed > newest else newest
    for flow in flows.values():
        if flow.last_state == SyncCycle.FAILED:
            found[flow]["cycle"] = flow.last_message or "failed"
            when = flow.last_finished
            newest = when if when and (newest is None or when > newest) else newest
    if not found or (since is not None and (newest is None or newest <= since)):
        return None
    return dict(found)


def _send_digest(tenant, flows):
    held = sum(e["held"] for e in flows.values())
    failed = sum(e["failed"] for e in flows.values())
    parts = [f"{n} {word}" for n, word in ((held, "held"), (failed, "failed")) if n]
    subject = f"[ml-connector] {tenant.name}: " + (", ".join(parts) + " batch(es)" if parts else "a cycle failed")
    lines = [f"Batches of {tenant.name} that need attention, per flow. Each link opens the list of those batches.", ""]
    for flow, entry in sorted(flows.items(), key=lambda item: item[0].name):
        lines.append(f"{flow.name} ({flow.get_kind_display()})")
        for state in PROBLEM_STATES:
            if entry[state]:
                url = link("batch", flow__id__exact=flow.pk, state__exact=state)
                lines.append(f"  {entry[state]} {S(state).label.lower()}: {url}")
        if entry["codes"]:
            codes = ", ".join(f"{code} x{n}" for code, n in entry["codes"].most_common(MAX_CODES))
            lines.append(f"  by reason: {codes}")
        if entry["cycle"]:
            lines.append(f"  last cycle failed: {entry['cycle'][:300]}")
            lines.append(f"  {link('synccycle', flow__id__exact=flow.pk, state__exact=SyncCycle.FAILED)}")
        lines.append("")
    minutes = int(quiet_period().total_seconds() // 60)
    lines.append(f"You get at most one such e-mail every {minutes} minutes, and only when something new is held or failed.")
    try:
        send_mail(subject, "\n".join(lines), settings.DEFAULT_FROM_EMAIL, tenant.alert_email_list)
    except Exception as exc:  # a mail outage must not stop the other tenants' digests; it is audited
        audit.record(tenant.pk, "alert.failed", actor="alerts", message=f"digest not sent: {type(exc).__name__}")
        return 0
    audit.record(tenant.pk, "alert.tenant_digest", actor="alerts", message=subject)
    for flow, entry in flows.items():
        if entry["failed"] or entry["cycle"]:
            audit.record(tenant.pk, "alert.flow_failing", flow_id=flow.pk, actor="alerts",
                         message=f"{entry['failed']} failed batch(es); last cycle: {entry['cycle'] or 'ok'}")
    return 1


def send_recoveries():
    """One mail per flow that was reported failing (digest or outage) and has posted a batch since."""
    marks = defaultdict(dict)
    for flow_id, event, when in (
        AuditEntry.objects.filter(event__in=(*FAILING_EVENTS, "alert.flow_recovered"), flow__isnull=False)
        .values("flow_id", "event")
        .annotate(when=Max("created"))
        .values_list("flow_id", "event", "when")
        .order_by()
    ):
        marks[flow_id][event] = when
    open_since = {}
    for flow_id, events in marks.items():
        failing = max((events[e] for e in FAILING_EVENTS if e in events), default=None)
        recovered = events.get("alert.flow_recovered")
        if failing is not None and (recovered is None or recovered < failing):
            open_since[flow_id] = failing
    if not open_since:
        return 0
    sent = 0
    for flow in Flow.objects.filter(pk__in=list(open_since)).select_related("tenant"):
        posted = Batch.objects.filter(flow=flow, posted_at__gt=open_since[flow.pk]).count()
        if posted:
            sent += _send_recovery(flow, posted)
    return sent


def _send_recovery(flow, posted):
    recipients = flow.tenant.alert_email_list
    if recipients:
        subject = f"[ml-connector] {flow.name} posts again"
        body = "\n".join([
            f'Flow "{flow.name}" ({flow.get_kind_display()}) posts again: {posted} batch(es) posted since it was '
            "reported failing.",
            f"Posted batches: {link('batch', flow__id__exact=flow.pk, state__exact=S.POSTED)}",
            f"Anything still held or failed: {link('batch', flow__id__exact=flow.pk, state__exact=S.HELD)}",
        ])
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
        except Exception as exc:  # retried on the next run: nothing recorded as sent
            audit.record(flow.tenant_id, "alert.failed", flow_id=flow.pk, actor="alerts",
                         message=f"recovery mail not sent: {type(exc).__name__}")
            return 0
    audit.record(flow.tenant_id, "alert.flow_recovered", flow_id=flow.pk, actor="alerts",
                 message=f"posts again: {posted} batch(es) posted since the failure")
    return 1 if recipients else 0


def send_all(now=None):
    """The scheduled task: digests first, then recoveries. Returns (digests, recoveries) sent."""
    return send_digests(now), send_recoveries()
