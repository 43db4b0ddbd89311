import hashlib
import secrets
import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from portal.fields import EncryptedJSONField
from portal.models import Tenant

from .systems.registry import CREDENTIAL_KEYS, FLOW_KINDS, MAX_CONCURRENCY, SYSTEMS


class Connection(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="connections")
    system = models.CharField(max_length=20, choices=sorted(SYSTEMS.items()), db_index=True)
    name = models.CharField(max_length=120)
    base_url = models.URLField(
        max_length=500, help_text="The system's API root, e.g. https://ais.example.com:9300/jderest or the sandbox URL."
    )
    credentials = EncryptedJSONField(blank=True, null=True, help_text="Encrypted at rest; never shown back.")
    options = models.JSONField(default=dict, blank=True)
    last_check_ok = models.BooleanField(null=True, blank=True)
    last_check_at = models.DateTimeField(null=True, blank=True)
    last_check_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="connection_tenant_name_unique")]
        indexes = [models.Index(fields=["tenant", "system"])]
        ordering = ["tenant__name", "name"]

    def __str__(self):
        return f"{self.name} ({self.get_system_display()})"

    def missing_credential_keys(self):
        creds = self.credentials or {}
        return [k for k in CREDENTIAL_KEYS.get(self.system, []) if not str(creds.get(k, "")).strip()]

    def clean(self):
        errors = {}
        missing = self.missing_credential_keys()
        if missing:
            errors["credentials"] = f"Missing credential key(s) for {self.get_system_display()}: {', '.join(missing)}."
        problem = self.concurrency_problem()
        if problem:
            errors["options"] = problem
        if errors:
            raise ValidationError(errors)

    def concurrency_problem(self):
        """Why the ``concurrency`` option cannot be used, or ""."""
        value = (self.options or {}).get("concurrency") if isinstance(self.options, dict) else None
        if value in (None, ""):
            return ""
        try:
            number = int(value)
        except (TypeError, ValueError):
            return f'options: "concurrency" must be a whole number of calls in flight, not {value!r}.'
        most = MAX_CONCURRENCY.get(self.system)
        if number < 1 or (most is not None and number > most):
            bound = f"1 to {most}" if most is not None else "at least 1"
            return (f'options: "concurrency" {number} is not allowed for {self.get_system_display()} ({bound}: '
                    "the vendor refuses calls beyond its limit).")
        return ""


class Flow(models.Model):
    INTERVAL, CRON = "interval", "cron"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="flows")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=40, choices=[(k, v[0]) for k, v in FLOW_KINDS.items()], db_index=True)
    source = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="source_flows")
    target = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="target_flows")
    enabled = models.BooleanField(default=True, db_index=True)
    schedule_type = models.CharField(
        max_length=10, choices=[(INTERVAL, "Every N minutes"), (CRON, "Cron expression")], default=INTERVAL
    )
    interval_minutes = models.PositiveIntegerField(default=1440, help_text="Used when the schedule is an interval.")
    cron = models.CharField(max_length=100, blank=True, help_text='Used when the schedule is cron, e.g. "0 18 * * 1-5".')
    cursor = models.JSONField(default=dict, blank=True, help_text="High-water marks; moves only past stored batches.")
    options = models.JSONField(default=dict, blank=True)
    trigger_token_hash = models.CharField(max_length=64, blank=True, editable=False, db_index=True)
    # The lease: the cycle that may write for this flow, until when (renewed on a clock while its worker lives).
    lease_owner = models.UUIDField(null=True, blank=True, editable=False)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    # A connection-level outage (auth refused, host not allowed...): scheduled cycles wait until paused_until.
    outage_code = models.CharField(max_length=60, blank=True, editable=False)
    outage_message = models.TextField(blank=True, editable=False)
    outage_since = models.DateTimeField(null=True, blank=True, editable=False)
    outage_cycles = models.PositiveIntegerField(default=0, editable=False)
    paused_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="flow_tenant_name_unique")]
        ordering = ["tenant__name", "name"]

    def __str__(self):
        return self.name

    @property
    def source_system(self):
        return FLOW_KINDS[self.kind][1]

    @property
    def target_system(self):
        return FLOW_KINDS[self.kind][2]

    def clean(self):
        errors = {}
        if self.kind not in FLOW_KINDS:
            return
        _, want_source, want_target = FLOW_KINDS[self.kind]
        for field, want in (("source", want_source), ("target", want_target)):
            conn = getattr(self, field, None) if getattr(self, f"{field}_id", None) else None
            if conn is None:
                continue
            if conn.system != want:
                errors[field] = (
                    f"{self.get_kind_display()} needs a {SYSTEMS[want]} connection as {field}, not {conn.get_system_display()}."
                )
            elif self.tenant_id and conn.tenant_id != self.tenant_id:
                errors[field] = f"Connection {conn.name!r} belongs to another tenant."
        if self.schedule_type == self.CRON:
            from .scheduling import validate_cron

            try:
                validate_cron(self.cron)
            except ValidationError as exc:
                errors["cron"] = exc.messages
        elif not self.interval_minutes:
            errors["interval_minutes"] = "Give the interval in minutes (at least 1)."
        if errors:
            raise ValidationError(errors)

    # -- REST trigger token: only its hash is stored --------------------------
    def new_trigger_token(self):
        token = secrets.token_urlsafe(32)
        self.trigger_token_hash = hashlib.sha256(token.encode()).hexdigest()
        return token

    def check_trigger_token(self, token):
        if not self.trigger_token_hash or not token:
            return False
        digest = hashlib.sha256(token.encode()).hexdigest()
        return secrets.compare_digest(digest, self.trigger_token_hash)


class BatchState(models.TextChoices):
    NEW = "new", "New"
    READY = "ready", "Ready to post"
    POSTING = "posting", "Posting"
    POSTED = "posted", "Posted"
    CONFIRMED = "confirmed", "Confirmed at source"
    IN_DOUBT = "in_doubt", "In doubt (reconcile)"
    HELD = "held", "Held (needs a person)"
    FAILED = "failed", "Failed (will retry)"
    SKIPPED = "skipped", "Skipped"


class Batch(models.Model):
    State = BatchState

    # PROTECT: a flow that ever stored a record keeps it (disable the flow instead of deleting it), so
    # re-creating a flow can never forget what was taken from the source or posted to the target.
    # No index of its own: (flow, state) and the (flow, source_kind, source_id) key serve every lookup by flow,
    # and each index is written again on every state change of a batch.
    flow = models.ForeignKey(Flow, on_delete=models.PROTECT, related_name="batches", db_index=False)
    # The target connection the external reference belongs to (unique there, across flows).
    target = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="target_batches")
    source_kind = models.CharField(max_length=40)
    source_id = models.CharField(max_length=120)
    state = models.CharField(max_length=12, choices=BatchState.choices, default=BatchState.NEW)
    payload = models.JSONField(default=dict, help_text="Snapshot of the source record as fetched.")
    payload_hash = models.CharField(max_length=64, blank=True)
    posting = models.JSONField(default=dict, blank=True, help_text="The target-neutral document that was (or will be) posted.")
    external_ref = models.CharField(max_length=60, blank=True, help_text="Reference carried into the target for reconcile.")
    target_document_id = models.CharField(max_length=120, blank=True)
    amount = models.DecimalField(max_digits=24, decimal_places=4, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    claimed_by = models.UUIDField(null=True, blank=True, help_text="The cycle that claimed it for posting.")
    last_sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was last claimed for sending; reconcile waits a settle window after it."
    )
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=60, blank=True)
    last_error = models.TextField(blank=True)
    error_help = models.TextField(blank=True)
    correction_payload = models.JSONField(
        null=True, blank=True, help_text="A changed version of an already posted record, awaiting a decision."
    )
    found_in_target = models.JSONField(
        null=True, blank=True, help_text="What reconcile found in the target when it differed from the posting."
    )
    notes = models.JSONField(default=list, blank=True, help_text="What was changed on the way (e.g. control characters removed).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    posted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "batches"
        constraints = [
            models.UniqueConstraint(fields=["flow", "source_kind", "source_id"], name="batch_source_unique"),
            # One reference, one target document, whatever flow stored it.
            models.UniqueConstraint(
                fields=["target", "external_ref"], condition=~models.Q(external_ref=""), name="batch_target_reference_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["flow", "state"]),
            models.Index(fields=["state", "next_attempt_at"]),
            models.Index(fields=["external_ref"]),
            models.Index(fields=["error_code"]),
            models.Index(fields=["-created_at"]),
            models.Index(fields=["posted_at"], name="batch_posted_at_idx"),  # the dashboard's posted-per-day window
        ]
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.source_kind} {self.source_id}"

    def save(self, *args, **kwargs):
        if self.target_id is None and self.flow_id is not None:
            self.target_id = self.flow.target_id  # the reference belongs to the flow's target connection
        super().save(*args, **kwargs)

    @property
    def tenant_id(self):
        return self.flow.tenant_id


class SyncCycle(models.Model):
    """One run of a flow's cycle, shown live in the admin while it runs."""

    RUNNING, DONE, FAILED, SKIPPED, PAUSED = "running", "done", "failed", "skipped", "paused"

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="cycles")
    cycle_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    trigger = models.CharField(max_length=20, default="schedule")
    state = models.CharField(
        max_length=10, default=RUNNING, choices=[(s, s) for s in (RUNNING, DONE, FAILED, SKIPPED, PAUSED)], db_index=True
    )
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    progress = models.CharField(max_length=200, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        # (flow, -started_at): a flow's last cycle (dashboard, flow page) without reading its whole history
        indexes = [
            models.Index(fields=["flow", "state"]),
            models.Index(fields=["flow", "-started_at"], name="cycle_flow_latest_idx"),
        ]
        constraints = [
            # Cycles of one flow never overlap: at most one running row per flow.
            models.UniqueConstraint(fields=["flow"], condition=models.Q(state="running"), name="one_running_cycle_per_flow"),
        ]

    def __str__(self):
        return f"{self.flow} cycle {self.started_at:%Y-%m-%d %H:%M}"


class ConcurrencySlot(models.Model):
    """One of a credential's ``limit`` slots for calls in flight (``integrations.systems.limits``).

    The rows of a key are created on first use and reused; a slot is taken while ``expires``
    is in the future, so a holder that died frees it when its lease runs out."""

    key = models.CharField(max_length=200)
    slot = models.PositiveSmallIntegerField()
    holder = models.CharField(max_length=32, blank=True)
    expires = models.FloatField(default=0.0, help_text="Epoch seconds; the slot is free from then on.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "slot"], name="concurrency_slot_key_slot_unique")]

    def __str__(self):
        return f"{self.key} #{self.slot}"


class RateWindow(models.Model):
    """The recent calls of one sliding-window rate limit (``integrations.systems.limits.RateLimiter``) kept in the
    database: one row per credential, read and rewritten under its lock in one short transaction."""

    key = models.CharField(max_length=200, unique=True)
    stamps = models.TextField(default="[]", help_text="JSON list of epoch seconds: the calls still inside a window.")

    def __str__(self):
        return self.key


class WebhookEvent(models.Model):
    """The inbox: a signed event a system pushed to us, stored as it came before anything is done with it.

    The cycle of the flow reading that connection takes the unprocessed ones as source records
    (``processed_at`` set once their batches are stored). ``(connection, event_id)`` is unique: a
    redelivered event is recognised, never stored or processed twice."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="webhook_events")
    event_id = models.CharField(max_length=120)
    event_type = models.CharField(max_length=60)
    entity_id = models.CharField(max_length=120, blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True, help_text="The sender's timestamp of the event.")
    received_at = models.DateTimeField(auto_now_add=True)
    payload = models.JSONField(default=dict)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "event_id"], name="webhook_event_unique")]
        indexes = [models.Index(fields=["connection", "processed_at"])]
        ordering = ["occurred_at", "received_at"]

    def __str__(self):
        return f"{self.event_type} {self.event_id}"
