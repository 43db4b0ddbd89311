"""Writing audit entries. Every state change in the portal goes through here."""

import uuid

from portal.scrub import scrub, scrub_data

from .models import AuditEntry


def new_action_id():
    return uuid.uuid4().hex


def entry(tenant_id, event, *, flow_id=None, batch_id=None, source_ref="", target_ref="", actor="system",
          action_id="", message="", before=None, after=None):
    """An unsaved entry, for bulk_create by callers that write many at once. Text and data are scrubbed of secrets."""
    return AuditEntry(
        tenant_id=tenant_id,
        flow_id=flow_id,
        batch_id=batch_id,
        event=event,
        source_ref=str(source_ref)[:120],
        target_ref=str(target_ref)[:120],
        actor=str(actor)[:150],
        action_id=action_id,
        message=scrub(message),
        before=scrub_data(before),
        after=scrub_data(after),
    )


def record(tenant_id, event, **kwargs):
    e = entry(tenant_id, event, **kwargs)
    e.save()
    return e


def write(entries):
    if entries:
        AuditEntry.objects.bulk_create(entries)


def actor_name(user):
    if user is None:
        return "system"
    return user.get_username() if hasattr(user, "get_username") else str(user)
