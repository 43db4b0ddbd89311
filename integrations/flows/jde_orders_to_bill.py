"""Approved JD Edwards purchase orders -> BILL bills (postings; ``jde_to_bill`` with ``records: "bills"``).

* Source: orders (F4301 with every F4311 line) changed since the cursor ``orders_since`` (first
  run: option ``start_date``), approved ones only: at least one line not cancelled, and every such
  line's last status in ``approved_statuses`` (default ["220", "400"]: printed/approved and
  received, JDE's standard activity rules; UNCONFIRMED per site).
* One order, one bill; the reference ``PO-<company>-<number>-<type>`` is the bill's invoice
  number, which reconcile (and the duplicate check before every create) searches.
* Each line (extended amount, not cancelled) is a bill line; accounts, departments, vendor (waiting
  for it) and currency (the order's CRCD) are checked before any write as ``jde_bills`` describes.

Options: ``start_date``, ``approved_statuses``, ``due_days`` (30, when the order has no requested
date), ``page_size`` (100), ``reference_max_age_minutes`` (60).
"""

import datetime as dt
import json
from dataclasses import asdict
from decimal import Decimal

from ..posting import PostingLine
from ..systems.text import fit
from .base import Page, SourceRecord
from .checks import check_fields
from .jde_bills import WAITING, JdeBills  # noqa: F401 - WAITING: the held code tests read here

LINE_TEXT_LENGTH = 100  # a bill line's description (BILL documents no length: the connector's choice)


def _plain(order):
    return json.loads(json.dumps(asdict(order), default=str))


class JdeOrdersToBill(JdeBills):
    source_kind = "jde_purchase_order"
    reference_prefix = "PO"

    line_text, line_amount = ("description", "item"), "extended_amount"

    def live_lines(self, payload):
        return [ln for ln in payload.get("lines") or [] if not ln.get("cancelled")]

    # -- source ---------------------------------------------------------------------------------------
    def approved(self, order):
        statuses = {str(s) for s in self.options.get("approved_statuses") or ("220", "400")}
        live = [ln for ln in order.lines if not ln.cancelled]
        return bool(live) and all(ln.last_status in statuses for ln in live)

    def fetch(self, cursor):
        since = cursor.get("orders_since") or self.options.get("start_date")
        since = dt.datetime.fromisoformat(since) if since else None
        # Oldest change first, a page at a time: the cursor after a page is its newest change.
        for chunk in self.jde.purchase_order_pages(since, int(self.options.get("page_size", 100))):
            newest = max((o.updated for o in chunk if o.updated), default=since)
            records = [
                SourceRecord(f"{o.company}-{o.number}-{o.order_type}", _plain(o), f"PO {o.number}: {o.total}")
                for o in chunk
                if self.approved(o)
            ]
            page, chunk, records = Page(records, {"orders_since": newest.isoformat()} if newest else {}), None, None
            yield page
            page = None  # stored by now: not held while the next page is read

    def check_record(self, payload):
        """Control characters leave the order's and its lines' free text (noted), so none reaches BILL."""
        return check_fields(payload, [], text=("description",), line_text=("description", "item"))

    def source_amount(self, payload):
        return Decimal(str(payload.get("total") or "0")), payload.get("currency") or ""

    def coverage_accounts(self):
        for order in self.jde.purchase_orders_changed_since(None):
            if self.approved(order):
                yield from (ln.account for ln in order.lines if not ln.cancelled)

    # -- mapping ------------------------------------------------------------------------------------------
    def build_posting(self, payload, external_ref):
        lines = [
            PostingLine(
                account={"account": ln["account"]},
                amount=Decimal(ln["extended_amount"]),
                memo=fit(ln.get("description") or ln.get("item") or "", LINE_TEXT_LENGTH),
                source_line=str(ln["line_number"]),
            )
            for ln in self.live_lines(payload)
        ]
        total = Decimal(str(payload.get("total") or "0"))
        # The reference ``PO-...`` is the invoice number; the due date is the order's requested date.
        return self.bill_posting(payload, external_ref, lines, payload.get("order_date"), f"PO {payload['number']}", total,
                                 invoice=external_ref, due=payload.get("requested_date"),
                                 fields={"purchaseOrderNumber": str(payload.get("number") or "")})
