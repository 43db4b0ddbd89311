"""Admin for connections, flows, batches and cycles. Every admin here is tenant-scoped.

Credentials: one form field per key the chosen system needs (``registry.CREDENTIAL_KEYS``);
identifiers (``NON_SECRET_KEYS``) are shown back, secrets are write-only password inputs
that never render a value (blank keeps the stored one). Customer users never get the
credential fields at all, and neither does anyone who may only view a connection.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.views.decorators.debug import sensitive_post_parameters

from audit import log as audit
from portal.admin_scoping import TenantScopedAdmin

from .admin_views import check_mapping_coverage, flow_tool_urls, preview_documents
from .flows import implemented_kinds
from .models import Batch, Connection, Flow, SyncCycle
from .ops import batch_actions, display
from .ops.explain import explain, explanation_html, money_fields
from .ops.outcome import cycle_outcome
from .ops.reconciliation_view import reconciliation_urls
from .systems.registry import CREDENTIAL_KEYS, NON_SECRET_KEYS, SYSTEMS

ALL_CREDENTIAL_KEYS = list(dict.fromkeys(k for keys in CREDENTIAL_KEYS.values() for k in keys))
CRED_PREFIX = "cred_"


def cred_field(key):
    return f"{CRED_PREFIX}{key}"


def credential_keys_for(system):
    return CREDENTIAL_KEYS.get(system) or []


# --------------------------------------------------------------------------- connections


class ConnectionForm(forms.ModelForm):
    """Credentials as one field per key of the connection's system; secrets write-only."""

    base_url = forms.URLField(max_length=500, assume_scheme="https", help_text=Connection._meta.get_field("base_url").help_text,
                              widget=forms.URLInput(attrs={"class": "vURLField", "size": 80}))

    class Meta:
        model = Connection
        fields = ["tenant", "system", "name", "base_url", "options"]  # credentials: per-key fields below

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.system = self._system()
        stored = (self.instance.credentials or {}) if self.instance.pk else {}
        self.credential_keys = credential_keys_for(self.system)
        for key in self.credential_keys:
            if key in NON_SECRET_KEYS:
                field = forms.CharField(label=key, required=False, initial=stored.get(key, ""), max_length=500)
            else:
                has_value = bool(str(stored.get(key, "")).strip())
                field = forms.CharField(
                    label=key,
                    required=False,
                    max_length=2000,
                    strip=False,
                    widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
                    help_text="Stored; leave blank to keep it." if has_value else "Not set yet.",
                )
            self.fields[cred_field(key)] = field

    def _system(self):
        if self.instance.pk:
            return self.instance.system
        if self.is_bound:
            return self.data.get(self.add_prefix("system")) or ""
        return self.initial.get("system") or ""

    def clean(self):
        cleaned = super().clean()
        if not self.system:
            return cleaned
        stored = (self.instance.credentials or {}) if self.instance.pk else {}
        merged = dict(stored)
        self.changed_keys = []
        for key in self.credential_keys:
            value = self.cleaned_data.get(cred_field(key), "")
            value = value.strip() if key in NON_SECRET_KEYS else value
            if value.strip():
                if stored.get(key) != value:
                    self.changed_keys.append(key)
                merged[key] = value
            elif key in NON_SECRET_KEYS:
                if key in merged:
                    self.changed_keys.append(key)
                merged.pop(key, None)
        for key in self.credential_keys:
            if not str(merged.get(key, "")).strip():
                self.add_error(cred_field(key), f"{SYSTEMS.get(self.system, self.system)} needs the credential key {key!r}.")
        self.instance.credentials = merged
        return cleaned

    def _update_errors(self, errors):
        # Connection.clean reports missing keys on "credentials", which is not a form field:
        # clean() above already put each one on its own field.
        if hasattr(errors, "error_dict") and "credentials" in errors.error_dict:
            rest = {k: v for k, v in errors.error_dict.items() if k != "credentials"}
            if not rest:
                return
            errors = ValidationError(rest)
        super()._update_errors(errors)


@admin.register(Connection)
class ConnectionAdmin(TenantScopedAdmin):
    form = ConnectionForm
    customer_read_only = True
    list_display = ["name", "tenant", "system", "base_url", "check_status", "last_check_at", "updated_at"]
    list_filter = ["system", "tenant"]
    search_fields = ["name", "base_url", "tenant__name", "tenant__slug"]
    list_select_related = ["tenant"]
    readonly_fields = ["last_check_ok", "last_check_at", "last_check_message", "created_at", "updated_at"]
    actions = ["check_connections", "bill_webhook_subscribe"]
    customer_exclude = ("credentials", *(cred_field(k) for k in ALL_CREDENTIAL_KEYS))

    @admin.display(description="last check", boolean=True, ordering="last_check_ok")
    def check_status(self, obj):
        return obj.last_check_ok

    def _system_for(self, request, obj):
        if obj is not None:
            return obj.system
        return request.POST.get("system") or request.GET.get("system") or ""

    def _shows_credentials(self, request, obj):
        return self.is_support(request) and self.has_change_permission(request, obj) if obj else self.is_support(request)

    def get_fieldsets(self, request, obj=None):
        system = self._system_for(request, obj)
        main = ["tenant", "system", "name", "base_url"]
        fieldsets = [(None, {"fields": main})]
        if self._shows_credentials(request, obj) and system in CREDENTIAL_KEYS:
            fieldsets.append(
                (
                    f"Credentials ({SYSTEMS[system]})",
                    {
                        "fields": [cred_field(k) for k in credential_keys_for(system)],
                        "description": "Encrypted at rest. Secrets are never shown back: leave a secret blank to keep it.",
                    },
                )
            )
        fieldsets.append(("Options", {"fields": ["options"], "classes": ["collapse"]}))
        fieldsets.append(("Last check", {"fields": ["last_check_ok", "last_check_at", "last_check_message"]}))
        fieldsets.append(("History", {"fields": ["created_at", "updated_at"]}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("system")  # the credential shape follows the system: make a new connection instead
        return fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        # Credential fields are added per instance by ConnectionForm; keep them out of modelform_factory.
        if "fields" not in kwargs:
            kwargs["fields"] = flatten_fieldsets(self.get_fieldsets(request, obj))
        kwargs["fields"] = [f for f in kwargs["fields"] or [] if not f.startswith(CRED_PREFIX)]
        return super().get_form(request, obj, change, **kwargs)

    @method_decorator(sensitive_post_parameters())
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # error reports of a failing POST here never include the submitted credentials
        return super().changeform_view(request, object_id, form_url, extra_context)

    def add_view(self, request, form_url="", extra_context=None):
        system = request.POST.get("system") or request.GET.get("system")
        if request.method == "GET" and system not in SYSTEMS and self.has_add_permission(request):
            choices = [
                (key, label, f"?{urlencode({**request.GET.dict(), 'system': key})}") for key, label in sorted(SYSTEMS.items())
            ]
            context = {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "Add connection: choose the system",
                "choices": choices,
            }
            return TemplateResponse(request, "admin/integrations/connection/choose_system.html", context)
        return super().add_view(request, form_url, extra_context)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if initial.get("system") not in SYSTEMS:
            initial.pop("system", None)
        return initial

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        changed = getattr(form, "changed_keys", [])
        if changed:
            audit.record(
                obj.tenant_id,
                "connection.credentials_changed",
                actor=audit.actor_name(request.user),
                source_ref=f"connection:{obj.pk}",
                message=f"{obj.name}: credential key(s) changed",
                after={"keys": sorted(changed)},
            )  # key names only, never values

    @admin.action(description="Check connection (one authenticated call)", permissions=["change"])
    def check_connections(self, request, queryset):
        try:
            from .checks import check_connection
        except ImportError:
            self.message_user(request, "Connection checks are not available yet.", messages.WARNING)
            return
        ok = failed = 0
        for conn in queryset:
            passed, message = check_connection(conn, user=request.user)
            if passed:
                ok += 1
            else:
                failed += 1
                self.message_user(request, f"{conn.name}: {message}", messages.WARNING)
        self.message_user(
            request, f"{ok} connection(s) passed, {failed} failed.", messages.SUCCESS if not failed else messages.WARNING
        )

    @admin.action(description="BILL: subscribe to payment webhooks (or rotate the key)", permissions=["change"])
    def bill_webhook_subscribe(self, request, queryset):
        from .bill_subscriptions import notification_url, subscribe
        from .systems.errors import IntegrationError

        for conn in queryset:
            if conn.system != "bill":
                self.message_user(request, f"{conn.name}: not a BILL connection, skipped.", messages.WARNING)
                continue
            try:
                sub_id = subscribe(conn, notification_url(request, conn), actor=str(request.user))
            except IntegrationError as exc:
                self.message_user(request, f"{conn.name}: [{exc.code}] {exc.message}", messages.WARNING)
                continue
            self.message_user(request, f"{conn.name}: subscription {sub_id} active; its key is stored encrypted.")

# --------------------------------------------------------------------------- flows


class ConnectionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.tenant} / {obj.name} ({obj.get_system_display()})"


@admin.register(Flow)
class FlowAdmin(TenantScopedAdmin):
    list_display = ["name", "tenant", "kind", "enabled", "schedule", "has_trigger_token", "updated_at"]
    list_filter = ["enabled", "kind", "tenant"]
    search_fields = ["name", "tenant__name", "tenant__slug"]
    list_select_related = ["tenant"]
    readonly_fields = ["has_trigger_token", "created_at", "updated_at", "recent_cycles", "outage_code", "outage_message",
                       "outage_since", "paused_until", "lease_until"]
    actions = ["run_now", "generate_trigger_token", check_mapping_coverage, preview_documents]
    fieldsets = [
        (None, {"fields": ["tenant", "name", "kind", "source", "target", "enabled"]}),
        ("Connection outage", {"fields": ["outage_code", "outage_message", "outage_since", "paused_until", "lease_until"],
                               "classes": ["collapse"]}),
        ("Schedule", {"fields": ["schedule_type", "interval_minutes", "cron"]}),
        (
            "REST trigger",
            {"fields": ["has_trigger_token"], "description": 'Use the "Generate trigger token" action; the token is shown once.'},
        ),
        ("State and options", {"fields": ["options", "cursor"], "classes": ["collapse"]}),
        ("History", {"fields": ["recent_cycles", "created_at", "updated_at"]}),
    ]

    def get_urls(self):
        # <flow>/coverage/, <flow>/preview/ (admin_views), <flow>/reconciliation/ (ops.reconciliation_view)
        return [*flow_tool_urls(self), *reconciliation_urls(self), *super().get_urls()]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        kind = form.base_fields.get("kind")
        if kind is not None:  # offer only kinds with a handler (keep an existing flow's own kind)
            offered = set(implemented_kinds()) | ({obj.kind} if obj is not None else set())
            kind.choices = [(k, label) for k, label in kind.choices if k in offered or k == ""]
        return form

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in ("source", "target"):
            kwargs["form_class"] = ConnectionChoiceField
            kwargs.setdefault("queryset", Connection.objects.select_related("tenant").order_by("tenant__name", "name"))
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name in ("source", "target") and field is not None:
            field.help_text = "Must be of the system the kind needs and belong to the flow's tenant."
        return field

    @admin.display(description="schedule")
    def schedule(self, obj):
        if obj.schedule_type == Flow.CRON:
            return f"cron {obj.cron}"
        return f"every {obj.interval_minutes} min"

    @admin.display(description="trigger token", boolean=True)
    def has_trigger_token(self, obj):
        return bool(obj.trigger_token_hash)

    @admin.display(description="recent cycles")
    def recent_cycles(self, obj):
        if not obj.pk:
            return "-"
        cycles = obj.cycles.order_by("-started_at")[:5]
        if not cycles:
            return "no cycle yet"
        return format_html_join(
            "",
            '<div><a href="{}">{}</a> {} {} {}</div>',
            (
                (
                    reverse("admin:integrations_synccycle_change", args=[c.pk]),
                    f"{c.started_at:%Y-%m-%d %H:%M}",
                    c.state,
                    c.trigger,
                    cycle_outcome(c),
                )
                for c in cycles
            ),
        )

    @admin.action(description="Run now (queue one cycle)", permissions=["change"])
    def run_now(self, request, queryset):
        from .tasks import queue_cycle

        queued = 0
        for flow in queryset:
            if not flow.enabled:
                self.message_user(request, f"{flow.name} is disabled: not queued.", messages.WARNING)
                continue
            queue_cycle(flow, trigger="admin")
            audit.record(
                flow.tenant_id,
                "flow.run_requested",
                flow_id=flow.pk,
                actor=audit.actor_name(request.user),
                source_ref=f"flow:{flow.pk}",
                message=f"{flow.name}: cycle queued from the admin",
            )
            queued += 1
        self.message_user(request, f"{queued} flow cycle(s) queued.", messages.SUCCESS)

    @admin.action(description="Generate trigger token (shown once)", permissions=["change"])
    def generate_trigger_token(self, request, queryset):
        count = 0
        for flow in queryset:
            token = flow.new_trigger_token()
            Flow.objects.filter(pk=flow.pk).update(trigger_token_hash=flow.trigger_token_hash, updated_at=timezone.now())
            audit.record(
                flow.tenant_id,
                "flow.trigger_token_generated",
                flow_id=flow.pk,
                actor=audit.actor_name(request.user),
                source_ref=f"flow:{flow.pk}",
                message=f"{flow.name}: new REST trigger token (the old one stops working)",
            )
            self.message_user(
                request,
                f"Trigger token for {flow.name} (copy it now, it is not stored and will not be shown again): {token}",
                messages.WARNING,
            )
            count += 1
        self.message_user(request, f"{count} trigger token(s) generated.", messages.SUCCESS)


# --------------------------------------------------------------------------- batches


@admin.register(Batch)
class BatchAdmin(TenantScopedAdmin):
    tenant_path = "flow__tenant"
    # Short columns (readable at 1366 px): the problem is truncated, its full text in the title.
    list_display = ["source_id", "flow", "tenant", "state", "problem", "money", "target_document_id", "attempts", "updated_at"]
    # A year of batches: when, as a filter that costs no query (a date hierarchy reads every row for its years),
    # no second full count, and the big JSON columns left out of the list's rows.
    list_filter = ["state", "flow__tenant", "flow", "error_code", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["source_id", "external_ref", "target_document_id", "error_code"]
    list_select_related = ["flow", "flow__tenant"]
    show_full_result_count = False
    list_defer = ("payload", "posting", "correction_payload", "found_in_target", "notes", "error_help")
    actions = ["retry", "release", "hold", "skip", "force", "accept_corrections_action"]
    fieldsets = [
        (None, {"fields": ["flow", "tenant", "source_kind", "source_id", "state", "attempts", "next_attempt_at"]}),
        ("Problem", {"fields": ["error_code", "last_error", "error_help", "hold_lines"]}),
        ("Target", {"fields": ["external_ref", "target_document_id", "posted_at", "last_sent_at", "found_table"]}),
        ("Posting", {"fields": ["money", "posting_lines", "notes_text"]}),
        ("Source record", {"fields": ["payload_table", "correction_table"]}),
        ("Audit trail", {"fields": ["audit_trail"]}),
        ("History", {"fields": ["created_at", "updated_at", "payload_hash"], "classes": ["collapse"]}),
    ]
    readonly_fields = [f for _, opts in fieldsets for f in opts["fields"]]

    search_help_text = "Any id: source record (e.g. Expensify report ID), reference, target document or batch number, error code."

    def has_add_permission(self, request):
        return False  # batches come from cycles

    def get_urls(self):
        return [*batch_actions.batch_action_urls(self), *super().get_urls()]

    def get_list_display(self, request):
        items = list(super().get_list_display(request))
        return items if self.is_support(request) else [i for i in items if i != "tenant"]  # one tenant: no column

    def get_search_results(self, request, queryset, search_term):
        # Also the ids the target answered with (``posting.target``: a JD Edwards batch number, an
        # Acumatica reference...), whatever their key in each flow. ``queryset`` is already scoped.
        found, duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term:
            found = found | queryset.filter(posting__target__icontains=term)
        return found, duplicates

    def change_view(self, request, object_id, form_url="", extra_context=None):
        batch = self.get_object(request, unquote(object_id)) if object_id else None
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "batch_actions": batch_actions.actions_for(self, request, batch) if batch is not None else [],
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="tenant", ordering="flow__tenant__name")
    def tenant(self, obj):
        return obj.flow.tenant

    @admin.display(description="problem", ordering="error_code")
    def problem(self, obj):
        if not obj.error_code:
            return "-"
        return display.truncated(f"[{obj.error_code}] {obj.last_error}", 60)

    @admin.display(description="amount", ordering="amount")
    def money(self, obj):
        return display.money_with_currency(obj.amount, obj.currency)

    @admin.display(description="failing lines")
    def hold_lines(self, obj):
        return explanation_html(explain(obj))

    @admin.display(description="posting")
    def posting_lines(self, obj):
        table = display.posting_table(obj.posting, obj.flow.target_system)
        return format_html("{}{}", table, display.technical_details(obj.posting))

    @admin.display(description="source record")
    def payload_table(self, obj):
        return format_html("{}{}", display.labelled_values(obj.payload, **money_fields(obj)),
                           display.technical_details(obj.payload))

    @admin.display(description="correction awaiting a decision")
    def correction_table(self, obj):
        if not obj.correction_payload:
            return "-"
        return format_html("{}{}", display.labelled_values(obj.correction_payload, **money_fields(obj)),
                           display.technical_details(obj.correction_payload))

    @admin.display(description="found in the target (differs from the posting)")
    def found_table(self, obj):
        found = obj.found_in_target
        if not found:
            return "-"
        rows = found if isinstance(found, list) else [found]
        table = display.rows_table([r for r in rows if isinstance(r, dict)], currency=obj.currency)
        return format_html("{}{}", table, display.technical_details(found))

    @admin.display(description="notes")
    def notes_text(self, obj):
        return "; ".join(str(n) for n in obj.notes or []) or "-"

    @admin.display(description="audit trail")
    def audit_trail(self, obj):
        entries = obj.audit_entries.order_by("-created", "-id")[:50]
        if not entries:
            return "-"
        return format_html(
            "<table><tbody>{}</tbody></table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                ((f"{e.created:%Y-%m-%d %H:%M:%S}", e.event, e.actor, e.message) for e in entries),
            ),
        )

    def _operate(self, request, queryset, name):
        action = batch_actions.BY_NAME[name]
        if not batch_actions.may_use(self, request, action):
            raise PermissionDenied
        return batch_actions.run(self, request, action, queryset)

    @admin.action(description="Retry (reconcile first if ever sent)", permissions=["change"])
    def retry(self, request, queryset):
        self._operate(request, queryset, "retry")

    @admin.action(description="Release held batches", permissions=["change"])
    def release(self, request, queryset):
        self._operate(request, queryset, "release")

    @admin.action(description="Hold", permissions=["change"])
    def hold(self, request, queryset):
        self._operate(request, queryset, "hold")

    @admin.action(description="Skip (never post)", permissions=["change"])
    def skip(self, request, queryset):
        self._operate(request, queryset, "skip")

    @admin.action(description="Force: post failed batches now (support)", permissions=["change"])
    def force(self, request, queryset):
        self._operate(request, queryset, "force")

    @admin.action(description="Accept corrections (the posted document stands; support)", permissions=["change"])
    def accept_corrections_action(self, request, queryset):
        self._operate(request, queryset, "accept")

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # batches are evidence: skip them instead
        if not self.is_support(request):
            for name in ("force", "accept_corrections_action"):
                actions.pop(name, None)
        return actions

    def has_delete_permission(self, request, obj=None):
        return False


# --------------------------------------------------------------------------- cycles


@admin.register(SyncCycle)
class SyncCycleAdmin(TenantScopedAdmin):
    tenant_path = "flow__tenant"
    list_display = [
        "started_at",
        "flow",
        "tenant",
        "state",
        "trigger",
        "outcome",
        "heartbeat_at",
        "finished_at",
        "duration",
        "count_summary",
    ]
    list_filter = ["state", "flow__tenant", "flow", ("started_at", admin.DateFieldListFilter)]
    search_fields = ["flow__name", "progress", "message", "=cycle_id"]
    list_select_related = ["flow", "flow__tenant"]
    show_full_result_count = False
    readonly_fields = [
        "flow",
        "cycle_id",
        "trigger",
        "state",
        "started_at",
        "heartbeat_at",
        "finished_at",
        "outcome",
        "counts_json",
        "message",
    ]
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="tenant", ordering="flow__tenant__name")
    def tenant(self, obj):
        return obj.flow.tenant

    @admin.display(description="duration")
    def duration(self, obj):
        end = obj.finished_at or timezone.now()
        seconds = int((end - obj.started_at).total_seconds())
        return f"{seconds // 60}m {seconds % 60:02d}s" + ("" if obj.finished_at else " (running)")

    @admin.display(description="counts")
    def count_summary(self, obj):
        return display.counts_summary(obj.counts)

    @admin.display(description="progress / outcome")
    def outcome(self, obj):
        return display.truncated(cycle_outcome(obj), 80)

    @admin.display(description="counts")
    def counts_json(self, obj):
        return format_html("{}{}", display.counts_table(obj.counts), display.technical_details(obj.counts))
