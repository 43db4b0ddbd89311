"""BILL payments -> JD Edwards AP vouchers (the voucher orchestration, F0411Z1/F0911Z1).

Source: ``bill_payments.BillPayments`` (webhook inbox first, polling as the fallback). One paid
BILL payment becomes one voucher, exactly once:

* the reference is the BILL payment id itself (20 characters, within VLEDTN's 22): the batch key
  here, ``VoucherReference`` in JD Edwards, and what reconcile searches with ``find_vouchers``;
* just before the voucher is built the payment is read again from BILL (``GET
  /v3/payments/{id}``, as BILL advises): a payment no longer paid, or paid another amount, is held;
* the supplier (AN8) is the F0401 supplier matching the BILL vendor by tax id, else by name (the
  match ``jde_to_bill`` makes the other way); none or several: held with the reason;
* the G/L distribution follows the paid bill's line items (department short name = business
  unit, chart-of-account number = object account), in proportion when the payment is partial
  (the remainder of the rounding on the last line, so the voucher totals the payment to the
  cent); a bill without usable lines uses the supplier's default expense account (F0401
  MCUP.OBAP) or the option ``expense_account``. Every account is checked in F0901 first;
* the voucher's invoice number (VINV) is the paid BILL bill's, else the payment id;
* the voucher's currency is the vendor's ``billCurrency`` (the bill's), else the BILL connection's
  ``currency``; one JD Edwards cannot take (unknown, or more decimals than it allows) is refused by the
  orchestration before anything is written and the batch is held with JD Edwards' reason.

Options: ``company`` ("00001"), ``document_type`` ("PV"), ``expense_account``, ``paid_statuses``
(["PAID"]), ``reference_max_age_minutes`` (60).
"""

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from ..posting import Hold, Posting, PostingLine
from ..systems.bill import BillClient, Payment
from ..systems.errors import NotFound
from ..systems.jde import JdeClient
from ..systems.jde_checks import TEXT_LENGTH
from ..systems.jde_vouchers import MAX_INVOICE, VoucherDocument, VoucherLine, VoucherPayItem
from ..systems.text import fit, identifier_or
from .base import FlowHandler, FoundDocument, PostResult
from .bill_payments import BillPayments
from .bill_vendors import PartyIndex
from .checks import check_fields
from .expensify_to_jde import account_key, split_account
from .jde_accounts import check_accounts

CENT = Decimal("0.01")


def allocate(total, weights):
    """``total`` split in proportion to ``weights`` to the cent; the last part takes the rounding."""
    whole = sum(weights, Decimal(0))
    if not weights or whole == 0:
        return []
    parts = [(total * w / whole).quantize(CENT, ROUND_HALF_UP) for w in weights[:-1]]
    return parts + [total - sum(parts, Decimal(0))]


class BillToJde(BillPayments, FlowHandler):
    reference_prefix = ""

    def open(self):
        self.bill = BillClient(self.flow.source)
        self.jde = JdeClient(self.flow.target)
        self.accounts = None
        self._suppliers = self._vendors = self._classes = self._matcher = None

    def coverage_gaps(self):
        return []  # no mapping rules: supplier and accounts come from BILL's own records, checked per payment

    def external_ref(self, source_id):
        return str(source_id)

    def check_record(self, payload):
        """A payment BILL sent with a field not as documented is held (``SRC-BAD-FIELD``); control characters
        leave its free text."""
        payment = Payment.from_api(payload)
        return check_fields(payload, payment.problems if payment else ["the payment has no id"],
                            text=("vendorName", "description"))

    def source_amount(self, payload):
        return Decimal(str(payload.get("amount") or "0")), ""  # the currency is known once mapped (its vendor's)

    def currency_of(self, vendor_id):
        """A payment is in its bill's currency, the vendor's ``billCurrency`` (developer.bill.com "International
        payments"); a vendor without one is in the organization's (``BillClient.currency``)."""
        vendor = self.vendor(vendor_id)
        return (vendor.bill_currency if vendor is not None else "") or self.bill.currency

    # -- reference data, read once per cycle ------------------------------------------------------
    def suppliers(self):
        if self._suppliers is None:
            self._suppliers = self.jde.suppliers_changed_since(None)
        return self._suppliers

    def vendor(self, vendor_id):
        if self._vendors is None:
            self._vendors = {v.id: v for v in self.bill.vendors()}
        return self._vendors.get(vendor_id)

    def classifications(self):
        if self._classes is None:
            self._classes = ({c.id: c for c in self.bill.chart_of_accounts()}, {d.id: d for d in self.bill.departments()})
        return self._classes

    # -- mapping -----------------------------------------------------------------------------------
    def supplier_for(self, vendor_id, vendor_name):
        vendor = self.vendor(vendor_id)
        if vendor is None:
            raise Hold(
                f"BILL vendor {vendor_name or vendor_id} was not found in BILL",
                code="BILL-VENDOR-UNKNOWN",
                help="Check the vendor in BILL; then retry.",
            )
        if self._matcher is None:  # once per cycle, not a scan of every supplier per payment
            self._matcher = PartyIndex([s for s in self.suppliers() if s.active], name_of=lambda s: s.name,
                                       tax_of=lambda s: s.tax_id)
        found = self._matcher.matches(vendor.name, vendor.tax_id)
        if len(found) != 1:
            what = "no JD Edwards supplier" if not found else f"{len(found)} JD Edwards suppliers"
            raise Hold(
                f'{what} match BILL vendor "{vendor.name}" (tax id {vendor.tax_id or "none"})',
                code="JDE-SUPPLIER-UNMATCHED" if not found else "JDE-SUPPLIER-AMBIGUOUS",
                help="Give the supplier in F0401/F0101 the vendor's tax id (or exactly its name); then retry.",
            )
        return found[0]

    def distribution(self, payment, supplier):
        """``([(account dict, amount)] for the paid amount, from the bill's line items; the bill's invoice number)``."""
        amount = Decimal(str(payment.get("amount") or "0"))
        lines = []
        try:
            bill = self.bill.bill(payment.get("billId")) if payment.get("billId") else None
        except NotFound:
            bill = None
        if bill is not None:
            charts, departments = self.classifications()
            for line in bill.lines:
                chart, department = charts.get(line.chart_of_account_id), departments.get(line.department_id)
                if chart is None or department is None or not chart.number or not department.number:
                    lines = []
                    break
                lines.append(({"business_unit": department.number, "object": chart.number, "subsidiary": ""}, line.amount))
        invoice = bill.invoice_number if bill is not None else ""
        if lines:
            parts = allocate(amount, [w for _, w in lines])
            return [(acct, part) for (acct, _), part in zip(lines, parts, strict=True)], invoice
        fallback = self.options.get("expense_account") or supplier.default_account
        if not fallback:
            raise Hold(
                "the paid bill has no line with a GL account and department, and the supplier no default expense account",
                code="MAP-NO-ACCOUNT",
                help="Set the supplier's default expense account in F0401 or the flow option expense_account.",
            )
        return [(split_account(fallback), amount)], invoice

    def build_posting(self, payload, external_ref):
        try:
            payment = self.bill.payment(payload["id"]).raw  # confirm with BILL right before building the voucher
        except NotFound:
            raise Hold(f"BILL has no payment {payload['id']} (any more): it was deleted or its id changed",
                       code="BILL-PAYMENT-GONE",
                       help="Nothing to post while BILL does not show the payment; skip the batch, or retry once it does.")
        if not self.paid(payment):
            raise Hold(
                f"BILL payment {payment['id']} is {payment.get('status')} now, not paid",
                code="BILL-PAYMENT-NOT-PAID",
                help="Nothing to post while BILL does not show it paid; skip the batch or retry once it is.",
            )
        if Decimal(str(payment.get("amount"))) != Decimal(str(payload.get("amount"))):
            raise Hold(
                f"BILL now shows payment {payment['id']} for {payment.get('amount')}, not {payload.get('amount')}",
                code="BILL-PAYMENT-CHANGED",
                help="Check the payment in BILL; then retry.",
            )
        supplier = self.supplier_for(payment.get("vendorId"), payment.get("vendorName"))
        amount = Decimal(str(payment["amount"]))
        split, invoice = self.distribution(payment, supplier)
        lines = [
            PostingLine(account=acct, amount=part, memo=fit(f"BILL payment {payment['id']}", TEXT_LENGTH), kind="expense")
            for acct, part in split
        ]
        lines.append(
            PostingLine(
                account={"supplier": supplier.address_number},
                amount=-amount,
                kind="offset",
                memo=fit(supplier.name, TEXT_LENGTH),
                dimensions={"invoice_number": identifier_or(invoice, external_ref, MAX_INVOICE)},
            )
        )
        return Posting(
            reference=external_ref,
            date=str(payment.get("processDate") or date.today().isoformat())[:10],
            currency=self.currency_of(payment.get("vendorId")),
            memo=fit(f"BILL payment to {supplier.name}", TEXT_LENGTH),
            lines=lines,
            source_total=amount,
        )

    def validate(self, posting):
        if self.accounts is None:
            from ..reference import account_index

            self.accounts = account_index(
                self.flow.target, max_age_minutes=int(self.options.get("reference_max_age_minutes", 60))
            )
        check_accounts(self.accounts, [account_key(ln.account) for ln in posting.lines if ln.kind == "expense"])

    # -- target --------------------------------------------------------------------------------------
    def voucher(self, posting):
        offset = next(ln for ln in posting.lines if ln.kind == "offset")
        gl_date = date.fromisoformat(posting.date)
        return VoucherDocument(
            reference=posting.reference,
            supplier=int(offset.account["supplier"]),
            gl_date=gl_date,
            currency=posting.currency,
            pay_items=[VoucherPayItem(-Decimal(str(offset.amount)))],
            invoice_number=offset.dimensions.get("invoice_number") or posting.reference,
            invoice_date=gl_date,
            company=self.options.get("company", "00001"),
            document_type=self.options.get("document_type", "PV"),
            explanation=fit(posting.memo, TEXT_LENGTH),
            lines=[
                VoucherLine(account=account_key(ln.account), amount=Decimal(str(ln.amount)),
                            explanation=fit(ln.memo, TEXT_LENGTH))
                for ln in posting.lines
                if ln.kind == "expense"
            ],
        )

    def target_document(self, posting):
        return self.jde.voucher_payload(self.voucher(posting))

    def post(self, batch, posting):
        result = self.jde.post_voucher(self.voucher(posting))
        return PostResult(
            document_id=f"{self.options.get('document_type', 'PV')} {result.document_number}",
            details={"batch_number": str(result.batch_number), "document_number": str(result.document_number)},
            existing=result.existing,
        )

    def find(self, batch):
        # find_vouchers reads pay items, not the G/L lines: the count compared is the posting's lines when the
        # voucher has its one pay item (total and currency are what tell a copy apart here).
        lines = len((batch.posting or {}).get("lines") or [])
        return [
            FoundDocument(
                document_id=f"{doc.document_type} {doc.document_number}",
                total=doc.gross,
                line_count=lines if doc.pay_items == 1 else doc.pay_items,
                currency=doc.currency,
                details={
                    "batch_number": str(doc.batch_number),
                    "where": doc.where,
                    "document_number": str(doc.document_number),
                    "processed": doc.processed,
                },
            )
            for doc in self.jde.find_vouchers(batch.external_ref)
        ]
