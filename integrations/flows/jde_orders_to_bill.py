"""Approved JD Edwards purchase orders -> BILL bills (postings; ``jde_to_bill`` with ``records: "bills"``).

* Source: orders (F4301 with every F4311 line) changed since the cursor ``orders_since`` (first
  run: option ``start_date``), approved ones only: at least one line not cancelled, and every such
  line's last status in ``approved_statuses`` (default ["220", "400"]: printed/approved and
  received, JDE's standard activity rules; UNCONFIRMED per site).
* One order, one bill; the reference ``PO-<company>-<number>-<type>`` is the bill's invoice
  number, which reconcile (and the duplicate check before every create) searches.
* Each line (extended amount, not cancelled) references the BILL chart of account whose number is
  the JDE object account and the BILL department whose short name is the business unit; both
  must exist live in BILL, and the JDE account must be a live posting account in F0901: all
  checked before any write, else the order is held with the reason.
* The vendor is the BILL vendor of the order's supplier (``bill_vendors.matches``). When there is
  none yet the order is held ``BILL-VENDOR-PENDING``; each cycle (the engine's waiting phase) puts
  such orders back to be mapped once their vendor exists (the vendors flow created it), so they post with no one involved.

Options: ``start_date``, ``approved_statuses``, ``due_days`` (30, when the order has no requested
date), ``page_size`` (100), ``reference_max_age_minutes`` (60).
"""

import datetime as dt
import json
from dataclasses import asdict
from decimal import Decimal

from ..posting import Hold, Posting, PostingLine
from ..systems.bill import BillClient, BillLine
from ..systems.jde import JdeClient
from ..systems.text import fit
from .base import FlowHandler, FoundDocument, Page, PostResult, SourceRecord
from .bill_vendors import matches
from .checks import check_fields
from .jde_accounts import check_accounts

WAITING = "BILL-VENDOR-PENDING"
LINE_TEXT_LENGTH = 100  # a bill line's description (BILL documents no length: the connector's choice)


def _plain(order):
    return json.loads(json.dumps(asdict(order), default=str))


class JdeOrdersToBill(FlowHandler):
    source_kind = "jde_purchase_order"
    reference_prefix = "PO"

    def open(self):
        self.jde = JdeClient(self.flow.source)
        self.bill = BillClient(self.flow.target)
        self.accounts = self._suppliers = self._vendors = self._classes = None

    # -- source ---------------------------------------------------------------------------------------
    def approved(self, order):
        statuses = {str(s) for s in self.options.get("approved_statuses") or ("220", "400")}
        live = [ln for ln in order.lines if not ln.cancelled]
        return bool(live) and all(ln.last_status in statuses for ln in live)

    def fetch(self, cursor):
        since = cursor.get("orders_since") or self.options.get("start_date")
        since = dt.datetime.fromisoformat(since) if since else None
        orders = sorted(self.jde.purchase_orders_changed_since(since), key=lambda o: (o.updated or dt.datetime.min, o.number))
        size = int(self.options.get("page_size", 100))
        for start in range(0, len(orders), size):
            chunk = orders[start : start + size]
            newest = max((o.updated for o in chunk if o.updated), default=since)
            records = [
                SourceRecord(f"{o.company}-{o.number}-{o.order_type}", _plain(o), f"PO {o.number}: {o.total}")
                for o in chunk
                if self.approved(o)
            ]
            yield Page(records, {"orders_since": newest.isoformat()} if newest else {})

    def check_record(self, payload):
        """Control characters leave the order's and its lines' free text (noted), so none reaches BILL."""
        return check_fields(payload, [], text=("description",), line_text=("description", "item"))

    def source_amount(self, payload):
        return Decimal(str(payload.get("total") or "0")), payload.get("currency") or ""

    # -- reference data (BILL and JDE), read once per cycle ---------------------------------------------
    def vendor_id(self, supplier_number):
        if self._suppliers is None:
            self._suppliers = {s.address_number: s for s in self.jde.suppliers_changed_since(None)}
            self._vendors = [v for v in self.bill.vendors() if not v.archived]
        supplier = self._suppliers.get(int(supplier_number))
        if supplier is None:
            return None, str(supplier_number)
        found = matches(self._vendors, supplier.name, supplier.tax_id, name_of=lambda v: v.name, tax_of=lambda v: v.tax_id)
        return (found[0].id if found else None), supplier.name

    def classifications(self):
        if self._classes is None:
            charts = {c.number: c for c in self.bill.chart_of_accounts() if not c.archived}
            departments = {d.number: d for d in self.bill.departments() if not d.archived}
            self._classes = charts, departments
        return self._classes

    # Orders held only for their vendor wait without a person: the cycle asks, then maps them again.
    waiting_codes = (WAITING,)

    def waiting_over(self, batches):
        return [(b, "its supplier is a BILL vendor now") for b in batches
                if self.vendor_id((b.payload or {}).get("supplier") or 0)[0]]

    def coverage_gaps(self):
        """Each JDE account of an approved order's live line that has no live BILL chart of account or department."""
        from mappings.coverage import UNMAPPED, Gap

        charts, departments = self.classifications()
        gaps, seen = [], set()
        for order in self.jde.purchase_orders_changed_since(None):
            if not self.approved(order):
                continue
            for line in (ln for ln in order.lines if not ln.cancelled and ln.account not in seen):
                seen.add(line.account)
                business_unit, obj = (line.account.split(".") + [""])[:2]
                for field, missing, text in (
                    ("chartOfAccountId", obj not in charts, f"chart of account {obj}"),
                    ("departmentId", business_unit.strip() not in departments, f"department {business_unit.strip()}"),
                ):
                    if missing:
                        gaps.append(Gap({"account": line.account}, field, None, UNMAPPED, f"no live BILL {text}"))
        return gaps

    # -- mapping ------------------------------------------------------------------------------------------
    def build_posting(self, payload, external_ref):
        lines = [
            PostingLine(
                account={"account": ln["account"]},
                amount=Decimal(ln["extended_amount"]),
                memo=fit(ln.get("description") or ln.get("item") or "", LINE_TEXT_LENGTH),
                source_line=str(ln["line_number"]),
            )
            for ln in payload.get("lines") or []
            if not ln.get("cancelled")
        ]
        total = sum((ln.amount for ln in lines), Decimal(0))
        lines.append(PostingLine(account={"supplier": payload["supplier"]}, amount=-total, kind="offset"))
        return Posting(
            reference=external_ref,
            date=payload.get("order_date") or dt.date.today().isoformat(),
            currency=payload.get("currency") or "USD",
            memo=f"PO {payload['number']}",
            lines=lines,
            source_total=Decimal(str(payload.get("total") or "0")),
        )

    def validate(self, posting):
        expense = [ln for ln in posting.lines if ln.kind == "expense"]
        if self.accounts is None:
            from ..reference import account_index

            self.accounts = account_index(
                self.flow.source, max_age_minutes=int(self.options.get("reference_max_age_minutes", 60))
            )
        check_accounts(self.accounts, [ln.account["account"] for ln in expense])
        charts, departments = self.classifications()
        for line in expense:
            business_unit, obj = (line.account["account"].split(".") + [""])[:2]
            chart, department = charts.get(obj), departments.get(business_unit.strip())
            if chart is None:
                raise Hold(
                    f"line {line.source_line}: no live BILL chart of account numbered {obj}",
                    code="BILL-ACCOUNT-UNKNOWN",
                    help="Create (or restore) the account in BILL's chart of accounts with this number; then retry.",
                )
            if department is None:
                raise Hold(
                    f"line {line.source_line}: no live BILL department with short name {business_unit.strip()}",
                    code="BILL-DEPARTMENT-UNKNOWN",
                    help="Create (or restore) the department in BILL with the business unit as short name; then retry.",
                )
            line.dimensions = {"chartOfAccountId": chart.id, "departmentId": department.id}
        offset = next(ln for ln in posting.lines if ln.kind == "offset")
        vendor, name = self.vendor_id(offset.account["supplier"])
        if vendor is None:
            raise Hold(
                f"supplier {name} ({offset.account['supplier']}) is not a BILL vendor yet: the bill waits for it",
                code=WAITING,
                help="The vendors flow creates it; this bill posts on the first cycle after that.",
            )
        offset.dimensions = {"vendorId": vendor}

    # -- target --------------------------------------------------------------------------------------------
    def post(self, batch, posting):
        already = self.bill.find_bills(posting.reference)  # BILL has no idempotency key: look before creating
        if already:
            return PostResult(document_id=already[0].id, details={"invoice_number": posting.reference}, existing=True)
        offset = next(ln for ln in posting.lines if ln.kind == "offset")
        day = dt.date.fromisoformat(posting.date)
        requested = (batch.payload or {}).get("requested_date")
        due = dt.date.fromisoformat(requested) if requested else day + dt.timedelta(days=int(self.options.get("due_days", 30)))
        lines = [
            BillLine(Decimal(str(ln.amount)), ln.dimensions["chartOfAccountId"], ln.dimensions["departmentId"], ln.memo)
            for ln in posting.lines
            if ln.kind == "expense"
        ]
        bill = self.bill.create_bill(
            offset.dimensions["vendorId"],
            posting.reference,
            day,
            max(due, day),
            lines,
            purchaseOrderNumber=str(batch.payload.get("number") or ""),
        )
        return PostResult(document_id=bill.id, details={"invoice_number": posting.reference})

    def find(self, batch):
        return [
            FoundDocument(
                document_id=b.id,
                total=b.amount,
                line_count=len(b.lines) + 1,
                currency=batch.currency or "USD",
                details={"invoice_number": b.invoice_number},
            )
            for b in self.bill.find_bills(batch.external_ref)
        ]
