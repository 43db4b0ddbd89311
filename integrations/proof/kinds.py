"""What each flow kind must move and what its target holds, read through a sandbox's control API.

``expected(box)`` is the set of source keys the flow must bring to a settled batch (posted, held with a
reason, skipped); ``ledger(box)`` maps each reference in the target to the set of target documents that
carry it, so more than one document is a double post. A batch's source key is its ``source_id`` with a
mirror's ``@fingerprint`` cut off (a mirror writes one batch per version of a record).

A kind whose flows move one record kind each (option ``records``) has an entry per record kind, keyed
``kind:records`` (``spec_key``). A flow without an entry here is run but not proven; ``SPECS`` names the
covered ones. A new kind registers a ``KindSpec`` (and ``world.DEMO_BUILT`` says whether ``setup_demo``
can build it yet).
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

EXPENSIFY_TAKEN = "APPROVED,REIMBURSED"


@dataclass(frozen=True)
class KindSpec:
    expected: Callable  # box -> set of source keys
    ledger: Callable  # box -> {reference: set of document ids}
    posting: bool = True  # postings: a posted batch's reference must be in the ledger
    live: bool = False  # its source gains records during the run (written by another flow or by the run): read again


# The ``records`` option's default per kind whose flows move one record kind each (the handlers' own defaults).
DEFAULT_RECORDS = {"jde_to_bill": "vendors", "procurify_to_jde": "bills", "jde_to_procurify": "accounts"}


def spec_key(kind, options=None):
    """``kind``, or ``kind:records`` for a kind whose flows each move one record kind."""
    records = (options or {}).get("records") or DEFAULT_RECORDS.get(kind)
    return f"{kind}:{records}" if records else kind


def source_key(source_id):
    return str(source_id).split("@", 1)[0]


def _collect(pairs, prefix=""):
    out = defaultdict(set)
    for ref, doc in pairs:
        if ref and str(ref).startswith(prefix):
            out[str(ref)].add(str(doc))
    return dict(out)


def expensify_reports(box):
    return {str(r["reportID"]) for r in box.get("expensify/reports", state=EXPENSIFY_TAKEN)}


def jde_documents(box, prefix, tables):
    """Reference -> JD Edwards documents, from the Z-file and from the ledger it is processed into (a journal
    or voucher whose Z rows were purged still counts once). ``tables``: "journals" and/or "vouchers". A document
    is its number: a voucher's G/L distribution rows (F0911Z1) carry the voucher's own number and reference."""
    pairs = []
    if "journals" in tables:
        pairs += [(r["VNEDTN"], r["VNDOC"]) for r in box.get("jde/F0911Z1")]
        pairs += [(r["GLEXR"], r["GLDOC"]) for r in box.get("jde/F0911")]
    if "vouchers" in tables:
        pairs += [(r["VLEDTN"], r["VLDOC"]) for r in box.get("jde/F0411Z1")]
        pairs += [(_field(r, "RMK"), _field(r, "DOC")) for r in box.get("jde/F0411")]
    return _collect(pairs, prefix)


def _field(row, suffix):
    """A JD Edwards column whatever its table prefix (``RPRMK``, ``RPDOC``)."""
    return next((v for k, v in row.items() if k.endswith(suffix) and len(k) == len(suffix) + 2), None)


def jde_account_key(row):
    """``BU.OBJ`` or ``BU.OBJ.SUB`` of an F0901 row, as ``systems.jde_reference`` names an account."""
    return ".".join(part for part in (row["GMMCU"].strip(), row["GMOBJ"].strip(), row["GMSUB"].strip()) if part)


def ifs_vouchers(box):
    vouchers = box.get("ifs/vouchers")
    return _collect(((v["ReferenceNumber"], f"{v['AccountingYear']}-{v['VoucherNo']}") for v in vouchers), "EXP-")


def acumatica_bills(box):
    return _collect(((b.get("VendorRef"), b.get("ReferenceNbr") or b["id"]) for b in box.get("acumatica/Bill")), "EXP-")


def procurify_sources(box):
    bills = {f"BILL-{b['id']}" for b in box.get("procurify/bills") if int(b.get("status") or 0) in (2, 3)}
    return bills | {f"PAY-{p['id']}" for p in box.get("procurify/payments") if p.get("status") == "paid"}


def procurify_codes(box):
    """Account code -> its Procurify ids: one code made twice is a double write of a mirror."""
    return _collect((c["code"], c["id"]) for c in box.get("procurify/account_codes"))


def expensify_members(box):
    """(policy, e-mail) -> its entries: one employee added twice to a policy is a double write."""
    return _collect(((f"{p['id']}:{e['email'].lower()}", n) for p in box.get("expensify/policies")
                     for n, e in enumerate(p.get("employees") or [])))


def _since(box, row):
    """Made in the run: a fake's clock starts at the run's anchor date; the sandbox's own rows are older."""
    return str(row.get("createdTime") or "") >= str(getattr(box, "anchor", None) or "9999")


def _number(value):
    try:
        return str(int(float(value)))
    except (TypeError, ValueError):
        return str(value or "").strip()


def bill_payments_made(box):
    """BILL payments made in the run (``bill_to_jde``'s start date is the anchor): paid ones are to post."""
    return {p["id"] for p in box.get("bill/payments") if _since(box, p) and str(p.get("status")).upper() == "PAID"}


def bill_bills_made(box):
    """The BILL bills made in the run: the connector's."""
    return [b for b in box.get("bill/bills") if _since(box, b) and not b.get("archived")]


def jde_open_invoices(box):
    """The JD Edwards vouchers ``jde_to_bill`` invoices takes (``jde_invoices_to_bill.is_open``): type PV, every
    pay item approved (A) with an open amount, not a BILL payment posted back (its remark is the payment id)."""
    payments = {p["id"] for p in box.get("bill/payments")}
    items = defaultdict(list)
    for row in box.get("jde/F0411"):
        items[(str(_field(row, "KCO")).strip(), str(_field(row, "DCT")).strip(), _number(_field(row, "DOC")))].append(row)
    return {"-".join(key) for key, rows in items.items()
            if key[1] == "PV" and all(str(_field(r, "PST")).strip() == "A" for r in rows)
            and sum(float(_field(r, "AAP") or 0) for r in rows) > 0 and str(_field(rows[0], "RMK") or "").strip() not in payments}


def jde_approved_orders(box, statuses=("220", "400"), cancelled=("980",)):
    """``KCOO-DOCO-DCTO`` of the JD Edwards purchase orders ``jde_to_bill`` bills takes (``jde_orders_to_bill.approved``):
    every line not cancelled is at an approved status (the handlers' default options)."""
    out = set()
    for order in box.get("jde/purchase-orders"):
        live = [str(_field(ln, "LTTR")).strip() for ln in order.get("lines") or []]
        live = [status for status in live if status not in cancelled]
        if live and all(status in statuses for status in live):
            out.add(f"{str(_field(order, 'KCOO')).strip()}-{_number(_field(order, 'DOCO'))}-{str(_field(order, 'DCTO')).strip()}")
    return out


def bill_bills_by_invoice(box, prefix):
    """Invoice number -> BILL bills carrying it (a purchase order's bill has the order's reference as number)."""
    return _collect(((b.get("invoice", {}).get("invoiceNumber"), b["id"]) for b in box.get("bill/bills")), prefix)


VOUCHER_BILL = "JD Edwards voucher "


def bill_invoice_bills(box):
    """Voucher reference ``INV-KCO-DCT-DOC`` -> BILL bills made from it. Such a bill's invoice number is the
    supplier's (unique per vendor only), so the voucher is read from the description the connector writes
    (``jde_invoices_to_bill``: "JD Edwards voucher <type> <document> of company <company>")."""
    pairs = []
    for bill in box.get("bill/bills"):
        words = str(bill.get("description") or "").removeprefix(VOUCHER_BILL).split()
        if str(bill.get("description") or "").startswith(VOUCHER_BILL) and len(words) == 5:
            pairs.append((f"INV-{words[4]}-{words[0]}-{_number(words[1])}", bill["id"]))
    return _collect(pairs)


def bill_vendors_made(box):
    """Tax id (else name) -> BILL vendors, for the parties that have a vendor made in the run: a supplier's
    vendor created twice, or created beside the vendor it should have linked, is a double write."""
    groups = defaultdict(list)
    for vendor in box.get("bill/vendors"):
        party = (vendor.get("additionalInfo") or {}).get("taxId") or " ".join(str(vendor.get("name")).lower().split())
        groups[party].append(vendor)
    return {party: {v["id"] for v in vendors} for party, vendors in groups.items() if any(_since(box, v) for v in vendors)}


SPECS = {
    "expensify_to_jde": KindSpec(expensify_reports, lambda box: jde_documents(box, "EXP-", ("journals",))),
    "expensify_to_ifs": KindSpec(expensify_reports, ifs_vouchers),
    "expensify_to_acumatica": KindSpec(expensify_reports, acumatica_bills),
    "procurify_to_jde:bills": KindSpec(procurify_sources, lambda box: jde_documents(box, "PRC-", ("journals", "vouchers"))),
    "acumatica_to_expensify": KindSpec(lambda box: {e["EmployeeID"] for e in box.get("acumatica/Employee")},
                                       expensify_members, posting=False),
    "jde_to_procurify:accounts": KindSpec(lambda box: {jde_account_key(r) for r in box.get("jde/accounts")}, procurify_codes,
                                 posting=False),
    # JD Edwards suppliers: the procurify_to_jde vendors flow adds some during the run.
    "jde_to_bill:vendors": KindSpec(lambda box: {str(s["A6AN8"]) for s in box.get("jde/suppliers")}, bill_vendors_made,
                                    posting=False, live=True),
    "jde_to_bill:bills": KindSpec(jde_approved_orders, lambda box: bill_bills_by_invoice(box, "PO-")),
    # Vouchers: procurify_to_jde writes some during the run.
    "jde_to_bill:invoices": KindSpec(jde_open_invoices, bill_invoice_bills, live=True),
    # The payments the run makes (``Run.pay_bills``); a voucher's reference is its payment's id (``stp01...``).
    "bill_to_jde": KindSpec(bill_payments_made, lambda box: jde_documents(box, "stp", ("vouchers",)), live=True),
}
