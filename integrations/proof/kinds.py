"""What each flow kind must move and what its target holds, read through a sandbox's control API.

``expected(box)`` is the set of source keys the flow must bring to a settled batch (posted, held with a
reason, skipped); ``ledger(box)`` maps each reference in the target to the set of target documents that
carry it, so more than one document is a double post. A batch's source key is its ``source_id`` with a
mirror's ``@fingerprint`` cut off (a mirror writes one batch per version of a record).

A flow kind without an entry here is run but not proven; ``SPECS`` names the covered kinds. A new kind
registers a ``KindSpec`` (and ``world.DEMO_BUILT`` says whether ``setup_demo`` can build it yet).
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


SPECS = {
    "expensify_to_jde": KindSpec(expensify_reports, lambda box: jde_documents(box, "EXP-", ("journals",))),
    "expensify_to_ifs": KindSpec(expensify_reports, ifs_vouchers),
    "expensify_to_acumatica": KindSpec(expensify_reports, acumatica_bills),
    "procurify_to_jde": KindSpec(procurify_sources, lambda box: jde_documents(box, "PRC-", ("journals", "vouchers"))),
    "acumatica_to_expensify": KindSpec(lambda box: {e["EmployeeID"] for e in box.get("acumatica/Employee")},
                                       expensify_members, posting=False),
    "jde_to_procurify": KindSpec(lambda box: {jde_account_key(r) for r in box.get("jde/accounts")}, procurify_codes,
                                 posting=False),
}
