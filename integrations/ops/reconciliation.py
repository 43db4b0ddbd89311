"""Reconciliation report of one flow and period: what the source gave versus what was posted,
per currency, with the records that explain any difference.

The period is on the day a record was taken from the source (``Batch.created_at``), in the
tenant's time zone, so both totals count the same records: "of what arrived in March, how
much is in the target". A record posted and untouched since counts the same on both sides and
is only summed (one aggregate query); every other record explains part of the difference and
is listed (one query, whatever the volume):

* not posted (held, in doubt, failed, waiting, skipped): source amount, nothing posted;
* changed after posting (``SRC-CHANGED-AFTER-POST``, or any posted record with a correction
  awaiting a decision): posted the old amount, the source now says the correction's amount;
* withdrawn at the source after posting (``SRC-UNAPPROVED-AFTER-POST``: an Expensify report unapproved
  or deleted since): source amount 0, posted the amount;
* posted but held for review (reconcile found a mismatch or a duplicate): posted, flagged.

A record held at intake may have no amount on the batch: it is read from the payload through
the flow's handler (``source_amount``), the same function intake uses.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum

from ..currencies import exponent
from ..flows import handler_class
from ..models import Batch, BatchState

S = BatchState
CLEAN_POSTED = (S.POSTED, S.CONFIRMED)
ZERO = Decimal("0")
REASONS = {
    S.HELD: "held (needs a person)",
    S.IN_DOUBT: "in doubt (reconcile pending)",
    S.FAILED: "failed (will retry)",
    S.SKIPPED: "skipped by an operator",
    S.NEW: "waiting to be posted",
    S.READY: "waiting to be posted",
    S.POSTING: "being posted",
}
CHANGED_CODES = ("SRC-CHANGED-AFTER-POST", "SRC-CHANGED-IN-DOUBT")


@dataclass
class CurrencyTotals:
    currency: str
    source_total: Decimal = ZERO
    posted_total: Decimal = ZERO
    source_count: int = 0
    posted_count: int = 0

    @property
    def difference(self):
        return self.source_total - self.posted_total


@dataclass
class ExplainingRecord:
    batch: Batch
    reason: str
    source_amount: Decimal | None
    posted_amount: Decimal

    @property
    def difference(self):
        return (self.source_amount or ZERO) - self.posted_amount


@dataclass
class Report:
    flow: object
    start: date
    end: date  # inclusive
    totals: list[CurrencyTotals] = field(default_factory=list)
    records: list[ExplainingRecord] = field(default_factory=list)

    @property
    def balanced(self):
        return all(t.difference == 0 for t in self.totals)


def period_bounds(tenant, start, end):
    """[start 00:00, end+1 00:00) in the tenant's time zone, as aware datetimes."""
    tz = zoneinfo.ZoneInfo(tenant.time_zone or "UTC")
    return datetime.combine(start, time.min, tz), datetime.combine(end + timedelta(days=1), time.min, tz)


def default_period(today):
    """The current month up to today."""
    return today.replace(day=1), today


def _handler(flow):
    try:
        return handler_class(flow.kind)(flow)
    except LookupError:
        return None


def _amount_of(handler, payload, currency):
    if handler is None or not payload:
        return None, currency
    try:
        amount, cur = handler.source_amount(payload)
    except (KeyError, TypeError, ValueError, ArithmeticError):  # a malformed record: shown without an amount
        return None, currency
    return amount, cur or currency


def _explain(batch, handler):
    """(reason, source amount, source currency, posted amount) of a record that is not clean-posted."""
    posted = bool(batch.posted_at) or batch.state in CLEAN_POSTED
    amount, currency = batch.amount, batch.currency
    if amount is None:
        amount, currency = _amount_of(handler, batch.payload, currency)
    if posted and batch.correction_payload:
        new_amount, new_currency = _amount_of(handler, batch.correction_payload, currency)
        reason = "changed at the source after posting (correction awaiting a decision)"
        return reason, new_amount, new_currency, amount or ZERO
    if posted and handler is not None and batch.error_code and batch.error_code == handler.retracted_code:
        # withdrawn at the source (e.g. unapproved): it no longer counts there, the posted document still stands
        return handler.retracted_reason, ZERO, currency, amount or ZERO
    if posted:
        label = (
            f"posted, held for review [{batch.error_code}]"
            if batch.state == S.HELD
            else f"posted, {S(batch.state).label.lower()}"
        )
        return label, amount, currency, amount or ZERO
    reason = REASONS.get(batch.state, batch.state)
    if batch.error_code:
        reason = f"{reason} [{batch.error_code}]"
    return reason, amount, currency, ZERO


def build_report(flow, start, end):
    """The report of ``flow`` (already scoped to the user by the caller) for days ``start``..``end``."""
    since, until = period_bounds(flow.tenant, start, end)
    in_period = Batch.objects.filter(flow=flow, created_at__gte=since, created_at__lt=until)
    clean = Q(state__in=CLEAN_POSTED, correction_payload__isnull=True)
    totals: dict[str, CurrencyTotals] = {}

    def line(currency):
        return totals.setdefault(currency or "?", CurrencyTotals(currency or "?"))

    for currency, total, n in (
        in_period.filter(clean)
        .values("currency")
        .annotate(total=Sum("amount"), n=Count("id"))
        .values_list("currency", "total", "n")
        .order_by()
    ):
        t = line(currency)
        t.source_total += total or ZERO
        t.posted_total += total or ZERO
        t.source_count += n
        t.posted_count += n
    handler = _handler(flow)
    records = []
    for batch in in_period.exclude(clean).defer("posting", "found_in_target", "notes").order_by("created_at", "pk").iterator():
        batch.flow = flow  # no query per row for the links and the tenant
        reason, source_amount, source_currency, posted_amount = _explain(batch, handler)
        records.append(ExplainingRecord(batch, reason, source_amount, posted_amount))
        src = line(source_currency)
        src.source_total += source_amount or ZERO
        src.source_count += 1
        if posted_amount or batch.posted_at:
            dst = line(batch.currency)
            dst.posted_total += posted_amount
            dst.posted_count += 1
    return Report(flow=flow, start=start, end=end, totals=sorted(totals.values(), key=lambda t: t.currency), records=records)


HEADERS = [
    "section",
    "currency",
    "source kind",
    "record",
    "state",
    "reason",
    "source amount",
    "posted amount",
    "difference",
    "target document",
    "taken from source",
]


def exact(amount, currency):
    """The amount at the currency's precision (``85.2800`` USD -> ``85.28``), no grouping: for spreadsheets."""
    if amount is None or amount == "":
        return ""
    try:
        places = exponent(currency)
    except (KeyError, LookupError, ValueError):
        places = 2
    return str(Decimal(amount).quantize(Decimal(1).scaleb(-places)))


def report_rows(report):
    """The report as one table (CSV/XLSX): the currency totals first, then every explaining record (arrival in the
    tenant's time zone, the one the period is counted in)."""
    tz = zoneinfo.ZoneInfo(report.flow.tenant.time_zone or "UTC")
    rows = [
        [
            "total",
            t.currency,
            "",
            f"{t.source_count} from source / {t.posted_count} posted",
            "",
            "",
            exact(t.source_total, t.currency),
            exact(t.posted_total, t.currency),
            exact(t.difference, t.currency),
            "",
            "",
        ]
        for t in report.totals
    ]
    for r in report.records:
        b = r.batch
        rows.append(
            [
                "record",
                b.currency,
                b.source_kind,
                b.source_id,
                b.state,
                r.reason,
                exact(r.source_amount, b.currency),
                exact(r.posted_amount, b.currency),
                exact(r.difference, b.currency),
                b.target_document_id or b.external_ref,
                b.created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
            ]
        )
    return rows
