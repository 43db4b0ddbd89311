"""JD Edwards supplier invoices (open AP vouchers) changed since a cursor, for ``jde_to_bill``.

A supplier invoice in JD Edwards is a voucher (shared/reference/jde.md, F0411Z1 -> F0411): one
Accounts Payable Ledger row per pay item in F0411 (supplier AN8, supplier invoice number VINV,
invoice date DIVJ, due date DDJ, gross AG, open amount AAP, currency CRCD, pay status PST from UDC
00/PS: ``A`` approved for payment, ``P`` paid, docs.oracle.com financials 9.2 "Payment Status Codes
(00/PS)") and its G/L distribution in F0911 rows of the same company, document type and number
(KCO/DCT/DOC) with ledger type AA. Changes are stamped UPMJ/UPMT on both tables (same
incremental rule as ``jde_purchasing``: ``UPMJ >= day`` asked, earlier times of that day dropped).

A voucher is returned whole (every pay item and every AA line) when a pay item or a G/L line
changed. The AP trade offset a posted voucher gets in F0911 is not an expense line: objects in
``ap_trade_objects`` (option; the site's AAI PC accounts, none by default) are left out.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from .jde_purchasing import _after
from .jde_values import as_date, as_decimal, as_int, as_text, document_number, stamp

ITEM_COLUMNS = ["KCO", "DCT", "DOC", "SFX", "AN8", "DIVJ", "DDJ", "DGJ", "CO", "AG", "AAP", "CRCD", "VINV", "RMK", "PST",
                "UPMJ", "UPMT"]
LINE_COLUMNS = ["KCO", "DCT", "DOC", "JELN", "LT", "ANI", "MCU", "OBJ", "SUB", "AA", "CRCD", "EXA", "UPMJ", "UPMT"]


@dataclass(frozen=True)
class InvoiceLine:
    line_number: int
    account: str  # BU.OBJ[.SUB]
    amount: Decimal
    explanation: str


@dataclass(frozen=True)
class SupplierInvoice:
    company: str
    document_type: str
    document: int
    supplier: int
    invoice_number: str  # VINV: the supplier's own number
    invoice_date: dt.date | None
    due_date: dt.date | None  # the earliest pay item's
    currency: str
    gross: Decimal
    open_amount: Decimal
    pay_statuses: tuple[str, ...]
    remark: str
    updated: dt.datetime | None
    lines: tuple[InvoiceLine, ...] = ()

    @property
    def key(self):
        """``KCO-DCT-DOC``, e.g. ``00001-PV-5000001``: the voucher's identity."""
        return f"{self.company}-{self.document_type}-{self.document}"


def _doc_key(row):
    return as_text(row.get("KCO")), as_text(row.get("DCT")), document_number(row.get("DOC"))


class InvoiceReads:
    """Mixed into ``JdeClient``: needs ``browse`` and ``options``."""

    def supplier_invoices_changed_since(self, since=None, document_types=("PV",)) -> list[SupplierInvoice]:
        conditions = [("UPMJ", "GREATER_EQUAL", since.date())] if since else []
        types = [("DCT", "LIST", sorted(set(document_types)))]
        changed = {_doc_key(r) for r in self.browse("F0411", ["KCO", "DCT", "DOC", "UPMJ", "UPMT"], [*conditions, *types])
                   if _after(r, since, "UPMT")}
        changed |= {_doc_key(r) for r in self.browse("F0911", ["KCO", "DCT", "DOC", "LT", "UPMJ", "UPMT"],
                                                     [*conditions, *types, ("LT", "EQUAL", "AA")])
                    if _after(r, since, "UPMT")}
        if not changed:
            return []
        numbers = sorted({key[2] for key in changed})
        items, lines = {}, {}
        for start in range(0, len(numbers), 100):
            chunk = [("DOC", "LIST", numbers[start:start + 100]), *types]
            for row in self.browse("F0411", ITEM_COLUMNS, chunk):
                if _doc_key(row) in changed:
                    items.setdefault(_doc_key(row), []).append(row)
            for row in self.browse("F0911", LINE_COLUMNS, [*chunk, ("LT", "EQUAL", "AA")]):
                if _doc_key(row) in changed:
                    lines.setdefault(_doc_key(row), []).append(row)
        trade = {str(o) for o in self.options.get("ap_trade_objects") or ()}
        return [self._invoice(key, rows, [r for r in lines.get(key, []) if as_text(r.get("OBJ")) not in trade])
                for key, rows in sorted(items.items())]

    @staticmethod
    def _invoice(key, items, lines):
        first = items[0]
        stamps = [s for s in (stamp(r.get("UPMJ"), r.get("UPMT")) for r in [*items, *lines]) if s]
        dues = [d for d in (as_date(r.get("DDJ")) for r in items) if d]
        return SupplierInvoice(
            company=key[0], document_type=key[1], document=key[2], supplier=as_int(first.get("AN8")),
            invoice_number=as_text(first.get("VINV")), invoice_date=as_date(first.get("DIVJ")),
            due_date=min(dues) if dues else None, currency=as_text(first.get("CRCD")),
            gross=sum((as_decimal(r.get("AG")) for r in items), Decimal(0)),
            open_amount=sum((as_decimal(r.get("AAP")) for r in items), Decimal(0)),
            pay_statuses=tuple(sorted({as_text(r.get("PST")) for r in items})), remark=as_text(first.get("RMK")),
            updated=max(stamps) if stamps else None,
            lines=tuple(sorted((InvoiceLine(as_int(r.get("JELN")), _account(r), as_decimal(r.get("AA")),
                                            as_text(r.get("EXA"))) for r in lines), key=lambda ln: ln.line_number)))


def _account(row):
    parts = (as_text(row.get("MCU")), as_text(row.get("OBJ")), as_text(row.get("SUB")))
    return ".".join(p for p in parts if p) if parts[0] and parts[1] else as_text(row.get("ANI"))
