"""Admin for mapping rules (edit, import/export) and the reference-data cache (view, refresh).

Both admins are ``TenantScopedAdmin``: a customer finance user sees and edits only their
own tenant's rules; the flow dropdown lists only their flows; imports are bound to their
tenant and exports contain only their rows. Every change made here is audited with the
user's name (``mappings.audit.acting`` wraps each request).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from import_export.admin import ImportExportMixin
from import_export.forms import ExportForm

from portal import tenancy
from portal.admin_scoping import TenantScopedAdmin
from portal.exports import SafeCSV, SafeXLSX

from . import audit
from .models import MappingRule, ReferenceEntry
from .reference import LOADERS, NoLoader, refresh_reference
from .resources import MappingRuleResource, format_tags, parse_tags
from .spreadsheet import COLUMN_LABELS, template_columns, template_response
from .vocabulary import IFS_CODE_FIELDS, MATCH_ATTRIBUTES, TARGET_FIELDS


class TagsField(forms.CharField):
    def prepare_value(self, value):
        return format_tags(value) if isinstance(value, dict) else value

    def to_python(self, value):
        try:
            return parse_tags(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc).removeprefix("tags: ")) from None


class MappingRuleForm(forms.ModelForm):
    tags = TagsField(
        required=False,
        widget=forms.TextInput(attrs={"size": 60, "placeholder": "Cost Center=CC10; Project=PRJ-ALPHA"}),
        help_text="Expensify tags by tag list, as tag list=value pairs separated by semicolons.",
    )

    class Meta:
        model = MappingRule
        fields = ["tenant", "flow", "active", "note", *MATCH_ATTRIBUTES, "tags", *(f"target_{f}" for f in TARGET_FIELDS)]


class TryLineForm(forms.Form):
    flow = forms.ModelChoiceField(queryset=None)
    policy = forms.CharField(required=False)
    category = forms.CharField(required=False)
    employee = forms.CharField(required=False, label="Employee e-mail")
    tags = TagsField(required=False, help_text="e.g. Cost Center=CC10; Project=PRJ-ALPHA")
    other = forms.CharField(required=False, label="Other attributes",
                            help_text="e.g. procurify_account_code=4000; jde_object=6110")

    def __init__(self, *args, flows, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["flow"].queryset = flows

    def clean_other(self):
        try:
            pairs = parse_tags(self.cleaned_data.get("other"))
        except ValueError as exc:
            raise forms.ValidationError(str(exc).removeprefix("tags: ")) from None
        unknown = [k for k in pairs if k not in MATCH_ATTRIBUTES]
        if unknown:
            raise forms.ValidationError(f"Unknown attribute(s): {', '.join(unknown)}.")
        return pairs

    def attributes(self):
        data = self.cleaned_data
        attrs = {k: data[k] for k in ("policy", "category", "employee") if data.get(k)}
        attrs.update({f"tag:{k}": v for k, v in (data.get("tags") or {}).items()})
        attrs.update(data.get("other") or {})
        return attrs


def _targets(*names):
    return tuple(f"target_{n}" for n in names)


@admin.register(MappingRule)
class MappingRuleAdmin(ImportExportMixin, TenantScopedAdmin):
    tenant_path = "tenant"
    form = MappingRuleForm
    change_list_template = "admin/mappings/mappingrule/change_list.html"  # import-export builds on it
    resource_classes = [MappingRuleResource]
    formats = [SafeCSV, SafeXLSX]  # no cell is exported as a formula (portal.exports)
    export_form_class = ExportForm  # always every column, so an export can be edited and imported back
    import_template_name = "admin/mappings/mappingrule/import.html"  # template per flow, errors without tracebacks
    import_error_display = ("message", "row")
    list_display = ["id", "scope", "match", "sets", "precedence", "active", "reference_check", "updated_at"]
    list_display_links = ["id", "match"]
    list_filter = ["active", "flow", "reference_status"]
    list_select_related = ["tenant", "flow"]
    show_full_result_count = False
    search_fields = ["policy", "category", "employee", "procurify_account_code", "bill_account", "jde_object", "note",
                     "target_business_unit", "target_object", "target_subsidiary", "target_acumatica_account",
                     "target_ifs_code_a", "target_bill_chart_of_account_id", "target_procurify_account_code"]
    readonly_fields = ["precedence", "reference_check", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["tenant", "flow", "active", "note"]}),
        ("Match: Expensify", {"fields": ["employee", "category", "policy", "tags"],
                              "description": "Blank = any value. Matching ignores case and surrounding spaces."}),
        ("Match: Procurify, BILL, JD Edwards", {"fields": [
            "procurify_account_code", "procurify_department", "procurify_location", "bill_account", "bill_department",
            "jde_business_unit", "jde_object", "jde_subsidiary"], "classes": ["collapse"]}),
        ("Set: JD Edwards account", {"fields": list(_targets("business_unit", "object", "subsidiary")),
                                     "description": "Set only what this rule decides; blank fields come from other rules."}),
        ("Set: IFS Cloud code parts", {"fields": list(_targets(*IFS_CODE_FIELDS)), "classes": ["collapse"]}),
        ("Set: Acumatica", {"fields": list(_targets("acumatica_account", "acumatica_subaccount", "acumatica_branch",
                                                     "acumatica_project", "acumatica_task")), "classes": ["collapse"]}),
        ("Set: BILL and Procurify", {"fields": list(_targets("bill_chart_of_account_id", "bill_department_id",
                                                             "procurify_account_code")), "classes": ["collapse"]}),
        ("Checks", {"fields": ["precedence", "reference_check", "created_at", "updated_at"]}),
    ]

    # -- columns ----------------------------------------------------------------------
    @admin.display(description="scope", ordering="flow__name")
    def scope(self, rule):
        return rule.flow.name if rule.flow_id else "all flows"

    @admin.display(description="when the line has")
    def match(self, rule):
        return rule.describe_match()

    @admin.display(description="it sets")
    def sets(self, rule):
        return rule.describe_targets()

    @admin.display(description="precedence")
    def precedence(self, rule):
        return rule.shape() if rule.pk or rule.conditions() else "-"

    @admin.display(description="reference data", ordering="reference_status")
    def reference_check(self, rule):
        if rule.reference_status == MappingRule.REF_UNCHECKED:
            return format_html('<span title="{}">not checked</span>', rule.reference_message)
        return "checked" if rule.reference_status == MappingRule.REF_OK else "-"

    def get_list_display(self, request):
        items = list(super().get_list_display(request))
        if self.is_support(request):
            items.insert(1, "tenant")
        return items

    def get_list_filter(self, request):
        items = list(super().get_list_filter(request))
        return [*items, "tenant"] if self.is_support(request) else items

    # -- audit: every write in a request is attributed to its user under one action id ----
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        with audit.acting(request.user):
            return super().changeform_view(request, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        with audit.acting(request.user):
            return super().delete_view(request, object_id, extra_context)

    def changelist_view(self, request, extra_context=None):
        with audit.acting(request.user):  # bulk actions (delete selected) and list_editable
            return super().changelist_view(request, extra_context)

    def response_add(self, request, obj, post_url_continue=None):
        """A rule added from a held batch's pre-filled link (``?next=``) goes back to that batch, where Retry is."""
        response = super().response_add(request, obj, post_url_continue)
        back = request.GET.get("next", "")
        plain_save = not any(k in request.POST for k in ("_continue", "_addanother", IS_POPUP_VAR))
        if plain_save and back and url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
            return redirect(back)
        return response

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if obj.reference_status == MappingRule.REF_UNCHECKED:
            messages.warning(request, f"Rule #{obj.pk} saved but not checked: {obj.reference_message}")

    # -- "try a line": which rule sets which field, before anything posts ----------------------
    def get_urls(self):
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [path("try/", self.admin_site.admin_view(self.try_view), name=f"{info}_try"),
                path("template/<int:flow_id>/", self.admin_site.admin_view(self.template_view), name=f"{info}_template"),
                *super().get_urls()]

    def _flows(self, request):
        from django.apps import apps

        Flow = apps.get_model("integrations", "Flow")
        return tenancy.scope(Flow.objects.select_related("tenant"), request.user, "tenant").order_by("tenant__name", "name")

    def template_view(self, request, flow_id):
        """A spreadsheet to fill in for one flow: its columns in plain words, its rules so far."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        flow = self._flows(request).filter(pk=flow_id).first()  # another tenant's flow: 404
        if flow is None:
            raise Http404("No such flow.")
        return template_response(flow, with_tenant=self.is_support(request))

    def import_action(self, request, *args, **kwargs):
        response = super().import_action(request, *args, **kwargs)
        if hasattr(response, "context_data"):
            flows = list(self._flows(request))
            response.context_data["template_flows"] = flows
            response.context_data["column_labels"] = COLUMN_LABELS
            # The columns the user's flows use, in plain words (not the table's every internal field name).
            columns = dict.fromkeys(c for f in flows for c in template_columns(f, with_tenant=self.is_support(request)))
            response.context_data["fields_list"] = [("", [COLUMN_LABELS[c] for c in columns] or ["see a flow's template"])]
        return response

    def try_view(self, request):
        """Resolve one made-up line for a flow and show each target field with the rule that set it."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        from django.apps import apps

        from .reference import ReferenceSet
        from .resolver import Resolver

        Flow = apps.get_model("integrations", "Flow")
        flows = tenancy.scope(Flow.objects.select_related("target", "tenant"), request.user, "tenant").order_by("name")
        form = TryLineForm(request.GET or None, flows=flows)
        context = {**self.admin_site.each_context(request), "title": "Try a line against the mapping rules",
                   "opts": self.opts, "form": form}
        if form.is_bound and form.is_valid():
            flow = form.cleaned_data["flow"]
            attrs = form.attributes()
            resolver = Resolver.for_flow(flow)
            owners = resolver.explain(attrs)
            target = resolver.resolve(attrs)
            problems = ReferenceSet.for_connection(flow.target).check_resolved(target)
            rows = [(f, target[f], owners.get(f)) for f in TARGET_FIELDS if f in target]
            context.update(attrs=attrs, rows=rows, problems=problems,
                           flow=flow)
        return TemplateResponse(request, "admin/mappings/mappingrule/try.html", context)

    # -- import / export -----------------------------------------------------------------
    def get_resource_kwargs(self, request, *args, **kwargs):
        ids = self.tenant_ids(request)
        return {"user": request.user, "tenants": ids, "tenant": tenancy.single_tenant(request.user) if ids else None}

    def has_import_permission(self, request):
        return self.has_add_permission(request) and self.has_change_permission(request)

    def has_export_permission(self, request):
        return self.has_view_permission(request)


def _connections_for(request):
    from django.apps import apps

    Connection = apps.get_model("integrations", "Connection")
    qs = tenancy.scope(Connection.objects.select_related("tenant"), request.user, "tenant")
    return qs.filter(system__in=sorted(LOADERS)).order_by("tenant__name", "name")


def _refresh(request, connections):
    for conn in connections:
        try:
            result = refresh_reference(conn, actor=audit.actor_name(request.user))
        except NoLoader as exc:
            messages.error(request, str(exc))
        except Exception as exc:  # the target is down, bad credentials...: say so, keep the old cache
            messages.error(request, f"Could not refresh the reference data of {conn}: {exc}")
        else:
            messages.success(request, f"Reference data of {conn} refreshed: {result}.")


@admin.register(ReferenceEntry)
class ReferenceEntryAdmin(TenantScopedAdmin):
    """The cache is read-only here; it changes only by refreshing it from the target system."""

    tenant_path = "connection__tenant"
    change_list_template = "admin/mappings/referenceentry/change_list.html"
    list_display = ["key", "kind", "description", "active", "postable", "connection", "refreshed_at"]
    list_filter = ["kind", "active", "postable", "connection"]
    list_select_related = ["connection"]
    search_fields = ["key", "description"]
    actions = ["refresh_selected"]

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Refresh the reference data of the selected entries' connections", permissions=["view"])
    def refresh_selected(self, request, queryset):
        ids = set(queryset.values_list("connection_id", flat=True))
        _refresh(request, [c for c in _connections_for(request) if c.pk in ids])

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_refresh"
        return [path("refresh/", self.admin_site.admin_view(self.refresh_view), name=name),
                *super().get_urls()]

    def refresh_view(self, request):
        """Refresh one or all connections of the user's tenants (works before anything is cached)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        connections = list(_connections_for(request))
        if request.method == "POST":
            wanted = request.POST.getlist("connection")
            chosen = [c for c in connections if str(c.pk) in wanted]
            if not chosen:
                messages.warning(request, "Choose a connection to refresh.")
            else:
                _refresh(request, chosen)
            return redirect(reverse("admin:mappings_referenceentry_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Refresh reference data",
            "opts": self.opts,
            "connections": [(c, ReferenceEntry.objects.filter(connection=c).count()) for c in connections],
        }
        return TemplateResponse(request, "admin/mappings/referenceentry/refresh.html", context)

