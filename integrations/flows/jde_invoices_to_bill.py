"""JD Edwards supplier invoices -> BILL bills (postings; ``jde_to_bill`` with ``records: "invoices"``).

* Source: supplier invoices, i.e. vouchers (F0411 pay items with their F0911 AA distribution,
  ``JdeClient.supplier_invoices_changed_since``) of the document types ``invoice_document_types``
  (default ["PV"]) changed since the cursor ``invoices_since`` (first run: option ``start_date``),
  open ones only: every pay item's pay status in ``invoice_pay_statuses`` (default ["A"], approved
  for payment, UDC 00/PS) and an open amount left.
* Never a voucher the connector wrote itself: a BILL payment posted back by ``bill_to_jde`` is a
  voucher too (its remark RMK is the BILL payment id, its batch's reference); sending it to BILL
  as a bill would pay the supplier twice. Such vouchers are left out, by the references of every
  ``bill_to_jde`` flow writing to this JD Edwards connection.
* One voucher, one bill. Its invoice number is the supplier's (VINV; the voucher's reference
  ``INV-<company>-<type>-<number>`` when VINV is blank): the number the AP clerk sees in BILL and
  the one reconcile and the duplicate check before every create search, for this vendor (a supplier's
  invoice numbers are its own; BILL warns of a second bill with the same number for a vendor).
* Lines: the G/L distribution (amount AA, account BU.OBJ.SUB), checked as ``jde_bills`` describes
  (accounts and departments on both sides, vendor, currency = the voucher's CRCD); a distribution
  that does not add up to the gross is held ``JDE-INVOICE-DISTRIBUTION``.

Options: ``start_date``, ``invoice_document_types``, ``invoice_pay_statuses``, ``due_days`` (30,
without a due date), ``page_size`` (100), ``reference_max_age_minutes`` (60); on the JD Edwards
connection ``ap_trade_objects`` (``jde_invoices``).
"""

import datetime as dt
import json
from dataclasses import asdict
from decimal import Decimal

from ..models import Batch
from ..posting import Hold, PostingLine
from .base import Page, SourceRecord
from .jde_bills import JdeBills


class JdeInvoicesToBill(JdeBills):
    source_kind = "jde_supplier_invoice"
    reference_prefix = "INV"
    line_text = ("explanation",)

    def document_types(self):
        return tuple(str(t) for t in self.options.get("invoice_document_types") or ("PV",))

    def is_open(self, invoice, ours):
        statuses = {str(s) for s in self.options.get("invoice_pay_statuses") or ("A",)}
        return (
            bool(invoice.pay_statuses)
            and set(invoice.pay_statuses) <= statuses
            and invoice.open_amount > 0
            and invoice.remark not in ours
        )

    def connector_references(self):
        """References of every BILL payment posted back to this JD Edwards connection (their vouchers' RMK)."""
        return set(
            Batch.objects.filter(flow__kind="bill_to_jde", flow__target=self.flow.source).values_list("external_ref", flat=True)
        )

    def invoices(self, since):
        ours = self.connector_references()
        found = self.jde.supplier_invoices_changed_since(since, self.document_types())
        return [i for i in found if self.is_open(i, ours)], found

    # -- source ---------------------------------------------------------------------------------------
    def fetch(self, cursor):
        since = cursor.get("invoices_since") or self.options.get("start_date")
        since = dt.datetime.fromisoformat(since) if since else None
        live, found = self.invoices(since)
        live = {i.key for i in live}
        found = sorted(found, key=lambda i: (i.updated or dt.datetime.min, i.document))
        size = int(self.options.get("page_size", 100))
        for start in range(0, len(found), size):
            chunk = found[start : start + size]
            newest = max((i.updated for i in chunk if i.updated), default=since)
            records = [
                SourceRecord(i.key, json.loads(json.dumps(asdict(i), default=str)), f"{i.invoice_number or i.key}: {i.gross}")
                for i in chunk
                if i.key in live
            ]
            yield Page(records, {"invoices_since": newest.isoformat()} if newest else {})

    def source_amount(self, payload):
        return Decimal(str(payload.get("gross") or "0")), payload.get("currency") or ""

    def coverage_accounts(self):
        for invoice in self.invoices(None)[0]:
            yield from (ln.account for ln in invoice.lines)

    # -- mapping ------------------------------------------------------------------------------------------
    def build_posting(self, payload, external_ref):
        gross = Decimal(str(payload.get("gross") or "0"))
        lines = [
            PostingLine(
                account={"account": ln["account"]},
                amount=Decimal(str(ln["amount"])),
                memo=(ln.get("explanation") or "")[:100],
                source_line=str(ln["line_number"]),
            )
            for ln in payload.get("lines") or []
        ]
        total = sum((ln.amount for ln in lines), Decimal(0))
        if total != gross:
            raise Hold(
                f"the G/L distribution of voucher {payload.get('document_type')} {payload.get('document')} totals {total}, "
                f"not its gross {gross}",
                code="JDE-INVOICE-DISTRIBUTION",
                help="Complete the voucher's G/L distribution in JD Edwards (or name the AP trade objects in the "
                "connection option ap_trade_objects); then retry.",
            )
        memo = f"Voucher {payload.get('document_type')} {payload.get('document')}"
        return self.bill_posting(payload, external_ref, lines, payload.get("invoice_date"), memo, gross,
                                 invoice=payload.get("invoice_number") or external_ref, due=payload.get("due_date"),
                                 fields={"description": f"JD Edwards voucher {payload.get('document_type')} "
                                                        f"{payload.get('document')} of company {payload.get('company')}"})
