"""What every JD Edwards -> BILL bill source shares (``jde_orders_to_bill``, ``jde_invoices_to_bill``).

* Lines: each expense line references the BILL chart of account whose number is the JDE object
  account and the BILL department whose short name is the business unit; both must exist live in
  BILL, and the JDE account must be a live posting account in F0901: all checked before any write,
  else the record is held with the reason.
* Vendor: the BILL vendor of the record's supplier (``bill_vendors.matches``). None yet: held
  ``BILL-VENDOR-PENDING``; each cycle (the engine's waiting phase) maps such records again once their
  vendor exists, so they post with no one involved.
* Currency: the record's own (JDE CRCD), else its supplier's (F0401 CRRP), else the BILL
  connection's (``BillClient.currency``). BILL makes a vendor's bills in the vendor's ``billCurrency``
  (developer.bill.com "International payments"), so a record in another currency is held
  ``BILL-CURRENCY`` before any write, as is one whose currency has more than two decimals (BILL
  amounts take at most two, shared/reference/bill.md).
* Exactly once: BILL has no idempotency key, so ``post`` looks for the bill by its invoice number
  (and vendor) first: in the answer of its group's one search (``look_up``: a list with the invoice
  numbers ``in`` a set), else by a search of its own; ``find`` (reconcile) searches alone.
"""

import datetime as dt
from decimal import Decimal

from ..currencies import EXPONENTS
from ..posting import Hold, Posting, PostingLine
from ..systems.bill import BillClient, BillLine, bill_body
from ..systems.jde import JdeClient
from .base import FlowHandler, FoundDocument, PostResult
from .bill_vendors import PartyIndex
from .group_lookup import GroupAnswers, chunks
from .jde_accounts import check_accounts

WAITING = "BILL-VENDOR-PENDING"


def split(account):
    """``BU.OBJ[.SUB]`` -> (business unit, object)."""
    business_unit, obj = (str(account).split(".") + [""])[:2]
    return business_unit.strip(), obj


def check_currency(posting, takes, vendor_name):
    """Hold a posting BILL cannot take: more than two decimals, or not the vendor's bill currency ``takes``."""
    currency, takes = posting.currency.upper(), takes.upper()
    if EXPONENTS.get(currency, 2) > 2 or any(Decimal(str(ln.amount)).as_tuple().exponent < -2 for ln in posting.lines):
        raise Hold(
            f"{posting.reference} is in {currency} with amounts of more than two decimals: BILL takes at most two",
            code="BILL-CURRENCY",
            help="Enter this invoice in BILL by hand (or in a two-decimal currency in JD Edwards); then skip the batch.",
        )
    if currency != takes:
        raise Hold(
            f"{posting.reference} is in {currency}, but BILL makes vendor {vendor_name}'s bills in {takes} (its billCurrency)",
            code="BILL-CURRENCY",
            help=f"Set the vendor's bill currency to {currency} in BILL (or correct the currency in JD Edwards); then retry.",
        )


class JdeBillLines:
    """The batch page's view of a JD Edwards record's lines (``FlowHandler.source_lines``, ``check_line``)."""

    # A line of the source record: its text (the first of these fields that is set) and its amount.
    line_text, line_amount = ("description",), "amount"

    def live_lines(self, payload):
        """The record's lines that become bill lines."""
        return payload.get("lines") or []

    def source_lines(self, payload):
        return [{"line": str(ln["line_number"]), "account": ln["account"],
                 "description": next((ln[k] for k in self.line_text if ln.get(k)), ""), "amount": ln[self.line_amount]}
                for ln in self.live_lines(payload)]

    def check_line(self, payload, index):
        return {"account": {"account": self.live_lines(payload)[index]["account"]}, "field": "account"}

    def line_mentions(self, account):
        # What validate's holds say of a line's JDE account: F0901's ("account 100.6110 is not in F0901") and BILL's
        # ("no live BILL chart of account numbered 6110", "... department with short name 100").
        business_unit, obj = split(account["account"])
        return [f"account {account['account']} is", f"chart of account numbered {obj}",
                f"department with short name {business_unit}"]


class JdeBills(JdeBillLines, FlowHandler):
    # JD Edwards stamps UPMJ/UPMT whenever a program touches a row: a new stamp alone is no change of the order or
    # invoice, and must not hold a posted one as "changed at the source after it was posted".
    volatile_fields = ("updated",)

    def fingerprint(self, payload):
        lines = payload.get("lines")
        if isinstance(lines, list):
            payload = {**payload, "lines": [{k: v for k, v in ln.items() if k not in self.volatile_fields}
                                            if isinstance(ln, dict) else ln for ln in lines]}
        return super().fingerprint(payload)

    def open(self):
        self.jde = JdeClient(self.flow.source)
        self.bill = BillClient(self.flow.target)
        self.accounts = self._suppliers = self._vendors = self._classes = None
        self.answers = GroupAnswers()  # what each group's search found, for its posts

    # -- hooks of each source --------------------------------------------------------------------------
    def coverage_accounts(self):
        """Every JDE account (``BU.OBJ[.SUB]``) a record of this source would put on a bill line."""
        raise NotImplementedError

    def fetch_record(self, source_id):
        """One record by its id, for a dry run: the source read from its start."""
        return next((r for page in self.fetch({}) for r in page.records if r.id == str(source_id)), None)

    # -- reference data (BILL and JDE), read once per cycle ---------------------------------------------
    def supplier(self, number):
        if self._suppliers is None:
            self._suppliers = {s.address_number: s for s in self.jde.suppliers_changed_since(None)}
        return self._suppliers.get(int(number or 0))

    def vendor(self, supplier_number):
        """(the live BILL vendor of the supplier or None, the supplier's name)."""
        if self._vendors is None:
            live = [v for v in self.bill.vendors() if not v.archived]
            self._vendors = PartyIndex(live, name_of=lambda v: v.name, tax_of=lambda v: v.tax_id)
        supplier = self.supplier(supplier_number)
        if supplier is None:
            return None, str(supplier_number)
        found = self._vendors.matches(supplier.name, supplier.tax_id)
        return (found[0] if found else None), supplier.name

    def vendor_id(self, supplier_number):
        vendor, name = self.vendor(supplier_number)
        return (vendor.id if vendor else None), name

    def classifications(self):
        if self._classes is None:
            charts = {c.number: c for c in self.bill.chart_of_accounts() if not c.archived}
            departments = {d.number: d for d in self.bill.departments() if not d.archived}
            self._classes = charts, departments
        return self._classes

    def currency_of(self, currency, supplier_number):
        supplier = self.supplier(supplier_number)
        return (currency or (supplier.currency if supplier else "") or self.bill.currency).upper()

    def bill_posting(self, payload, external_ref, lines, day, memo, source_total, *, invoice, due, fields):
        """The posting of a record's expense ``lines``, offset by its supplier (whose BILL vendor ``validate`` finds).
        The offset line carries the bill's header: ``invoice`` number, ``due`` date (ISO or None: ``due_days`` after
        ``day``) and extra bill ``fields``, so the bill sent, previewed and searched is the posting's own."""
        day = day or dt.date.today().isoformat()
        due = due or (dt.date.fromisoformat(day) + dt.timedelta(days=int(self.options.get("due_days", 30)))).isoformat()
        header = {"invoiceNumber": invoice, "dueDate": max(due, day), "fields": fields}
        total = sum((ln.amount for ln in lines), Decimal(0))
        offset = PostingLine(account={"supplier": payload["supplier"]}, amount=-total, kind="offset", dimensions=header)
        return Posting(
            reference=external_ref,
            date=day,
            currency=self.currency_of(payload.get("currency"), payload["supplier"]),
            memo=memo,
            lines=[*lines, offset],
            source_total=source_total,
        )

    # Records held only for their vendor wait without a person: the cycle asks, then maps them again.
    waiting_codes = (WAITING,)

    def waiting_over(self, batches):
        return [(b, "its supplier is a BILL vendor now") for b in batches
                if self.vendor_id((b.payload or {}).get("supplier") or 0)[0]]

    def coverage_gaps(self):
        """Each JDE account of a live source line that has no live BILL chart of account or department."""
        from mappings.coverage import UNMAPPED, Gap

        charts, departments = self.classifications()
        gaps = []
        for account in sorted(set(self.coverage_accounts())):
            business_unit, obj = split(account)
            for field, missing, text in (
                ("chartOfAccountId", obj not in charts, f"chart of account {obj}"),
                ("departmentId", business_unit not in departments, f"department {business_unit}"),
            ):
                if missing:
                    # The account is in the message too: the coverage page shows mapping-rule attributes only.
                    message = f"JD Edwards account {account}: no live BILL {text}"
                    gaps.append(Gap({"account": account}, field, None, UNMAPPED, message))
        return gaps

    # -- validation: everything BILL needs, checked before any write ----------------------------------------
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
            business_unit, obj = split(line.account["account"])
            chart, department = charts.get(obj), departments.get(business_unit)
            if chart is None:
                raise Hold(
                    f"line {line.source_line}: no live BILL chart of account numbered {obj}",
                    code="BILL-ACCOUNT-UNKNOWN",
                    help="Create (or restore) the account in BILL's chart of accounts with this number; then retry.",
                )
            if department is None:
                raise Hold(
                    f"line {line.source_line}: no live BILL department with short name {business_unit}",
                    code="BILL-DEPARTMENT-UNKNOWN",
                    help="Create (or restore) the department in BILL with the business unit as short name; then retry.",
                )
            line.dimensions = {"chartOfAccountId": chart.id, "departmentId": department.id}
        offset = next(ln for ln in posting.lines if ln.kind == "offset")
        vendor, name = self.vendor(offset.account["supplier"])
        if vendor is None:
            raise Hold(
                f"supplier {name} ({offset.account['supplier']}) is not a BILL vendor yet: the bill waits for it",
                code=WAITING,
                help="The vendors flow creates it; this bill posts on the first cycle after that.",
            )
        check_currency(posting, vendor.bill_currency or self.bill.currency, vendor.name)
        offset.dimensions = {**offset.dimensions, "vendorId": vendor.id}

    # -- target --------------------------------------------------------------------------------------------
    @staticmethod
    def bill_of(posting):
        """``(vendor id, invoice number, invoice date, due date, [BillLine], extra fields)`` of the posting's bill."""
        offset = next(ln for ln in posting.lines if ln.kind == "offset")
        header = offset.dimensions
        lines = [
            BillLine(Decimal(str(ln.amount)), ln.dimensions["chartOfAccountId"], ln.dimensions["departmentId"], ln.memo)
            for ln in posting.lines
            if ln.kind == "expense"
        ]
        day = dt.date.fromisoformat(posting.date)
        return (header.get("vendorId"), header["invoiceNumber"], day, dt.date.fromisoformat(header["dueDate"]), lines,
                header.get("fields") or {})

    def target_document(self, posting):
        return bill_body(*self.bill_of(posting))

    # -- the search for existing bills: one per group, else one per post ------------------------------------
    # 50: the group's search and the cycle's few reference reads stay within 1.05 calls per bill at 500 bills.
    lookup_group_size = 50

    @staticmethod
    def header(batch):
        """(invoice number, vendor id) of a claimed batch's bill, from its stored posting."""
        offset = next((ln for ln in (batch.posting or {}).get("lines") or [] if ln.get("kind") == "offset"), {})
        header = offset.get("dimensions") or {}
        return str(header.get("invoiceNumber") or batch.external_ref), header.get("vendorId")

    def look_up(self, batches):
        # A number holding the list filter's own separators (comma, double quote) is left to its post's own search.
        numbers = list(dict.fromkeys(n for n, _ in map(self.header, batches) if not any(c in n for c in '",')))
        for run in chunks(numbers, self.bill.numbered_filter, "filters"):
            found = {}
            for bill in self.bill.bills_numbered(run):
                if not bill.archived:
                    found.setdefault(bill.invoice_number, []).append(bill)
            self.answers.keep(run, found)

    def existing(self, invoice, vendor):
        """The live bills numbered ``invoice`` (of ``vendor`` when given): the group's answer, else a search."""
        bills = self.answers.take(invoice)
        return self.bill.find_bills(invoice, vendor) if bills is None else [b for b in bills if vendor in (None, "", b.vendor_id)]

    def post(self, batch, posting):
        vendor, invoice, day, due, lines, fields = self.bill_of(posting)
        already = self.found(batch, self.existing(invoice, vendor))  # no idempotency key: look first
        if already:
            return PostResult(document_id=already[0].document_id, details={"invoice_number": invoice}, existing=True,
                              found=already)
        bill = self.bill.create_bill(vendor, invoice, day, due, lines, **fields)
        return PostResult(document_id=bill.id, details={"invoice_number": invoice})

    def find(self, batch):
        return self.found(batch, self.bill.find_bills(*self.header(batch)))

    def found(self, batch, bills):
        currency = batch.currency or self.bill.currency
        return [FoundDocument(document_id=b.id, total=b.amount, line_count=len(b.lines) + 1, currency=currency,
                              details={"invoice_number": b.invoice_number}) for b in bills]
