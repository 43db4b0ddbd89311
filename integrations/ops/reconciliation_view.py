"""The reconciliation page of a flow (``<flow>/reconciliation/``) and its CSV/XLSX download.

The flow is looked up through ``FlowAdmin.get_object`` (``portal.admin_scoping``'s scoped
queryset): another tenant's flow is a 404, and every batch query starts from that flow.
Downloads go through ``portal.exports`` so a text cell cannot run as a formula.
"""

from __future__ import annotations

from datetime import date

import tablib
from django import forms
from django.contrib.admin.utils import quote
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode

from portal.exports import SafeCSV, SafeXLSX

from ..admin_views import get_flow
from .display import money, money_with_currency
from .reconciliation import HEADERS, build_report, default_period, report_rows

LISTED = 500  # the page lists this many explaining records; the download has them all
FORMATS = {
    "csv": (SafeCSV, "text/csv; charset=utf-8"),
    "xlsx": (SafeXLSX, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
}


class PeriodForm(forms.Form):
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To (inclusive)", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError("The period starts after it ends.")
        return data


def reconciliation_urls(model_admin):
    """URL pattern for FlowAdmin.get_urls (before the default ones)."""
    info = f"{model_admin.opts.app_label}_{model_admin.opts.model_name}"

    def view(request, object_id):
        return reconciliation_view(model_admin, request, object_id)

    return [path("<path:object_id>/reconciliation/", model_admin.admin_site.admin_view(view), name=f"{info}_reconciliation")]


def reconciliation_url(flow, **params):
    url = reverse("admin:integrations_flow_reconciliation", args=[quote(flow.pk)])
    return f"{url}?{urlencode(params)}" if params else url


def _period(request, flow):
    today = timezone.localdate(timezone=_tz(flow))
    start, end = default_period(today)
    form = PeriodForm(request.GET or {"start": start, "end": end})
    if form.is_valid():
        return form, form.cleaned_data["start"], form.cleaned_data["end"]
    return form, start, end


def _tz(flow):
    import zoneinfo

    return zoneinfo.ZoneInfo(flow.tenant.time_zone or "UTC")


def reconciliation_view(model_admin, request, object_id):
    flow = get_flow(model_admin, request, object_id)
    form, start, end = _period(request, flow)
    report = build_report(flow, start, end)
    wanted = request.GET.get("format")
    if wanted in FORMATS:
        return download(report, wanted)
    batch_list = reverse("admin:integrations_batch_change", args=[0]).rsplit("/0/", 1)[0] + "/"
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "original": flow,
        "flow": flow,
        "title": "Reconciliation",
        "subtitle": flow.name,
        "form": form,
        "report": report,
        "totals": [
            (
                t,
                money_with_currency(t.source_total, t.currency),
                money_with_currency(t.posted_total, t.currency),
                money_with_currency(t.difference, t.currency),
            )
            for t in report.totals
        ],
        "records": [
            (
                r,
                money(r.source_amount, r.batch.currency) if r.source_amount is not None else "-",
                money(r.posted_amount, r.batch.currency),
                money(r.difference, r.batch.currency),
                f"{batch_list}{quote(r.batch.pk)}/change/",
            )
            for r in report.records[:LISTED]
        ],
        "more": max(0, len(report.records) - LISTED),
        "csv_url": reconciliation_url(flow, start=start, end=end, format="csv"),
        "xlsx_url": reconciliation_url(flow, start=start, end=end, format="xlsx"),
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/integrations/flow/reconciliation.html", context)


def download(report, fmt):
    dataset = tablib.Dataset(headers=HEADERS, title="Reconciliation")
    for row in report_rows(report):
        dataset.append([str(cell) if not isinstance(cell, (str, int)) else cell for cell in row])
    fmt_class, content_type = FORMATS[fmt]
    data = fmt_class().export_data(dataset)
    response = HttpResponse(data, content_type=content_type)
    name = f"reconciliation-{report.flow.tenant.slug}-{report.flow.pk}-{_iso(report.start)}-{_iso(report.end)}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _iso(day: date):
    return day.isoformat()
