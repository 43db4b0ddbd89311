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
from decimal import Decimal, InvalidOperation

EXPENSIFY_TAKEN = "APPROVED,REIMBURSED"


@dataclass(frozen=True)
class KindSpec:
    expected: Callable  # box -> set of source keys
    ledger: Callable  # box -> {reference: set of document ids}
    posting: bool = True  # postings: a posted batch's reference must be in the ledger
    live: bool = False  # its source gains records during the run (written by another flow or by the run): read again
    # Two-way sync: the spec key of the other direction, and the field of its versions naming this flow's record. A
    # record whose pair the other direction wrote needs no version here while the pair stays in step
    # (``supplier_sync.pair_state`` returns None): it is settled by that written version (``partner_keys``).
    partner: str | None = None
    partner_field: str = ""


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


# -- the Procurify mirrors: JD Edwards orders and suppliers to Procurify, Procurify vendors to JD Edwards -----------
LINK_PREFIX = "PRC-V-"  # F0101 ALKY of a supplier added from a Procurify vendor (``supplier_sync.LINK_PREFIX``)
CANCELLED = ("980",)  # the JD Edwards client's default ``cancelled_statuses``
NO_ORDER = "(PO made in the run: no PO_Num, no order of its vendor and lines)"


def _text(value):
    return str(value if value is not None else "").strip()


def _money(value):
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return None


def jde_order_key(order):
    """``KCOO-DCTO-DOCO`` of a ``jde/purchase-orders`` row, as ``PurchaseOrder.key`` names the order (``PO_Num``)."""
    return f"{_text(order.get('PHKCOO'))}-{_text(order.get('PHDCTO'))}-{_number(order.get('PHDOCO'))}"


def jde_orders(box):
    """Every JD Edwards purchase order: ``jde_to_procurify`` (purchase_orders) scans them all and settles each, as a PO,
    a closed PO, nothing for an order cancelled before it had one, or held (no supplier name, no location)."""
    return {jde_order_key(o) for o in box.get("jde/purchase-orders")}


def _order_content(vendor, lines):
    return (" ".join(_text(vendor).split()).casefold(), tuple(lines))


def _jde_order_contents(box):
    """Content of each order's requisition as the flow raises it -> order keys: the supplier's name and each line's
    (quantity, 0 when cancelled; unit cost; account)."""
    names = {_number(s.get("A6AN8")): s.get("ABALPH") for s in box.get("jde/suppliers")}
    out = defaultdict(set)
    for order in box.get("jde/purchase-orders"):
        lines = []
        for ln in sorted(order.get("lines") or [], key=lambda ln: Decimal(str(ln.get("PDLNID") or 0))):
            account = _text(ln.get("PDANI")) or ".".join(p for p in map(_text, (ln.get("PDOMCU"), ln.get("PDOBJ"),
                                                                                 ln.get("PDSUB"))) if p)
            quantity = 0 if _text(ln.get("PDLTTR")) in CANCELLED else ln.get("PDUORG")
            lines.append((_money(quantity), _money(ln.get("PDPRRC")), account))
        out[_order_content(names.get(_number(order.get("PHAN8"))), lines)].add(jde_order_key(order))
    return out


def procurify_orders_made(box):
    """JD Edwards order key -> Procurify POs made for it. A PO carries its order's key in ``PO_Num`` (the sandbox refuses
    one ``PO_Num`` on two POs); the flow sets it after the requisition is purchased, so a PO whose ``PO_Num`` write was
    lost has none until the retry adopts it (``PurchaseOrders.unfinished``), and a retry that missed it would make a
    second PO for the order. Such a PO (made in the run: dated from the
    anchor on, without ``PO_Num``) is put to the order of its vendor and lines (quantity, price, account code); one that
    matches no order goes under ``NO_ORDER``."""
    contents = _jde_order_contents(box)
    pairs = []
    for po in box.get("procurify/purchase_orders"):
        number = str(po["procurify_PO"])
        if _text(po.get("PO_Num")):
            pairs.append((_text(po["PO_Num"]), number))
        elif _since_day(box, po.get("date")):
            lines = [(_money(i.get("quantity")), _money(i.get("price")), _text(i.get("accountCode")))
                     for i in po.get("order_items") or []]
            keys = contents.get(_order_content(po.get("vendor_name"), lines)) or {NO_ORDER}
            pairs += [(key, number) for key in keys]
    return _collect(pairs)


def _since_day(box, day):
    return str(day or "") >= str(getattr(box, "anchor", None) or "9999")[:10]


def supplier_links(box):
    """(JD Edwards address number, Procurify vendor id) of every supplier-vendor link the connector's writes leave: a
    vendor carrying a supplier's number in ``external_id`` (the suppliers mirror writes it) and a supplier added from a
    vendor (F0101 ALKY ``PRC-V-<vendor id>``, the vendors mirror). One record linked to two on the other side is a double
    write: a supplier made twice for one vendor, a vendor made beside the one its supplier was already linked to."""
    suppliers = box.get("jde/suppliers")
    numbers = {_number(s.get("A6AN8")) for s in suppliers}
    links = {(_text(v.get("external_id")), str(v["id"])) for v in box.get("procurify/vendors")
             if _text(v.get("external_id")) in numbers}
    links |= {(_number(s.get("A6AN8")), _text(s.get("ABALKY"))[len(LINK_PREFIX):]) for s in suppliers
              if _text(s.get("ABALKY")).startswith(LINK_PREFIX)}
    return links


def vendors_of_suppliers(box):
    """Address number -> the Procurify vendors linked to it (``jde_to_procurify`` suppliers' ledger)."""
    return _collect((an8, vendor) for an8, vendor in supplier_links(box))


def suppliers_of_vendors(box):
    """Vendor id -> the JD Edwards suppliers linked to it (``procurify_to_jde`` vendors' ledger)."""
    return _collect((vendor, an8) for an8, vendor in supplier_links(box))


def partner_keys(spec, versions):
    """The records of a flow whose pair its partner wrote: ``versions`` are the partner's written versions as (target
    state, target document id). A version names the record in ``spec.partner_field`` when the pair was known, else by
    the document it created (a document id equal to the partner's own key is no record of this side: a superseded or
    unchanged version)."""
    out = set()
    for state, document in versions:
        state = state or {}
        out.add(_text(state.get(spec.partner_field)))
        if _text(document) != _text(state.get("key")):
            out.add(_text(document))
    out.discard("")
    return {key for key in out if key.isdigit()}


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
    # Procurify mirrors. Suppliers go both ways (``supplier_sync``): each direction's source gains the records the other
    # adds, and a pair the other direction wrote and left in step has no version here.
    "jde_to_procurify:purchase_orders": KindSpec(jde_orders, procurify_orders_made, posting=False),
    "jde_to_procurify:suppliers": KindSpec(lambda box: {_number(s.get("A6AN8")) for s in box.get("jde/suppliers")},
                                           vendors_of_suppliers, posting=False, live=True,
                                           partner="procurify_to_jde:vendors", partner_field="_an8"),
    "procurify_to_jde:vendors": KindSpec(lambda box: {str(v["id"]) for v in box.get("procurify/vendors")},
                                         suppliers_of_vendors, posting=False, live=True,
                                         partner="jde_to_procurify:suppliers", partner_field="_vendor"),
}
