"""JD Edwards -> Procurify, as mirrors (``engine.mirror``): GL accounts, suppliers, purchase orders.

The flow option ``records`` chooses what one flow keeps aligned (one mirror per flow, each with its
own schedule): ``accounts`` (default), ``suppliers`` or ``purchase_orders``.

* ``accounts``: every F0901 account is a Procurify account code of the same number
  (``BU.OBJ[.SUB]``, what the bills coming back are posted to) with the F0901 description; an
  inactive or non-posting account (posting edit code not blank) is a deactivated code, and so is
  one deleted from F0901. Account codes Procurify has that F0901 never listed are left alone.
* ``suppliers``: every F0401 supplier is a Procurify vendor matched by name (case and spacing
  ignored), carrying the address number in ``external_id`` and the supplier's e-mail; a retired
  supplier (search type outside ``supplier_search_types``) or one on payment hold deactivates the
  vendor. Which side wins: JD Edwards, for every field it sends (name, status, e-mail; other
  vendor fields are Procurify's). A supplier whose name matches several Procurify vendors none of
  which carries its address number cannot be resolved: it is held with ``MAP-VENDOR-AMBIGUOUS``
  (audited, with both ids), and written once a person merges the vendors in Procurify.

* ``purchase_orders``: every F4301/F4311 order is a Procurify purchase order whose ``PO_Num`` is
  the order key (``KCOO-DCTO-DOCO``), raised as a requisition by names (options ``location`` and
  ``department``, the supplier's name as vendor, each line's account as account code: run the
  accounts and suppliers mirrors first) and updated in place on a change of quantity or price; a
  cancelled line reads quantity 0, a cancelled order closes the PO (``procurify_targets.PurchaseOrders``).

A version written is one batch (source id ``<key>@<fingerprint>``, reference ``JDE-...``); a run that
finds nothing changed makes no write call. Options: records, location, department, page_size (500).
"""

from ..systems.jde import JdeClient
from ..systems.procurify import ProcurifyClient
from ..systems.text import fit
from .mirror import MirrorFlow
from .procurify_targets import AccountCodes, PurchaseOrders, Vendors

RECORDS = ("accounts", "suppliers", "purchase_orders")
LINE_TEXT_LENGTH = 100  # an order item's name (Procurify documents no length: the connector's choice)


class JdeToProcurify(MirrorFlow):
    reference_prefix = "JDE"

    def __init__(self, flow, **kwargs):
        super().__init__(flow, **kwargs)
        self.records = str(self.options.get("records") or "accounts")
        if self.records not in RECORDS:
            raise ValueError(f"option records={self.records!r}: this flow mirrors one of {', '.join(RECORDS)}")

    @property
    def source_kind(self):
        return f"jde_{self.records}"

    def open(self):
        self.jde = JdeClient(self.flow.source)
        procurify = ProcurifyClient(self.flow.target)
        if self.records == "purchase_orders":
            self.target = PurchaseOrders(procurify, self.options.get("location", ""), self.options.get("department", ""))
        else:
            self.target = AccountCodes(procurify) if self.records == "accounts" else Vendors(procurify)

    def describe(self, state):
        if self.records == "accounts":
            return f"account {state['key']} {state['description']}"
        if self.records == "suppliers":
            return f"supplier {state['key']} {state['name']}"
        return f"order {state['key']} for {state.get('vendor') or '?'}"

    def source_states(self):
        if self.records == "accounts":
            return self.states_of(self.jde.accounts(), lambda a: {"key": a.key, "active": a.is_postable,
                                                                  "description": a.description}, key=lambda a: a.key), True
        if self.records == "suppliers":
            return self.states_of(self.jde.suppliers_changed_since(None), self.supplier_state,
                                  key=lambda s: str(s.address_number)), True
        names = {s["address_number"]: s["name"] for s in self.jde.suppliers()}
        return self.states_of(self.jde.purchase_orders_changed_since(None), lambda o: self.order_state(o, names),
                              key=lambda o: o.key), True

    def order_state(self, order, names):
        """Every order is read whole each cycle (complete scan): an order changed twice between polls
        is one new state, its last."""
        state = {"key": order.key, "active": not order.cancelled, "vendor": names.get(order.supplier, ""),
                 "required_date": str(order.requested_date or order.order_date or ""),
                 "lines": [{"name": fit(ln.description or ln.item or f"line {ln.line_number}", LINE_TEXT_LENGTH),
                            "quantity": str(0 if ln.cancelled else ln.quantity), "price": str(ln.unit_cost),
                            "account_code": ln.account} for ln in order.lines]}
        if not state["vendor"]:
            state["problem"] = ["MAP-NO-SUPPLIER", f"order {order.key}: supplier {order.supplier} has no name in F0101"]
        elif not self.options.get("location") or not self.options.get("department"):
            state["problem"] = ["MAP-NO-LOCATION", "set the flow options location and department (Procurify names) "
                                "the requisitions are raised for"]
        return state

    def supplier_state(self, supplier):
        key = str(supplier.address_number)
        state = {"key": key, "active": supplier.active and not supplier.on_hold, "name": supplier.name,
                 "email": supplier.email.strip().lower()}
        found = self.target.candidates(supplier.name)
        if len(found) > 1 and not any(v.external_id == key for v in found):
            ids = ", ".join(str(v.id) for v in found)
            state["problem"] = ["MAP-VENDOR-AMBIGUOUS", f'supplier {key} "{supplier.name}" in JD Edwards matches '
                                f"{len(found)} Procurify vendors ({ids}); none carries its address number"]
        return state
