"""Procurify vendors -> JD Edwards suppliers (F0401), a mirror: the flow ``procurify_to_jde`` with
option ``records: vendors`` (``bills``, the default, posts bills and payments).

The other half of the two-way supplier sync whose rules live in ``supplier_sync`` (pairing, the
per-field winner ``supplier_rules``, unresolvable mismatches held with the reason). A vendor with no
supplier becomes one, added through the supplier orchestration with ``SupplierReference``
``PRC-V-<vendor id>`` (F0101 ALKY), which is how later cycles, the other direction and a retried add
after a lost answer all find it again; a paired supplier gets the agreed name, status, e-mail, contact
person (Who's Who line 1) and phone (F0115 line 1).
An inactive vendor with no supplier is not added. Options: records, supplier_rules (per field of name,
active, email, contact, phone: "jde" or "procurify"; contact and phone default to Procurify), create_missing
(true), page_size (500). A vendor gone from Procurify leaves its supplier alone (the scan is not
treated as complete: retiring a supplier is for JD Edwards or the status rule to decide).
"""

from ..engine import mirror
from ..engine.mirror import MirrorTarget
from ..systems.jde import JdeClient
from ..systems.procurify import ProcurifyClient
from . import supplier_sync
from .mirror import MirrorFlow


class JdeSuppliers(MirrorTarget):
    """Procurify vendors -> JD Edwards suppliers, by the pairing's address number or by the add's reference."""

    def __init__(self, jde):
        self.jde = jde
        self._suppliers = None

    @property
    def suppliers(self):
        """address number -> Supplier, read once per cycle and kept current as it writes."""
        if self._suppliers is None:
            self._suppliers = {str(s.address_number): s for s in self.jde.suppliers_changed_since(None)}
        return self._suppliers

    @staticmethod
    def reference(state):
        return f"{supplier_sync.LINK_PREFIX}{state['_vendor']}"

    def match(self, state):
        if state.get("_an8") and state["_an8"] in self.suppliers:
            return self.suppliers[state["_an8"]]
        return next((s for s in self.suppliers.values() if s.reference == self.reference(state)), None)

    def same(self, existing, state):
        values = supplier_sync.jde_values(existing)
        if not state.get("active", True):
            return not values["active"]
        # a version written before a field was synced does not carry it: that field is not this version's to judge
        return all(values[f] == state[f] for f in supplier_sync.FIELDS if f in state)

    def target_id(self, existing, state):
        return str(existing.address_number) if existing is not None else state.get("_an8") or self.reference(state)

    def _write(self, existing, state, **fields):
        number = existing.address_number if existing is not None else None
        result = self.jde.upsert_supplier(address_number=number, reference="" if number else self.reference(state),
                                          **fields)
        self._suppliers = None  # read again when next needed: the write changed what JD Edwards holds
        return str(result.address_number)

    @staticmethod
    def _agreed(state):
        """The orchestration's fields for the agreed values (None, left alone: a field the version does not carry)."""
        return {"name": state["name"], "active": True, "email": state["email"], "contact": state.get("contact"),
                "phone": state.get("phone")}

    def create(self, state):
        return self._write(None, state, **self._agreed(state))

    def update(self, existing, state):
        return self._write(existing, state, **self._agreed(state))

    def deactivate(self, existing, state):
        return self._write(existing, state, active=False)


class ProcurifyVendorsToJde(MirrorFlow):
    source_kind = "procurify_vendors"
    reference_prefix = "PRC"

    def open(self):
        self.jde = JdeClient(self.flow.target)
        self.procurify = ProcurifyClient(self.flow.source)
        self.target = JdeSuppliers(self.jde)

    def describe(self, state):
        return f"vendor {state['key']} {state['name']}"

    def source_states(self):
        winners = supplier_sync.rules(self.options)
        found = supplier_sync.baselines(self.flow)
        pairs = supplier_sync.pairs(list(self.target.suppliers.values()), self.procurify.vendors())
        create = bool(self.options.get("create_missing", True))
        known = set(mirror.latest_versions(self.flow, self.source_kind))
        states = [supplier_sync.pair_state(p, found, winners, source="procurify", create_missing=create, known=known)
                  for p in pairs if p.vendor is not None]
        return [state for state in states if state is not None], False
