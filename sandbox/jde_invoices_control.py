"""JD Edwards fake: supplier invoices keyed by an AP clerk, so tests and the demo can feed ``jde_to_bill`` invoices.

A supplier invoice in JD Edwards is a voucher: its pay items live in the Accounts Payable Ledger
F0411 (supplier AN8, supplier invoice number VINV, invoice and due dates DIVJ/DDJ, gross AG, open
amount AAP, currency CRCD, pay status PST from UDC 00/PS, e.g. ``A`` approved for payment, ``P``
paid: docs.oracle.com financials 9.2 "Payment Status Codes (00/PS)") and its G/L distribution in
the Account Ledger F0911 (same KCO/DCT/DOC, ledger type AA, one row per expense line, unposted
until the site's post runs). Keyed by hand it never passes the batch file F0411Z1 (shared/reference/jde.md).

    POST /_sandbox/jde/supplier-invoices        {"supplier": AN8, "invoice_number": "SI-1001",
                                                 "invoice_date": "2026-11-10", "due_date": "2026-12-10",
                                                 "currency": "USD" (default: the supplier's CRRP),
                                                 "document_type": "PV", "company": "00001", "pay_status": "A",
                                                 "lines": [{"account": "BU.OBJ[.SUB]", "amount": "12.30",
                                                            "explanation": "..."}]}
                                                -> {"company", "document_type", "document", "gross"}
    POST /_sandbox/jde/supplier-invoices/<DOC>  {"pay_status": "P"} and/or {"invoice_number": "..."}: changed and
                                                restamped (UPMJ/UPMT) on every pay item, as JDE's programs do

One pay item (SFX 001) per invoice; the document number comes from the fake's next-number counter.
"""

import datetime as dt
from decimal import Decimal, InvalidOperation

from . import jde_data as data
from .http import BadRequest, NotFoundError, json_response


def _day(value, default):
    if not value:
        return default
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise BadRequest(f"date {value!r} is not YYYY-MM-DD")


class SupplierInvoiceControlMixin:
    """The ``supplier-invoices`` levers over F0411 and F0911 (needs ``tables``, ``_next_numbers``, ``_stamp_now``)."""

    def _invoice_control(self, req, parts):
        if parts[0] != "supplier-invoices" or req.method != "POST":
            return None
        if len(parts) == 1:
            return json_response(self._add_supplier_invoice(req.json() or {}), 201)
        if len(parts) == 2:
            return json_response(self._change_supplier_invoice(parts[1], req.json() or {}))
        return None

    def _add_supplier_invoice(self, body):
        supplier = next((s for s in self.tables["F0401"] if str(s["AN8"]) == str(body.get("supplier"))), None)
        if supplier is None:
            raise BadRequest(f"supplier {body.get('supplier')!r} is not in F0401")
        accounts = {data.account_key(a["MCU"], a["OBJ"], a["SUB"]): a for a in self.tables["F0901"]}
        lines = []
        for index, line in enumerate(body.get("lines") or [], start=1):
            account = accounts.get(str(line.get("account") or ""))
            if account is None:
                raise BadRequest(f"line {index}: account {line.get('account')!r} is not in F0901")
            try:
                amount = Decimal(str(line.get("amount")))
            except InvalidOperation:
                raise BadRequest(f"line {index}: amount {line.get('amount')!r} is not a number")
            lines.append((account, amount, str(line.get("explanation") or "")[:30]))
        if not lines:
            raise BadRequest("a supplier invoice needs at least one line")
        invoice_day = _day(body.get("invoice_date"), self.now().date())
        due_day = _day(body.get("due_date"), invoice_day + dt.timedelta(days=30))
        company = str(body.get("company") or "00001")
        doc_type = str(body.get("document_type") or "PV")
        currency = str(body.get("currency") or supplier["CRRP"] or "USD")
        batch, document = self._next_numbers()
        upmj, upmt = self._stamp_now()
        gross = sum((amount for _, amount, _ in lines), Decimal(0))
        keys = {"KCO": company, "DCT": doc_type, "DOC": document}
        self.tables["F0411"].append({
            **keys, "SFX": "001", "AN8": supplier["AN8"], "PYE": supplier["AN8"], "DIVJ": data.to_julian(invoice_day),
            "DDJ": data.to_julian(due_day), "DGJ": data.to_julian(invoice_day), "CO": company, "AG": gross, "AAP": gross,
            "CRCD": currency, "VINV": str(body.get("invoice_number") or "")[:25], "RMK": "",
            "PST": str(body.get("pay_status") or "A"), "ICU": int(batch), "ICUT": "V", "UPMJ": upmj, "UPMT": upmt})
        for number, (account, amount, explanation) in enumerate(lines, start=1):
            self.tables["F0911"].append({
                **keys, "DGJ": data.to_julian(invoice_day), "JELN": number, "LT": "AA", "AID": account["AID"],
                "MCU": account["MCU"], "OBJ": account["OBJ"], "SUB": account["SUB"],
                "ANI": data.account_key(account["MCU"], account["OBJ"], account["SUB"]), "AA": amount, "CRCD": currency,
                "EXA": explanation, "EXR": "", "CO": company, "ICU": int(batch), "ICUT": "V", "POST": "",
                "UPMJ": upmj, "UPMT": upmt})
        return {"company": company, "document_type": doc_type, "document": document, "gross": str(gross)}

    def _change_supplier_invoice(self, document, body):
        items = [r for r in self.tables["F0411"] if str(r["DOC"]) == str(document)]
        if not items:
            raise NotFoundError(f"no voucher {document} in F0411")
        upmj, upmt = self._stamp_now()
        for row in items:
            if body.get("pay_status"):
                row["PST"] = str(body["pay_status"])
            if "invoice_number" in body:
                row["VINV"] = str(body["invoice_number"] or "")[:25]
            row.update(UPMJ=upmj, UPMT=upmt)
        return [self._view("F0411", r) for r in items]
