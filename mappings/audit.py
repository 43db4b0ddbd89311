"""Audit trail of mapping-rule changes.

Every create, change and delete of a ``MappingRule`` (admin form, admin bulk delete,
spreadsheet import, code) writes an ``audit.AuditEntry``: ``mapping.created``,
``mapping.changed`` (only when a field really changed), ``mapping.deleted``, with the
rule's fields before and after, the acting user's name as text and an ``action_id``
grouping one request or one import. An import also writes one ``mapping.imported``
summary entry. ``QuerySet.update()`` bypasses signals: code must not use it on rules.

The actor and action id come from ``acting(...)``, a context manager the admin and the
import wrap around their work; outside it the actor is "system" and each save is its own
action. (``mappings`` importing ``audit`` is the one exception to "mappings imports
portal only": audit is a sibling with no dependencies of its own.)
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass, field

from audit.log import actor_name, new_action_id, record

EVENT_CREATED = "mapping.created"
EVENT_CHANGED = "mapping.changed"
EVENT_DELETED = "mapping.deleted"
EVENT_IMPORTED = "mapping.imported"


@dataclass
class Context:
    actor: str = "system"
    action_id: str = ""
    message: str = ""
    counts: dict = field(default_factory=dict)


_current: contextvars.ContextVar[Context | None] = contextvars.ContextVar("mapping_audit_context", default=None)


@contextmanager
def acting(user=None, *, action_id=None, message=""):
    """Attribute the rule changes made inside the block to ``user`` under one action id."""
    ctx = Context(actor=actor_name(user) if user is not None and not isinstance(user, str) else (user or "system"),
                  action_id=action_id or new_action_id(), message=message)
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


def current() -> Context:
    return _current.get() or Context(action_id=new_action_id())


def _jsonable(values):
    return {k: (v if v is None or isinstance(v, (str, int, float, bool, dict, list)) else str(v)) for k, v in values.items()}


def on_save(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    ctx = current()
    after = _jsonable(instance.audit_values())
    loaded = getattr(instance, "_loaded", None)
    if created or loaded is None:
        before = None
        if not created:  # saved again without being loaded from the database: still a change
            before = {}
        event = EVENT_CREATED if created else EVENT_CHANGED
    else:
        before = _jsonable(instance.audit_values(loaded))
        if before == after:
            instance._loaded = {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}
            return
        event = EVENT_CHANGED
    if event == EVENT_CHANGED and before:
        changed = sorted(k for k in after if before.get(k) != after.get(k))
        message = f"changed {', '.join(changed)}"
    else:
        message = "created" if created else "changed"
    record(instance.tenant_id, event, flow_id=instance.flow_id, source_ref=f"mapping_rule:{instance.pk}",
           actor=ctx.actor, action_id=ctx.action_id, message=f"Rule {instance}: {message}. {ctx.message}".strip(),
           before=before, after=after)
    ctx.counts[event] = ctx.counts.get(event, 0) + 1
    # the stored state is now the "before" of the next save of this instance
    instance._loaded = {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def on_delete(sender, instance, origin=None, **kwargs):
    origin_model = getattr(origin, "model", type(origin)) if origin is not None else None
    if origin_model is not None and origin_model._meta.label == "portal.Tenant":
        return  # the whole tenant is being deleted: nothing left to attach the entry to
    ctx = current()
    loaded = getattr(instance, "_loaded", None)
    before = _jsonable(instance.audit_values(loaded) if loaded else instance.audit_values())
    # no flow_id link: the flow may be the object being deleted (cascade); before["flow_id"] keeps it
    record(instance.tenant_id, EVENT_DELETED, source_ref=f"mapping_rule:{instance.pk}", actor=ctx.actor,
           action_id=ctx.action_id, message=f"Rule {instance} deleted. {ctx.message}".strip(), before=before, after=None)
    ctx.counts[EVENT_DELETED] = ctx.counts.get(EVENT_DELETED, 0) + 1


def connect():
    from django.db.models.signals import post_delete, post_save

    from .models import MappingRule

    post_save.connect(on_save, sender=MappingRule, dispatch_uid="mappings.audit.save")
    post_delete.connect(on_delete, sender=MappingRule, dispatch_uid="mappings.audit.delete")
