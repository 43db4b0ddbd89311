"""Two read-only pages per flow in the admin: the mapping coverage check and the dry-run preview.

* ``<flow>/coverage/``: every source value in use (Expensify categories x tags of the live
  policies...) that has no mapping or maps to an unknown, inactive or non-posting target,
  grouped by source value, with a link to add a rule pre-filled with the source values.
* ``<flow>/preview/``: for one source record (an Expensify report ID) or the next N records,
  the exact target document that would be posted (lines, accounts, amounts, balancing
  lines, totals), or the hold with its code and fix. Nothing is posted or stored.

Both are tenant-scoped exactly like the flow's change page: the flow is looked up through
``FlowAdmin.get_object`` (the scoped queryset), so another tenant's flow is a 404, and the
user needs the view permission on flows. ``FlowAdmin`` hooks them in with
``flow_tool_urls(self)`` and the two actions below; the links on the change page come from
``templates/admin/integrations/flow/change_form.html``.

A failure talking to the source or target is shown as an error message naming the system
and the error code (``integrations.failures``), not a server error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import urlencode

from mappings.reference import NoLoader
from mappings.vocabulary import MATCH_ATTRIBUTES, TAG_PREFIX, TARGET_LABELS

from .failures import describe_failure
from .flows import handler_class, implemented_kinds
from .systems.errors import IntegrationError

REASON_LABELS = {
    "unmapped": "no mapping",
    "unknown": "unknown target",
    "inactive": "inactive target",
    "non-posting": "non-posting target",
}
SOURCE_RECORD_LABELS = {"expensify_report": "Expensify report ID"}
FIELD_LABELS = {"account": "JD Edwards account", **TARGET_LABELS}


# --------------------------------------------------------------------------- hooks for FlowAdmin


def flow_tool_urls(model_admin):
    """URL patterns for FlowAdmin.get_urls (put them before the default ones)."""
    info = f"{model_admin.opts.app_label}_{model_admin.opts.model_name}"
    wrap = model_admin.admin_site.admin_view

    def coverage(request, object_id):
        return coverage_view(model_admin, request, object_id)

    def preview(request, object_id):
        return preview_view(model_admin, request, object_id)

    return [
        path("<path:object_id>/coverage/", wrap(coverage), name=f"{info}_coverage"),
        path("<path:object_id>/preview/", wrap(preview), name=f"{info}_preview"),
    ]


def _to_tool(model_admin, request, queryset, tool):
    flows = list(queryset[:2])
    if len(flows) != 1:
        model_admin.message_user(request, "Select exactly one flow for this action.", messages.WARNING)
        return None
    return HttpResponseRedirect(reverse(f"admin:integrations_flow_{tool}", args=[quote(flows[0].pk)]))


@admin.action(description="Check mapping coverage", permissions=["view"])
def check_mapping_coverage(model_admin, request, queryset):
    return _to_tool(model_admin, request, queryset, "coverage")


@admin.action(description="Preview documents (dry run, posts nothing)", permissions=["view"])
def preview_documents(model_admin, request, queryset):
    return _to_tool(model_admin, request, queryset, "preview")


# --------------------------------------------------------------------------- shared


def get_flow(model_admin, request, object_id):
    """The flow if the user may view it: out of the user's tenants (or missing) is a 404."""
    flow = model_admin.get_object(request, unquote(object_id))
    if flow is None:
        raise Http404("No flow matches the given query.")
    if not model_admin.has_view_permission(request, flow):
        raise PermissionDenied
    return flow


def _context(model_admin, request, flow, title, **extra):
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "original": flow,
        "flow": flow,
        "title": title,
        "subtitle": flow.name,
        "coverage_url": reverse("admin:integrations_flow_coverage", args=[quote(flow.pk)]),
        "preview_url": reverse("admin:integrations_flow_preview", args=[quote(flow.pk)]),
        "rules_url": reverse("admin:mappings_mappingrule_changelist") + "?" + urlencode({"flow__id__exact": flow.pk}),
        **extra,
    }


def _implemented(request, flow):
    if flow.kind in implemented_kinds():
        return True
    messages.error(request, f"Flows of kind {flow.get_kind_display()} are not implemented yet: nothing to check.")
    return False


def _run(request, flow, fn, *args, **kwargs):
    """(result, failed): an error from a connected system becomes an error message."""
    try:
        return fn(*args, **kwargs), False
    except (IntegrationError, NoLoader) as exc:
        messages.error(request, describe_failure(exc, flow))
        return None, True


# --------------------------------------------------------------------------- coverage


@dataclass
class GapGroup:
    """The gaps of one source value (e.g. policy HQ + category Gifts), its tag variants folded in."""

    reason: str
    field: str
    value: str | None
    source: dict  # the match attributes without tags, e.g. {"policy": "HQ", "category": "Gifts"}
    gaps: list = field(default_factory=list)
    tag_variants: list = field(default_factory=list)  # [{"Cost Center": "CC10"}, ...]
    rule_ids: set = field(default_factory=set)

    @property
    def message(self):
        plain = [g for g in self.gaps if not any(k.startswith(TAG_PREFIX) for k in g.source)]
        return (plain or self.gaps)[0].message

    @property
    def reason_label(self):
        return REASON_LABELS.get(self.reason, self.reason)

    @property
    def field_label(self):
        return FIELD_LABELS.get(self.field, self.field)

    @property
    def source_items(self):
        return list(self.source.items())

    @property
    def tag_texts(self):
        return ["; ".join(f"{k}={v}" for k, v in tags.items()) for tags in self.tag_variants]

    @property
    def has_plain(self):
        return any(not any(k.startswith(TAG_PREFIX) for k in g.source) for g in self.gaps)

    def add_rule_query(self, flow):
        """GET parameters for the MappingRule add form: this flow, these source values."""
        params = {"tenant": flow.tenant_id, "flow": flow.pk, **self.source}
        if not self.has_plain and self.tag_variants:
            params["tags"] = "; ".join(f"{k}={v}" for k, v in self.tag_variants[0].items())
        params["note"] = f"Added from the mapping coverage check of {flow.name}."
        return urlencode(params)


def group_gaps(gaps):
    groups: dict[tuple, GapGroup] = {}
    for gap in gaps:
        source = {k: str(v) for k, v in gap.source.items() if k in MATCH_ATTRIBUTES and v not in (None, "")}
        tags = {k[len(TAG_PREFIX) :]: str(v) for k, v in gap.source.items() if k.startswith(TAG_PREFIX) and v}
        key = (gap.reason, gap.field, gap.value, tuple(source.items()))
        group = groups.get(key)
        if group is None:
            group = groups[key] = GapGroup(gap.reason, gap.field, gap.value, source)
        group.gaps.append(gap)
        if tags:
            group.tag_variants.append(tags)
        group.rule_ids.update(gap.rule_ids)
    return list(groups.values())


def coverage_view(model_admin, request, object_id):
    from .coverage import flow_coverage

    flow = get_flow(model_admin, request, object_id)
    gaps, failed = None, True
    if _implemented(request, flow):
        gaps, failed = _run(request, flow, flow_coverage, flow)
    groups = group_gaps(gaps or [])
    may_add = request.user.has_perm("mappings.add_mappingrule")
    add_url = reverse("admin:mappings_mappingrule_add")
    rows = [
        {
            "group": g,
            "add_url": f"{add_url}?{g.add_rule_query(flow)}" if may_add else "",
            "rules": [(pk, reverse("admin:mappings_mappingrule_change", args=[pk])) for pk in sorted(g.rule_ids)],
        }
        for g in groups
    ]
    counts = {}
    for gap in gaps or []:
        counts[gap.reason] = counts.get(gap.reason, 0) + 1
    context = _context(
        model_admin,
        request,
        flow,
        "Mapping coverage",
        failed=failed,
        gaps=gaps or [],
        rows=rows,
        counts=[(REASON_LABELS.get(k, k), v) for k, v in sorted(counts.items())],
    )
    return TemplateResponse(request, "admin/integrations/flow/coverage.html", context)


# --------------------------------------------------------------------------- preview


class PreviewForm(forms.Form):
    record = forms.CharField(required=False, max_length=100, strip=True)
    limit = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=100,
        initial=5,
        label="or the next N records",
        help_text="Used when no record ID is given: the records the next cycle would fetch (first page).",
    )

    def __init__(self, *args, record_label="Source record ID", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["record"].label = record_label
        self.fields["record"].help_text = f"Preview this one record ({record_label}), whatever its state."


def _decimal(text):
    try:
        return Decimal(str(text))
    except (InvalidOperation, TypeError, ValueError):
        return Decimal(0)


def _account_text(account):
    if isinstance(account, dict):
        return ".".join(str(v) for v in account.values() if v)
    return str(account or "")


def present(result):
    """One preview result as the template shows it: header, lines with debit/credit, totals."""
    out = {"source_id": result.get("source_id"), "ok": result.get("ok"), "hold": result.get("hold")}
    if not result.get("ok"):
        return out
    posting = result.get("posting") or {}
    document = result.get("document") or {}
    lines = posting.get("lines") or []
    doc_lines = document.get("Lines") if isinstance(document, dict) else None
    paired = isinstance(doc_lines, list) and len(doc_lines) == len(lines)
    rows = []
    debit = credit = Decimal(0)
    for i, line in enumerate(lines):
        doc = doc_lines[i] if paired else {}
        amount = _decimal(doc.get("Amount", line.get("amount")))
        if amount > 0:
            debit += amount
        else:
            credit -= amount
        rows.append(
            {
                "number": doc.get("LineNumber", i + 1),
                "account": doc.get("Account") or _account_text(line.get("account")),
                "amount": amount,
                "debit": amount if amount > 0 else None,
                "credit": -amount if amount < 0 else None,
                "explanation": doc.get("Explanation", line.get("memo", "")),
                "remark": doc.get("Remark", line.get("source_line", "")),
                "balancing": line.get("kind") == "offset",
            }
        )
    out.update(
        external_ref=result.get("external_ref"),
        currency=result.get("currency") or posting.get("currency"),
        header=[(k, v) for k, v in document.items() if k != "Lines"] if isinstance(document, dict) else [],
        rows=rows,
        debit_total=debit,
        credit_total=credit,
        balance=debit - credit,
        source_total=posting.get("source_total"),
        document_json=json.dumps(document, indent=2, default=str),
    )
    return out


def preview_view(model_admin, request, object_id):
    from .preview import preview

    flow = get_flow(model_admin, request, object_id)
    implemented = flow.kind in implemented_kinds()
    label = SOURCE_RECORD_LABELS.get(handler_class(flow.kind).source_kind, "Source record ID") if implemented else ""
    bound = bool({"record", "limit"} & set(request.GET))
    form = PreviewForm(request.GET if bound else None, record_label=label or "Source record ID")
    results, failed, asked = None, False, ""
    if bound and form.is_valid() and _implemented(request, flow):
        record = form.cleaned_data.get("record") or None
        limit = form.cleaned_data.get("limit") or 5
        asked = f"{label} {record}" if record else f"the next {limit} record(s)"
        results, failed = _run(request, flow, preview, flow, source_id=record, limit=limit)
    shown = [present(r) for r in results or []]
    context = _context(
        model_admin,
        request,
        flow,
        "Preview (dry run)",
        form=form,
        asked=asked,
        failed=failed,
        ran=results is not None,
        results=shown,
        ok_count=sum(1 for r in shown if r["ok"]),
        hold_count=sum(1 for r in shown if not r["ok"]),
    )
    return TemplateResponse(request, "admin/integrations/flow/preview.html", context)
