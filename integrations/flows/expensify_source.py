"""Expensify approved reports as a source: what every flow from Expensify shares.

Paging (Expensify has no offset and no modified-since filter): each export job excludes
reports that carry the fetch label; once a page's batches are stored, the page is marked
with that label, so the next job returns the next page. The fetch label is the confirm
label ("ml-connector") unless set otherwise: a report any flow has taken is never offered
to another one. The approved-after cursor (a day of overlap, so nothing approved late on
the cursor day is missed) bounds the search and moves only after a complete pass, whatever
order Expensify returns reports in. Posted reports are marked with the confirm label again
(a no-op unless the fetch label was changed).

Options (Flow.options): page_size (500), start_date (ISO; first cycle's approved-after,
default 90 days back), fetch_label, confirm_label ("ml-connector"), mark_wait_seconds (300:
how long a cycle waits for Expensify to apply a label before leaving the rest to the next
cycle), mark_poll_seconds (2, doubling up to 30), recheck_hours (6) and recheck_days (60): how often,
and how far back by posting time, posted reports are asked about again (``engine.recheck``): a report
unapproved (or deleted) after it was posted is held as ``SRC-UNAPPROVED-AFTER-POST``.
"""

import time
from datetime import date, timedelta

from mappings.resolver import Resolver

from ..engine.errors import CONNECTION_ERRORS, Paused
from ..posting import Hold, from_minor_units
from ..systems.expensify import ExpensifyClient
from .base import Page, SourceRecord
from .expensify_records import check_report

STATES = ("APPROVED", "REIMBURSED")
# A report in one of these is no longer approved: the export's ``status`` is the website's name of the state
# (Open, Processing for OPEN, SUBMITTED: shared/reference/expensify.md); the API names are taken too.
UNAPPROVED_STATUSES = ("open", "processing", "submitted")
APPROVED_STATUSES = ("approved", "reimbursed")


class ExpensifyReports:
    """Mixin for a FlowHandler whose source is Expensify's approved and reimbursed reports."""

    source_kind = "expensify_report"
    # Pages are read over HTTP only; the labels they page on are set in after_store (engine.ahead).
    fetch_ahead = True
    reference_prefix = "EXP"
    source_minor_units = True  # report totals and expense amounts are integer cents
    # Unapproving and approving again restamps these; the amounts and coding are what count.
    volatile_fields = ("approved", "status", "managerEmail", "reimbursed", "submitted", "actionList", "approvers")
    retracted_code = "SRC-UNAPPROVED-AFTER-POST"
    retracted_reason = "unapproved at the source after posting"

    def open_source(self):
        self.page_size = int(self.options.get("page_size", 500))
        self.confirm_label = self.options.get("confirm_label") or "ml-connector"
        # Exports exclude this label and each stored page gets it. It is the confirm label unless set
        # otherwise, so a report any flow took is never offered to another flow (or a re-created one).
        self.fetch_label = self.options.get("fetch_label") or self.confirm_label
        # Read the connection again for every cycle: rotated credentials take effect without a restart,
        # even in a worker that keeps the flow object between cycles.
        self.flow.source.refresh_from_db(fields=["base_url", "credentials", "options"])
        self.expensify = ExpensifyClient(self.flow.source)
        self.policy_tags = {}  # policyID -> tag level names, fetched once per cycle per policy

    # -- source ------------------------------------------------------------------
    def fetch(self, cursor):
        """Pages of approved reports not yet taken. Expensify promises no order and applies
        markAsExported at the end of its own export job, so: a report offered again within the
        pass is dropped (it is stored already), a page of nothing but those is waited for with
        backoff, and the cursor moves only once a pass is complete (an export shorter than the
        page size), to the newest approval seen less a day: every report before it is stored."""
        approved_after = cursor.get("approved_after") or self.options.get("start_date")
        approved_after = date.fromisoformat(approved_after) if approved_after else date.today() - timedelta(days=90)
        seen, newest = set(), None
        waiter = _MarkWaiter(self.options)
        while True:
            try:
                reports = self.expensify.export_reports(
                    states=STATES, approved_after=approved_after, exclude_label=self.fetch_label, limit=self.page_size
                )
            except CONNECTION_ERRORS as exc:
                # Credentials that stopped working are an outage of the connection, not a failed cycle: the flow
                # backs off and the tenant gets one alert for the whole outage (engine.outage).
                raise Paused(exc) from exc
            complete = len(reports) < self.page_size
            fresh = [r for r in reports if str(r["reportID"]) not in seen]
            if reports and not fresh:
                if not waiter.wait():
                    self.log(f"Expensify has not applied the label \"{self.fetch_label}\" yet; the next cycle carries on")
                    return
                continue
            waiter.reset()
            seen.update(str(r["reportID"]) for r in fresh)
            self._learn_policies(fresh)
            newest = max([d for d in (approved_day(r, None) for r in fresh) if d] + ([newest] if newest else []), default=None)
            page_cursor = {}
            if complete and newest:
                # One day of overlap: Expensify's approvedAfter drops reports approved on the day itself.
                page_cursor = {"approved_after": max(approved_after, newest - timedelta(days=1)).isoformat()}
            yield Page(records=[SourceRecord(id=str(r["reportID"]), payload=self._snapshot(r)) for r in fresh],
                       cursor=page_cursor)
            if complete:
                return

    def source_amount(self, payload):
        return from_minor_units(payload["total"], payload["currency"]), payload["currency"]

    def check_record(self, payload):
        return check_report(payload)

    def fetch_record(self, source_id):
        reports = self.expensify.export_reports(states=None, report_ids=[str(source_id)], limit=1)
        if not reports:
            return None
        self._learn_policies(reports)
        return SourceRecord(id=str(reports[0]["reportID"]), payload=self._snapshot(reports[0]))

    def recheck(self, batches):
        """One export for the chunk: ``filters.reportIDList`` (a comma string) with ``reportState`` naming every
        state, so a report unapproved since still comes back, with its ``status`` (shared/reference/expensify.md,
        "Report export"; PipedreamHQ/pipedream components/expensify/actions/get-report reads reports by
        reportIDList the same way). A report the answer lacks is taken as deleted only when the answer holds
        others of the chunk: an empty answer flags nothing."""
        ids = [b.source_id for b in batches]
        reports = {str(r["reportID"]): r for r in self.expensify.export_reports(states=None, report_ids=ids,
                                                                                 limit=len(ids))}
        answered = bool(reports.keys() & set(ids))
        verdicts = {}
        for batch in batches:
            report = reports.get(batch.source_id)
            posted = f"{self.flow.target.name} {batch.target_document_id or batch.external_ref}"
            if report is None:
                if answered:
                    verdicts[batch.source_id] = (f"report {batch.source_id} is no longer in Expensify (deleted, or out "
                                                 f"of these credentials' reach) after it was posted as {posted}; "
                                                 "reverse it in the target or accept")
                continue
            status = str(report.get("status") or "").strip().lower()
            if status in UNAPPROVED_STATUSES:
                verdicts[batch.source_id] = (f"report {batch.source_id} was unapproved in Expensify (now "
                                             f"{status.capitalize()}) after it was posted as {posted}; reverse it in "
                                             "the target or accept")
            elif status in APPROVED_STATUSES and batch.error_code == self.retracted_code and self._as_posted(report, batch):
                verdicts[batch.source_id] = None
        return verdicts

    def _as_posted(self, report, batch):
        """The report approved again exactly as it was posted (a changed one is left to intake's correction)."""
        self._learn_policies([report])
        return self.fingerprint(self.stored_payload(self._snapshot(report))) == batch.payload_hash

    def after_store(self, page):
        self.expensify.mark_exported([r.id for r in page.records], self.fetch_label)

    def confirm(self, batches):
        confirmed = []
        for start in range(0, len(batches), self.page_size):
            chunk = batches[start : start + self.page_size]
            self.expensify.mark_exported([b.source_id for b in chunk], self.confirm_label)
            confirmed.extend(chunk)
        return confirmed

    def _learn_policies(self, reports):
        unknown = sorted({r["policyID"] for r in reports if r.get("policyID") and r["policyID"] not in self.policy_tags})
        if not unknown:
            return
        info = self.expensify.get_policies(unknown, fields=("tags",))
        for policy_id in unknown:
            levels = (info.get(policy_id) or {}).get("tags") or []
            names = [lvl["name"] for lvl in levels if isinstance(lvl, dict) and "tags" in lvl]
            self.policy_tags[policy_id] = names or ["Tag"]

    def _snapshot(self, report):
        snapshot = dict(report)
        snapshot["tagLevels"] = self.policy_tags.get(report.get("policyID"), ["Tag"])
        return snapshot

    # -- the posting every flow from Expensify builds ---------------------------------
    def build_posting(self, report, external_ref):
        """One report as a balanced Posting (``expensify_journal.report_journal``): a debit line per expense,
        coded by the flow's ``map_expense``, and one offset line per kind of spend from ``self.offsets``."""
        from .expensify_journal import report_journal  # it imports this module (approved_day)

        return report_journal(report, external_ref, map_expense=self.map_expense, offsets=self.offsets)

    # -- coverage and mapping attributes ---------------------------------------
    def coverage_usages(self):
        """Every source value in use: each enabled category of each policy, alone and with each tag value."""
        policies = self.expensify.list_policies()
        info = self.expensify.get_policies([p["id"] for p in policies], fields=("categories", "tags"))
        for policy in policies:
            detail = info.get(policy["id"]) or {}
            categories = [c for c in detail.get("categories") or [] if c.get("enabled", True)]
            levels = [lvl for lvl in detail.get("tags") or [] if isinstance(lvl, dict) and "tags" in lvl]
            for category in categories:
                base = {
                    "policy": policy["name"],
                    "category": category["name"],
                    "category_gl_code": (category.get("glCode") or "").strip(),
                }
                yield base
                for level in levels:
                    for tag in level["tags"]:
                        if tag.get("enabled", True):
                            yield {**base, f"tag:{level['name']}": tag["name"]}

    def source_lines(self, payload):
        currency = payload.get("currency", "")
        lines = []
        for expense in payload.get("transactions") or []:
            amount = expense.get("convertedAmount", expense.get("amount"))
            lines.append({
                "line": str(expense.get("transactionID", "")),
                "merchant": expense.get("merchant", ""),
                "category": expense.get("category", ""),
                "tag": expense.get("tag", ""),
                "amount": None if amount is None else from_minor_units(amount, currency),
                "reimbursable": bool(expense.get("reimbursable")),
                "policy": payload.get("policyName", ""),
            })
        return lines

    # Which source field of an expense a mapping hold is about, for the batch page (a flow adds its own codes).
    HOLD_FIELDS = {"MAP-UNMAPPED-CATEGORY": "category"}

    def check_line(self, payload, index):
        """The expense mapped by the flow's own ``map_expense`` from the rules alone (no connection opened)."""
        if getattr(self, "resolver", None) is None:
            self.resolver = Resolver.for_flow(self.flow)
        expense = (payload.get("transactions") or [])[index]
        try:
            return {"account": self.map_expense(payload, expense)}
        except Hold as hold:
            return {"field": self.HOLD_FIELDS.get(hold.code, ""), "code": hold.code, "message": hold.message}

    def line_attributes(self, report, expense):
        attrs = {
            "policy": report.get("policyName", ""),
            "category": expense.get("category", ""),
            "employee": report.get("accountEmail", ""),
        }
        tag_values = [v.strip() for v in (expense.get("tag") or "").split(":")]
        for name, value in zip(report.get("tagLevels") or ["Tag"], tag_values, strict=False):
            if value:
                attrs[f"tag:{name}"] = value
        return attrs


_NO_DEFAULT = object()


def approved_day(report, default=_NO_DEFAULT):
    try:
        return date.fromisoformat(str(report.get("approved") or report.get("submitted") or report["created"])[:10])
    except (KeyError, TypeError, ValueError):
        if default is _NO_DEFAULT:
            raise
        return default


class _MarkWaiter:
    """Backoff while Expensify has not applied a label yet (it does so at the end of its export job)."""

    def __init__(self, options):
        self.total = float(options.get("mark_wait_seconds", 300))
        self.initial = float(options.get("mark_poll_seconds", 2))
        self.reset()

    def reset(self):
        self.waited, self.delay = 0.0, self.initial

    def wait(self):
        """Sleep once; False when the wait is used up."""
        if self.waited >= self.total:
            return False
        pause = min(self.delay, self.total - self.waited)
        time.sleep(pause)
        self.waited += pause
        self.delay = min(self.delay * 2, 30.0)
        return True
