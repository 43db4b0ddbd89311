"""Alert e-mails: one digest per cycle listing the batches held in it, never one per batch.

The periodic tenant digest of held and failed batches is ``integrations.ops.alerts``;
``ALERT_HELD_PER_CYCLE = False`` leaves it the only one.
"""

from collections import Counter

from django.conf import settings
from django.core.mail import send_mail

MAX_LISTED = 50  # a digest stays readable; the admin lists every held batch


def held_digest(tenant, flow, held, *, cycle_id=""):
    """Send one e-mail listing ``held`` batches to the tenant's alert addresses.

    ``held`` is a list of objects with source_id, error_code, last_error, error_help.
    Returns the number of messages sent (0 or 1)."""
    recipients = tenant.alert_email_list
    if not held or not recipients or not getattr(settings, "ALERT_HELD_PER_CYCLE", True):
        # off: the tenant digest (integrations.ops.alerts, quiet period) is the only held/failed mail
        return 0
    subject = f"[ml-connector] {len(held)} batch{'es' if len(held) != 1 else ''} held in {flow.name}"
    lines = [
        f"{len(held)} record(s) from flow \"{flow.name}\" ({flow.get_kind_display()}) could not be posted and are held.",
        "Fix the cause, then select them under Integrations > Batches and choose \"Retry\".",
        "Nothing is re-posted that the target already has: the portal checks first.",
        "",
    ]
    by_code = Counter(batch.error_code for batch in held)
    lines.append("By reason: " + ", ".join(f"{code} x{n}" for code, n in by_code.most_common()))
    lines.append("")
    helps = {}
    for batch in held[:MAX_LISTED]:
        lines.append(f"- {batch.source_kind} {batch.source_id}: [{batch.error_code}] {batch.last_error}")
        if batch.error_help:
            helps.setdefault(batch.error_code, batch.error_help)
    if len(held) > MAX_LISTED:
        lines.append(f"- ... and {len(held) - MAX_LISTED} more: filter Batches by state \"held\" to see them all.")
    if helps:
        lines += ["", "How to fix:"] + [f"  [{code}] {text}" for code, text in helps.items()]
    if cycle_id:
        lines += ["", f"Cycle: {cycle_id}"]
    send_mail(subject, "\n".join(lines), settings.DEFAULT_FROM_EMAIL, recipients)
    return 1
