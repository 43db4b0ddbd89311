"""Connection outages: the flow backs off, one alert per outage, batches untouched.

Auth refused (JD Edwards 444 twice, 401, 403), 405 Allowed Hosts and version mismatches
are not the record's fault: holding batches for them would make a person release every
one after the password is fixed. Instead the cycle stops, the flow is paused with a growing
backoff (scheduled cycles wait; a manual run tries at once), the tenant is told once when
the outage starts, and the first cycle that gets through ends the outage and posts what
waited, with nobody involved.
"""

from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from audit import log as audit

from ..models import Flow

# Pause after the 1st, 2nd, 3rd... failing cycle of one outage (seconds); the last value repeats.
BACKOFF = [60, 300, 900, 3600]


def begin_or_extend(flow, error, *, actor, action_id):
    """Record a failing cycle of an outage; returns True when this starts a new outage (alert sent)."""
    now = timezone.now()
    fresh = not flow.outage_code
    cycles = 1 if fresh else flow.outage_cycles + 1
    pause = BACKOFF[min(cycles, len(BACKOFF)) - 1]
    fields = {"outage_code": error.code, "outage_message": error.message[:2000], "outage_cycles": cycles,
              "paused_until": now + timedelta(seconds=pause)}
    if fresh:
        fields["outage_since"] = now
    Flow.objects.filter(pk=flow.pk).update(**fields)
    for key, value in fields.items():
        setattr(flow, key, value)
    audit.record(flow.tenant_id, "flow.paused", flow_id=flow.pk, actor=actor, action_id=action_id,
                 message=f"[{error.code}] {error.message}; scheduled cycles paused for {pause}s")
    if fresh:
        _alert(flow, error)
        audit.record(flow.tenant_id, "alert.outage", flow_id=flow.pk, actor=actor, action_id=action_id,
                     message=f"outage alert sent: [{error.code}]")
    return fresh


def end(flow, *, actor, action_id):
    if not flow.outage_code:
        return
    since = flow.outage_since
    Flow.objects.filter(pk=flow.pk).update(outage_code="", outage_message="", outage_since=None, outage_cycles=0,
                                           paused_until=None)
    audit.record(flow.tenant_id, "flow.recovered", flow_id=flow.pk, actor=actor, action_id=action_id,
                 message=f"the connection works again (outage [{flow.outage_code}] since {since:%Y-%m-%d %H:%M})")
    flow.outage_code, flow.outage_message, flow.outage_since, flow.outage_cycles, flow.paused_until = "", "", None, 0, None


def paused(flow):
    return bool(flow.paused_until and flow.paused_until > timezone.now())


def _alert(flow, error):
    recipients = flow.tenant.alert_email_list
    if not recipients:
        return
    subject = f"[ml-connector] {flow.name} is paused: [{error.code}]"
    body = "\n".join([
        f'Flow "{flow.name}" stopped because a connection refused it: [{error.code}] {error.message}',
        "",
        f"How to fix: {error.help}",
        "",
        "No record is lost and nothing is held for this: the waiting records post on the first cycle after the",
        "connection works again. You get this e-mail once per outage.",
    ])
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    except Exception:  # a mail outage must not hide the connection outage; it is audited and shown on the flow
        pass
