"""JD Edwards -> BILL: suppliers become vendors (a mirror), approved purchase orders become bills (postings).

One flow moves one record kind, chosen by the option ``records``: ``"vendors"`` (default),
``"bills"`` (approved purchase orders, ``jde_orders_to_bill``) or ``"invoices"`` (supplier invoices,
open AP vouchers, ``jde_invoices_to_bill``). A tenant runs both, the vendors flow scheduled before the bills flow: a bill needs
its vendor, and a bill whose vendor is not in BILL yet waits for it (``jde_orders_to_bill``).

Vendors: every F0401 supplier (F0101 name and tax id, F01151 email) is kept as a BILL vendor.
The vendor is found by tax id, else by name (``bill_vendors.matches``), so a vendor keyed in
BILL before the connector existed is linked, never duplicated; a changed supplier updates it, an
inactive or deleted one archives it, and a run that finds nothing changed writes nothing.
"""

import threading

from ..engine import mirror
from ..systems.bill import BillClient
from ..systems.jde import JdeClient
from .base import PostResult
from .bill_vendors import BillVendors
from .mirror import MirrorFlow


class JdeSuppliersToBill(MirrorFlow):
    source_kind = "jde_supplier"
    reference_prefix = "SUP"

    def open(self):
        self.jde = JdeClient(self.flow.source)
        self.target = BillVendors(BillClient(self.flow.target))
        # key -> newest version's fingerprint, read here and kept current by after_store (both on the cycle's
        # thread): posts run on sending threads, which must not query the database (SQLite locks the table).
        self.newest = {key: v.tag for key, v in mirror.latest_versions(self.flow, self.source_kind).items()}
        self.writing = threading.Lock()

    def after_store(self, page):
        for record in page.records:
            key, _, digest = record.id.rpartition(mirror.SEPARATOR)
            self.newest[key] = digest

    def post(self, batch, posting):
        key, _, digest = batch.source_id.rpartition(mirror.SEPARATOR)
        if self.newest.get(key, digest) != digest:  # a newer version exists: this older one writes nothing
            return PostResult(document_id=key, details={"action": mirror.SUPERSEDED})
        # One vendor write at a time: match-then-create on two threads could create the same vendor twice.
        with self.writing:
            action, target_id = mirror.apply(self.target, batch.payload["target"])
        return PostResult(document_id=str(target_id), details={"action": action})

    def coverage_gaps(self):
        return []  # no mapping rules: a supplier maps to its vendor by tax id or name

    def describe(self, state):
        return f"{state['name']} ({state['key']})"

    def source_states(self):
        return self.states_of(self.jde.suppliers_changed_since(None), self.state, key=lambda s: str(s.address_number)), True

    @staticmethod
    def state(supplier):
        state = {
            "key": str(supplier.address_number),
            "active": bool(supplier.active),
            "name": supplier.name.strip(),
            "taxId": (supplier.tax_id or "").strip(),
            "email": (supplier.email or "").strip(),
            "currency": (supplier.currency or "").strip().upper(),
        }
        if not state["name"]:
            state["problem"] = ["SRC-NO-NAME", f"supplier {supplier.address_number} has no name in F0101 (ALPH)"]
        return state


class JdeToBill:
    """The flow kind ``jde_to_bill``: the handler of the record kind the flow's ``records`` option names."""

    source_kind = JdeSuppliersToBill.source_kind  # what a class-level reader (admin labels) sees
    KINDS = {"vendors": "JdeSuppliersToBill", "bills": "JdeOrdersToBill", "invoices": "JdeInvoicesToBill"}

    def __new__(cls, flow, **kwargs):
        records = str((flow.options or {}).get("records") or "vendors")
        if records == "bills":
            from .jde_orders_to_bill import JdeOrdersToBill

            return JdeOrdersToBill(flow, **kwargs)
        if records == "invoices":
            from .jde_invoices_to_bill import JdeInvoicesToBill

            return JdeInvoicesToBill(flow, **kwargs)
        if records != "vendors":
            raise ValueError(f"option records must be one of {', '.join(cls.KINDS)}, not {records!r}")
        return JdeSuppliersToBill(flow, **kwargs)
