"""The audit trail: append-only by construction.

Like NetBox's ObjectChange: fields are not editable, an ``action_id`` groups the entries
of one action (a cycle, an admin request), before/after JSON, and the actor's name is
kept as text so the entry survives the user's deletion.
"""

from django.db import models


class AppendOnlyError(Exception):
    pass


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Audit entries are append-only: they cannot be updated.")

    def delete(self):
        raise AppendOnlyError("Audit entries are append-only: they cannot be deleted.")

    # bulk_update would bypass update() on some paths
    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnlyError("Audit entries are append-only: they cannot be updated.")


class AuditEntry(models.Model):
    # Empty only for security events that belong to no tenant (a lockout of an unknown name or of a superuser).
    # tenant and flow have no index of their own: (tenant, -created) and (flow, -created) serve those lookups, and
    # a cycle writes several entries per record.
    tenant = models.ForeignKey("portal.Tenant", on_delete=models.PROTECT, related_name="audit_entries", editable=False,
                               null=True, blank=True, db_index=False)
    flow = models.ForeignKey(
        "integrations.Flow", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False,
        db_index=False,
    )
    batch = models.ForeignKey(
        "integrations.Batch", on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_entries", editable=False
    )
    event = models.CharField(max_length=60, db_index=True, editable=False)
    source_ref = models.CharField(max_length=120, blank=True, db_index=True, editable=False)
    target_ref = models.CharField(max_length=120, blank=True, db_index=True, editable=False)
    actor = models.CharField(
        max_length=150, blank=True, editable=False, help_text="User name, or the system component that acted."
    )
    action_id = models.CharField(
        max_length=64, blank=True, db_index=True, editable=False, help_text="Groups the entries of one cycle or request."
    )
    message = models.TextField(blank=True, editable=False)
    before = models.JSONField(null=True, blank=True, editable=False)
    after = models.JSONField(null=True, blank=True, editable=False)
    created = models.DateTimeField(auto_now_add=True, db_index=True, editable=False)

    objects = AuditQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "audit entries"
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["tenant", "-created"]), models.Index(fields=["flow", "-created"])]

    def __str__(self):
        return f"{self.created:%Y-%m-%d %H:%M:%S} {self.event} {self.source_ref}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise AppendOnlyError("Audit entries are append-only: a stored entry cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit entries are append-only: they cannot be deleted.")
