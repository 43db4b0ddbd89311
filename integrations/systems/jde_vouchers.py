"""JD Edwards AP vouchers: posting through the voucher orchestration and finding them again.

The orchestration ``MLC_AddVoucherBatch`` (option ``voucher_orchestration``) is, like the
journal one, a customer-side artifact of this product; its contract is documented in
``sandbox/jde_vouchers.py``: ``VoucherReference`` (our external reference: VLEDTN/VNEDTN,
VLRMK and every VNEXR), ``Supplier`` (AN8), ``InvoiceNumber``, ``InvoiceDate``, ``DueDate``,
``GLDate``, ``Currency``, ``Company``, ``DocumentType`` (PV), ``PayItems`` (gross amounts) and
``Lines`` (the G/L distribution, which must total the gross). It answers ``BatchNumber``,
``DocumentNumber`` and ``Existing`` (the reference was already written: nothing written now),
with the same outcome semantics as ``post_journal``.

Reconcile (``find_vouchers``): the voucher batch processor copies F0411Z1 pay items into F0411
and sites purge processed Z rows (shared/reference/jde.md), so the search covers F0411Z1 by
VLEDTN in any VLEDSP state and F0411 by RPRMK (the remark carrying the reference), merged per
document (company, type, number): more than one entry is more than one copy in JDE.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from .jde_checks import INVALID, TEXT_LENGTH, control_problems, exponent_of, line_problems, reference_problems, refuse
from .jde_values import as_date, as_decimal, as_int, as_text, document_number
from .text import fit

DEFAULT_VOUCHER_ORCHESTRATION = "MLC_AddVoucherBatch"
MAX_INVOICE = 25  # VLVINV


@dataclass
class VoucherLine:
    account: str  # "BU.OBJ.SUB" or "BU.OBJ"
    amount: Decimal  # debit +
    explanation: str = ""
    remark: str = ""  # not sent: VNEXR carries the reference


@dataclass
class VoucherPayItem:
    amount: Decimal  # gross
    due_date: dt.date | None = None


@dataclass
class VoucherDocument:
    reference: str  # at most 22 characters
    supplier: int  # AN8
    gl_date: dt.date
    currency: str
    pay_items: list[VoucherPayItem] = field(default_factory=list)
    lines: list[VoucherLine] = field(default_factory=list)
    invoice_number: str = ""
    invoice_date: dt.date | None = None
    due_date: dt.date | None = None
    company: str = "00001"
    document_type: str = "PV"
    explanation: str = ""


@dataclass
class VoucherResult:
    batch_number: str
    document_number: int | str
    raw: dict = field(default_factory=dict, repr=False)
    existing: bool = False


@dataclass(frozen=True)
class FoundVoucher:
    document_number: int | str
    document_type: str
    company: str
    batch_number: str  # VLEDBT while the Z rows remain, else RPICU
    supplier: int
    invoice_number: str
    currency: str
    pay_items: int
    gross: Decimal
    gl_date: dt.date | None
    where: str  # "F0411Z1", "F0411" or "F0411Z1+F0411"
    processed: bool


Z_COLUMNS = ["EDUS", "EDBT", "EDTN", "EDLN", "EDSP", "KCO", "DCT", "DOC", "SFX", "AN8", "VINV", "AG", "CRCD", "DGJ", "CO"]
LEDGER_COLUMNS = ["KCO", "DCT", "DOC", "SFX", "AN8", "VINV", "AG", "CRCD", "DGJ", "RMK", "ICU", "CO"]


def _clean(row):
    return {**{k: (as_text(v) if isinstance(v, str) else v) for k, v in row.items()}, "AG": as_decimal(row.get("AG")),
            "DOC": document_number(row.get("DOC")), "DGJ": as_date(row.get("DGJ")), "AN8": as_int(row.get("AN8"))}


class VoucherPosting:
    """Mixed into ``JdeClient``: needs ``browse``, ``options``, ``batch_user`` and ``_post_orchestration``."""

    @property
    def voucher_orchestration(self):
        return str(self.options.get("voucher_orchestration") or DEFAULT_VOUCHER_ORCHESTRATION)

    def voucher_payload(self, doc: VoucherDocument) -> dict:
        """The orchestration input for ``doc`` after the local checks (raises ValidationRejected)."""
        what = "the voucher"
        reference = str(doc.reference or "").strip()
        currency = str(doc.currency or "").strip().upper()
        exponent = exponent_of(currency)
        quantum = Decimal(1).scaleb(-exponent)
        problems = reference_problems(doc.reference, what, "VoucherReference") + control_problems(
            what, {"Explanation": doc.explanation, "InvoiceNumber": doc.invoice_number})
        if len(str(doc.invoice_number or "")) > MAX_INVOICE:
            problems.append((INVALID, f"invoice number {doc.invoice_number} is longer than {MAX_INVOICE} characters"))
        if not doc.pay_items:
            problems.append((INVALID, "the voucher has no pay items"))
        if not doc.lines:
            problems.append((INVALID, "the voucher has no G/L lines"))
        items, gross = [], Decimal(0)
        for number, item in enumerate(doc.pay_items, start=1):
            amount, found = line_problems(number, VoucherLine("pay.item", item.amount), currency, exponent)
            problems += [(code, text.replace("line", "pay item", 1)) for code, text in found]
            if not found:
                gross += amount
                items.append({"Amount": format(amount.quantize(quantum), "f"),
                              **({"DueDate": item.due_date.isoformat()} if item.due_date else {})})
        lines, total = [], Decimal(0)
        for number, line in enumerate(doc.lines, start=1):
            amount, found = line_problems(number, line, currency, exponent)
            problems += found
            if not found:
                total += amount
                lines.append({"LineNumber": number, "Account": str(line.account).strip(),
                              "Amount": format(amount.quantize(quantum), "f"),
                              "Explanation": fit(line.explanation or "", TEXT_LENGTH)})
        if not problems and total != gross:
            problems.append((INVALID, f"the G/L lines total {total} but the pay items {gross} {currency}"))
        if problems:
            refuse("Voucher", reference, problems)
        payload = {"VoucherReference": reference, "Supplier": int(doc.supplier), "InvoiceNumber": str(doc.invoice_number or ""),
                   "GLDate": doc.gl_date.isoformat(), "Currency": currency, "Company": str(doc.company or "00001"),
                   "DocumentType": str(doc.document_type or "PV"), "Explanation": fit(doc.explanation or "", TEXT_LENGTH),
                   "PayItems": items, "Lines": lines}
        for key, day in (("InvoiceDate", doc.invoice_date), ("DueDate", doc.due_date)):
            if day:
                payload[key] = day.isoformat()
        if self.batch_user:
            payload["User"] = str(self.batch_user)
        return payload

    def post_voucher(self, doc: VoucherDocument) -> VoucherResult:
        """One orchestration call writing ``doc`` to F0411Z1/F0911Z1. ``OutcomeUnknown`` when it may
        have been written without an answer: reconcile with ``find_vouchers`` first. ``existing``:
        the reference was already written and nothing was written now."""
        return self._post_orchestration(self.voucher_orchestration, self.voucher_payload(doc), "voucher",
                                        "VoucherReference", result=VoucherResult)

    def find_vouchers(self, reference, *, document_type=None, company=None) -> list[FoundVoucher]:
        """Every voucher written for ``reference``, in F0411Z1 (any VLEDSP) or F0411 (RPRMK), one
        entry per document, ordered by document number."""
        reference = str(reference)
        narrowing = [(c, "EQUAL", v) for c, v in (("DCT", document_type), ("KCO", company)) if v]
        groups: dict[tuple, dict] = {}
        for row in self.browse("F0411Z1", Z_COLUMNS, [("EDTN", "EQUAL", reference), *narrowing]):
            row = _clean(row)
            if row.get("EDTN") == reference:
                key = (row.get("KCO") or row.get("CO"), row.get("DCT"), row["DOC"])
                groups.setdefault(key, {"z": [], "ledger": []})["z"].append(row)
        for row in self.browse("F0411", LEDGER_COLUMNS, [("RMK", "EQUAL", reference), *narrowing]):
            row = _clean(row)
            if row.get("RMK") == reference:
                groups.setdefault((row.get("KCO"), row.get("DCT"), row["DOC"]), {"z": [], "ledger": []})["ledger"].append(row)
        found = [_found(key, g["z"], g["ledger"]) for key, g in groups.items()]
        return sorted(found, key=lambda v: (str(v.document_number).zfill(15), v.company, v.document_type))


def _found(key, z_rows, ledger_rows):
    rows = ledger_rows or z_rows
    first = rows[0]
    return FoundVoucher(
        document_number=key[2], document_type=key[1] or "", company=key[0] or "",
        batch_number=z_rows[0].get("EDBT", "") if z_rows else as_text(document_number(ledger_rows[0].get("ICU"))),
        supplier=first.get("AN8") or 0, invoice_number=first.get("VINV") or "", currency=first.get("CRCD") or "",
        pay_items=len(rows), gross=sum((r["AG"] for r in rows), Decimal(0)), gl_date=first.get("DGJ"),
        where="+".join(name for name, part in (("F0411Z1", z_rows), ("F0411", ledger_rows)) if part),
        processed=bool(ledger_rows) or all(r.get("EDSP") == "1" for r in z_rows))
