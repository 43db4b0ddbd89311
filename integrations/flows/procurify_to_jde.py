"""Procurify bills and payments -> JD Edwards (AP vouchers and payment journals through the AIS orchestrations).

A bill (approved or paid: ``bill_statuses``) becomes one AP voucher (``post_voucher``: F0411Z1 pay
items with their F0911Z1 G/L distribution) for the JD Edwards supplier whose name (F0101 ALPH) is
the bill's vendor name: one pay item and one G/L line per bill line, charged to the line's account
code (``BU.OBJ[.SUB]``, the chart the JD Edwards -> Procurify flow publishes as account codes), exact
to the cent. The processor books the A/P trade offset itself (its AAIs), so the posting's offset line
names the supplier and is not sent. A paid payment becomes one journal (``post_journal``): debit
``ap_trade_account``, credit ``bank_account``.

Exactly once: the source id is ``BILL-<Procurify bill id>`` or ``PAY-<payment id>``, the external
reference ``PRC-BILL-<id>`` / ``PRC-PAY-<id>`` (VLEDTN/VNEDTN and the remarks), which reconcile finds
with ``find_vouchers`` / ``find_journals``, processed or not.

A bill line whose account is not in F0901 holds the batch with ``JDE-ACCOUNT-NOT-FOUND`` ("account
100.4000 not found in F0901"); such batches wait without a person (the engine's ``waiting_codes``, ``waiting_over``): each
cycle refreshes the chart of accounts while some wait and moves back to ``new`` those whose accounts
all exist now, so the same cycle posts them. A bill whose vendor has no JD Edwards supplier of that name waits
the same way (``MAP-NO-SUPPLIER``) until one exists (e.g. added by the vendors -> suppliers flow).

The cursor (``bills``, ``payments``: Procurify's ``last_modified_datetime`` / ``updated_at`` of the
newest record read) is inclusive: a record read again is the same version and stores nothing. Both lists
are read by keyset paging on that stamp (``systems.procurify_keyset``) and streamed: each page is stored,
mapped and posted, and the cursor moved past it, before the next page is read.

Option ``records: vendors`` turns this kind into the vendors -> suppliers mirror (``procurify_vendors``).

Options (Flow.options), all optional: bill_statuses ([2, 3]: approved, paid; the sandbox's codes),
payments (true), ap_trade_account ("100.2110"), bank_account ("100.1110"), company ("00001"),
voucher_document_type ("PV"), journal_document_type ("JE"), start_date (ISO date: nothing older is
read on the first cycle), reference_max_age_minutes (60).
"""

import datetime as dt
from decimal import Decimal

from ..engine.errors import CONNECTION_ERRORS, Paused
from ..posting import Hold, Posting, PostingLine
from ..reference import account_index
from ..systems.errors import NotFound, ValidationRejected
from ..systems.jde import JdeClient, JournalDocument, JournalLine
from ..systems.jde_checks import TEXT_LENGTH
from ..systems.jde_vouchers import MAX_INVOICE, VoucherDocument, VoucherLine, VoucherPayItem
from ..systems.procurify import ProcurifyClient
from ..systems.source_fields import FieldReader
from ..systems.text import fit, identifier_or
from .base import FlowHandler, FoundDocument, Page, PostResult, SourceRecord
from .checks import check_fields
from .expensify_to_jde import account_key, split_account

WAITING = "JDE-ACCOUNT-NOT-FOUND"
WAITING_HELP = (
    "Create the account in JD Edwards (F0901): the bill posts by itself on the next cycle, nobody needs to "
    "release it. Or correct the bill's account code in Procurify."
)
NO_SUPPLIER = "MAP-NO-SUPPLIER"
NO_SUPPLIER_HELP = (
    "Create the supplier in JD Edwards (or let the vendors -> suppliers flow add it) or align the vendor's name "
    "in Procurify: the bill posts by itself on the next cycle once a supplier of that name exists."
)
BILL, PAYMENT = "BILL", "PAY"


def _day(text):
    return dt.date.fromisoformat(str(text)[:10]) if text else None


class ProcurifyBillLines:
    """The batch page's view of a Procurify bill's lines (``FlowHandler.source_lines``, ``check_line``)."""

    def source_lines(self, payload):
        return [{"line": str(i), "description": ln["description"], "amount": ln["amount"], "account code": ln["account_code"],
                 "department": ln.get("department") or ""}
                for i, ln in enumerate(payload.get("lines") or [], start=1)]

    def check_line(self, payload, index):
        try:
            return {"account": line_account(index + 1, (payload.get("lines") or [])[index]), "field": "account code"}
        except Hold as hold:
            return {"field": "account code", "code": hold.code, "message": hold.message}


class ProcurifyToJde(ProcurifyBillLines, FlowHandler):
    source_kind = "procurify_ap"
    reference_prefix = "PRC"
    waiting_codes = (WAITING, NO_SUPPLIER)

    @staticmethod
    def default_interval_minutes(options):
        """Cadence (``integrations.cadence``): bills hourly, vendors every 4 hours (the product page's 1 to 4 hours)."""
        return 240 if str((options or {}).get("records") or "bills") == "vendors" else 60

    def __new__(cls, flow, **kwargs):
        """Option ``records: vendors`` makes this kind the vendors -> suppliers mirror (one kind per
        direction between the two systems, each flow its own schedule)."""
        records = str((flow.options or {}).get("records") or "bills")
        if records == "vendors":
            from .procurify_vendors import ProcurifyVendorsToJde

            return ProcurifyVendorsToJde(flow, **kwargs)
        if records != "bills":
            raise ValueError(f"option records={records!r}: this flow moves bills (default) or vendors")
        return super().__new__(cls)

    def open(self):
        self.procurify = ProcurifyClient(self.flow.source)
        self.jde = JdeClient(self.flow.target)
        self._accounts = None
        self._suppliers = None

    # -- source -------------------------------------------------------------------------------------
    def fetch(self, cursor):
        start = self.options.get("start_date")
        start = dt.datetime.combine(dt.date.fromisoformat(start), dt.time(), dt.UTC) if start else None
        since = {kind: dt.datetime.fromisoformat(cursor[kind]) if cursor.get(kind) else start for kind in ("bills", "payments")}
        statuses = {int(s) for s in self.options.get("bill_statuses", (2, 3))}
        # Page by page (store, map and post each before the next is read): memory stays flat at any size, and
        # the cursor moves with each stored page; the keyset paging underneath skips nothing changed meanwhile.
        try:
            for headers, newest in self.procurify.bill_pages(since["bills"]):
                bills = [self._detail(h) for h in headers if h.status in statuses]
                yield Page(records=[self._bill_record(b) for b in bills], cursor={"bills": newest.isoformat()})
            if not self.options.get("payments", True):
                return
            for payments, newest in self.procurify.payment_pages(since["payments"]):
                yield Page(records=[self._payment_record(p) for p in payments if p.status == "paid"],
                           cursor={"payments": newest.isoformat()})
        except CONNECTION_ERRORS as exc:
            raise Paused(exc) from exc

    def _detail(self, header):
        """The bill with its lines; the header, held with the reason, when Procurify cannot give them."""
        problem = None
        if header.uuid:
            try:
                bill = self.procurify.bill(header.uuid)
            except (NotFound, ValidationRejected) as exc:
                problem = f"bill {header.id}: its lines could not be read ({exc.message[:120]})"
            else:
                if bill is not None:
                    return bill
                problem = f"bill {header.id}: Procurify answered its lines without an id"
        header.problems.append(problem or f"bill {header.id}: no uuid to read its lines by")
        return header

    def _bill_record(self, bill):
        raw = bill.raw
        payload = {"kind": BILL, "id": bill.id, "uuid": bill.uuid, "vendor": bill.vendor_name,
                   "invoice_number": bill.invoice_number, "invoice_date": bill.invoice_date,
                   "due_date": _text_day(raw.get("due_date"), bill.problems, "due_date"),
                   "gl_date": _text_day(raw.get("gl_post_date"), bill.problems, "gl_post_date") or bill.invoice_date,
                   "currency": bill.currency, "total": str(bill.total),
                   "lines": [{"description": ln.description, "amount": str(ln.amount), "account_code": ln.account_code,
                              "department": ln.department} for ln in bill.lines]}
        if bill.problems:  # only then: a sound bill's payload (and fingerprint) is what it always was
            payload["problems"] = bill.problems
        return SourceRecord(id=f"{BILL}-{bill.id}", payload=payload,
                            summary=f"bill {bill.invoice_number} from {bill.vendor_name}")

    def _payment_record(self, payment):
        payload = {"kind": PAYMENT, "id": payment.id, "vendor": payment.vendor_name, "amount": str(payment.amount),
                   "currency": payment.currency, "bills": payment.bill_ids,
                   "date": _text_day(payment.raw.get("processing_date"), payment.problems, "processing_date")
                   or (payment.updated.date().isoformat() if payment.updated else "")}
        if payment.problems:
            payload["problems"] = payment.problems
        return SourceRecord(id=f"{PAYMENT}-{payment.id}", payload=payload,
                            summary=f"payment {payment.id} to {payment.vendor_name}")

    def check_record(self, payload):
        """What Procurify sent that is not as documented holds the record (``SRC-BAD-FIELD``); control characters
        leave the free text (vendor, invoice number, line descriptions) and are noted."""
        return check_fields(payload, payload.get("problems"), text=("vendor", "invoice_number"), line_text=("description",))

    def coverage_gaps(self):
        from .procurify_coverage import bill_gaps

        return bill_gaps(self)

    def source_amount(self, payload):
        return Decimal(payload["total"] if payload["kind"] == BILL else payload["amount"]), payload["currency"]

    # -- mapping ------------------------------------------------------------------------------------
    def build_posting(self, payload, external_ref):
        if payload["kind"] == PAYMENT:
            amount = Decimal(payload["amount"])
            trade, bank = self.payment_accounts()
            return Posting(reference=external_ref, date=payload["date"], currency=payload["currency"],
                           memo=f"Payment {payload['id']} {payload['vendor']}", source_total=amount, lines=[
                               PostingLine(split_account(trade), amount,
                                           memo=f"Procurify payment {payload['id']}"),
                               PostingLine(split_account(bank), -amount,
                                           memo=f"Procurify payment {payload['id']}", kind="offset")])
        if not payload["lines"]:
            raise Hold(f"bill {payload['invoice_number']} has no lines", code="SRC-NO-LINES",
                       help="Add the bill's lines in Procurify; then retry.")
        offset = {"supplier": self.supplier_for(payload["vendor"])}
        lines = []
        for number, line in enumerate(payload["lines"], start=1):
            lines.append(PostingLine(line_account(number, line), Decimal(line["amount"]), memo=line["description"],
                                     source_line=str(number)))
        total = Decimal(payload["total"])
        lines.append(PostingLine(offset, -total, memo=f"A/P {payload['vendor']}", kind="offset"))
        return Posting(reference=external_ref, date=payload["gl_date"], currency=payload["currency"],
                       memo=f"Bill {payload['invoice_number']} {payload['vendor']}", lines=lines, source_total=total)

    def supplier_for(self, vendor):
        if self._suppliers is None:  # once per cycle
            self._suppliers = {}
            for row in self.jde.suppliers():
                self._suppliers.setdefault(row["name"].strip().casefold(), row["address_number"])
        number = self._suppliers.get(str(vendor).strip().casefold())
        if number is None:
            raise Hold(f'vendor "{vendor}" has no supplier of that name in JD Edwards (F0401/F0101)',
                       code=NO_SUPPLIER, help=NO_SUPPLIER_HELP)
        return number

    @property
    def accounts(self):
        if self._accounts is None:
            self._accounts = account_index(self.flow.target,
                                           max_age_minutes=int(self.options.get("reference_max_age_minutes", 60)))
        return self._accounts

    def account_problem(self, account):
        key = account_key(account)
        entry = self.accounts.get(key)
        if entry is None:
            return Hold(f"account {key} not found in F0901", code=WAITING, help=WAITING_HELP)
        if not entry.postable:
            state = "inactive" if not entry.active else "a non-posting account"
            return Hold(f"account {key} is {state} in F0901", code="JDE-ACCOUNT-NOT-POSTABLE",
                        help="Reactivate the account in JD Edwards or correct the bill's account code; then retry.")
        return None

    def validate(self, posting):
        for line in posting.lines:
            if "business_unit" in line.account:
                problem = self.account_problem(line.account)
                if problem:
                    raise problem

    def payment_accounts(self):
        """(A/P trade, bank): the accounts a payment's journal moves."""
        return self.options.get("ap_trade_account", "100.2110"), self.options.get("bank_account", "100.1110")

    def waited_accounts(self, payload):
        """The account keys a record's posting needs: a bill's line accounts, a payment's A/P trade and bank."""
        if payload.get("kind") == PAYMENT:
            return list(self.payment_accounts())
        return [ln["account_code"] for ln in payload.get("lines") or []]

    def waiting_over(self, batches):
        from .procurify_waiting import waiting_over

        return waiting_over(self, batches)

    # -- target ------------------------------------------------------------------------------------------
    def voucher_document(self, posting, payload):
        expenses = [ln for ln in posting.lines if ln.kind != "offset"]
        offset = next(ln for ln in posting.lines if ln.kind == "offset")
        due = _day(payload.get("due_date"))
        return VoucherDocument(
            reference=posting.reference, supplier=offset.account["supplier"], gl_date=_day(posting.date),
            currency=posting.currency,
            invoice_number=identifier_or(payload.get("invoice_number"), posting.reference, MAX_INVOICE),
            invoice_date=_day(payload.get("invoice_date")), due_date=due, company=self.options.get("company", "00001"),
            document_type=self.options.get("voucher_document_type", "PV"), explanation=fit(posting.memo, TEXT_LENGTH),
            pay_items=[VoucherPayItem(ln.amount, due) for ln in expenses],
            lines=[VoucherLine(account_key(ln.account), ln.amount, explanation=fit(ln.memo, TEXT_LENGTH)) for ln in expenses])

    def journal_document(self, posting):
        return JournalDocument(
            reference=posting.reference, gl_date=_day(posting.date), currency=posting.currency,
            company=self.options.get("company", "00001"), document_type=self.options.get("journal_document_type", "JE"),
            explanation=fit(posting.memo, TEXT_LENGTH),
            lines=[JournalLine(account=account_key(ln.account), amount=ln.amount, explanation=fit(ln.memo, TEXT_LENGTH),
                               remark=posting.reference) for ln in posting.lines])

    def target_document(self, posting):
        if posting.reference.startswith(f"{self.reference_prefix}-{PAYMENT}-"):
            return {"orchestration": self.jde.orchestration, "reference": posting.reference,
                    "lines": [{"Account": account_key(ln.account), "Amount": str(ln.amount)} for ln in posting.lines]}
        return {"orchestration": self.jde.voucher_orchestration, "reference": posting.reference,
                "lines": [{"Account": account_key(ln.account), "Amount": str(ln.amount)}
                          for ln in posting.lines if ln.kind != "offset"]}

    def post(self, batch, posting):
        if batch.payload["kind"] == PAYMENT:
            result = self.jde.post_journal(self.journal_document(posting))
            kind = self.options.get("journal_document_type", "JE")
        else:
            result = self.jde.post_voucher(self.voucher_document(posting, batch.payload))
            kind = self.options.get("voucher_document_type", "PV")
        return PostResult(document_id=f"{kind} {result.document_number}", existing=result.existing,
                          details={"batch_number": str(result.batch_number), "document_number": str(result.document_number)})

    def find(self, batch):
        if batch.payload["kind"] == PAYMENT:
            return [FoundDocument(document_id=f"{doc.document_type or 'JE'} {doc.document_number}", total=doc.debit_total,
                                  line_count=doc.line_count, currency=doc.currency,
                                  details={"batch_number": str(doc.batch_number), "where": doc.where})
                    for doc in self.jde.find_journals(batch.external_ref)]
        # One pay item per bill line; the A/P offset the processor books makes the posting's last line.
        return [FoundDocument(document_id=f"{v.document_type} {v.document_number}", total=v.gross,
                              line_count=v.pay_items + 1, currency=v.currency,
                              details={"batch_number": str(v.batch_number), "where": v.where, "supplier": v.supplier})
                for v in self.jde.find_vouchers(batch.external_ref)]


def line_account(number, line):
    """The JD Edwards account of bill line ``number``: its account code, which must read BU.OBJ[.SUB]."""
    try:
        return split_account(line["account_code"])
    except ValueError:
        raise Hold(f'line {number}: account code "{line["account_code"]}" is not a JD Edwards account (BU.OBJ[.SUB])',
                   code="MAP-BAD-ACCOUNT-CODE",
                   help="Allocate the line to an account code published from JD Edwards; then retry.") from None


def _text_day(value, problems, name):
    return FieldReader(problems, "the record").day(value, name)

